"""Attention patterns: views, an explorer, and whole-model sweeps for heads with a job.

* :func:`attention_view` / :func:`show_attention`: circuitsvis's ``attention_heads`` view in its
  offline form (the JavaScript inlined, so it draws without the internet);
* :func:`pattern_html` and :func:`attention_explorer`: a plain-HTML heatmap of one head's pattern,
  and a widget to type a sentence and pick a layer and a head (the model runs once per text);
* :func:`repeated_tokens`, :func:`head_pattern_scores`, :func:`repeated_loss`: random token
  sequences repeated twice, a previous-token, duplicate-token and induction score for every head,
  and the loss on the first and the repeated half;
* :func:`layer_head_heatmap`: any ``[layer, head]`` table as a plotly heatmap.

>>> from course_utils import load_model
>>> model = load_model()
>>> tokens = repeated_tokens(model, seq_len=20, batch=2, seed=0)
>>> tokens.shape
torch.Size([2, 41])
>>> scores = head_pattern_scores(model, tokens)
>>> sorted(scores), tuple(scores["induction"].shape)
(['duplicate', 'induction', 'previous'], (30, 9))
"""

from __future__ import annotations

import functools
import html
import operator
from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float, Int

from course_utils.errors import OneLineError

__all__ = [
    "AttentionInputError",
    "attention_explorer",
    "attention_view",
    "layer_head_heatmap",
    "head_pattern_scores",
    "pattern_html",
    "patterns_of",
    "repeated_loss",
    "repeated_tokens",
    "show_attention",
    "show_heads",
    "str_tokens",
]


class AttentionInputError(OneLineError, ValueError):
    """Bad input to the attention helpers (a layer or head that does not exist, a wrong shape)."""


def _whole(value: Any) -> int | None:
    """``value`` as an int if it is a whole number (Python, NumPy or 0-d tensor), else None."""
    try:
        return operator.index(value)
    except TypeError:
        return None


def _check_layer_head(model: Any, layer: Any, heads: Sequence[Any] | None = None) -> list[int]:
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    if _whole(layer) is None or not 0 <= _whole(layer) < n_layers:
        raise AttentionInputError(f"layer {layer!r} does not exist: layers go 0..{n_layers - 1}.")
    heads = list(range(n_heads)) if heads is None else list(heads)
    bad = [h for h in heads if _whole(h) is None or not 0 <= _whole(h) < n_heads]
    if bad:
        raise AttentionInputError(f"head {bad[0]!r} does not exist: heads go 0..{n_heads - 1}.")
    return [_whole(h) for h in heads]


def str_tokens(model: Any, tokens: Int[torch.Tensor, "pos"]) -> list[str]:
    """Readable labels for tokens (a piece of a multi-byte character shows as its bytes, e.g. ``<E6 88>``)."""
    from course_utils.widgets import token_label

    return [token_label(model.tokenizer, int(t)) for t in tokens]


def _tokens_of(model: Any, text_or_tokens: str | torch.Tensor) -> Int[torch.Tensor, "pos"]:
    if isinstance(text_or_tokens, str):
        if not text_or_tokens.strip():
            raise AttentionInputError("the text is empty: type a sentence.")
        return model.to_tokens(text_or_tokens)[0]
    tokens = torch.as_tensor(text_or_tokens)
    if tokens.ndim == 2 and tokens.shape[0] == 1:
        tokens = tokens[0]
    if tokens.ndim != 1:
        raise AttentionInputError(f"pass one text or one row of tokens [pos], got shape {tuple(tokens.shape)}.")
    return tokens


def patterns_of(model: Any, text_or_tokens: str | torch.Tensor,
                layers: Sequence[int] | None = None) -> Float[torch.Tensor, "layer head q_pos k_pos"]:
    """Attention patterns of one text at ``layers`` (default all), from one forward pass."""
    tokens = _tokens_of(model, text_or_tokens)
    layers = list(range(model.cfg.n_layers)) if layers is None else [int(x) for x in layers]
    for layer in layers:
        _check_layer_head(model, layer)
    names = {f"blocks.{layer}.attn.hook_pattern" for layer in layers}
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens[None].to(next(model.parameters()).device),
                                        names_filter=lambda n: n in names, logits_to_keep=1)
    return torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"][0] for layer in layers]).float().cpu()


# ---------------------------------------------------------------------------------------------
# circuitsvis, offline


def attention_view(tokens: Sequence[str], pattern: Float[torch.Tensor, "head q_pos k_pos"],
                   head_names: Sequence[str] | None = None) -> Any:
    """circuitsvis's ``attention_heads`` view of ``pattern``, as IPython HTML that works offline.

    circuitsvis decides between a page that loads its JavaScript from a CDN and one that inlines it
    (about 1.3 MB) by trying to reach the internet; ``local_src`` is always the inlined one.
    """
    from circuitsvis.attention import attention_heads
    from IPython.display import HTML

    pattern = torch.as_tensor(pattern).detach().float().cpu()
    if pattern.ndim == 2:
        pattern = pattern[None]
    if pattern.ndim != 3 or pattern.shape[1] != pattern.shape[2]:
        raise AttentionInputError(f"pattern must be [head, q_pos, k_pos] with q_pos == k_pos, got {tuple(pattern.shape)}.")
    if pattern.shape[-1] != len(tokens):
        raise AttentionInputError(f"{len(tokens)} tokens but the pattern covers {pattern.shape[-1]} positions.")
    names = list(head_names) if head_names is not None else [f"head {h}" for h in range(len(pattern))]
    view = attention_heads(attention=pattern, tokens=list(tokens), attention_head_names=names)
    return HTML(view.local_src)


def show_attention(model: Any, text_or_tokens: str | torch.Tensor, layer: int,
                   heads: Sequence[int] | None = None) -> Any:
    """Run the model on one text and return the circuitsvis view of ``layer``'s heads (default all)."""
    heads = _check_layer_head(model, layer, heads)
    layer = int(layer)
    tokens = _tokens_of(model, text_or_tokens)
    pattern = patterns_of(model, tokens, [layer])[0, heads]
    return attention_view(str_tokens(model, tokens), pattern, [f"L{layer}H{h}" for h in heads])


def show_heads(model: Any, text_or_tokens: str | torch.Tensor, heads: Sequence[tuple[int, int]]) -> Any:
    """The circuitsvis view of chosen heads from any layers, ``[(layer, head), ...]``, on one text."""
    heads = [tuple(pair) for pair in heads]
    if not heads or any(len(pair) != 2 for pair in heads):
        raise AttentionInputError(f"heads must be a non-empty list of (layer, head) pairs, got {heads!r}.")
    for layer, head in heads:
        _check_layer_head(model, layer, [head])
    tokens = _tokens_of(model, text_or_tokens)
    layers = sorted({int(layer) for layer, _ in heads})
    patterns = patterns_of(model, tokens, layers)
    pattern = torch.stack([patterns[layers.index(int(layer)), int(head)] for layer, head in heads])
    return attention_view(str_tokens(model, tokens), pattern, [f"L{layer}H{head}" for layer, head in heads])


# ---------------------------------------------------------------------------------------------
# Plain-HTML pattern and the explorer widget (no JavaScript: it renders inside ipywidgets.HTML)


def _cell_colour(weight: float) -> str:
    level = max(0.0, min(1.0, weight))
    red, green = int(255 - 225 * level), int(255 - 160 * level)
    return f"rgb({red}, {green}, 255)"


def _label(text: str) -> str:
    return html.escape(text).replace(" ", "&middot;").replace("\n", "&crarr;")


def pattern_html(tokens: Sequence[str], pattern: Float[torch.Tensor, "q_pos k_pos"], *,
                 query: int | None = None, title: str = "") -> str:
    """One head's pattern as an HTML heatmap (rows: the token attending; columns: the token attended
    to), and under it the text with each token shaded by the attention it gets from ``query``
    (default: the last token). Hover a cell to read its weight."""
    pattern = torch.as_tensor(pattern).detach().float().cpu()
    n = len(tokens)
    if pattern.shape != (n, n):
        raise AttentionInputError(f"pattern must be [{n}, {n}] for {n} tokens, got {tuple(pattern.shape)}.")
    query = n - 1 if query is None else int(query)
    if not 0 <= query < n:
        raise AttentionInputError(f"query position {query} is outside 0..{n - 1}.")
    labels = [_label(t) for t in tokens]
    head = "".join(f'<th style="writing-mode: vertical-rl; font-weight: normal; padding: 2px">{lab}</th>'
                   for lab in labels)
    body = []
    for q in range(n):
        cells = "".join(
            f'<td title="{labels[q]} &rarr; {labels[k]}: {pattern[q, k]:.3f}" '
            f'style="background: {_cell_colour(float(pattern[q, k])) if k <= q else "#f4f4f4"}; '
            f'width: 14px; height: 14px{"; outline: 2px solid #d62728" if q == query else ""}"></td>'
            for k in range(n))
        body.append(f'<tr><th style="text-align: right; font-weight: normal; padding: 0 4px">{labels[q]}</th>{cells}</tr>')
    table = (f'<table style="border-collapse: collapse; font-size: 11px; font-family: ui-monospace, monospace">'
             f"<tr><th></th>{head}</tr>{''.join(body)}</table>")
    spans = "".join(
        f'<span title="{pattern[query, k]:.3f}" style="background: {_cell_colour(float(pattern[query, k]))}; '
        f'padding: 1px 2px; margin: 1px; border-radius: 3px{"; outline: 2px solid #d62728" if k == query else ""}">'
        f"{labels[k]}</span>" for k in range(query + 1))
    caption = f"<div style='font-weight: bold; margin: 4px 0'>{html.escape(title)}</div>" if title else ""
    return (f"{caption}<div style='display: flex; gap: 24px; align-items: flex-start; color: #111'>"
            f"<div>{table}</div><div style='max-width: 420px; line-height: 2'>"
            f"<div style='color: #555'>attention from <b>{labels[query]}</b> (position {query}) to each earlier token:</div>"
            f"{spans}</div></div>")


class _PatternCache:
    """All layers' patterns of the last text the explorer ran, so moving a slider costs no model run."""

    def __init__(self, model: Any, max_tokens: int) -> None:
        self.model, self.max_tokens = model, max_tokens
        self.text: str | None = None
        self.tokens: list[str] = []
        self.patterns: torch.Tensor | None = None
        self.runs = 0

    def get(self, text: str) -> tuple[list[str], torch.Tensor]:
        if text != self.text:
            tokens = _tokens_of(self.model, text)
            if len(tokens) > self.max_tokens:
                raise AttentionInputError(f"this text is {len(tokens)} tokens; the explorer shows at most "
                                          f"{self.max_tokens}: shorten it.")
            self.patterns = patterns_of(self.model, tokens)
            self.tokens, self.text = str_tokens(self.model, tokens), text
            self.runs += 1
        return self.tokens, self.patterns


def attention_explorer(model: Any, text: str = "John wants his bank to cash the", *, layer: int = 0,
                       head: int = 0, max_tokens: int = 40) -> Any:
    """Type a sentence, pick a layer, a head and a token, and see where that head looks.

    The model runs once each time the text changes (press Enter or leave the box); the sliders only
    redraw from the stored patterns. The returned ``VBox`` has the attributes ``text``, ``layer``,
    ``head``, ``query`` (the widgets), ``result`` (the HTML output) and ``cache`` (``cache.runs``
    counts the model runs).
    """
    import ipywidgets as widgets

    _check_layer_head(model, layer, [head])
    cache = _PatternCache(model, max_tokens)
    box = widgets.Text(value=text, description="Text", continuous_update=False,
                       layout=widgets.Layout(width="95%"))
    layer_slider = widgets.IntSlider(value=layer, min=0, max=model.cfg.n_layers - 1, description="Layer")
    head_slider = widgets.IntSlider(value=head, min=0, max=model.cfg.n_heads - 1, description="Head")
    query_slider = widgets.IntSlider(value=0, min=0, max=0, description="From token")
    result = widgets.HTML()
    state = {"text": None}

    def update(_: Any = None) -> None:
        try:
            tokens, patterns = cache.get(box.value)
        except AttentionInputError as err:
            result.value = f'<div style="color: #b00020">{html.escape(str(err))}</div>'
            return
        if state["text"] != box.value:  # new text: point the token slider at its last token
            state["text"] = box.value
            query_slider.max = len(tokens) - 1
            query_slider.value = len(tokens) - 1
        title = f"layer {layer_slider.value}, head {head_slider.value}"
        result.value = pattern_html(tokens, patterns[layer_slider.value, head_slider.value],
                                    query=query_slider.value, title=title)

    for w in (box, layer_slider, head_slider, query_slider):
        w.observe(update, names="value")
    update()
    explorer = widgets.VBox([box, widgets.HBox([layer_slider, head_slider, query_slider]), result])
    explorer.text, explorer.layer, explorer.head, explorer.query = box, layer_slider, head_slider, query_slider
    explorer.result, explorer.cache = result, cache
    return explorer


# ---------------------------------------------------------------------------------------------
# Heads with a job: repeated random tokens


def repeated_tokens(model: Any, seq_len: int = 50, batch: int = 4, *, seed: int = 0) -> Int[torch.Tensor, "batch pos"]:
    """``batch`` rows of BOS followed by ``seq_len`` random tokens, then the same tokens again.

    The tokens are drawn uniformly (seeded) from the vocabulary without its special tokens. In the
    second half a model that has learnt induction can predict every token from the first half.
    """
    if not isinstance(seq_len, int) or seq_len < 2 or not isinstance(batch, int) or batch < 1:
        raise AttentionInputError(f"seq_len must be >= 2 and batch >= 1 (whole numbers), got {seq_len!r}, {batch!r}.")
    tokenizer = model.tokenizer
    special = set(getattr(tokenizer, "all_special_ids", [])) | set(getattr(tokenizer, "added_tokens_decoder", {}))
    allowed = torch.tensor([i for i in range(model.cfg.d_vocab) if i not in special])
    generator = torch.Generator().manual_seed(seed)
    half = allowed[torch.randint(len(allowed), (batch, seq_len), generator=generator)]
    bos = model.to_tokens("")[:, :1].cpu().expand(batch, 1)
    return torch.cat([bos, half, half], dim=1)


def _seq_len_of(tokens: torch.Tensor) -> int:
    if tokens.ndim != 2 or tokens.shape[1] % 2 != 1 or tokens.shape[1] < 5:
        raise AttentionInputError(f"expected [batch, 1 + 2 * seq_len] tokens from repeated_tokens, got {tuple(tokens.shape)}.")
    seq_len = (tokens.shape[1] - 1) // 2
    if not torch.equal(tokens[:, 1: 1 + seq_len], tokens[:, 1 + seq_len:]):
        raise AttentionInputError("the two halves of these tokens differ: make them with repeated_tokens.")
    return seq_len


def head_pattern_scores(model: Any, tokens: Int[torch.Tensor, "batch pos"]) -> dict[str, Float[torch.Tensor, "n_layers n_heads"]]:
    """Three scores per head from its patterns on repeated random tokens, all layers in one pass.

    * ``previous``: mean attention from each token to the one just before it;
    * ``duplicate``: from each token of the second half to the same token in the first half;
    * ``induction``: from each token of the second half to the token *after* its first copy, the
      one that came next last time (what an induction head looks up).

    Each is an average of one diagonal band of the pattern, over the batch. Patterns are read in a
    hook and dropped, so memory stays small.
    """
    seq_len = _seq_len_of(tokens)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    scores = {key: torch.zeros(n_layers, n_heads) for key in ("previous", "duplicate", "induction")}

    def read(pattern: torch.Tensor, hook: Any, layer: int) -> None:
        band = functools.partial(torch.diagonal, pattern.float(), dim1=-2, dim2=-1)  # -> [batch, head, len]
        scores["previous"][layer] = band(offset=-1).mean((0, -1)).cpu()
        # Keep the queries of the second half only: the last seq_len entries of each band.
        scores["duplicate"][layer] = band(offset=-seq_len)[..., -seq_len:].mean((0, -1)).cpu()
        scores["induction"][layer] = band(offset=-(seq_len - 1))[..., -seq_len:].mean((0, -1)).cpu()

    hooks = [(f"blocks.{layer}.attn.hook_pattern", functools.partial(read, layer=layer)) for layer in range(n_layers)]
    with torch.no_grad():
        model.run_with_hooks(tokens.to(next(model.parameters()).device), fwd_hooks=hooks, return_type=None)
    return scores


def _knock_out_hooks(model: Any, tokens: Int[torch.Tensor, "batch pos"],
                     heads: Sequence[tuple[int, int]]) -> list[tuple[str, Any]]:
    """Hooks that replace each head's ``hook_z`` by its mean on ``tokens``: at the first position
    (the BOS, the same in every row) its own value, elsewhere the mean over all rows and positions."""
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        _check_layer_head(model, layer, [head])
        by_layer.setdefault(int(layer), []).append(int(head))
    if not by_layer:
        return []
    means: dict[int, torch.Tensor] = {}

    def read(z: torch.Tensor, hook: Any, layer: int) -> None:  # z: [batch, pos, head, d_head]
        means[layer] = torch.stack([z[:, 0].mean(0), z[:, 1:].mean((0, 1))]).detach()

    with torch.no_grad():
        model.run_with_hooks(tokens.to(next(model.parameters()).device), return_type=None,
                             fwd_hooks=[(f"blocks.{layer}.attn.hook_z", functools.partial(read, layer=layer))
                                        for layer in by_layer], stop_at_layer=max(by_layer) + 1)

    def replace(z: torch.Tensor, hook: Any, layer: int) -> torch.Tensor:
        z = z.clone()
        heads_here = by_layer[layer]
        z[:, :1, heads_here] = means[layer][0, heads_here].to(z.dtype)
        z[:, 1:, heads_here] = means[layer][1, heads_here].to(z.dtype)
        return z

    return [(f"blocks.{layer}.attn.hook_z", functools.partial(replace, layer=layer)) for layer in by_layer]


def repeated_loss(model: Any, tokens: Int[torch.Tensor, "batch pos"], *,
                  knock_out: Sequence[tuple[int, int]] = ()) -> dict[str, Any]:
    """The model's loss on repeated random tokens: per position, and averaged over each half.

    Returns ``{"per_position": [pos - 1] (mean over the batch), "first": float, "second": float}``.
    "first" averages the predictions of first-half tokens (random: nothing to go on), "second" those
    of the repeated half (after its first token, each was seen before).

    ``knock_out``: ``(layer, head)`` pairs whose output (``hook_z``) is replaced by its mean over
    ``tokens`` (all rows and positions but the first, which keeps its own), so the loss shows what
    the model does without them. The hooks are gone when the function returns.
    """
    seq_len = _seq_len_of(tokens)
    device = next(model.parameters()).device
    hooks = _knock_out_hooks(model, tokens, knock_out)
    with torch.no_grad(), model.hooks(fwd_hooks=hooks):
        # One row at a time: the logits of a row are 100 x 49,152 floats (20 MB).
        loss = torch.cat([model(row[None].to(device), return_type="loss", loss_per_token=True).float().cpu()
                          for row in tokens])
    per_position = loss.mean(0)  # position i: predicting token i + 1
    return {"per_position": per_position, "first": float(per_position[:seq_len].mean()),
            "second": float(per_position[seq_len + 1:].mean())}


# ---------------------------------------------------------------------------------------------
# Plot


def layer_head_heatmap(scores: Float[torch.Tensor, "n_layers n_heads"], *, title: str = "", zmid: float | None = None,
                       colorscale: str | None = None, label: str = "score", height: int = 520) -> Any:
    """A ``[layer, head]`` table as a plotly heatmap, layer 0 at the bottom; hover to read a value."""
    import plotly.graph_objects as go

    values = torch.as_tensor(scores).detach().float().cpu()
    if values.ndim != 2:
        raise AttentionInputError(f"scores must be [layer, head], got shape {tuple(values.shape)}.")
    diverging = zmid is not None
    fig = go.Figure(go.Heatmap(
        z=values.tolist(), x=list(range(values.shape[1])), y=list(range(values.shape[0])),
        colorscale=colorscale or ("RdBu" if diverging else "Blues"), zmid=zmid, reversescale=diverging,
        colorbar=dict(title=label), hovertemplate="layer %{y}, head %{x}: %{z:.3f}<extra></extra>",
    ))
    fig.update_layout(title=title, xaxis_title="head", yaxis_title="layer", template="plotly_white",
                      height=height, width=480)
    fig.update_xaxes(dtick=1)
    return fig
