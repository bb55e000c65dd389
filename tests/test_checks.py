"""course_utils.checks: comparisons with diagnoses, check() in every situation, the registry."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
import torch

from course_utils import checks
from course_utils.checks import (
    Mistake,
    check,
    exercise,
    exercise_choice,
    expect,
    expect_close,
    expect_whole_number,
    get_exercise,
    grade_namespace,
    hash_answer,
    hidden_check,
    is_reference,
)

CHAPTER = "99"  # a chapter no real notebook uses


# ---------------------------------------------------------------------------------------------
# Test exercises (registered once per test process)


@exercise("t_scale", chapter=CHAPTER, number="99.1", title="Scale by 1/sqrt(d)")
def t_scale(x: torch.Tensor) -> torch.Tensor:
    """[batch, d] -> [batch, d] divided by sqrt(d)."""
    return x / x.shape[-1] ** 0.5


_X = torch.randn(2, 4, 16, generator=torch.Generator().manual_seed(0))


@t_scale.check("random input, d=16")
def _(sub):
    expect_close(sub(_X), t_scale.reference(_X), name="t_scale(x)",
                 mistakes=[Mistake("you forgot to divide by sqrt(d)", lambda: _X)])


@t_scale.check("keeps the shape")
def _(sub):
    expect(sub(_X).shape == _X.shape, "t_scale(x) changed the shape")


@exercise("t_answer", chapter=CHAPTER, number="99.2", title="A number", kind="value")
def t_answer() -> int:
    return 42


@t_answer.check("equals the reference")
def _(answer):
    expect_close(answer, t_answer.reference(), name="t_answer", atol=0, rtol=0)


@exercise("t_tensor", chapter=CHAPTER, number="99.4", title="A tensor", kind="value")
def t_tensor() -> torch.Tensor:
    return torch.arange(3.0)


@t_tensor.check("equals the reference")
def _(answer):
    expect_close(answer, t_tensor.reference(), name="t_tensor")


exercise_choice("t_choice", chapter=CHAPTER, number="99.3", title="A choice",
                options={"a": "apples", "b": "bananas", "c": "cherries"},
                answer_hash=hash_answer("t_choice", "b"), explanation="bananas are right",
                feedback={"a": "apples are wrong because of reasons"})


def _good(x):
    return x / x.shape[-1] ** 0.5


# ---------------------------------------------------------------------------------------------
# expect_close


def _message(actual, expected, **kw) -> str:
    with pytest.raises(AssertionError) as info:
        expect_close(actual, expected, name="f(x)", **kw)
    return str(info.value)


def test_expect_close_passes_on_close_values():
    expect_close(torch.ones(3) + 1e-7, torch.ones(3), name="f(x)")
    expect_close(3, 3.0, name="n")
    expect_close(np.ones(2), np.ones(2), name="arr")


def test_shape_mismatch_names_both_shapes_and_guesses_transpose():
    msg = _message(torch.zeros(5, 3), torch.zeros(3, 5))
    assert "expected shape (3, 5), got (5, 3)" in msg
    assert "different order" in msg


def test_shape_mismatch_with_reduced_dimension():
    msg = _message(torch.zeros(3), torch.zeros(3, 5))
    assert "dimension 1 (size 5) is missing" in msg


def test_dtype_family_mismatch():
    msg = _message(torch.ones(3, dtype=torch.long), torch.ones(3))
    assert "expected floating-point values, got dtype torch.int64" in msg
    assert "hint:" in msg


def test_nan_is_reported_with_position():
    actual = torch.ones(2, 3)
    actual[1, 2] = float("nan")
    msg = _message(actual, torch.ones(2, 3))
    assert "contains NaN (1 of 6 entries, first at [1, 2])" in msg


def test_known_mistake_hint_is_shown():
    x = torch.arange(1.0, 7.0)
    msg = _message(x * 3, x, mistakes=[Mistake("you multiplied by 3", lambda: x * 3)])
    assert "hint: you multiplied by 3" in msg
    assert "max |diff|" in msg


def test_values_report_max_diff_where_and_ratio():
    expected = torch.arange(1.0, 13.0).reshape(3, 4)
    msg = _message(expected * 8, expected)
    assert "shape ok (3, 4), values wrong" in msg
    assert "every value is 8× the reference" in msg
    assert "max |diff| 84 at [2, 3]" in msg
    assert "expected [1, 2, 3, 4, 5, 6, ...]" in msg


def test_kind_mismatch_tensor_vs_numpy():
    msg = _message(np.zeros(3), torch.zeros(3))
    assert "expected a torch.Tensor, got ndarray" in msg
    assert "torch.from_numpy" in msg


def test_int_expected_float_given():
    msg = _message(41.9, 42)
    assert "expected whole-number (integer) values, got float 41.9" in msg


@pytest.mark.parametrize("value", [7, np.int64(7), torch.tensor(7), torch.tensor([7])])
def test_whole_numbers_of_every_kind_are_accepted(value):
    assert expect_whole_number(value, "n") == 7


@pytest.mark.parametrize("value, words", [
    (7.0, "got float 7.0"), (True, "got the boolean True"), ([1, 2], "got list [1, 2]"),
    (torch.tensor(7.0), "got Tensor tensor(7.)"), ("7", "got str '7'"),
])
def test_anything_else_is_named_with_the_hint(value, words):
    with pytest.raises(AssertionError) as caught:
        expect_whole_number(value, "count", hint="use len(...)")
    message = str(caught.value)
    assert message.startswith("count: expected a whole number") and words in message
    assert "hint: use len(...)" in message or isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# check()


def test_check_pass_prints_one_line_and_returns_submission(capsys):
    assert check("t_scale", _good) is _good
    out = capsys.readouterr().out.strip()
    assert out == "✓ 99.1 t_scale (2/2 checks)"


def test_check_unsolved_returns_marked_reference(capsys):
    def stub(x):
        raise NotImplementedError()

    got = check("t_scale", stub)
    out = capsys.readouterr().out
    assert got is t_scale.reference and is_reference(got)
    assert "✗ 99.1 t_scale: not attempted yet" in out
    assert "→ continuing with the reference implementation" in out


def test_checking_the_handed_out_reference_again_is_not_a_pass(capsys):
    got = check("t_tensor", torch.zeros(3))
    capsys.readouterr()
    assert check("t_tensor", got) is got  # e.g. the check line was run a second time
    assert "this is the course's reference, not your answer" in capsys.readouterr().out
    assert checks._SUBMITTED["t_tensor"].sum() == 0  # the learner's attempt stays on record for the grader
    check("t_tensor", torch.arange(3.0))  # an equal tensor of the learner's own passes
    assert capsys.readouterr().out.startswith("✓")
    check("t_scale", t_scale.reference)
    assert capsys.readouterr().out.startswith("✗ 99.1 t_scale: this is the course's reference")


def test_check_wrong_answer_names_case_hint_and_continues(capsys):
    got = check("t_scale", lambda x: x)
    out = capsys.readouterr().out
    assert got is t_scale.reference
    assert "✗ 99.1 t_scale: random input, d=16" in out
    assert "hint: you forgot to divide by sqrt(d)" in out
    assert "(1 of 2 checks passed)" in out


def test_check_reports_exception_in_learner_code(capsys):
    def broken(x):
        return x.reshape(7, 7)

    check("t_scale", broken)
    out = capsys.readouterr().out
    assert "your function raised RuntimeError" in out
    assert "in broken, line" in out and "x.reshape(7, 7)" in out


def test_check_stops_an_endless_loop(capsys):
    def forever(x):
        while True:
            pass

    handler_before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    got = check("t_scale", forever, time_limit=0.3)
    assert time.monotonic() - start < 5
    out = capsys.readouterr().out
    assert "did not return within 0.3 s" in out
    assert "(an endless loop?)" in out
    assert got is t_scale.reference
    assert signal.getsignal(signal.SIGALRM) == handler_before  # the alarm is put back as it was
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_check_never_raises_when_a_check_is_buggy(capsys, monkeypatch):
    monkeypatch.setattr(checks, "run_checks", lambda *a, **k: 1 / 0)
    got = check("t_scale", _good)
    assert got is t_scale.reference
    assert "the checker itself failed (ZeroDivisionError" in capsys.readouterr().out


def test_value_exercise_unanswered_and_wrong(capsys):
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
    check("t_choice", "(b)")
    assert capsys.readouterr().out.startswith("✓")
    check("t_choice", "bananas")  # the option's text works too
    assert capsys.readouterr().out.startswith("✓")


def test_choice_wrong_gives_feedback_and_no_plain_answer(capsys):
    check("t_choice", "a")
    out = capsys.readouterr().out
    assert "'a' is not the answer we expected" in out and "apples are wrong" in out
    check("t_choice", "z")
    assert "not one of the options: a, b, c" in capsys.readouterr().out
    ex = get_exercise("t_choice")
    assert "b" not in ex.answer_hashes and all(len(h) == 64 for h in ex.answer_hashes)


def test_chapter_00_choice_answer_is_not_in_the_package():
    source = (checks.EXERCISES_DIR / "ch00.py").read_text()
    assert 'answer="' not in source and "answer_hash=" in source


def test_unknown_id_suggests_close_matches():
    with pytest.raises(KeyError, match="did you mean 't_scale'"):
        check("t_scal", _good)


def test_lookup_by_number():
    assert get_exercise("99.1").id == "t_scale"


def test_reference_detected_by_file_too():
    assert is_reference(t_scale)  # the Exercise object itself
    assert not is_reference(_good)


# ---------------------------------------------------------------------------------------------
# grade_namespace (what the grader runs in the kernel)


def _grade(namespace, **kw):
    result = grade_namespace(namespace, CHAPTER, hidden_path=None, time_limit_s=2, **kw)
    return {e["id"]: e for e in result["exercises"]}


def test_grade_full_marks_and_missing_names():
    graded = _grade({"t_scale": _good, "t_answer": 42, "t_choice": "b"})
    assert [(e["points"], e["max_points"]) for e in graded.values()] == [(2, 2), (1, 1), (1, 1), (0, 1)]
    graded = _grade({})
    assert graded["t_scale"]["points"] == 0
    assert "no variable named `t_scale`" in graded["t_scale"]["checks"][0]["message"]


def test_grade_sees_through_the_handed_out_reference(capsys):
    def wrong_shape(x):
        return x[..., :1] / 4

    handed = check("t_scale", wrong_shape)  # fails: the notebook now holds the reference
    capsys.readouterr()
    graded = _grade({"t_scale": handed}, submitted=checks._SUBMITTED, handed_out=checks._HANDED_OUT)
    assert graded["t_scale"]["points"] == 0
    assert "expected shape" in graded["t_scale"]["checks"][0]["message"]
    graded = _grade({"t_scale": t_scale.reference})  # the reference with no record: no credit
    assert graded["t_scale"]["points"] == 0


def test_grade_partial_credit_and_hidden_checks(tmp_path):
    hidden = tmp_path / "99_test.py"
    hidden.write_text(
        "from course_utils.checks import hidden_check, expect\n"
        "@hidden_check('t_answer', 'is positive')\n"
        "def _(answer):\n    expect(answer > 0, 'not positive')\n"
    )
    result = grade_namespace({"t_answer": -1}, CHAPTER, hidden_path=str(hidden), time_limit_s=2)
    answer = next(e for e in result["exercises"] if e["id"] == "t_answer")
    assert (answer["points"], answer["max_points"]) == (0, 2)
    assert [c["hidden"] for c in answer["checks"]] == [False, True]
    get_exercise("t_answer").checks = [c for c in get_exercise("t_answer").checks if not c.hidden]


def test_grader_finds_hidden_checks_by_chapter(tmp_path):
    from course_utils.grading import hidden_checks_file

    assert hidden_checks_file("00", tmp_path) is None
    (tmp_path / "00_start_here.py").write_text("")
    assert hidden_checks_file("00", tmp_path) == tmp_path / "00_start_here.py"
    assert hidden_checks_file("01", tmp_path / "missing") is None


def test_hidden_check_on_unknown_id_fails_loudly():
    with pytest.raises(KeyError):
        hidden_check("no_such_exercise", "x")(lambda s: None)
