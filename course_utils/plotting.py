"""Small plotly helpers shared by the chapters. Each returns a ``plotly.graph_objects.Figure``.

Call ``fig.show()`` in a notebook. Plotly draws the figures in JupyterLab with its bundled
extension, so nothing is fetched from the internet. Large data (hundreds of thousands of angles,
say) is binned here before plotting, so saved notebooks stay small.

>>> fig = scatter_labeled([0, 1], [0, 1], ["a", "b"], title="two points")
>>> len(fig.data)
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["angle_histogram", "bar_chart", "layer_lines", "scatter_labeled"]

TEMPLATE = "plotly_white"
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _floats(values: Any) -> list[float]:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double().reshape(-1).tolist()
    return [float(v) for v in values]


def scatter_labeled(
    x: Sequence[float] | torch.Tensor,
    y: Sequence[float] | torch.Tensor,
    labels: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    title: str = "",
    xaxis_title: str = "",
    yaxis_title: str = "",
    equal_axes: bool = False,
    height: int = 450,
) -> Any:
    """Points with a text label next to each; ``groups`` gives one colour (and legend entry) per group."""
    go = _go()
    xs, ys, labels = _floats(x), _floats(y), list(labels)
    if not len(xs) == len(ys) == len(labels):
        raise ValueError(f"x, y and labels must have the same length, got {len(xs)}, {len(ys)}, {len(labels)}")
    groups = list(groups) if groups is not None else [""] * len(xs)
    fig = go.Figure()
    for k, group in enumerate(dict.fromkeys(groups)):
        idx = [i for i, g in enumerate(groups) if g == group]
        fig.add_trace(go.Scatter(
            x=[xs[i] for i in idx], y=[ys[i] for i in idx], text=[labels[i] for i in idx],
            mode="markers+text", textposition="top center", name=group or "points",
            marker=dict(size=9, color=COLOURS[k % len(COLOURS)]), showlegend=bool(group),
        ))
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title,
                      template=TEMPLATE, height=height)
    if equal_axes:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def layer_lines(
    series: Mapping[str, Sequence[float] | torch.Tensor],
    *,
    x: Sequence[Any] | None = None,
    title: str = "",
    xaxis_title: str = "layer",
    yaxis_title: str = "",
    dashed: Sequence[str] = (),
    colours: Mapping[str, str] | None = None,
    height: int = 420,
) -> Any:
    """One line per named series against the layer index (or ``x``); names in ``dashed`` are dashed."""
    go = _go()
    fig = go.Figure()
    for k, (name, values) in enumerate(series.items()):
        ys = _floats(values)
        xs = list(x) if x is not None else list(range(len(ys)))
        colour = (colours or {}).get(name, COLOURS[k % len(COLOURS)])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, marker=dict(size=5),
                                 line=dict(color=colour, dash="dash" if name in dashed else "solid")))
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title,
                      template=TEMPLATE, height=height, hovermode="x unified")
    return fig


def angle_histogram(
    angles: Mapping[str, torch.Tensor],
    *,
    bins: int = 90,
    value_range: tuple[float, float] = (0.0, 180.0),
    title: str = "",
    xaxis_title: str = "angle between two vectors (degrees)",
    normalise: bool = True,
    panels: bool = False,
    height: int | None = None,
) -> Any:
    """Histograms of angles in degrees, one per named set (binned here, not in the browser).

    With ``normalise`` the bars show the fraction of pairs in each bin, so sets of different sizes
    can be compared. Overlaid by default; ``panels=True`` gives each set a panel of its own, with its
    own vertical scale, for sets whose peaks differ so much that one would flatten the others.
    """
    go = _go()
    from plotly.subplots import make_subplots

    lo, hi = value_range
    width = (hi - lo) / bins
    centres = [lo + width * (i + 0.5) for i in range(bins)]
    rows = len(angles) if panels else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=list(angles) if panels else None)
    for k, (name, values) in enumerate(angles.items()):
        v = values.detach().reshape(-1).double().cpu()
        counts = torch.histc(v, bins=bins, min=lo, max=hi)
        if normalise and v.numel():
            counts = counts / v.numel()
        fig.add_trace(go.Bar(x=centres, y=counts.tolist(), width=width, name=name, opacity=0.6,
                             marker_color=COLOURS[k % len(COLOURS)]), row=k + 1 if panels else 1, col=1)
    fig.update_layout(barmode="overlay", title=title, template=TEMPLATE, bargap=0,
                      height=height or (160 * rows + 140 if panels else 420), showlegend=not panels)
    fig.update_xaxes(title_text=xaxis_title, row=rows, col=1)
    fig.update_yaxes(title_text="fraction of pairs" if normalise else "number of pairs", row=(rows + 1) // 2, col=1)
    return fig


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float] | torch.Tensor,
    *,
    title: str = "",
    xaxis_title: str = "",
    colour_by_sign: bool = True,
    height: int | None = None,
) -> Any:
    """Horizontal bars, one per label, in the order given (first at the top)."""
    go = _go()
    vals = _floats(values)
    colours = [COLOURS[1] if v > 0 else COLOURS[0] for v in vals] if colour_by_sign else COLOURS[0]
    fig = go.Figure(go.Bar(x=vals, y=list(labels), orientation="h", marker_color=colours))
    fig.update_layout(title=title, xaxis_title=xaxis_title, template=TEMPLATE,
                      height=height or max(250, 22 * len(vals) + 120))
    fig.update_yaxes(autorange="reversed")
    return fig
