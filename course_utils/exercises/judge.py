"""Judging outcomes: is what the learner's answer gave the expected thing, and if not, why not?

This runs where the reference solution is: in the notebook for ``check()``, and in the grader's own
process (never in the sandbox) when an instructor grades. It only ever sees plain data (see
:mod:`course_utils.plain`), so no object of the learner's can take part in the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from course_utils.compare import expect_close, expect_equal
from course_utils.exercises.run import Outcome
from course_utils.exercises.spec import PROPERTY, REFERENCE, Case, Check, Exercise, ReferenceWithheld, normalise_answer

Verdict = Literal["pass", "fail", "error", "timeout", "unanswered", "skipped", "withheld", "internal"]
MODIFIED_HINT = ("work on a copy instead (x = x.clone(), or operations that return new tensors: "
                 "x = x - y rather than x -= y or x[...] = ...)")


@dataclass
class CheckResult:
    """What one check said about one answer."""

    name: str
    status: Verdict
    message: str = ""
    hidden: bool = False

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def judge_case(ex: Exercise, case: Case, outcome: Outcome) -> tuple[Verdict, str]:
    """The verdict on one case, with the message a learner reads when it is not a pass."""
    if outcome.status == "unanswered":
        return "unanswered", outcome.message
    if outcome.status == "timeout":
        return "timeout", outcome.message
    if outcome.status == "error":
        return "error", outcome.message
    if outcome.status == "notplain":
        return "fail", f"{case.call or ex.id}: {outcome.message}"
    if outcome.modified and not case.may_modify:
        return "fail", (f"{case.call or ex.id}: your function changed its input {', '.join(outcome.modified)} in place; "
                        f"the rest of the chapter would then see the changed values\nhint: {MODIFIED_HINT}")
    if ex.kind == "choice":
        problem = _choice_problem(ex, outcome.value)
        if problem:
            return "fail", problem
    try:
        want = _expected(ex, case)
    except ReferenceWithheld:
        return "withheld", "the reference is withheld in this release"
    try:
        _compare(ex, case, outcome.value, want)
    except AssertionError as err:
        return "fail", str(err) or "the check failed"
    return "pass", ""


def _expected(ex: Exercise, case: Case) -> Any:
    if case.expected is REFERENCE:
        return ex.expected_output(case)
    if case.expected is PROPERTY:
        return None
    return case.expected


def _compare(ex: Exercise, case: Case, got: Any, want: Any) -> None:
    name = case.call or ex.id
    if case.compare is not None:
        case.compare(got, want)
    elif ex.kind == "choice":
        _compare_choice(ex, got, want)
    elif type(want) is str or (type(want) in (tuple, list) and any(type(w) is str for w in want)):
        expect_equal(got, want, name=name)
    else:
        expect_close(got, want, name=name, atol=case.atol, rtol=case.rtol, mistakes=case.mistakes)


def _choice_problem(ex: Exercise, answer: Any) -> str:
    """Why ``answer`` is not even a possible answer (no reference needed), or ''."""
    if type(answer) is not str:
        return f"expected a string such as 'b', got {type(answer).__name__} {answer!r:.60}"
    if ex.options and _as_option(ex, answer) is None:
        return f"{answer!r:.60} is not one of the options: {', '.join(ex.options)}"
    return ""


def _as_option(ex: Exercise, answer: str) -> str | None:
    given = normalise_answer(answer)
    letters = {normalise_answer(k): normalise_answer(k) for k in ex.options}
    by_text = {normalise_answer(v): normalise_answer(k) for k, v in ex.options.items()}
    return letters.get(given) or by_text.get(given)


def _compare_choice(ex: Exercise, got: str, want: Any) -> None:
    given = _as_option(ex, got) if ex.options else normalise_answer(got)
    accepted = {normalise_answer(w) for w in (want if isinstance(want, (list, tuple)) else [want])}
    if given in accepted:
        return
    lines = [f"{got!r:.60} is not the answer we expected"]
    if given in ex.feedback:
        lines.append(f"hint: {ex.feedback[given]}")
    raise AssertionError("\n".join(lines))


def judge_check(ex: Exercise, check: Check, cases: Sequence[Case], outcomes: Sequence[Outcome | None]) -> CheckResult:
    """One check's verdict: its first case that is not a pass decides (a missing outcome: not run)."""
    withheld = False
    for case, outcome in zip(cases, outcomes):
        if outcome is None:
            return CheckResult(check.name, "skipped", "not run (the grading step stopped before this case)", check.hidden)
        try:
            status, message = judge_case(ex, case, outcome)
        except Exception as err:  # a bug in a check must not sink the whole grade
            return CheckResult(check.name, "internal", f"the check itself failed ({type(err).__name__}: {err})",
                               check.hidden)
        if status == "withheld":
            withheld = True
        elif status != "pass":
            return CheckResult(check.name, status, message, check.hidden)
    if withheld:
        return CheckResult(check.name, "withheld", "ran without error; the reference is withheld in this release",
                           check.hidden)
    return CheckResult(check.name, "pass", "", check.hidden)
