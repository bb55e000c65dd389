"""The environment report every chapter prints first: versions, device, and the models available now.

>>> facts = environment_facts()
>>> facts["device"] in {"cpu", "cuda", "mps"} or facts["device"].startswith("problem")
True
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

from course_utils.env import DeviceUnavailableError, hub_reachable, pick_device
from course_utils.models import list_models


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_facts() -> dict[str, str]:
    """Versions, device and model availability, as plain strings (one dict, easy to print or test)."""
    facts = {
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu cores": str(os.cpu_count()),
    }
    for dist in ("torch", "transformer-lens", "transformers", "circuitsvis", "ipywidgets", "jupyterlab"):
        facts[dist] = package_version(dist) or "not installed"
    try:
        facts["device"] = pick_device()
    except DeviceUnavailableError as err:
        facts["device"] = f"problem: {err}"
    facts["hub"] = "offline" if not hub_reachable() else "reachable"
    available = [m.name for m in list_models(probe_hub=False) if m.available]
    facts["models available now"] = ", ".join(available) or "none"
    return facts


def report() -> dict[str, str]:
    """Print the environment facts as a two-column table and return them."""
    import pandas as pd

    facts = environment_facts()
    print(pd.Series(facts, name="").to_string())
    return facts
