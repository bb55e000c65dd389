"""The toy model of superposition (Elhage et al. 2022, "Toy Models of Superposition").

``n_features`` input features must pass through a bottleneck of ``d_hidden`` dimensions and come
back out: ``x' = ReLU(W^T W x + b)`` with ``W`` of shape ``[d_hidden, n_features]``. Feature ``i``
matters ``importance_decay ** i`` as much as feature 0, and is zero most of the time: it is active
(uniform in [0, 1]) with probability ``feature_probability`` (the sparsity is one minus that).

With dense features the model keeps the ``d_hidden`` most important ones on perpendicular
directions and drops the rest. As features get sparser it starts to squeeze more features than
dimensions into the space, at angles that are no longer 90 degrees (superposition): two sparse
features are rarely active together, so their interference rarely costs anything, and the ReLU
with a negative bias cleans up the small leftovers.

Several sparsity levels are trained at once, as independent "instances" in one batch, on a CPU in
a few seconds. :func:`plot_features` draws each instance's columns of ``W`` as arrows.

>>> cfg = ToyConfig(steps=200)
>>> model = train_toy_model(cfg, progress=False)
>>> tuple(model.W.shape)
(5, 2, 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from jaxtyping import Float
from torch import nn

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ToyConfig", "ToyModel", "importance", "plot_features", "sample_features", "toy_loss", "train_toy_model"]


@dataclass(frozen=True)
class ToyConfig:
    """One training run: one instance of the toy model per entry of ``feature_probability``.

    The defaults are Elhage et al.'s first experiment (5 features, 2 dimensions, importance
    0.9^i), with fewer steps than the paper's 10,000, which are enough here (see the tests).
    """

    n_features: int = 5
    d_hidden: int = 2
    # probability that a feature is active; sparsity = 1 - this. One instance per value.
    feature_probability: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03, 0.01)
    importance_decay: float = 0.9  # feature i matters importance_decay ** i
    steps: int = 2000
    batch_size: int = 1024
    lr: float = 1e-2  # Adam; decays to lr / 10 over the run
    seed: int = 0

    @property
    def n_instances(self) -> int:
        return len(self.feature_probability)


class ToyModel(nn.Module):
    """``x' = ReLU(W^T W x + b)`` for several independent instances at once.

    Shapes: ``W`` is ``[instances, d_hidden, n_features]`` (column ``i`` of an instance is
    feature ``i``'s direction in the hidden space), ``b`` is ``[instances, n_features]``.
    """

    def __init__(self, cfg: ToyConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        w = torch.empty(cfg.n_instances, cfg.d_hidden, cfg.n_features)
        bound = (6 / (cfg.d_hidden + cfg.n_features)) ** 0.5  # Xavier-uniform, as the paper
        w.uniform_(-bound, bound, generator=generator)
        self.W = nn.Parameter(w)
        self.b = nn.Parameter(torch.zeros(cfg.n_instances, cfg.n_features))

    def hidden(self, x: Float[torch.Tensor, "batch instances n_features"]) -> Float[torch.Tensor, "batch instances d_hidden"]:
        """The bottleneck: ``W x`` for each instance."""
        return torch.einsum("ihf,bif->bih", self.W, x)

    def forward(self, x: Float[torch.Tensor, "batch instances n_features"]) -> Float[torch.Tensor, "batch instances n_features"]:
        h = self.hidden(x)
        return torch.relu(torch.einsum("ihf,bih->bif", self.W, h) + self.b)


def importance(cfg: ToyConfig) -> Float[torch.Tensor, "n_features"]:
    """How much each feature's reconstruction error counts: ``importance_decay ** i``."""
    return cfg.importance_decay ** torch.arange(cfg.n_features, dtype=torch.float32)


def sample_features(cfg: ToyConfig, batch: int,
                    generator: torch.Generator | None = None) -> Float[torch.Tensor, "batch instances n_features"]:
    """Random inputs: each feature is uniform in [0, 1] with its instance's probability, else 0."""
    shape = (batch, cfg.n_instances, cfg.n_features)
    values = torch.rand(shape, generator=generator)
    active = torch.rand(shape, generator=generator) < torch.tensor(cfg.feature_probability)[:, None]
    return values * active


def toy_loss(cfg: ToyConfig, x: torch.Tensor, x_hat: torch.Tensor) -> Float[torch.Tensor, "instances"]:
    """Importance-weighted squared error, averaged over the batch, one value per instance."""
    return ((x - x_hat) ** 2 * importance(cfg)).sum(-1).mean(0)


def train_toy_model(cfg: ToyConfig = ToyConfig(), *, progress: bool = True) -> ToyModel:
    """Train every instance of ``cfg`` (seeded), with a progress bar when ``progress``."""
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(cfg.seed)
    model = ToyModel(cfg, gen)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.LinearLR(optimiser, 1.0, 0.1, total_iters=cfg.steps)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tensors are tiny: more threads only add overhead
    try:
        with torch.enable_grad():
            for _ in tqdm(range(cfg.steps), desc="toy model", disable=not progress, mininterval=1.0):
                x = sample_features(cfg, cfg.batch_size, gen)
                loss = toy_loss(cfg, x, model(x)).sum()  # instances are independent: the sum trains each
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
    finally:
        torch.set_num_threads(threads)
    model.requires_grad_(False)
    return model


def plot_features(model: ToyModel, *, titles: list[str] | None = None) -> Figure:
    """Each instance's feature directions (columns of ``W``) as arrows in the plane, coloured from
    the most important feature (dark) to the least (light). Needs ``d_hidden == 2``."""
    import matplotlib.pyplot as plt

    cfg = model.cfg
    if cfg.d_hidden != 2:
        raise ValueError(f"plot_features draws 2-d hidden spaces; this model has d_hidden={cfg.d_hidden}")
    W = model.W.detach()
    colours = plt.cm.viridis(torch.linspace(0.0, 0.9, cfg.n_features).tolist())
    fig, axes = plt.subplots(1, cfg.n_instances, figsize=(2.6 * cfg.n_instances, 2.9), squeeze=False)
    limit = float(W.norm(dim=1).max()) * 1.15 or 1.0
    for i, ax in enumerate(axes[0]):
        for f in range(cfg.n_features):
            x, y = W[i, :, f].tolist()
            ax.annotate("", xy=(x, y), xytext=(0, 0),
                        arrowprops={"arrowstyle": "-|>", "color": colours[f], "lw": 2})
            ax.plot([x], [y], "o", color=colours[f], ms=4)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.axhline(0, color="0.85", lw=0.5)
        ax.axvline(0, color="0.85", lw=0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        p = cfg.feature_probability[i]
        ax.set_title(titles[i] if titles else f"sparsity {1 - p:.2f}", fontsize=10)
    fig.tight_layout()
    return fig
