"""Plain data: the only kind of value that crosses from a learner's code to a verdict.

A learner's answer can be any Python object, and an object can lie: a ``str`` subclass whose ``__eq__``
always says True, a tensor subclass whose ``__torch_function__`` answers True to ``isclose``. So before
anything compares an answer, :func:`to_plain` turns it into a fresh copy built only from trusted types,
or refuses it with a sentence that names the type:

* ``None``, ``bool``, ``int``, ``float``, ``str`` (exactly these types, not subclasses);
* numpy scalars (as Python numbers) and numpy arrays of numbers or booleans;
* ``torch.Tensor`` (and ``torch.nn.Parameter``) of numbers or booleans, copied to the CPU;
* lists, tuples and ``dict`` with ``str`` keys of the above.

:func:`dumps` and :func:`loads` move plain data between processes as JSON (tensors and arrays as
base64 bytes with their dtype and shape). Reading never unpickles anything and never builds a type
that is not in the list above.

>>> import torch
>>> loads(dumps({"scores": torch.tensor([1.5, 2.0]), "top": ("Mary", 3)}))
{'scores': tensor([1.5000, 2.0000]), 'top': ('Mary', 3)}
>>> class Liar(str):
...     def __eq__(self, other):
...         return True
>>> to_plain(Liar("b"))
Traceback (most recent call last):
    ...
course_utils.plain.NotPlain: the result is a Liar, a subclass of str: return a plain str
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from course_utils.errors import OneLineError

MAX_ELEMENTS = 20_000_000  # one tensor or array; a bigger answer is almost surely a mistake
MAX_DEPTH = 20
_TORCH_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")
_NUMPY_KINDS = "biuf"  # bool, signed, unsigned, float


class NotPlain(OneLineError, TypeError):
    """A value that cannot be graded as it is; the message names its type and what to return instead."""


class BadPlainData(ValueError):
    """Serialised plain data that is malformed (truncated, forged, or of an unknown kind)."""


def _torch() -> Any:
    import torch

    return torch


def _subclass_message(obj: Any, base: type, where: str, instead: str) -> str:
    return f"{where} is a {type(obj).__name__}, a subclass of {base.__name__}: return a plain {instead}"


def to_plain(obj: Any, where: str = "the result", _depth: int = 0) -> Any:
    """A trusted copy of ``obj`` made of plain types only, or :class:`NotPlain` naming what is wrong."""
    if _depth > MAX_DEPTH:
        raise NotPlain(f"{where} is nested more than {MAX_DEPTH} levels deep")
    kind = type(obj)
    if obj is None or kind in (bool, int, float, str):
        return obj
    torch = _torch() if "torch" in kind.__module__ else None
    if torch is not None and isinstance(obj, torch.Tensor):
        return _plain_tensor(obj, where)
    if kind is np.ndarray:
        return _plain_array(obj, where)
    if isinstance(obj, np.generic) and kind.__module__ == "numpy" and obj.dtype.kind in _NUMPY_KINDS:
        return obj.item()
    if kind in (list, tuple):
        items = [to_plain(x, f"{where}[{i}]", _depth + 1) for i, x in enumerate(obj)]
        return items if kind is list else tuple(items)
    if kind is dict:
        out = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise NotPlain(f"{where} has a key of type {type(key).__name__}; use str keys")
            out[key] = to_plain(value, f"{where}[{key!r}]", _depth + 1)
        return out
    for base, instead in ((str, "str"), (bool, "bool"), (int, "int"), (float, "float"), (list, "list"),
                          (tuple, "tuple"), (dict, "dict"), (np.ndarray, "numpy array")):
        if isinstance(obj, base):
            raise NotPlain(_subclass_message(obj, base, where, instead))
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        raise NotPlain(_subclass_message(obj, torch.Tensor, where, "torch.Tensor"))
    raise NotPlain(f"{where} is a {kind.__module__}.{kind.__qualname__}; return a number, a string, "
                   "a tensor, or a list, tuple or dict of those")


def _plain_tensor(t: Any, where: str) -> Any:
    torch = _torch()
    if type(t) not in (torch.Tensor, torch.nn.Parameter):
        raise NotPlain(_subclass_message(t, torch.Tensor, where, "torch.Tensor"))
    if t.is_complex() or str(t.dtype).removeprefix("torch.") not in _TORCH_DTYPES:
        raise NotPlain(f"{where} is a tensor of dtype {t.dtype}; return real numbers or booleans")
    if t.is_sparse or t.layout != torch.strided:
        raise NotPlain(f"{where} is a {t.layout} tensor; return an ordinary (dense) tensor")
    if t.numel() > MAX_ELEMENTS:
        raise NotPlain(f"{where} has {t.numel():,} elements, more than the {MAX_ELEMENTS:,} a check accepts")
    return torch.Tensor.clone(torch.Tensor.detach(t).cpu()).contiguous()


def _plain_array(a: np.ndarray, where: str) -> np.ndarray:
    if a.dtype.kind not in _NUMPY_KINDS:
        raise NotPlain(f"{where} is a numpy array of dtype {a.dtype}; return numbers or booleans")
    if a.size > MAX_ELEMENTS:
        raise NotPlain(f"{where} has {a.size:,} elements, more than the {MAX_ELEMENTS:,} a check accepts")
    return np.array(a, copy=True, order="C")


# ---------------------------------------------------------------------------------------------
# Moving plain data between processes


def encode(obj: Any) -> Any:
    """A JSON-ready form of plain data (run :func:`to_plain` first)."""
    torch = _torch()
    if obj is None or type(obj) in (bool, int, str):
        return obj
    if type(obj) is float:
        return obj if np.isfinite(obj) else {"float": repr(obj)}
    if isinstance(obj, torch.Tensor):
        raw = obj.contiguous().view(-1).view(torch.uint8).numpy().tobytes() if obj.numel() else b""
        return {"tensor": str(obj.dtype).removeprefix("torch."), "shape": list(obj.shape),
                "data": base64.b64encode(raw).decode("ascii")}
    if isinstance(obj, np.ndarray):
        return {"ndarray": obj.dtype.str, "shape": list(obj.shape),
                "data": base64.b64encode(obj.tobytes()).decode("ascii")}
    if type(obj) is list:
        return [encode(x) for x in obj]
    if type(obj) is tuple:
        return {"tuple": [encode(x) for x in obj]}
    if type(obj) is dict:
        return {"dict": {k: encode(v) for k, v in obj.items()}}
    if hasattr(obj, "__plain_encode__"):  # course-owned markers (see exercises.spec.Resource)
        return obj.__plain_encode__()
    raise NotPlain(f"cannot encode a {type(obj).__name__}; run to_plain first")


def decode(data: Any, *, extensions: dict[str, Any] | None = None, _depth: int = 0) -> Any:
    """Plain data back from :func:`encode`'s form; :class:`BadPlainData` for anything else.

    ``extensions`` maps a key (such as ``"resource"``) to a function that builds the object a
    single-key dict of that key stands for.
    """
    if _depth > MAX_DEPTH + 2:
        raise BadPlainData("nested too deep")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(x, extensions=extensions, _depth=_depth + 1) for x in data]
    if type(data) is not dict or not data:
        raise BadPlainData(f"unexpected {type(data).__name__}")
    if "tensor" in data:
        return _decode_tensor(data)
    if "ndarray" in data:
        return _decode_array(data)
    if set(data) == {"float"}:
        if data["float"] not in ("nan", "inf", "-inf"):
            raise BadPlainData(f"bad float {data['float']!r}")
        return float(data["float"])
    if set(data) == {"tuple"} and type(data["tuple"]) is list:
        return tuple(decode(x, extensions=extensions, _depth=_depth + 1) for x in data["tuple"])
    if set(data) == {"dict"} and type(data["dict"]) is dict:
        return {str(k): decode(v, extensions=extensions, _depth=_depth + 1) for k, v in data["dict"].items()}
    for key, build in (extensions or {}).items():
        if key in data:
            return build(data)
    raise BadPlainData(f"unknown kind {sorted(data)[:3]}")


def _shape(data: dict) -> tuple[int, ...]:
    shape = data.get("shape")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise BadPlainData(f"bad shape {shape!r}")
    if int(np.prod(shape, dtype=np.int64)) > MAX_ELEMENTS:
        raise BadPlainData("too many elements")
    return tuple(shape)


def _raw(data: dict) -> bytes:
    if type(data.get("data")) is not str:
        raise BadPlainData("missing data")
    return base64.b64decode(data["data"], validate=True)


def _decode_tensor(data: dict) -> Any:
    torch = _torch()
    name = data["tensor"]
    if name not in _TORCH_DTYPES:
        raise BadPlainData(f"unknown tensor dtype {name!r}")
    dtype, shape, raw = getattr(torch, name), _shape(data), _raw(data)
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) != count * torch.empty(0, dtype=dtype).element_size():
        raise BadPlainData("tensor data does not match its shape")
    if count == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape).clone()


def _decode_array(data: dict) -> np.ndarray:
    try:
        dtype = np.dtype(data["ndarray"])
    except TypeError:
        raise BadPlainData(f"unknown array dtype {data['ndarray']!r}") from None
    if dtype.kind not in _NUMPY_KINDS or dtype.hasobject:
        raise BadPlainData(f"array dtype {dtype} is not allowed")
    shape, raw = _shape(data), _raw(data)
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise BadPlainData("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def dumps(obj: Any) -> str:
    """One line of JSON for plain data (no newline inside, so records can be written one per line)."""
    return json.dumps(encode(obj), separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes, *, extensions: dict[str, Any] | None = None) -> Any:
    """Plain data from :func:`dumps`'s output; :class:`BadPlainData` when it is not that."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise BadPlainData(f"not JSON: {err}") from None
    return decode(raw, extensions=extensions)
