"""The machine the course runs on: which device to use, whether the Hub is reachable, what is installed.

This module knows nothing about models; :mod:`course_utils.env_report` combines both for a learner.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlparse

from course_utils.errors import OneLineError

DEVICE_ENV_VAR = "COURSE_DEVICE"
HUB_PROBE_TIMEOUT_S = 3.0


class DeviceUnavailableError(OneLineError, ValueError):
    """A device was asked for (argument or ``$COURSE_DEVICE``) that PyTorch cannot use here."""


def pick_device(requested: str | None = None) -> str:
    """Choose where tensors live: the argument, else ``$COURSE_DEVICE``, else cuda, mps, cpu.

    >>> pick_device("cpu")
    'cpu'

    Raises:
        DeviceUnavailableError: the requested device is not a device name, or is not present here.
    """
    choice = requested or os.environ.get(DEVICE_ENV_VAR) or None
    if choice:
        return checked_device(choice, "asked for" if requested else f"set in {DEVICE_ENV_VAR}")
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if _mps_works():
        return "mps"
    return "cpu"


def checked_device(name: str, how: str = "asked for") -> str:
    """``name`` when PyTorch can put tensors there now; otherwise a one-line error saying what to use."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceUnavailableError(
            f"device {name!r} was {how}, but that is not a device name; use 'cpu', 'cuda', 'cuda:1' or 'mps'") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise DeviceUnavailableError(
                f"device {name!r} was {how}, but PyTorch sees no CUDA GPU here (torch {torch.__version__}, {build}); "
                "use 'cpu', or install the torch build that matches your GPU driver")
        if device.index is not None and device.index >= count:
            raise DeviceUnavailableError(f"device {name!r} was {how}, but this machine has {count} CUDA GPU(s), "
                                         f"numbered 0 to {count - 1}")
    if device.type == "mps" and not _mps_works():
        raise DeviceUnavailableError(f"device {name!r} was {how}, but Apple's MPS backend does not work here; use 'cpu'")
    return name


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


