"""course_utils.compare: comparisons that explain the first difference they find."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.compare import Mistake, expect_close, expect_equal, expect_whole_number


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


def test_expect_equal_names_types_and_values():
    expect_equal("queen", "queen")
    with pytest.raises(AssertionError, match="expected 'queen', got 'king'"):
        expect_equal("king", "queen", name="f()")
    with pytest.raises(AssertionError, match="expected str 'queen', got int 3"):
        expect_equal(3, "queen", name="f()")
