"""The machine the course runs on: which device to use, whether the Hub is reachable, what is installed.

Every chapter starts by calling :func:`report`, so a learner sees at once which versions, which
device and which offline models they have.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import sys
from urllib.parse import urlparse

DEVICE_ENV_VAR = "COURSE_DEVICE"
HUB_PROBE_TIMEOUT_S = 3.0


def pick_device(requested: str | None = None) -> str:
    """Choose where tensors live: the argument, else ``$COURSE_DEVICE``, else cuda, mps, cpu.

    >>> pick_device("cpu")
    'cpu'
    """
    choice = requested or os.environ.get(DEVICE_ENV_VAR) or None
    if choice:
        return choice
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if _mps_works():
        return "mps"
    return "cpu"


def _mps_works() -> bool:
    """Apple's MPS backend can report itself available yet fail on first use; try one small op."""
    import torch

    if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        return False
    try:
        (torch.ones(2, device="mps") * 2).sum().item()
    except Exception:
        return False
    return True


def hub_offline_flag() -> bool:
    """True when the user asked Hugging Face libraries to stay offline."""
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_answers(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether the Hugging Face Hub accepts a TCP connection within ``timeout`` seconds."""
    parsed = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((parsed.hostname or "huggingface.co", parsed.port or 443), timeout):
            return True
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """Whether hub downloads can work: not switched off, and the Hub answers.

    Cached for the life of the process: a kernel that started offline is treated as offline.
    """
    return not hub_offline_flag() and hub_answers()


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_facts() -> dict[str, str]:
    """Versions, device and model availability, as plain strings (one dict, easy to print or test)."""
    from course_utils.models import list_models

    facts = {
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu cores": str(os.cpu_count()),
    }
    for dist in ("torch", "transformer-lens", "transformers", "circuitsvis", "ipywidgets", "jupyterlab"):
        facts[dist] = package_version(dist) or "not installed"
    facts["device"] = pick_device()
    facts["hub"] = "offline" if not hub_reachable() else "reachable"
    available = [m.name for m in list_models(probe_hub=False) if m.available]
    facts["models available now"] = ", ".join(available) or "none"
    return facts


def report() -> dict[str, str]:
    """Print the environment facts as an aligned table and return them."""
    facts = environment_facts()
    width = max(map(len, facts))
    for key, value in facts.items():
        print(f"{key:<{width}}  {value}")
    return facts
