"""Comparing an answer with the expected one, and explaining the difference to a learner.

Everything here works on plain values (see :mod:`course_utils.plain`): tensors, numpy arrays, numbers,
strings and lists of numbers. Each function raises ``AssertionError`` with a message a learner can act
on: the first difference found (kind, shape, dtype, NaN, a known mistake, the values), with a hint.

>>> import torch
>>> expect_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]))
>>> expect_close(torch.tensor([8.0, 16.0]), torch.tensor([1.0, 2.0]), name="scores")
Traceback (most recent call last):
    ...
AssertionError: scores: shape ok (2,), values wrong
expected [1, 2], got [8, 16]
every value is 8× the reference
max |diff| 14 at [1]; 2 of 2 entries differ
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``compute()`` returns what that mistake produces; ``hint`` explains it.

    ``compute`` runs only when an answer is wrong, in the process that holds the reference.
    """

    hint: str
    compute: Callable[[], Any]


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


def expect_equal(actual: Any, expected: Any, *, name: str = "your result", hint: str = "") -> None:
    """Exact equality of plain values (strings, whole numbers, tuples of them), with both shown."""
    if type(actual) is not type(expected):
        raise AssertionError(f"{name}: expected {type(expected).__name__} {_short_repr(expected)}, "
                             f"got {type(actual).__name__} {_short_repr(actual)}" + (f"\nhint: {hint}" if hint else ""))
    if actual != expected:
        raise AssertionError(f"{name}: expected {_short_repr(expected)}, got {_short_repr(actual)}"
                             + (f"\nhint: {hint}" if hint else ""))
