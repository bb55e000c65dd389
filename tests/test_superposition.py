"""course_utils.superposition: the Elhage et al. toy model learns superposition as features get sparse."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils.superposition import ToyConfig, ToyModel, importance, plot_features, sample_features, toy_loss, train_toy_model


@pytest.fixture(scope="module")
def trained():
    return train_toy_model(ToyConfig(), progress=False)


def test_sampled_features_have_the_asked_sparsity():
    cfg = ToyConfig()
    x = sample_features(cfg, 20_000, torch.Generator().manual_seed(0))
    assert x.shape == (20_000, cfg.n_instances, cfg.n_features) and x.min() >= 0 and x.max() <= 1
    active = (x > 0).float().mean((0, 2))
    assert torch.allclose(active, torch.tensor(cfg.feature_probability), atol=0.01)
    assert torch.allclose(importance(cfg), torch.tensor([0.9 ** i for i in range(5)]))


def test_dense_features_get_dimensions_of_their_own_sparse_ones_share(trained):
    norms = trained.W.norm(dim=1)  # [instances, features]: a feature is kept when its column is long
    kept = (norms > 0.5).sum(-1).tolist()
    assert kept[0] == 2 and kept[-1] == 5  # dense: the two most important; sparsest: all five
    assert (norms[0, :2] > 0.9).all()
    assert kept == sorted(kept)  # more features kept as they get sparser
    W = trained.W[0, :, :2]
    assert abs(float(W[:, 0] @ W[:, 1])) < 0.05  # the dense instance keeps them perpendicular
    # the sparsest instance: five directions around the circle, 72 degrees apart
    angles = sorted(math.degrees(math.atan2(y, x)) % 360 for x, y in trained.W[-1].T.tolist())
    gaps = [b - a for a, b in zip(angles, angles[1:] + [angles[0] + 360])]
    assert max(abs(g - 72) for g in gaps) < 8
    assert (trained.b[-1] < 0).all()  # a negative bias filters out the interference


def test_training_lowers_the_loss_of_every_instance(trained):
    cfg = trained.cfg
    x = sample_features(cfg, 4096, torch.Generator().manual_seed(1))
    untrained = ToyModel(cfg, torch.Generator().manual_seed(cfg.seed))
    with torch.no_grad():
        assert (toy_loss(cfg, x, trained(x)) < 0.7 * toy_loss(cfg, x, untrained(x))).all()


def test_plot_draws_one_panel_per_sparsity(trained):
    fig = plot_features(trained)
    assert len(fig.axes) == trained.cfg.n_instances
    assert fig.axes[-1].get_title() == "sparsity 0.99"
    with pytest.raises(ValueError):
        plot_features(train_toy_model(ToyConfig(d_hidden=3, steps=5), progress=False))
