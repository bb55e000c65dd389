"""Angles between many directions, a block of rows at a time so that memory stays small.

The full ``[n, n]`` matrix of angles between 4,000 vectors takes 64 MB, and computing it makes
several temporary copies of that size. :func:`pair_angles` returns the same angles, each pair once,
while never holding more than ``block`` rows of the matrix at a time.

>>> import torch
>>> pair_angles(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])).tolist()
[90.0, 180.0, 90.0]
"""

from __future__ import annotations

import torch
from jaxtyping import Float

__all__ = ["directions_before_clash", "pair_angles"]


def pair_angles(vectors: Float[torch.Tensor, "n d"], *, block: int = 512) -> Float[torch.Tensor, "n_pairs"]:
    """The angle in degrees between every pair of rows, each pair once: ``n * (n - 1) / 2`` values.

    The order is row by row: (0, 1), (0, 2), ..., (0, n-1), (1, 2), ..., the same order as
    ``matrix[torch.ones(n, n, dtype=torch.bool).triu(diagonal=1)]`` gives for the full matrix.
    """
    if vectors.ndim != 2:
        raise ValueError(f"expected vectors of shape [n, d], got {tuple(vectors.shape)}")
    vectors = vectors.detach()
    unit = vectors / vectors.norm(dim=-1, keepdim=True)
    n = len(unit)
    angles = unit.new_empty(n * (n - 1) // 2)  # filled block by block: no list of parts to join
    filled = 0
    for start in range(0, n - 1, block):
        rows = unit[start:start + block]  # [b, d]
        cos = rows @ unit[start:].T  # [b, n - start]: these rows against themselves and every later row
        later = torch.ones_like(cos, dtype=torch.bool).triu(diagonal=1)  # column j > row i
        pairs = cos[later]
        del cos
        # Rounding can push a cosine just past ±1, where acos is NaN. In place: one copy per block.
        pairs.clamp_(-1.0, 1.0).acos_().rad2deg_()
        angles[filled:filled + len(pairs)] = pairs
        filled += len(pairs)
    return angles


def directions_before_clash(dim: int, max_cosine: float, generator: torch.Generator, *, chunk: int = 256,
                            cap: int = 20_000) -> int:
    """How many random unit vectors in ``dim`` dimensions come before the first pair with |cosine| >= ``max_cosine``.

    Vectors are drawn one after another (in chunks, for speed); the count stops at ``cap``. For random
    directions it grows exponentially with ``dim``, about like exp(dim * max_cosine² / 4): the
    "birthday" form of the Johnson-Lindenstrauss lemma.

    >>> g = torch.Generator().manual_seed(0)
    >>> directions_before_clash(2, 0.5, g) < directions_before_clash(60, 0.5, g)
    True
    """
    kept = torch.empty(0, dim)
    while len(kept) < cap:
        candidates = torch.randn(chunk, dim, generator=generator)
        candidates = candidates / candidates.norm(dim=-1, keepdim=True)
        clash = (candidates @ candidates.T).abs().tril(diagonal=-1).ge(max_cosine).any(dim=1)  # with earlier ones
        if len(kept):
            clash |= (candidates @ kept.T).abs().amax(dim=1).ge(max_cosine)
        if bool(clash.any()):
            return min(cap, len(kept) + int(clash.nonzero()[0]))
        kept = torch.cat([kept, candidates])
    return cap
