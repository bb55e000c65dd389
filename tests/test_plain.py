"""course_utils.plain: only trusted types cross from learner code to a verdict, and back unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from course_utils import plain


class LyingTensor(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.isclose, torch.equal, torch.allclose, torch.Tensor.__eq__):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


class LyingStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "Mary", [1, 2.0, "x"], (1, (2, 3)), {"a": [1, None]},
    torch.arange(6.0).reshape(2, 3), torch.tensor([True, False]), torch.tensor(7), torch.zeros(0, 3),
    torch.randn(3, dtype=torch.float64), torch.randn(2).to(torch.bfloat16), np.arange(4), np.ones((2, 2), np.float32),
])
def test_plain_values_survive_the_round_trip(value):
    back = plain.loads(plain.dumps(plain.to_plain(value)))
    assert type(back) is type(value)
    if isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and torch.equal(back, value)
    elif isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert back == value


def test_special_floats_and_numpy_scalars():
    assert plain.loads(plain.dumps([float("inf"), float("-inf")])) == [float("inf"), float("-inf")]
    assert np.isnan(plain.loads(plain.dumps(float("nan"))))
    assert plain.to_plain(np.float32(1.5)) == 1.5 and type(plain.to_plain(np.int64(3))) is int


@pytest.mark.parametrize("liar, words", [
    (torch.zeros(3).as_subclass(LyingTensor), "a LyingTensor, a subclass of Tensor"),
    (LyingStr("b"), "a LyingStr, a subclass of str"),
    (LyingInt(3), "a LyingInt, a subclass of int"),
    ([1, LyingStr("x")], "the result[1] is a LyingStr"),
    ({"k": torch.zeros(1).as_subclass(LyingTensor)}, "the result['k'] is a LyingTensor"),
    (np.ma.masked_array([1, 2]), "subclass of ndarray"),
])
def test_objects_that_lie_are_refused_by_type(liar, words):
    with pytest.raises(plain.NotPlain, match=words.replace("[", r"\[").replace("]", r"\]")):
        plain.to_plain(liar)


@pytest.mark.parametrize("value, words", [
    (object(), "builtins.object"), (torch.randn(2, dtype=torch.complex64), "complex64"),
    (np.array([object()]), "dtype object"), ({1: 2}, "key of type int"), (lambda: 0, "function"),
])
def test_other_objects_are_refused_with_a_reason(value, words):
    with pytest.raises(plain.NotPlain, match=words):
        plain.to_plain(value)


def test_to_plain_copies_tensors():
    t = torch.ones(3, requires_grad=True)
    out = plain.to_plain(t)
    assert not out.requires_grad and out.data_ptr() != t.data_ptr()


@pytest.mark.parametrize("text", [
    "not json", '{"tensor": "float32", "shape": [2], "data": "AAAA"}',  # 3 bytes for 8
    '{"tensor": "object", "shape": [1], "data": ""}', '{"ndarray": "|O", "shape": [1], "data": ""}',
    '{"__reduce__": 1}', '{"float": "1e999"}', '{"tensor": "float32", "shape": [-1], "data": ""}',
    json.dumps({"tensor": "float32", "shape": [10**9], "data": ""}),
])
def test_malformed_or_forged_data_is_refused(text):
    with pytest.raises(plain.BadPlainData):
        plain.loads(text)


def test_dumps_is_one_line():
    assert "\n" not in plain.dumps({"text": "a\nb", "t": torch.ones(2)})
