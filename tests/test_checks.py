"""check() in every situation, with and without reference solutions, on test exercises of chapter 99.

The test chapter's reference solutions live in a module registered as ``course_utils.solutions.ch99``,
exactly where ``course-build`` puts a real chapter's; removing it simulates a release.
"""

from __future__ import annotations

import signal
import sys
import time
import types

import pytest
import torch

from course_utils import checks
from course_utils.checks import Withheld, check, is_course_object, learner_answer
from course_utils.exercises import (
    PROPERTY,
    Case,
    Mistake,
    ReferenceWithheld,
    UnknownExercise,
    choice,
    exercise,
    expect,
    get_exercise,
    hidden_check,
)

CHAPTER = "99"  # a chapter no notebook uses


def _x() -> torch.Tensor:
    """A fresh input for every case, as chapter modules build them (a learner's in-place change stays there)."""
    return torch.randn(2, 4, 16, generator=torch.Generator().manual_seed(0))


def _solutions() -> types.ModuleType:
    module = types.ModuleType("course_utils.solutions.ch99")
    exec(  # noqa: S102 - defines the test chapter's reference solutions, as course-build would
        "def t_scale(x):\n    return x / x.shape[-1] ** 0.5\n\n"
        "def t_answer():\n    return 42\n\n"
        "def t_tensor():\n    import torch\n    return torch.arange(3.0)\n\n"
        "def t_choice():\n    return 'b'\n", module.__dict__)
    return module


@pytest.fixture(autouse=True)
def solutions(monkeypatch):
    monkeypatch.setitem(sys.modules, "course_utils.solutions.ch99", _solutions())


@pytest.fixture
def release(monkeypatch):
    """No reference solutions, as in a release for a graded class."""
    monkeypatch.setitem(sys.modules, "course_utils.solutions.ch99", None)


t_scale = exercise("t_scale", chapter=CHAPTER, number="99.1", title="Scale by 1/sqrt(d)")


@t_scale.check("random input, d=16")
def _():
    x = _x()
    return Case(args=(x,), call="t_scale(x)", mistakes=[Mistake("you forgot to divide by sqrt(d)", lambda: _x())])


@t_scale.check("keeps the shape")
def _():
    return Case(args=(_x(),), call="t_scale(x)", expected=PROPERTY,
                compare=lambda got, _: expect(got.shape == (2, 4, 16), "t_scale(x) changed the shape"))


exercise("t_answer", chapter=CHAPTER, number="99.2", title="A number", kind="value").add_check(
    "equals the reference", lambda: Case(call="t_answer", atol=0, rtol=0))
exercise("t_tensor", chapter=CHAPTER, number="99.4", title="A tensor", kind="value").add_check(
    "equals the reference", lambda: Case(call="t_tensor"))
choice("t_choice", chapter=CHAPTER, number="99.3", title="A choice",
       options={"a": "apples", "b": "bananas", "c": "cherries"}, explanation="bananas are right",
       feedback={"a": "apples are wrong because of reasons"})


def _good(x):
    return x / x.shape[-1] ** 0.5


def test_check_pass_prints_one_line_and_returns_the_answer(capsys):
    assert check("t_scale", _good) is _good
    assert capsys.readouterr().out.strip() == "✓ 99.1 t_scale (2/2 checks)"


def test_check_unsolved_hands_out_the_generated_reference(capsys):
    def stub(x):
        raise NotImplementedError()

    got = check("t_scale", stub)
    out = capsys.readouterr().out
    assert got is sys.modules["course_utils.solutions.ch99"].t_scale and is_course_object(got)
    assert "✗ 99.1 t_scale: not attempted yet" in out
    assert "→ continuing with the reference implementation" in out


def test_checking_what_was_handed_out_again_is_not_a_pass(capsys):
    got = check("t_tensor", torch.zeros(3))
    capsys.readouterr()
    assert check("t_tensor", got) is got  # e.g. the check line was run a second time
    assert "this is what the course handed out, not your answer" in capsys.readouterr().out
    answer, _ = learner_answer("t_tensor", {"t_tensor": got})
    assert answer.sum() == 0  # the learner's attempt stays on record for the grader
    check("t_tensor", torch.arange(3.0))  # an equal tensor of the learner's own passes
    assert capsys.readouterr().out.startswith("✓")


def test_wrong_answer_names_the_case_the_hint_and_continues(capsys):
    got = check("t_scale", lambda x: x)
    out = capsys.readouterr().out
    assert is_course_object(got)
    assert "✗ 99.1 t_scale: random input, d=16" in out
    assert "hint: you forgot to divide by sqrt(d)" in out
    assert "(1 of 2 checks passed)" in out


def test_changing_the_input_in_place_is_reported(capsys):
    def in_place(x):
        x /= x.shape[-1] ** 0.5
        return x

    check("t_scale", in_place)
    out = capsys.readouterr().out
    assert "changed its input `x` in place" in out and "x = x.clone()" in out


def test_exception_in_learner_code_is_reported_with_its_line(capsys):
    def broken(x):
        return x.reshape(7, 7)

    check("t_scale", broken)
    out = capsys.readouterr().out
    assert "your function raised RuntimeError" in out
    assert "in broken, line" in out and "x.reshape(7, 7)" in out


def test_an_endless_loop_is_stopped_and_the_alarm_put_back(capsys):
    def forever(x):
        while True:
            pass

    handler_before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    got = check("t_scale", forever, time_limit=0.3)
    assert time.monotonic() - start < 5
    out = capsys.readouterr().out
    assert "did not return within 0.3 s (an endless loop?)" in out
    assert is_course_object(got)
    assert signal.getsignal(signal.SIGALRM) == handler_before
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_a_buggy_checker_never_raises_into_the_notebook(capsys, monkeypatch):
    monkeypatch.setattr(checks, "run_checks", lambda *a, **k: 1 / 0)
    got = check("t_scale", _good)
    assert is_course_object(got)
    assert "the checker itself failed (ZeroDivisionError" in capsys.readouterr().out


def test_value_exercise_unanswered_wrong_and_right(capsys):
    assert check("t_answer", ...) == 42
    assert "not answered yet" in capsys.readouterr().out
    assert check("t_answer", 41) == 42
    out = capsys.readouterr().out
    assert "expected 42, got 41" in out and "→ continuing with the reference value" in out
    assert check("t_answer", 42) == 42
    assert capsys.readouterr().out.startswith("✓ 99.2 t_answer")


def test_choice_is_case_insensitive_and_explains(capsys):
    assert check("t_choice", " B ") == " B "
    assert "✓ 99.3 t_choice (1/1 checks) — bananas are right" in capsys.readouterr().out
    for answer in ("(b)", "bananas"):
        check("t_choice", answer)
        assert capsys.readouterr().out.startswith("✓")


def test_choice_wrong_gives_feedback(capsys):
    check("t_choice", "a")
    out = capsys.readouterr().out
    assert "'a' is not the answer we expected" in out and "apples are wrong" in out
    check("t_choice", "z")
    assert "not one of the options: a, b, c" in capsys.readouterr().out


@pytest.mark.parametrize("answer, words", [
    (torch.zeros(2, 4, 16).as_subclass(type("Sneaky", (torch.Tensor,), {})), "a Sneaky, a subclass of Tensor"),
    (object(), "builtins.object"),
])
def test_results_of_the_wrong_type_are_named(capsys, answer, words):
    check("t_scale", lambda x: answer)
    assert words in capsys.readouterr().out


def test_a_str_that_always_compares_equal_is_refused(capsys):
    class Agreeable(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    check("t_choice", Agreeable("z"))
    assert "a subclass of str" in capsys.readouterr().out


def test_unknown_id_suggests_close_matches():
    with pytest.raises(UnknownExercise, match="did you mean 't_scale'"):
        check("t_scal", _good)


def test_lookup_by_number_and_hidden_checks_on_unknown_ids():
    assert get_exercise("99.1").id == "t_scale"
    with pytest.raises(UnknownExercise):
        hidden_check("no_such_exercise", "x")(lambda: None)


def test_only_an_ungraded_demonstration_may_carry_its_reference():
    with pytest.raises(ValueError, match="solution block"):
        exercise("t_bad", chapter=CHAPTER, number="99.9", title="x", reference=lambda: 1)


# ---------------------------------------------------------------------------------------------
# A release: no reference solutions


def test_release_runs_the_cases_and_says_the_values_are_compared_later(release, capsys):
    assert check("t_scale", _good) is _good
    out = capsys.readouterr().out
    assert out.startswith("• 99.1 t_scale: your answer ran on every case without an error")
    assert "compared when your work is graded" in out


def test_release_still_reports_errors_and_checks_with_fixed_expectations(release, capsys):
    check("t_scale", lambda x: x[:1])  # the shape property needs no reference
    assert "t_scale(x) changed the shape" in capsys.readouterr().out


def test_release_hands_out_a_stand_in_that_explains_itself(release, capsys):
    def stub(x):
        raise NotImplementedError()

    got = check("t_scale", stub)
    assert type(got) is Withheld and "has no reference to stand in" in capsys.readouterr().out
    with pytest.raises(ReferenceWithheld, match="exercise 99.1 .t_scale. has no passing answer yet"):
        got(_x())
    with pytest.raises(ReferenceWithheld):
        f"{check('t_answer', ...):,}"
    assert not hasattr(got, "_repr_html_")  # display probes get an ordinary answer


def test_release_records_a_choice_without_judging_it(release, capsys):
    assert check("t_choice", "a") == "a"
    assert "was recorded" in capsys.readouterr().out


def test_grading_jobs_share_one_computation_of_each_reference(monkeypatch):
    """course-grade's jobs are threads of one process: a reference asked for by several at once runs once."""
    import threading
    import time

    from course_utils.exercises.spec import exercises_for_chapter

    exercise = next(e for e in exercises_for_chapter("00") if e.kind == "function")
    case = exercise.checks[0].cases()[0]
    reference = exercise.reference_function()
    runs = []

    def counted(*args, **kwargs):
        runs.append(threading.get_ident())
        time.sleep(0.3)  # long enough for every job to ask before the first answer is kept
        return reference(*args, **kwargs)

    monkeypatch.setattr(exercise, "reference_function", lambda: counted)
    answers = []
    jobs = [threading.Thread(target=lambda: answers.append(exercise.expected_output(case))) for _ in range(4)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    assert len(runs) == 1 and len(answers) == 4
    assert all(answer is answers[0] for answer in answers[1:])  # the one kept answer
