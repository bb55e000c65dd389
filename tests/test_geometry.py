"""course_utils.geometry: angles between every pair of rows, computed in blocks."""

from __future__ import annotations

import pytest
import torch

from course_utils.geometry import pair_angles


def full_matrix_angles(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.norm(dim=-1, keepdim=True)
    angles = torch.rad2deg(torch.acos((unit @ unit.T).clamp(-1, 1)))
    return angles[torch.ones(len(vectors), len(vectors), dtype=torch.bool).triu(diagonal=1)]


@pytest.mark.parametrize("n, block", [(2, 512), (7, 3), (50, 7), (50, 50), (64, 16)])
def test_blocks_give_the_full_matrix_angles_in_the_same_order(n, block):
    vectors = torch.randn(n, 5, generator=torch.Generator().manual_seed(n)) * torch.rand(n, 1) * 10
    got = pair_angles(vectors, block=block)
    assert got.shape == (n * (n - 1) // 2,)
    torch.testing.assert_close(got, full_matrix_angles(vectors), atol=1e-3, rtol=1e-5)


def test_known_angles_and_no_nan_for_identical_rows():
    vectors = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [-2.0, 0.0]])
    got = pair_angles(vectors, block=2)
    assert not torch.isnan(got).any()
    torch.testing.assert_close(got, torch.tensor([0.0, 90.0, 180.0, 90.0, 180.0, 90.0]), atol=0.05, rtol=0)


def test_one_row_has_no_pairs_and_a_wrong_shape_is_named():
    assert pair_angles(torch.ones(1, 3)).numel() == 0
    with pytest.raises(ValueError, match=r"\[n, d\].*\(3,\)"):
        pair_angles(torch.ones(3))


def test_gradients_are_not_tracked():
    vectors = torch.randn(5, 3, requires_grad=True)
    assert not pair_angles(vectors).requires_grad
