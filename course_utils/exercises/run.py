"""Running a learner's answer on a case, and turning whatever happens into an :class:`Outcome`.

This is the only step that executes learner code. It runs in the notebook (for ``check()``) and, when
an instructor grades, inside the grader's sandbox. Nothing here decides whether the answer is right:
an Outcome carries plain data (what came back, or why nothing did), which :mod:`course_utils.exercises.judge`
compares with the reference elsewhere.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import sysconfig
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from course_utils import plain
from course_utils.exercises.spec import PLAIN_EXTENSIONS, forget_resources, resolve

Status = Literal["ok", "error", "unanswered", "timeout", "notplain"]


class CheckTimeout(BaseException):
    """Raised by the alarm when learner code runs too long (BaseException: learner code rarely catches it)."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in this block after ``seconds`` (main thread, SIGALRM; else no limit)."""
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CheckTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What happened when a learner's answer met one case.

    ``status``: ``ok`` (``value`` holds the plain result), ``error`` (the function raised),
    ``unanswered`` (still a stub), ``timeout``, or ``notplain`` (the result is of a type that cannot be
    graded, such as a tensor subclass). ``modified`` names the inputs the function changed in place.
    """

    status: Status
    value: Any = None
    message: str = ""
    modified: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> str:
        """One line of JSON (plain data only)."""
        return plain.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> Outcome:
        """Read one line written by :meth:`to_json`; ``BadPlainData`` when it is not one."""
        return cls.from_plain(plain.loads(line, extensions=PLAIN_EXTENSIONS))

    @classmethod
    def from_plain(cls, data: Any) -> Outcome:
        """An Outcome from decoded plain data, checking every field's type (it came from a sandbox)."""
        if type(data) is not dict or data.get("status") not in ("ok", "error", "unanswered", "timeout", "notplain"):
            raise plain.BadPlainData("not an outcome")
        modified = data.get("modified", [])
        if type(modified) is not list or not all(type(m) is str for m in modified):
            raise plain.BadPlainData("bad 'modified'")
        seconds = data.get("seconds", 0.0)
        return cls(status=data["status"], value=data.get("value"), message=str(data.get("message", ""))[:4000],
                   modified=modified[:20], seconds=float(seconds) if type(seconds) in (int, float) else 0.0)


# ---------------------------------------------------------------------------------------------
# Noticing inputs changed in place


def _fingerprint(module: Any) -> float:
    """A cheap summary of a torch module's weights (every 997th number of each parameter, summed)."""
    import torch

    with torch.no_grad():
        return float(sum(p.detach().reshape(-1)[::997].double().sum() for p in module.parameters()))


def _snapshot(value: Any) -> Any:
    """A copy of the tensors and arrays inside ``value`` (and fingerprints of torch modules)."""
    import numpy as np
    import torch

    if type(value) in (torch.Tensor, torch.nn.Parameter):
        return ("tensor", torch.Tensor.clone(torch.Tensor.detach(value)))
    if type(value) is np.ndarray:
        return ("ndarray", value.copy())
    if isinstance(value, torch.nn.Module):
        return ("module", _fingerprint(value))
    if type(value) in (list, tuple):
        return ("seq", [_snapshot(v) for v in value])
    if type(value) is dict:
        return ("dict", {k: _snapshot(v) for k, v in value.items()})
    return ("other", None)


def _unchanged(value: Any, snap: Any) -> bool:
    import numpy as np
    import torch

    kind, saved = snap
    if kind == "tensor":
        return (type(value) in (torch.Tensor, torch.nn.Parameter) and value.shape == saved.shape
                and bool(torch.equal(torch.Tensor.detach(value), saved)))
    if kind == "ndarray":
        return type(value) is np.ndarray and value.shape == saved.shape and bool(np.array_equal(value, saved, equal_nan=True))
    if kind == "module":
        return _fingerprint(value) == saved
    if kind == "seq":
        return type(value) in (list, tuple) and len(value) == len(saved) and all(map(_unchanged, value, saved))
    if kind == "dict":
        return type(value) is dict and value.keys() == saved.keys() and all(_unchanged(value[k], saved[k]) for k in saved)
    return True


def _parameter_names(fn: Any, n_args: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [f"`{params[i]}`" if i < len(params) else f"argument {i + 1}" for i in range(n_args)]


# ---------------------------------------------------------------------------------------------
# Describing what the learner's code raised


def _learner_location(exc: BaseException) -> str:
    """``in f, line 4: return q @ k`` for the deepest frame outside the course and the libraries, or ''."""
    library_dirs = (str(Path(__file__).resolve().parents[1]), sysconfig.get_paths()["stdlib"])
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(library_dirs) and "-packages" not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f"in {frame.name}, line {frame.lineno}{code}"


def _describe(exc: BaseException) -> tuple[Status, str]:
    if isinstance(exc, NotImplementedError):
        return "unanswered", "not attempted yet (the function still raises NotImplementedError)"
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:  # an exception whose __str__ fails
        text = type(exc).__name__
    where = _learner_location(exc)
    return "error", f"your function raised {text}" + (f"\n{where}" if where else "")


def is_stub(value: Any, kind: str) -> bool:
    """An answer still set to ``...`` (or a value or choice set to None) has not been answered."""
    return value is Ellipsis or (kind != "function" and value is None)


# ---------------------------------------------------------------------------------------------
# Running


def run_case(answer: Any, kind: str, inputs: Mapping[str, Any], *, seconds: float | None) -> Outcome:
    """Call ``answer`` on ``inputs`` (``{"args": [...], "kwargs": {...}}``) or, for values and choices,
    take ``answer`` itself; never raises (but KeyboardInterrupt)."""
    if is_stub(answer, kind):
        return Outcome("unanswered", message="not answered yet (the answer is still `...`)")
    if kind != "function":
        return _as_outcome(answer, 0.0)
    if not callable(answer):
        return Outcome("error", message=f"expected a function, got {type(answer).__name__}")
    try:
        args, kwargs = resolve(list(inputs.get("args", []))), resolve(dict(inputs.get("kwargs", {})))
    except Exception as err:
        return Outcome("error", message=f"the check could not prepare its inputs ({type(err).__name__}: {err})")
    reset_model_hooks()
    snapshots = [_snapshot(a) for a in args], {k: _snapshot(v) for k, v in kwargs.items()}
    started = time.perf_counter()
    try:
        with time_limit(seconds):
            result = answer(*args, **kwargs)
    except CheckTimeout:
        return Outcome("timeout", message=f"your function did not return within {seconds:g} s (an endless loop?)",
                       seconds=time.perf_counter() - started)
    except Exception as exc:
        status, message = _describe(exc)
        return Outcome(status, message=message, seconds=time.perf_counter() - started)
    finally:
        reset_model_hooks()
    outcome = _as_outcome(result, time.perf_counter() - started)
    names = _parameter_names(answer, len(args))
    outcome.modified = [names[i] for i, (a, s) in enumerate(zip(args, snapshots[0])) if not _unchanged(a, s)]
    outcome.modified += [f"`{k}`" for k, v in kwargs.items() if not _unchanged(v, snapshots[1][k])]
    if outcome.modified:
        forget_resources()  # a shared input (a table, a model) may be damaged: build it again next time
    return outcome


def _as_outcome(result: Any, seconds: float) -> Outcome:
    try:
        return Outcome("ok", value=plain.to_plain(result), seconds=seconds)
    except plain.NotPlain as err:
        return Outcome("notplain", message=str(err), seconds=seconds)
    except Exception as err:  # an object whose inspection itself fails
        return Outcome("notplain", message=f"the result could not be read ({type(err).__name__})", seconds=seconds)


def reset_model_hooks() -> None:
    """Remove hooks that learner code may have left on loaded models (hooks are global state)."""
    from course_utils import models

    for bridge in models.loaded_models():
        with contextlib.suppress(Exception):
            bridge.reset_hooks()
