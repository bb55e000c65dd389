"""Exercise checks: the registry of exercises, ``check()`` for notebooks, and answer comparison.

A chapter module (``course_utils/exercises/chNN.py``) registers each exercise with its reference
answer and its visible checks::

    @exercise("cosine_similarity", chapter="01", number="1.2", title="Cosine similarity")
    def cosine_similarity(a, b):          # the reference implementation
        ...

    @cosine_similarity.check("matches the reference on random 50-d vectors")
    def _(submission):
        expect_close(submission(a, b), cosine_similarity.reference(a, b), name="cosine_similarity(a, b)")

In a notebook, the learner's cell ends with ``cosine_similarity = check("cosine_similarity",
cosine_similarity)``. ``check`` prints one line on success and a diagnosis on failure, and returns what
the rest of the chapter should use: the learner's object when every visible check passes, the
reference otherwise. It never raises into the notebook (except for an unknown exercise id).

Hidden checks (``instructor/hidden_checks/NN_slug.py``) use :func:`hidden_check`; only the grader
loads them. :func:`grade_namespace` is the grader's entry point inside the submission's kernel.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import hashlib
import importlib
import importlib.util
import json
import math
import operator
import os
import re
import signal
import sys
import sysconfig
import threading
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["function", "value", "choice"]
Status = Literal["pass", "fail", "error", "timeout", "unanswered", "skipped", "internal"]

DEFAULT_TIME_LIMIT_S = 20.0
TIME_LIMIT_ENV_VAR = "COURSE_CHECK_TIME_LIMIT"  # the grader sets it so that batch runs wait less
REFERENCE_MARK = "__course_reference__"  # attribute set on every reference object the course hands out
EXERCISES_DIR = Path(__file__).resolve().parent / "exercises"
_PASS, _FAIL = "✓", "✗"

# ---------------------------------------------------------------------------------------------
# Errors and small records


class CheckTimeout(BaseException):
    """Raised by the alarm when a check runs too long (BaseException: learner code rarely catches it)."""


class LearnerError(Exception):
    """An exception raised inside the learner's function, wrapped so checks can tell it apart."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.exc = exc


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``compute()`` returns what that mistake would produce; ``hint`` explains it."""

    hint: str
    compute: Callable[[], Any]


@dataclass
class Check:
    """One check of an exercise: ``fn(submission)`` returns on success, raises AssertionError otherwise."""

    name: str
    fn: Callable[[Any], None]
    hidden: bool = False
    time_limit: float | None = None


@dataclass
class CheckResult:
    """What one check said about one submission."""

    name: str
    status: Status
    message: str = ""
    hidden: bool = False

    @property
    def passed(self) -> bool:
        return self.status == "pass"


# ---------------------------------------------------------------------------------------------
# Exercises and the registry


class Exercise:
    """One exercise: its id, place in the course, reference answer and checks.

    ``kind="function"``: ``reference`` is the reference function; checks receive the learner's callable.
    ``kind="value"``: ``reference()`` returns the reference value (computed once); checks get the value.
    ``kind="choice"``: the accepted answers are stored only as hashes; one built-in check compares.
    """

    def __init__(
        self,
        id: str,
        *,
        chapter: str,
        number: str,
        title: str,
        kind: Kind,
        reference: Callable[..., Any] | None = None,
        options: Mapping[str, str] | None = None,
        answer_hashes: Iterable[str] = (),
        explanation: str = "",
        feedback: Mapping[str, str] | None = None,
        graded: bool = True,
    ) -> None:
        if kind not in ("function", "value", "choice"):
            raise ValueError(f"exercise {id!r}: kind must be 'function', 'value' or 'choice', not {kind!r}")
        self.id, self.chapter, self.number, self.title, self.kind = id, str(chapter), str(number), title, kind
        self.options = dict(options or {})
        self.answer_hashes = frozenset(answer_hashes)
        self.explanation = explanation
        self.graded = graded  # False for demonstrations: check() works, the grader ignores them
        self.feedback = {normalise_answer(k): v for k, v in (feedback or {}).items()}
        self.checks: list[Check] = []
        self.reference = self._prepare_reference(reference)

    def _prepare_reference(self, reference: Callable[..., Any] | None) -> Callable[..., Any] | None:
        if reference is None:
            return None
        if self.kind == "value":
            reference = functools.cache(reference)  # may load a model: compute once per process
        with contextlib.suppress(AttributeError, TypeError):
            setattr(reference, REFERENCE_MARK, self.id)
        return reference

    @property
    def __course_reference__(self) -> str:  # the Exercise object itself is course material too
        return self.id

    def check(self, name: str, *, time_limit: float | None = None) -> Callable[[Callable], Callable]:
        """Decorator: register a visible check named ``name`` (the case the learner sees on failure)."""

        def register(fn: Callable[[Any], None]) -> Callable[[Any], None]:
            self.add_check(name, fn, time_limit=time_limit)
            return fn

        return register

    def add_check(self, name: str, fn: Callable[[Any], None], *, hidden: bool = False,
                  time_limit: float | None = None) -> None:
        """Add a check; a check with the same name and visibility replaces the old one (re-imports)."""
        self.checks = [c for c in self.checks if (c.name, c.hidden) != (name, hidden)]
        self.checks.append(Check(name, fn, hidden, time_limit))

    @property
    def visible_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.hidden]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the reference: ``ex(a, b)`` for functions, ``ex()`` (the value) for values."""
        if self.reference is None:
            raise TypeError(f"exercise {self.id!r} ({self.kind}) has no callable reference")
        return self.reference(*args, **kwargs)

    def handout(self) -> Any:
        """What later cells get when the learner's answer failed: the reference, or None for choices."""
        if self.kind == "function":
            return self.reference
        if self.kind == "value":
            value = self.reference()
            with contextlib.suppress(Exception):
                return copy.deepcopy(value)  # later cells must not be able to change the cached value
            return value
        return None

    def __repr__(self) -> str:
        return f"<Exercise {self.number} {self.id!r} ({self.kind}, chapter {self.chapter}, {len(self.checks)} checks)>"


_REGISTRY: dict[str, Exercise] = {}
_LOAD_ERRORS: dict[str, str] = {}  # chapter module -> why it failed to import
_SUBMITTED: dict[str, Any] = {}  # exercise id -> the learner's own object at the last check()
_HANDED_OUT: dict[str, Any] = {}  # exercise id -> the reference check() returned instead


def register(ex: Exercise) -> Exercise:
    """Add ``ex`` to the registry; ids are unique across the course (re-registering the same one is fine)."""
    old = _REGISTRY.get(ex.id)
    if old is not None and (old.chapter, old.number) != (ex.chapter, ex.number):
        raise ValueError(f"exercise id {ex.id!r} is already used by exercise {old.number} (chapter {old.chapter})")
    _REGISTRY[ex.id] = ex
    return ex


def exercise(id: str, *, chapter: str, number: str, title: str,
             kind: Literal["function", "value"] = "function", graded: bool = True) -> Callable[[Callable], Exercise]:
    """Decorator: register the decorated function as the reference of a function or value exercise.

    ``graded=False`` makes a demonstration: ``check`` works on it, the grader leaves it out.
    """

    def make(reference: Callable[..., Any]) -> Exercise:
        return register(Exercise(id, chapter=chapter, number=number, title=title, kind=kind,
                                 reference=reference, graded=graded))

    return make


def exercise_choice(
    id: str, *, chapter: str, number: str, title: str, options: Mapping[str, str] | None = None,
    answer: str | Iterable[str] | None = None, answer_hash: str | Iterable[str] | None = None,
    explanation: str = "", feedback: Mapping[str, str] | None = None,
) -> Exercise:
    """Register a multiple-choice (or short-answer) question graded automatically.

    Give the accepted answer(s) as ``answer_hash`` (from :func:`hash_answer`, so the course package
    never holds them in plain text) or, for drafts, as ``answer``. ``options`` maps letters to text;
    leave it empty for a short free-text answer. ``feedback`` maps a wrong option to a targeted hint.
    """
    hashes = set(_as_strings(answer_hash))
    hashes |= {hash_answer(id, a) for a in _as_strings(answer)}
    if not hashes:
        raise ValueError(f"choice exercise {id!r} needs answer or answer_hash")
    ex = Exercise(id, chapter=chapter, number=number, title=title, kind="choice", options=options,
                  answer_hashes=hashes, explanation=explanation, feedback=feedback)
    ex.add_check("your answer", functools.partial(_check_choice, ex))
    return register(ex)


def _as_strings(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def normalise_answer(answer: Any) -> str:
    """Case-, space- and bracket-insensitive form of an answer: ``" (B). "`` -> ``"b"``."""
    text = unicodedata.normalize("NFKC", str(answer)).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" ()[]'\"`.").strip()


def hash_answer(exercise_id: str, answer: str) -> str:
    """sha256 of the normalised answer, salted with the exercise id (what ``answer_hash`` expects)."""
    return hashlib.sha256(f"{exercise_id}\0{normalise_answer(answer)}".encode()).hexdigest()


def _check_choice(ex: Exercise, submission: Any) -> None:
    """The built-in check of a choice exercise."""
    if not isinstance(submission, str):
        raise AssertionError(f"expected a string such as 'b', got {type(submission).__name__} {submission!r}")
    given = normalise_answer(submission)
    letters = {normalise_answer(k): k for k in ex.options}
    by_text = {normalise_answer(v): k for k, v in ex.options.items()}
    if letters and given not in letters:
        if given not in by_text:
            raise AssertionError(f"{submission!r} is not one of the options: {', '.join(ex.options)}")
        given = normalise_answer(by_text[given])
    if hash_answer(ex.id, given) in ex.answer_hashes:
        return
    lines = [f"{submission!r} is not the answer we expected"]
    if given in ex.feedback:
        lines.append(f"hint: {ex.feedback[given]}")
    raise AssertionError("\n".join(lines))


def hidden_check(exercise_id: str, name: str, *, time_limit: float | None = None) -> Callable[[Callable], Callable]:
    """Decorator for instructor-only checks: ``@hidden_check("cosine_similarity", "orthogonal gives 0")``."""

    def register_hidden(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        get_exercise(exercise_id).add_check(name, fn, hidden=True, time_limit=time_limit)
        return fn

    return register_hidden


def _load_chapters() -> None:
    """Import ``course_utils.exercises`` so that every chapter's exercises are registered."""
    if "course_utils.exercises" not in sys.modules:
        importlib.import_module("course_utils.exercises")


def get_exercise(id_or_number: str) -> Exercise:
    """The exercise with this id (or number, e.g. ``"1.2"``); KeyError naming close ids otherwise."""
    _load_chapters()
    if id_or_number in _REGISTRY:
        return _REGISTRY[id_or_number]
    for ex in _REGISTRY.values():
        if ex.number == id_or_number:
            return ex
    close = difflib.get_close_matches(str(id_or_number), list(_REGISTRY), n=3, cutoff=0.5)
    msg = f"no exercise with id {id_or_number!r}"
    msg += f"; did you mean {', '.join(map(repr, close))}?" if close else f"; known ids: {', '.join(sorted(_REGISTRY))}"
    if _LOAD_ERRORS:
        msg += "; some chapters failed to load: " + "; ".join(f"{m}: {e}" for m, e in _LOAD_ERRORS.items())
    raise KeyError(msg)


def _number_key(ex: Exercise) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\-]", ex.number))


def exercises_for_chapter(chapter: str, *, graded_only: bool = True) -> list[Exercise]:
    """The chapter's exercises in the order of their numbers (demonstrations left out by default)."""
    _load_chapters()
    chosen = (ex for ex in _REGISTRY.values() if ex.chapter == str(chapter) and (ex.graded or not graded_only))
    return sorted(chosen, key=_number_key)


# ---------------------------------------------------------------------------------------------
# Running checks


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in this block after ``seconds`` (main thread with SIGALRM only)."""
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


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the learner's function so that its exceptions reach us as :class:`LearnerError`."""

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise LearnerError(exc) from exc

    return guarded


def _learner_location(exc: BaseException) -> str:
    """``in f, line 4: return q @ k`` for the deepest frame in the learner's code, or ''."""
    library_dirs = (str(Path(__file__).resolve().parent), sysconfig.get_paths()["stdlib"])
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(library_dirs) and "-packages" not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f"in {frame.name}, line {frame.lineno}{code}"


def _describe_learner_error(exc: BaseException) -> tuple[Status, str]:
    if isinstance(exc, NotImplementedError):
        return "unanswered", "not attempted yet (the function still raises NotImplementedError)"
    where = _learner_location(exc)
    message = f"your function raised {type(exc).__name__}: {exc}"
    return "error", message + (f"\n{where}" if where else "")


def is_unanswered(ex: Exercise, submission: Any) -> bool:
    """An answer still set to ``...`` (or a value or choice set to None) has not been answered."""
    return submission is Ellipsis or (ex.kind != "function" and submission is None)


def run_check(ex: Exercise, chk: Check, submission: Any, *, default_limit: float | None) -> CheckResult:
    """Run one check on ``submission`` with a time limit; never raises (except KeyboardInterrupt)."""
    limit = chk.time_limit or default_limit

    def result(status: Status, message: str = "") -> CheckResult:
        return CheckResult(chk.name, status, message, chk.hidden)

    if is_unanswered(ex, submission):
        return result("unanswered", "not answered yet (the answer is still `...`)")
    if ex.kind == "function" and not callable(submission):
        return result("fail", f"expected a function, got {type(submission).__name__} {_short_repr(submission)}")
    arg = _guard(submission) if ex.kind == "function" else submission
    try:
        with time_limit(limit):
            chk.fn(arg)
    except CheckTimeout:
        what = "your function" if ex.kind == "function" else "the check"
        return result("timeout", f"{what} did not return within {limit:g} s (an endless loop?)")
    except LearnerError as err:
        return result(*_describe_learner_error(err.exc))
    except AssertionError as err:
        return result("fail", str(err) or "the check failed")
    except Exception as err:  # a wrong kind of object usually ends up here
        return result("error", f"checking your answer raised {type(err).__name__}: {err}")
    return result("pass")


def run_checks(ex: Exercise, submission: Any, checks: Sequence[Check], *,
               default_limit: float | None = DEFAULT_TIME_LIMIT_S) -> list[CheckResult]:
    """Run ``checks`` in order; after a time-out or an unattempted answer the rest are not run."""
    results: list[CheckResult] = []
    stopped: CheckResult | None = None
    for chk in checks:
        if stopped is None:
            results.append(run_check(ex, chk, submission, default_limit=default_limit))
            stopped = results[-1] if results[-1].status in ("timeout", "unanswered") else None
        elif stopped.status == "unanswered":
            results.append(CheckResult(chk.name, "unanswered", stopped.message, chk.hidden))
        else:
            results.append(CheckResult(chk.name, "skipped", "not run: an earlier check timed out", chk.hidden))
    return results


def _reset_model_hooks() -> None:
    """Remove hooks a previous cell may have left on loaded models (they are global state)."""
    models = sys.modules.get("course_utils.models")
    for bridge in list(getattr(models, "_LOADED", {}).values()):
        with contextlib.suppress(Exception):
            bridge.reset_hooks()


# ---------------------------------------------------------------------------------------------
# check(): what the notebook calls


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _continuation(ex: Exercise) -> str:
    if ex.kind == "function":
        return "→ continuing with the reference implementation for the rest of the chapter"
    if ex.kind == "value":
        return "→ continuing with the reference value for the rest of the chapter"
    return "→ change your answer and run this cell again"


def format_outcome(ex: Exercise, results: Sequence[CheckResult]) -> str:
    """The lines ``check`` prints: one line on success, the first failure's diagnosis otherwise."""
    passed = sum(r.passed for r in results)
    if passed == len(results):
        line = f"{_PASS} {ex.number} {ex.id} ({passed}/{len(results)} checks)"
        return line + (f" — {ex.explanation}" if ex.kind == "choice" and ex.explanation else "")
    first = next(r for r in results if not r.passed)
    if first.status == "unanswered":
        text = f"{_FAIL} {ex.number} {ex.id}: {first.message}"
    else:
        text = f"{_FAIL} {ex.number} {ex.id}: {first.name}\n{_indent(first.message)}"
        if passed:
            text += f"\n  ({passed} of {len(results)} checks passed)"
    return f"{text}\n{_continuation(ex)}"


def default_time_limit() -> float:
    """Seconds a check may run: ``$COURSE_CHECK_TIME_LIMIT`` when set, else 20."""
    try:
        return float(os.environ.get(TIME_LIMIT_ENV_VAR, DEFAULT_TIME_LIMIT_S))
    except ValueError:
        return DEFAULT_TIME_LIMIT_S


def _is_handout(exercise_id: str, obj: Any) -> bool:
    """Whether ``obj`` is the very reference value check() returned last time for this exercise.

    Small ints, strings, bools and None are shared by Python, so identity proves nothing for them.
    """
    if isinstance(obj, (bool, str, type(None))) or (isinstance(obj, int) and -5 <= obj <= 256):
        return False
    return exercise_id in _HANDED_OUT and obj is _HANDED_OUT[exercise_id]


def check(exercise_id: str, submission: Any, *, time_limit: float | None = None) -> Any:
    """Check the learner's answer to an exercise, print the outcome, and return what later cells use.

    Returns ``submission`` when every visible check passes, else the reference (function or value).
    Each check may run ``time_limit`` seconds (default: :func:`default_time_limit`).
    Raises only ``KeyError`` for an unknown exercise id; everything else is reported, not raised.
    """
    ex = get_exercise(exercise_id)
    if is_reference(submission) or _is_handout(ex.id, submission):
        # the check line ran again on what it returned last time; keep the learner's attempt on record
        print(f"{_FAIL} {ex.number} {ex.id}: this is the course's reference, not your answer\n"
              f"  run the cell that defines `{ex.id}` again, then this check\n{_continuation(ex)}")
        return submission
    _SUBMITTED[ex.id] = submission
    try:
        _reset_model_hooks()
        results = run_checks(ex, submission, ex.visible_checks, default_limit=time_limit or default_time_limit())
        print(format_outcome(ex, results))
        ok = all(r.passed for r in results)
    except Exception as err:  # a bug in a check must not stop the learner's chapter
        print(f"{_FAIL} {ex.number} {ex.id}: the checker itself failed ({type(err).__name__}: {err})\n"
              f"{_continuation(ex)}")
        ok = False
    if ok or ex.kind == "choice":
        _HANDED_OUT.pop(ex.id, None)
        return submission
    _HANDED_OUT[ex.id] = ex.handout()
    return _HANDED_OUT[ex.id]


# ---------------------------------------------------------------------------------------------
# Comparing answers


def expect(condition: bool, message: str) -> None:
    """Property check: raise AssertionError(message) unless ``condition``."""
    if not condition:
        raise AssertionError(message)


def expect_whole_number(value: Any, name: str, *, hint: str = "") -> int:
    """``int(value)`` when ``value`` is a whole number (int, numpy integer, one-element integer tensor).

    Anything else (a float, a bool, a list, a float tensor) raises AssertionError naming what came
    back; ``hint`` is added to that message.
    """
    if isinstance(value, bool):
        raise AssertionError(f"{name}: expected a whole number, got the boolean {value!r}")
    if _kind_of(value) == "tensor" and value.numel() == 1 and not value.dtype.is_floating_point:
        return int(value.item())
    try:
        return operator.index(value)
    except TypeError:
        raise AssertionError(f"{name}: expected a whole number such as 7, got {type(value).__name__} "
                             f"{_short_repr(value, 60)}" + (f"\nhint: {hint}" if hint else "")) from None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) or type(x).__module__ == "numpy" and getattr(x, "ndim", 1) == 0


def _kind_of(x: Any) -> str:
    """'tensor', 'ndarray', 'number', 'sequence' or 'other'."""
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        return "tensor"
    if type(x).__name__ == "ndarray":
        return "ndarray"
    if _is_number(x):
        return "number"
    if isinstance(x, (list, tuple)):
        return "sequence"
    return "other"


_KIND_WORDS = {"tensor": "a torch.Tensor", "ndarray": "a numpy array", "number": "a number",
               "sequence": "a list or tuple", "other": "an object"}


def _to_tensor(x: Any) -> Any:
    """A detached CPU torch tensor with the same values (numbers and sequences included)."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    return torch.as_tensor(x).cpu()


def _family(t: Any) -> str:
    """'bool', 'int', 'float' or 'complex': the dtype families that must agree."""
    if t.dtype.is_complex:
        return "complex"
    if t.dtype.is_floating_point:
        return "float"
    return "bool" if str(t.dtype) == "torch.bool" else "int"


def _short_repr(x: Any, limit: int = 80) -> str:
    text = repr(x).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _preview(t: Any, n: int = 6) -> str:
    """``[0.1234, -0.5, ...]`` (first ``n`` values) for a tensor, or the number itself."""
    if t.ndim == 0:
        return f"{t.item():.6g}" if t.dtype.is_floating_point else str(t.item())
    flat = t.reshape(-1)
    vals = [f"{v:.4g}" if t.dtype.is_floating_point else str(v) for v in flat[:n].tolist()]
    return "[" + ", ".join(vals) + (", ..." if flat.numel() > n else "") + "]"


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(t.shape)


def _shape_hints(got: tuple[int, ...], want: tuple[int, ...]) -> list[str]:
    """Guesses at the cause of a shape mismatch."""
    if len(got) == len(want) and sorted(got) == sorted(want):
        return ["the dimensions are in a different order: check transpose/permute or your einsum output"]
    if len(got) == len(want) + 1:
        for i, size in enumerate(got):
            if got[:i] + got[i + 1:] == want:
                if size == 1:
                    return [f"there is an extra dimension of size 1 at position {i}: squeeze it"]
                return [f"there is an extra dimension at position {i} (size {size}): did you forget to reduce over it?"]
    if len(got) + 1 == len(want):
        for i, size in enumerate(want):
            if want[:i] + want[i + 1:] == got:
                if size == 1:
                    return [f"a dimension of size 1 is missing at position {i}: keepdim=True or unsqueeze({i})"]
                return [f"dimension {i} (size {size}) is missing: you may have reduced over it"]
    return []


def _matches(actual: Any, wrong: Any, atol: float, rtol: float) -> bool:
    """Whether ``actual`` equals the wrong answer ``wrong`` (same shape, close values)."""
    import torch

    try:
        w = _to_tensor(wrong)
    except Exception:
        return False
    if _shape(w) != _shape(actual):
        return False
    return bool(torch.allclose(actual.double(), w.double(), rtol=rtol, atol=atol, equal_nan=True))


def _mistake_hint(actual: Any, expected: Any, mistakes: Sequence[Mistake], atol: float, rtol: float) -> str | None:
    """The hint of the first known mistake that ``actual`` reproduces (and the reference does not)."""
    for mistake in mistakes:
        try:
            wrong = mistake.compute()
        except Exception:
            continue
        if _matches(actual, wrong, atol, rtol) and not _matches(expected, wrong, atol, rtol):
            return mistake.hint
    return None


def _pattern_hint(actual: Any, expected: Any) -> str | None:
    """'every value is 8× the reference' or 'off by the same amount' when the error is that regular."""
    import torch

    a, e = actual.double().reshape(-1), expected.double().reshape(-1)
    finite = torch.isfinite(a) & torch.isfinite(e)
    nonzero = finite & (e.abs() > 1e-12)
    if nonzero.sum() >= 2:
        ratio = a[nonzero] / e[nonzero]
        r = ratio.median().item()
        if abs(r - 1) > 1e-3 and torch.allclose(ratio, torch.full_like(ratio, r), rtol=1e-3, atol=1e-9):
            return f"every value is {r:.4g}× the reference"
    if finite.sum() >= 2:
        offset = a[finite] - e[finite]
        c = offset.median().item()
        if abs(c) > 1e-9 and torch.allclose(offset, torch.full_like(offset, c), rtol=1e-3, atol=1e-6):
            return f"every value is off by the same amount, {c:+.4g}"
    return None


def _index_str(flat_index: int, shape: tuple[int, ...]) -> str:
    idx = []
    for size in reversed(shape):
        idx.append(flat_index % size)
        flat_index //= size
    return "[" + ", ".join(map(str, reversed(idx))) + "]"


def _check_kinds(actual: Any, expected: Any, name: str) -> None:
    want, got = _kind_of(expected), _kind_of(actual)
    scalar_ok = want == "number" and got in ("tensor", "ndarray") and getattr(actual, "ndim", 1) == 0
    if got == want or scalar_ok or (want == "sequence" and got in ("tensor", "ndarray")):
        return
    hint = {("tensor", "ndarray"): "convert with torch.from_numpy(...)",
            ("number", "tensor"): "a one-element tensor becomes a number with .item()",
            ("tensor", "sequence"): "build a tensor with torch.stack or torch.tensor(...)"}.get((want, got), "")
    raise AssertionError(f"{name}: expected {_KIND_WORDS[want]}, got {type(actual).__name__} {_short_repr(actual)}"
                         + (f"\nhint: {hint}" if hint else ""))


def _check_nonfinite(act: Any, exp: Any, name: str) -> None:
    import torch

    bad = ~torch.isfinite(act.double()) & torch.isfinite(exp.double())
    if not bad.any():
        return
    first = int(bad.reshape(-1).nonzero()[0])
    what = "NaN" if torch.isnan(act.double()).any() else "inf"
    raise AssertionError(
        f"{name}: shape ok {_shape(act)}, but it contains {what} ({int(bad.sum())} of {act.numel()} entries, "
        f"first at {_index_str(first, _shape(act))})\n"
        "hint: NaN usually comes from 0/0, the log of 0 or of a negative number, or a softmax over a row "
        "that is entirely -inf; inf from dividing by 0 or exp of a large number")


def expect_close(actual: Any, expected: Any, *, name: str = "your result", atol: float = 1e-5,
                 rtol: float = 1e-4, mistakes: Sequence[Mistake] = ()) -> None:
    """Compare ``actual`` with ``expected`` and explain the first difference found.

    Order: kind (tensor / ndarray / number), shape, dtype family, NaN/inf, known ``mistakes``
    (each gives a hint when ``actual`` reproduces it), then values (max |diff| and where).
    Works on tensors of any shape, numpy arrays, numbers, and lists of numbers.

    Raises:
        AssertionError: with a multi-line message a learner can read.
    """
    import torch

    _check_kinds(actual, expected, name)
    act, exp = _to_tensor(actual), _to_tensor(expected)
    if _shape(act) != _shape(exp):
        hints = _shape_hints(_shape(act), _shape(exp))
        known = _mistake_hint(act, exp, mistakes, atol, rtol)
        hints = ([known] if known else []) + hints
        raise AssertionError(f"{name}: expected shape {_shape(exp)}, got {_shape(act)}"
                             + "".join(f"\nhint: {h}" for h in hints[:2]))
    if _family(act) != _family(exp) and not (_family(exp) == "float" and _kind_of(actual) == "number"):
        words = {"float": "floating-point", "int": "whole-number (integer)", "bool": "boolean", "complex": "complex"}
        what = f"dtype {act.dtype}" if _kind_of(actual) != "number" else f"{type(actual).__name__} {actual!r}"
        raise AssertionError(f"{name}: expected {words[_family(exp)]} values, got {what}\n"
                             f"hint: {_dtype_hint(_family(exp), _family(act))}")
    _check_nonfinite(act, exp, name)
    a64, e64 = act.double(), exp.double()
    close = torch.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return
    lines = [f"{name}: shape ok {_shape(act)}, values wrong" if act.ndim else f"{name}: wrong value",
             f"expected {_preview(exp)}, got {_preview(act)}"]
    known = _mistake_hint(act, exp, mistakes, atol, rtol)
    pattern = _pattern_hint(act, exp)
    lines += [f"hint: {known}"] if known else []
    lines += [pattern] if pattern and not known else []
    if act.ndim:
        diff = (a64 - e64).abs().nan_to_num(nan=math.inf).reshape(-1)
        worst = int(diff.argmax())
        lines.append(f"max |diff| {diff[worst].item():.3g} at {_index_str(worst, _shape(act))}; "
                     f"{int((~close).sum())} of {act.numel()} entries differ")
    raise AssertionError("\n".join(lines))


def _dtype_hint(want: str, got: str) -> str:
    if want == "float" and got == "int":
        return "integer arithmetic somewhere: use / rather than //, or .float()"
    if want == "int" and got == "float":
        return "give a whole number: int(...) or .long(), not a float"
    if got == "bool":
        return "a comparison returns booleans; convert with .float() or .long()"
    return f"convert to {want} values"


# ---------------------------------------------------------------------------------------------
# Grading inside the submission's kernel (called by course_utils.grading)


def is_reference(obj: Any) -> bool:
    """Whether ``obj`` is course material (a reference function or Exercise), not the learner's work."""
    try:
        if getattr(obj, REFERENCE_MARK, None) is not None:
            return True
        code = getattr(obj, "__code__", None)
        return code is not None and Path(code.co_filename).resolve().is_relative_to(EXERCISES_DIR)
    except Exception:
        return False


_MISSING = object()


def _learner_object(ex: Exercise, namespace: Mapping[str, Any], submitted: Mapping[str, Any],
                    handed_out: Mapping[str, Any]) -> tuple[Any, str]:
    """The learner's own answer for ``ex`` (undoing check()'s swap for the reference), or why not."""
    obj = namespace.get(ex.id, _MISSING)
    if obj is _MISSING:
        return _MISSING, f"no variable named `{ex.id}` in the notebook (did its cell run?)"
    if (ex.id in handed_out and obj is handed_out[ex.id]) or is_reference(obj):
        obj = submitted.get(ex.id, _MISSING)  # what the learner passed to check() before the swap
        if obj is _MISSING or is_reference(obj):
            return _MISSING, "the notebook uses the course's reference, not an answer of its own"
    return obj, ""


def _load_hidden(path: Path) -> str:
    """Execute a hidden-checks file (it registers its checks); returns a note, '' when all went well."""
    if not path.is_file():
        return f"no hidden checks at {path}: graded with the visible checks only"
    spec = importlib.util.spec_from_file_location(f"_course_hidden_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        return f"hidden checks in {path} failed to load ({type(err).__name__}: {err})"
    return ""


def grade_exercise(ex: Exercise, namespace: Mapping[str, Any], submitted: Mapping[str, Any],
                   handed_out: Mapping[str, Any], time_limit_s: float) -> dict[str, Any]:
    """Run every check (visible and hidden) of ``ex`` on the learner's object: a JSON-ready dict."""
    obj, why = _learner_object(ex, namespace, submitted, handed_out)
    if obj is _MISSING:
        results = [CheckResult(c.name, "unanswered", why, c.hidden) for c in ex.checks]
    else:
        _reset_model_hooks()
        results = run_checks(ex, obj, ex.checks, default_limit=time_limit_s)
    return {"id": ex.id, "number": ex.number, "title": ex.title, "kind": ex.kind,
            "points": sum(r.passed for r in results), "max_points": len(results),
            "checks": [asdict(r) for r in results]}


def grade_namespace(namespace: Mapping[str, Any], chapter: str, *, hidden_path: str | None,
                    time_limit_s: float = 10.0, submitted: Mapping[str, Any] | None = None,
                    handed_out: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Grade every exercise of ``chapter`` found in ``namespace``; the result is JSON-serialisable."""
    notes = [_load_hidden(Path(hidden_path))] if hidden_path else []
    exercises = [grade_exercise(ex, namespace, submitted or {}, handed_out or {}, time_limit_s)
                 for ex in exercises_for_chapter(chapter)]
    return {"chapter": chapter, "exercises": exercises, "notes": [n for n in notes if n],
            "load_errors": dict(_LOAD_ERRORS)}


def emit_grade(result: Mapping[str, Any], nonce: str) -> None:
    """Print the result as one line framed by the grader's nonce (the only line the grader reads)."""
    sys.stdout.write(f"\n{nonce}{json.dumps(result, default=str)}{nonce}\n")
    sys.stdout.flush()


__all__ = [
    "DEFAULT_TIME_LIMIT_S", "Check", "CheckResult", "CheckTimeout", "Exercise", "Mistake", "check",
    "exercise", "exercise_choice", "exercises_for_chapter", "expect", "expect_close", "expect_whole_number",
    "get_exercise",
    "grade_namespace", "hash_answer", "hidden_check", "normalise_answer", "time_limit",
]
