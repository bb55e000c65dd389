"""``check()``: what a chapter notebook calls under each exercise.

The learner's cell ends with ``cosine_similarity = check("cosine_similarity", cosine_similarity)``.
``check`` runs the exercise's visible checks on the answer, prints one line on success or a diagnosis
on failure, and returns what the rest of the chapter should use: the learner's own answer when it
passed, the reference solution otherwise, so that later cells still run. In a release for a graded
class there is no reference: ``check`` then runs the cases (errors, types and inputs changed in place
are still reported), says that the values are compared when the work is graded, and hands on a
:class:`Withheld` stand-in for an answer that does not run.

``check`` never raises into the notebook, except :class:`~course_utils.exercises.UnknownExercise`
for an id that no chapter declares. Feedback here is for the learner; grades come from
``course-grade``, which runs the same cases in a sandbox and judges them outside it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any

from course_utils.exercises.judge import CheckResult, judge_check
from course_utils.exercises.run import run_case
from course_utils.exercises.spec import SOLUTIONS_PACKAGE, Check, Exercise, ReferenceWithheld, get_exercise

DEFAULT_TIME_LIMIT_S = 20.0
TIME_LIMIT_ENV_VAR = "COURSE_CHECK_TIME_LIMIT"  # the grader sets it so that a sandboxed run waits less
PASS, FAIL, RAN = "✓", "✗", "•"
MISSING: Any = object()

_submitted: dict[str, Any] = {}  # exercise id -> the learner's own answer at the last check()
_handed_out: dict[str, Any] = {}  # exercise id -> what check() returned instead of it


class Withheld:
    """Stands in for an answer that did not pass when no reference is available: any use says so."""

    def __init__(self, ex: Exercise) -> None:
        object.__setattr__(self, "_exercise", ex)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        ex = object.__getattribute__(self, "_exercise")
        raise ReferenceWithheld(
            f"exercise {ex.number} ({ex.id}) has no passing answer yet, and this release holds no reference to "
            f"stand in for it: solve the exercise and run its cell again, then this one")

    __call__ = __format__ = __iter__ = __len__ = __bool__ = __getitem__ = __float__ = __int__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __matmul__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = __index__ = __neg__ = _refuse

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # probes such as _repr_html_ or __array__ get the usual answer
            raise AttributeError(name)
        return self._refuse()

    def __repr__(self) -> str:
        ex = object.__getattribute__(self, "_exercise")
        return f"<withheld: exercise {ex.number} {ex.id}>"


def is_course_object(obj: Any) -> bool:
    """Whether ``obj`` was handed out by the course (a reference, a Withheld stand-in, an Exercise)."""
    if type(obj) in (Withheld, Exercise):
        return True
    try:
        return callable(obj) and str(getattr(obj, "__module__", "") or "").startswith(SOLUTIONS_PACKAGE)
    except Exception:
        return False


def default_time_limit() -> float:
    """Seconds one case may run: ``$COURSE_CHECK_TIME_LIMIT`` when set, else 20."""
    try:
        return float(os.environ.get(TIME_LIMIT_ENV_VAR, DEFAULT_TIME_LIMIT_S))
    except ValueError:
        return DEFAULT_TIME_LIMIT_S


# ---------------------------------------------------------------------------------------------
# Running an exercise's checks in this process


def run_checks(ex: Exercise, answer: Any, checks: Sequence[Check], *, seconds: float | None) -> list[CheckResult]:
    """Run and judge ``checks`` in order; after a time-out or an unattempted answer the rest are not run."""
    results: list[CheckResult] = []
    stopped: CheckResult | None = None
    for chk in checks:
        if stopped is not None:
            status = "unanswered" if stopped.status == "unanswered" else "skipped"
            message = stopped.message if status == "unanswered" else "not run: an earlier check timed out"
            results.append(CheckResult(chk.name, status, message, chk.hidden))
            continue
        try:
            cases = chk.cases()
        except Exception as err:
            results.append(CheckResult(chk.name, "internal", f"the check could not build its cases ({err})", chk.hidden))
            continue
        outcomes = []
        for case in cases:
            outcomes.append(run_case(answer, ex.kind, case.inputs(), seconds=chk.time_limit or seconds))
            if outcomes[-1].status != "ok":
                break
        outcomes += [None] * (len(cases) - len(outcomes))
        results.append(judge_check(ex, chk, cases, outcomes))
        stopped = results[-1] if results[-1].status in ("timeout", "unanswered") else None
    return results


# ---------------------------------------------------------------------------------------------
# What the learner sees


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _continuation(ex: Exercise) -> str:
    if ex.kind == "choice":
        return "→ change your answer and run this cell again"
    if not ex.has_reference:
        return (f"→ this release has no reference to stand in for it: cells that use `{ex.id}` will say so "
                "until it passes")
    what = "implementation" if ex.kind == "function" else "value"
    return f"→ continuing with the reference {what} for the rest of the chapter"


def format_outcome(ex: Exercise, results: Sequence[CheckResult]) -> str:
    """The lines ``check`` prints: one line on success, the first failure's diagnosis otherwise."""
    passed = sum(r.passed for r in results)
    if passed == len(results):
        line = f"{PASS} {ex.number} {ex.id} ({passed}/{len(results)} checks)"
        return line + (f" — {ex.explanation}" if ex.kind == "choice" and ex.explanation else "")
    first = next(r for r in results if r.status not in ("pass", "withheld")) if any(
        r.status not in ("pass", "withheld") for r in results) else None
    if first is None:
        ran = "was recorded" if ex.kind == "choice" else "ran on every case without an error"
        return (f"{RAN} {ex.number} {ex.id}: your answer {ran}; this release holds no reference, so it is "
                "compared when your work is graded")
    if first.status == "unanswered":
        text = f"{FAIL} {ex.number} {ex.id}: {first.message}"
    else:
        text = f"{FAIL} {ex.number} {ex.id}: {first.name}\n{_indent(first.message)}"
        if passed:
            text += f"\n  ({passed} of {len(results)} checks passed)"
    return f"{text}\n{_continuation(ex)}"


def _handout(ex: Exercise) -> Any:
    """What later cells get instead of an answer that did not pass."""
    try:
        if ex.kind == "function":
            return ex.reference_function()
        value = ex.reference_value()
    except ReferenceWithheld:
        return Withheld(ex)
    try:
        return copy.deepcopy(value)  # later cells must not be able to change a cached value
    except Exception:
        return value


def _is_handout(exercise_id: str, obj: Any) -> bool:
    """Whether ``obj`` is what check() returned last time (small ints and strings are shared by Python,
    so identity proves nothing for them)."""
    if isinstance(obj, (bool, str, type(None))) or (isinstance(obj, int) and -5 <= obj <= 256):
        return False
    return exercise_id in _handed_out and obj is _handed_out[exercise_id]


def check(exercise_id: str, answer: Any, *, time_limit: float | None = None) -> Any:
    """Check the learner's answer to an exercise, print the outcome, and return what later cells use.

    Each case may run ``time_limit`` seconds (default: :func:`default_time_limit`).
    Raises only :class:`~course_utils.exercises.UnknownExercise`; everything else is reported.
    """
    ex = get_exercise(exercise_id)
    if is_course_object(answer) or _is_handout(ex.id, answer):
        print(f"{FAIL} {ex.number} {ex.id}: this is what the course handed out, not your answer\n"
              f"  run the cell that defines `{ex.id}` again, then this check\n{_continuation(ex)}")
        return answer
    _submitted[ex.id] = answer
    try:
        results = run_checks(ex, answer, ex.visible_checks, seconds=time_limit or default_time_limit())
        print(format_outcome(ex, results))
        usable = all(r.status in ("pass", "withheld") for r in results)
    except Exception as err:  # a bug in a check must not stop the learner's chapter
        print(f"{FAIL} {ex.number} {ex.id}: the checker itself failed ({type(err).__name__}: {err})\n"
              f"{_continuation(ex)}")
        usable = False
    if usable or ex.kind == "choice":
        _handed_out.pop(ex.id, None)
        return answer
    _handed_out[ex.id] = _handout(ex)
    return _handed_out[ex.id]


# ---------------------------------------------------------------------------------------------
# Finding the learner's own answer (used by the grader's collection step)


def learner_answer(exercise_id: str, namespace: Mapping[str, Any]) -> tuple[Any, str]:
    """The learner's own answer in ``namespace``, undoing check()'s swap; (MISSING, why) when there is none."""
    obj = namespace.get(exercise_id, MISSING)
    if obj is MISSING:
        return MISSING, f"no variable named `{exercise_id}` in the notebook (did its cell run?)"
    if is_course_object(obj) or _is_handout(exercise_id, obj):
        obj = _submitted.get(exercise_id, MISSING)
        if obj is MISSING or is_course_object(obj):
            return MISSING, "the notebook uses what the course handed out, not an answer of its own"
    return obj, ""


__all__ = ["Withheld", "check", "default_time_limit", "format_outcome", "is_course_object", "learner_answer",
           "run_checks"]
