"""Facts inside a language model: watch an answer form, find where it is stored, and change it.

Three tools, each usable on your own prompts:

* :func:`logit_lens`: the rank of a target token after every layer (0 = the model's top guess).
  :func:`lens_table` gives ranks and probabilities as a table for plotting, in two views.
* :func:`trace`: causal tracing in the style of Meng et al. (2022, "ROME"): blur the subject with
  noise, put back one clean activation at one layer and one position, and measure how much of the
  answer comes back. A ``[n_layers, n_positions]`` heatmap.
* :func:`edit_fact`: a context manager that makes a rank-one change to one MLP's down-projection
  so that the model gives a new answer for a fact, and restores the weights exactly afterwards.

Every function takes a TransformerLens ``TransformerBridge`` (``load_model()``) and reads the sizes
it needs from ``model.cfg``, so the same code runs on other models booted through the bridge.

Token conventions: prompts are read with ``model.to_tokens`` (which puts ``<|endoftext|>`` in
front), and a target is one token written with its leading space, such as ``" basketball"``.
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
from jaxtyping import Float, Int

from course_utils.errors import OneLineError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONTEXT_PREFIXES",
    "EDIT_DEPTH",
    "FACTS",
    "HELD_OUT_FACTS",
    "EditReport",
    "Fact",
    "FactEdit",
    "FactError",
    "MultiTokenTargetError",
    "SubjectNotFoundError",
    "TraceResult",
    "UnknownKindError",
    "WrongModelError",
    "default_edit_layer",
    "edit_fact",
    "edit_report",
    "fact_table",
    "key_second_moment",
    "lens_chart_html",
    "lens_explorer",
    "lens_result_html",
    "lens_table",
    "logit_lens",
    "noise_scale",
    "predict",
    "subject_positions",
    "target_id",
    "trace",
    "trace_details",
    "trace_heatmaps",
    "trace_summary",
]

Kind = Literal["resid", "mlp", "attn"]
KINDS: tuple[str, ...] = ("resid", "mlp", "attn")

# ---------------------------------------------------------------------------------------------
# Errors


class FactError(OneLineError, ValueError):
    """Bad input to one of the functions here; the message says what to change."""


class SubjectNotFoundError(FactError):
    """The subject does not occur in the prompt."""


class MultiTokenTargetError(FactError):
    """The target is not a single token of the model's vocabulary."""


class UnknownKindError(FactError):
    """``kind`` is not one of "resid", "mlp", "attn"."""


class WrongModelError(OneLineError, TypeError):
    """Something that is not a TransformerLens model (no blocks, final norm or unembedding)."""


# ---------------------------------------------------------------------------------------------
# Facts the course model knows


@dataclass(frozen=True)
class Fact:
    """One fact as a prompt the model completes with one token.

    Attributes:
        subject: the words the fact is about; they occur in ``prompt``.
        prompt: text that stops right before the answer.
        target: the answer as the model writes it: one token, leading space included.
        relation: what kind of fact it is (``"sport"``, ``"capital"``, ...).
        paraphrases: other prompts for the same fact, each containing the subject (used to test
            whether an edit generalises).
        counterfactual: a wrong answer of the same kind, to edit the fact to.
    """

    subject: str
    prompt: str
    target: str
    relation: str
    paraphrases: tuple[str, ...] = ()
    counterfactual: str = ""


def _f(subject: str, prompt: str, target: str, relation: str, counterfactual: str = "",
       *paraphrases: str) -> Fact:
    return Fact(subject, prompt, target, relation, tuple(paraphrases), counterfactual)


# Each prompt was checked on SmolLM2-135M (with <|endoftext|> in front): the target is its top
# answer. ``fact_table(model, FACTS)`` shows the ranks and probabilities live.
FACTS: tuple[Fact, ...] = (
    _f("Michael Jordan", "Michael Jordan plays the sport of", " basketball", "sport", " golf",
       "Michael Jordan is a professional", "The sport Michael Jordan is famous for is",
       "Michael Jordan became a legend of the game of", "Michael Jordan's sport is",
       "Michael Jordan was a star in the sport of", "Everyone knows that Michael Jordan played"),
    _f("LeBron James", "LeBron James plays the sport of", " basketball", "sport", " tennis"),
    _f("Tiger Woods", "Tiger Woods plays the sport of", " golf", "sport", " basketball"),
    _f("Roger Federer", "Roger Federer plays the sport of", " tennis", "sport", " soccer"),
    _f("Lionel Messi", "Lionel Messi plays the sport of", " soccer", "sport", " golf"),
    _f("Tom Brady", "Tom Brady plays the sport of", " football", "sport", " tennis"),
    _f("Poland", "The capital of Poland is", " Warsaw", "capital", " Paris",
       "The capital city of Poland is", "Poland's capital is", "Poland's capital city is",
       "The seat of government of Poland is in"),
    _f("France", "The capital of France is", " Paris", "capital", " Berlin"),
    _f("Japan", "The capital of Japan is", " Tokyo", "capital", " Paris"),
    _f("Germany", "The capital of Germany is", " Berlin", "capital", " Tokyo"),
    _f("Spain", "The capital of Spain is", " Madrid", "capital", " Berlin"),
    _f("Russia", "The capital of Russia is", " Moscow", "capital", " Madrid"),
    _f("Eiffel Tower", "The Eiffel Tower is located in the city of", " Paris", "landmark", " Rome"),
    _f("Colosseum", "The Colosseum is located in the city of", " Rome", "landmark", " Paris"),
    _f("Brazil", "The official language of Brazil is", " Portuguese", "language", " Spanish"),
    _f("Mexico", "The official language of Mexico is", " Spanish", "language", " Portuguese"),
    _f("iPhone", "iPhone is a product made by", " Apple", "maker", " Microsoft"),
    _f("Windows", "Windows is an operating system made by", " Microsoft", "maker", " Apple"),
    _f("The Beatles", "The Beatles were a band from", " Liverpool", "origin", " London"),
    _f("Toyota", "Toyota is a car company from", " Japan", "origin", " Germany"),
)

# Facts that the chapter never uses: the tests edit these to check that the edit generalises.
HELD_OUT_FACTS: tuple[Fact, ...] = (
    _f("Serena Williams", "Serena Williams plays the sport of", " tennis", "sport", " golf",
       "Serena Williams is a professional", "Serena Williams was a star in the sport of",
       "The sport Serena Williams is famous for is", "Serena Williams's sport is"),
    _f("Canada", "The capital of Canada is", " Ottawa", "capital", " London",
       "The capital city of Canada is", "Canada's capital city is",
       "The seat of government of Canada is in", "Canada's capital is"),
    _f("Italy", "The capital of Italy is", " Rome", "capital", " Paris",
       "The capital city of Italy is", "The seat of government of Italy is in", "Italy's capital is",
       "Italy's capital city is"),
    _f("Mozart", "Mozart was a famous", " composer", "profession", " painter",
       "Mozart is known as a great", "Mozart worked all his life as a", "Mozart became famous as a"),
    _f("Great Wall", "The Great Wall is located in", " China", "landmark", " Japan",
       "The Great Wall can be found in", "You can visit the Great Wall in", "The Great Wall was built in"),
    _f("Albert Einstein", "Albert Einstein is known for the theory of", " relativity", "science", " evolution",
       "Albert Einstein developed the theory of", "Albert Einstein became famous for his theory of",
       "Albert Einstein's most famous theory is the theory of"),
)

# Short neutral openings put in front of a prompt when the edit averages the subject's key and
# fits the new value, so that the edit does not depend on the prompt starting the text (ROME does
# the same with text sampled from the model; fixed sentences keep the chapter deterministic).
CONTEXT_PREFIXES: tuple[str, ...] = (
    "",
    "Here is a short note.",
    "I read this in a book.",
    "The following is true.",
    "Yesterday we talked about it.",
)


# ---------------------------------------------------------------------------------------------
# Tokens


def _check_model(model: Any) -> None:
    for part in ("blocks", "ln_final", "unembed", "cfg", "to_tokens"):
        if not hasattr(model, part):
            raise WrongModelError(
                f"expected a TransformerLens model such as load_model() returns, got {type(model).__name__} "
                f"(it has no .{part})"
            )


def target_id(model: Any, target: str) -> int:
    """The id of ``target``, which must be exactly one token (leading space included).

    >>> from course_utils import load_model
    >>> model = load_model()
    >>> target_id(model, " basketball") == model.to_single_token(" basketball")
    True
    """
    _check_model(model)
    if not isinstance(target, str) or not target:
        raise MultiTokenTargetError(f"the target must be a non-empty string, got {target!r}")
    ids = model.tokenizer(target, add_special_tokens=False)["input_ids"]
    if len(ids) == 1:
        return int(ids[0])
    pieces = [model.tokenizer.decode([i]) for i in ids]
    hint = ""
    if not target.startswith(" "):
        spaced = model.tokenizer(" " + target, add_special_tokens=False)["input_ids"]
        if len(spaced) == 1:
            hint = f"; with its leading space, {' ' + target!r} is one token"
    raise MultiTokenTargetError(
        f"the target {target!r} is {len(ids)} tokens {pieces}, and these tools compare one token{hint}"
    )


def _tokens(model: Any, prompt: str) -> Int[torch.Tensor, "1 pos"]:
    if not isinstance(prompt, str) or not prompt.strip():
        raise FactError(f"the prompt must be a non-empty string, got {prompt!r}")
    return model.to_tokens(prompt)


def subject_positions(model: Any, prompt: str, subject: str) -> list[int]:
    """The positions of the subject's tokens in ``model.to_tokens(prompt)`` (first occurrence).

    A token counts when it covers any character of the subject, so ``"Jordan"`` in ``"Michael
    Jordan plays"`` is the token ``" Jordan"``.

    >>> from course_utils import load_model
    >>> subject_positions(load_model(), "Michael Jordan plays the sport of", "Michael Jordan")
    [1, 2]
    """
    _check_model(model)
    if not isinstance(subject, str) or not subject.strip():
        raise SubjectNotFoundError(f"the subject must be a non-empty string, got {subject!r}")
    start = prompt.find(subject)
    if start < 0:
        raise SubjectNotFoundError(f"the subject {subject!r} does not occur in the prompt {prompt!r}")
    end = start + len(subject)
    encoded = model.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    tokens = _tokens(model, prompt)[0].tolist()
    shift = len(tokens) - len(encoded["input_ids"])  # 1 when to_tokens put <|endoftext|> in front
    if tokens[shift:] != list(encoded["input_ids"]):
        raise FactError(f"could not line up the tokens of {prompt!r} with its characters")
    positions = [shift + i for i, (a, b) in enumerate(encoded["offset_mapping"]) if a < end and b > start]
    if not positions:  # only possible for a subject of spaces
        raise SubjectNotFoundError(f"the subject {subject!r} covers no token of {prompt!r}")
    return positions


@torch.no_grad()
def predict(model: Any, prompt: str, k: int = 5) -> list[tuple[str, float]]:
    """The model's ``k`` most likely next tokens after ``prompt``, as ``(token, probability)``."""
    _check_model(model)
    probs = model(_tokens(model, prompt), logits_to_keep=1)[0, -1].softmax(-1)
    top = probs.topk(k)
    return [(model.tokenizer.decode([i]), float(p)) for p, i in zip(top.values, top.indices)]


@torch.no_grad()
def _last_log_probs(model: Any, prompts: Sequence[str]) -> Float[torch.Tensor, "n_prompts d_vocab"]:
    """The next-token log-probabilities after each prompt; prompts of equal length share a batch."""
    tokens = [_tokens(model, p) for p in prompts]
    out = torch.empty(len(prompts), model.cfg.d_vocab_out)
    by_length: dict[int, list[int]] = {}
    for i, t in enumerate(tokens):
        by_length.setdefault(t.shape[1], []).append(i)
    for index in by_length.values():
        logits = model(torch.cat([tokens[i] for i in index]), logits_to_keep=1)[:, -1]
        out[index] = logits.log_softmax(-1).float().cpu()
    return out


@torch.no_grad()
def fact_table(model: Any, facts: Sequence[Fact]) -> pd.DataFrame:
    """One row per fact: the target's rank (0 = top) and probability, and the model's top answer."""
    import pandas as pd

    _check_model(model)
    log_probs = _last_log_probs(model, [f.prompt for f in facts])
    rows = []
    for fact, lp in zip(facts, log_probs):
        t = target_id(model, fact.target)
        rows.append({
            "prompt": fact.prompt,
            "target": fact.target,
            "rank": int((lp > lp[t]).sum()),
            "probability": float(lp[t].exp()),
            "top answer": model.tokenizer.decode([int(lp.argmax())]),
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Running the blocks ourselves
#
# Causal tracing and the lens's second view run the model from a layer in the middle. Each block is
# called with the same keyword arguments the Hugging Face model passed it in a full run (rotary
# position embeddings, the causal mask, ...), captured once by a pre-hook on every block. That keeps
# the code free of architecture details, and lets a run start at block l without recomputing the
# blocks before it (TransformerBridge's own start_at_layer still runs them).


@dataclass
class _Capture:
    logits: Float[torch.Tensor, "batch pos d_vocab"]
    cache: dict[str, torch.Tensor]
    block_kwargs: list[dict[str, Any]]


def _capture(model: Any, tokens: torch.Tensor, names: Sequence[str] = (),
             recorder: _KeyValueRecorder | None = None) -> _Capture:
    """One forward pass that keeps the activations ``names`` and every block's keyword arguments;
    with a ``recorder``, also every layer's attention keys and values."""
    kwargs: list[dict[str, Any]] = [{} for _ in model.blocks]

    def keep(index: int) -> Callable:
        def pre_hook(module: Any, args: tuple, kw: dict) -> tuple | None:
            kwargs[index] = {k: v for k, v in kw.items() if k not in ("past_key_values", "use_cache")}
            if recorder is None:
                return None
            return args, {**kw, "past_key_values": recorder}
        return pre_hook

    handles = [block.register_forward_pre_hook(keep(i), with_kwargs=True) for i, block in enumerate(model.blocks)]
    wanted = set(names)
    try:
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in wanted)
    finally:
        for handle in handles:
            handle.remove()
    return _Capture(logits, {n: cache[n] for n in names}, kwargs)


def _run_blocks(model: Any, resid: Float[torch.Tensor, "batch pos d_model"], start: int, stop: int,
                block_kwargs: list[dict[str, Any]]) -> Float[torch.Tensor, "batch pos d_model"]:
    """Run blocks ``start .. stop-1`` on ``resid`` (hooks on them fire as usual)."""
    for i in range(start, stop):
        resid = _block(model, i, resid, block_kwargs[i])
    return resid


def _block(model: Any, i: int, resid: torch.Tensor, kwargs: dict[str, Any]) -> torch.Tensor:
    out = model.blocks[i](resid, **kwargs)
    return out[0] if isinstance(out, tuple) else out


def _final_logits(model: Any, resid: Float[torch.Tensor, "batch d_model"]) -> Float[torch.Tensor, "batch d_vocab"]:
    """The final norm and the unembedding, applied to residual vectors."""
    return model.unembed(model.ln_final(resid))


class _KeyValueRecorder:
    """Stands in for a Hugging Face cache during a full run: keeps every layer's keys and values."""

    def __init__(self) -> None:
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}

    def update(self, k: torch.Tensor, v: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any) -> tuple:
        self.keys[layer_idx], self.values[layer_idx] = k, v
        return k, v


class _PrefixCache:
    """Stands in for a Hugging Face cache: puts recorded keys and values of the first ``keep``
    positions in front of the ones computed now. Row ``r`` of the batch gets recorded row
    ``rows[r]``."""

    def __init__(self, recorder: _KeyValueRecorder, keep: int) -> None:
        self.recorder, self.keep = recorder, keep
        self.rows = torch.zeros(0, dtype=torch.long)

    def update(self, k: torch.Tensor, v: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any) -> tuple:
        old_k = self.recorder.keys[layer_idx][self.rows][..., :self.keep, :]
        old_v = self.recorder.values[layer_idx][self.rows][..., :self.keep, :]
        return torch.cat([old_k, k], dim=-2), torch.cat([old_v, v], dim=-2)


_SLICEABLE = {"position_embeddings", "position_ids", "cache_position", "attention_mask"}


def _suffix_kwargs(kwargs: dict[str, Any], keep: int, n_pos: int) -> dict[str, Any] | None:
    """A block's keyword arguments for positions ``keep ..`` only; None if we do not know how."""
    out = {}
    for name, value in kwargs.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            out[name] = value
        elif name == "position_embeddings" and isinstance(value, tuple):
            out[name] = tuple(t[..., keep:, :] for t in value)
        elif name in ("position_ids", "cache_position") and isinstance(value, torch.Tensor):
            out[name] = value[..., keep:]
        elif name == "attention_mask" and isinstance(value, torch.Tensor) and value.ndim == 4:
            out[name] = value[..., keep:, :]
        elif isinstance(value, torch.Tensor) and n_pos in value.shape:
            return None  # something position-shaped that we do not understand
        else:
            out[name] = value
    return out


# ---------------------------------------------------------------------------------------------
# The logit lens


def _resid_names(model: Any) -> list[str]:
    return [f"blocks.{i}.hook_resid_post" for i in range(model.cfg.n_layers)]


@torch.no_grad()
def lens_table(model: Any, prompt: str, target: str, *, final_blocks: int = 0) -> pd.DataFrame:
    """The target's rank and probability after every layer, read through the final norm.

    Args:
        final_blocks: ``0`` (the plain logit lens): the residual stream after layer ``l`` goes
            straight into the final norm and the unembedding. ``k > 0``: it first goes through the
            model's last ``k`` blocks, skipping the ones in between (for ``l >= n_layers - k - 1``
            that is simply the rest of the model). The last blocks then act as a translator from
            the middle layers' vectors into the space the unembedding reads, a training-free
            stand-in for a tuned lens.

    Returns:
        A DataFrame with one row per layer: ``layer``, ``rank`` (0 = top), ``probability``,
        ``log10 probability`` and ``top token`` (the lens's own best guess at that layer).

    The plain lens needs no compatibility mode: it applies ``model.ln_final`` itself, which with
    ``load_model()`` includes the norm's learned scale, and with ``load_model(compat=True)`` (scale
    folded into the unembedding) is the bare normalisation. Both give the same ranks.
    """
    import pandas as pd

    _check_model(model)
    n_layers = model.cfg.n_layers
    if not isinstance(final_blocks, int) or not 0 <= final_blocks < n_layers:
        raise FactError(f"final_blocks must be a whole number from 0 to {n_layers - 1}, got {final_blocks!r}")
    t = target_id(model, target)
    tokens = _tokens(model, prompt)
    names = _resid_names(model)
    run = _capture(model, tokens, names)
    resid = torch.cat([run.cache[n] for n in names])  # [n_layers, pos, d_model]: row l = after layer l
    if final_blocks == 0:
        last = resid[:, -1]
    else:
        start = n_layers - final_blocks
        last = resid[:, -1].clone()
        early = max(start - 1, 0)  # rows 0 .. early-1 jump to block `start`
        if early:
            last[:early] = _run_blocks(model, resid[:early], start, n_layers, run.block_kwargs)[:, -1]
        for layer in range(early, n_layers - 1):  # the rest of the model, exactly
            last[layer] = _run_blocks(model, resid[layer:layer + 1], layer + 1, n_layers, run.block_kwargs)[0, -1]
    log_probs = _final_logits(model, last).log_softmax(-1)  # [n_layers, d_vocab]
    target_lp = log_probs[:, t]
    ranks = (log_probs > target_lp[:, None]).sum(-1)
    top = log_probs.argmax(-1)
    return pd.DataFrame({
        "layer": range(n_layers),
        "rank": ranks.tolist(),
        "probability": target_lp.exp().tolist(),
        "log10 probability": (target_lp / math.log(10)).tolist(),
        "top token": [model.tokenizer.decode([i]) for i in top.tolist()],
    })


def logit_lens(model: Any, prompt: str, target: str) -> list[int]:
    """The rank of ``target`` (0 = top) after each layer, reading the residual stream through the
    final norm and the unembedding (the plain logit lens). One number per layer.

    Works with ``load_model()`` and with ``load_model(compat=True)``: it applies the final norm
    itself (see :func:`lens_table`).

    >>> from course_utils import load_model
    >>> ranks = logit_lens(load_model(), "The capital of Poland is", " Warsaw")
    >>> len(ranks), ranks[-1]
    (30, 0)
    """
    return lens_table(model, prompt, target)["rank"].tolist()


def lens_chart_html(table: pd.DataFrame, *, title: str = "", width: int = 560, height: int = 180) -> str:
    """An inline SVG chart of a :func:`lens_table`: the target's rank per layer on a log scale
    (top = rank 0), with each layer's top token underneath on hover. No JavaScript needed."""
    ranks = table["rank"].tolist()
    n = len(ranks)
    worst = math.log10(max(max(ranks), 1) + 1)
    left, right, top, bottom = 44, 10, 18, 28
    def x(i: int) -> float:
        return left + (width - left - right) * i / max(n - 1, 1)
    def y(r: int) -> float:
        return top + (height - top - bottom) * math.log10(r + 1) / (worst or 1)
    points = " ".join(f"{x(i):.1f},{y(r):.1f}" for i, r in enumerate(ranks))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(r):.1f}" r="3" fill="{"#1a7f37" if r == 0 else "#3b6fd4"}">'
        f'<title>layer {i}: rank {r}, top token {html.escape(repr(t))}</title></circle>'
        for i, (r, t) in enumerate(zip(ranks, table["top token"]))
    )
    ticks = "".join(
        f'<text x="{left - 6}" y="{y(r) + 4:.1f}" text-anchor="end" font-size="10">{r:,}</text>'
        for r in sorted({0, 9, 99, 999, 9999, max(ranks)}) if r <= max(ranks)
    )
    layers = "".join(f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" font-size="10">{i}</text>'
                     for i in range(0, n, max(1, n // 10)))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'style="font-family: sans-serif; background: white">'
        f'<text x="{left}" y="12" font-size="11">{html.escape(title)}</text>'
        f'<polyline points="{points}" fill="none" stroke="#3b6fd4" stroke-width="1.5"/>{dots}{ticks}{layers}'
        f'<text x="{(width + left) / 2}" y="{height - 1}" text-anchor="middle" font-size="10">layer</text></svg>'
    )


def lens_result_html(model: Any, prompt: str, target: str) -> str:
    """What the logit-lens explorer shows: the rank chart and a line per layer, or a message
    (never a traceback) when the input cannot be used."""
    if not prompt or not prompt.strip():
        return '<div style="color: #555">Type a prompt.</div>'
    try:
        table = lens_table(model, prompt, target)
    except OneLineError as err:
        return f'<div style="color: #b00020">{html.escape(str(err))}</div>'
    first = next((i for i, r in enumerate(table["rank"]) if r == 0), None)
    verdict = (f"{target!r} is the top token from layer {first} on" if first is not None and
               (table["rank"].iloc[first:] == 0).all() else
               f"{target!r} ends at rank {table['rank'].iloc[-1]:,} (0 = top)")
    return (lens_chart_html(table, title=f"rank of {target!r} after each layer (log scale, 0 at the top)")
            + f'<div style="color: #333; padding: 4px 0">{html.escape(verdict)}. '
            f"Hover over a point for that layer's own top token.</div>")


def lens_explorer(model: Any, prompt: str = "The capital of Poland is", target: str = " Warsaw") -> Any:
    """Type a prompt and a target token; see the target's rank after every layer (logit lens).

    The chart updates when you press Enter or leave a box. The returned ``VBox`` has the extra
    attributes ``inputs`` (prompt and target boxes) and ``result`` (the HTML widget).
    """
    import ipywidgets as widgets

    boxes = [widgets.Text(value=prompt, description="prompt", continuous_update=False,
                          layout=widgets.Layout(width="420px")),
             widgets.Text(value=target, description="target", continuous_update=False,
                          layout=widgets.Layout(width="220px"))]
    result = widgets.HTML()

    def update(_: Any = None) -> None:
        try:
            result.value = lens_result_html(model, boxes[0].value, boxes[1].value)
        except Exception as err:  # lens_result_html reports bad input itself; this is a last resort
            result.value = f'<div style="color: #b00020">Something went wrong: {html.escape(str(err))}</div>'

    for box in boxes:
        box.observe(update, names="value")
    update()
    explorer = widgets.VBox([widgets.HBox(boxes), result])
    explorer.inputs, explorer.result = boxes, result
    return explorer


# ---------------------------------------------------------------------------------------------
# Causal tracing

_HOOKS = {"resid": "hook_resid_post", "mlp": "hook_mlp_out", "attn": "hook_attn_out"}


@dataclass
class TraceResult:
    """Everything :func:`trace_details` measured for one fact.

    Attributes:
        restored: ``[n_layers, n_positions]``, the fraction of the clean answer probability that
            comes back when that activation is restored: ``(p_restored - p_corrupted) /
            (p_clean - p_corrupted)``, 0 = nothing comes back, 1 = all of it.
        p_clean: the target's probability on the clean prompt.
        p_corrupted: its mean probability with the subject blurred and nothing restored.
        p_restored: ``[n_layers, n_positions]`` the mean probability with one activation restored.
        tokens: the prompt's tokens as text, ``<|endoftext|>`` included.
        subject: positions of the subject's tokens.
    """

    restored: Float[torch.Tensor, "n_layers n_positions"]
    p_clean: float
    p_corrupted: float
    p_restored: Float[torch.Tensor, "n_layers n_positions"]
    tokens: list[str]
    subject: list[int]
    kind: str
    noise: float
    samples: int
    window: int
    seed: int


def noise_scale(model: Any) -> float:
    """The standard deviation of the token-embedding entries (the noise is a multiple of it)."""
    return float(model.W_E.detach().float().std())


def _window(layer: int, window: int, n_layers: int) -> tuple[int, int]:
    """Layers ``lo .. hi`` (inclusive) restored for ``layer``: ``window`` layers around it, cut at
    the first and last layer (ROME's convention: ``layer - window // 2`` up to, not including,
    ``layer + ceil(window / 2)``)."""
    return max(0, layer - window // 2), min(n_layers - 1, layer + (window + 1) // 2 - 1)


@torch.no_grad()
def trace_details(model: Any, prompt: str, subject: str, target: str, kind: str = "mlp", *,
                  noise: float = 3.0, samples: int = 5, window: int | None = None,
                  seed: int = 0) -> TraceResult:
    """Causal tracing (Meng et al. 2022) with every number kept; :func:`trace` returns the heatmap.

    1. Clean run: the prompt as it is; keep every layer's activation of ``kind``.
    2. Corrupted runs: Gaussian noise of standard deviation ``noise`` times :func:`noise_scale` is
       added to the embeddings of the subject's tokens, ``samples`` times (seeded by ``seed``).
    3. For every layer ``l`` and position ``p`` from the subject's first token on, each corrupted
       run is repeated with the clean activation put back at position ``p`` in layer ``l`` (for
       ``"mlp"`` and ``"attn"``: in the ``window`` layers centred on ``l``, as ROME does). Positions
       before the subject are not affected by the noise, so restoring them changes nothing: 0.

    Args:
        kind: ``"resid"`` (the residual stream after the layer, ``hook_resid_post``), ``"mlp"``
            (``hook_mlp_out``) or ``"attn"`` (``hook_attn_out``).
        noise: the noise's standard deviation in units of the embedding entries' (ROME: 3).
        samples: how many noise draws are averaged.
        window: layers restored together for ``"mlp"``/``"attn"``; default about a sixth of the
            layers (5 of 30 here, as ROME's 10 of GPT-2 XL's 48). Always 1 for ``"resid"``.

    The work is batched: every (layer, position, sample) run starts at the first block it changes,
    from the corrupted run's residual stream; the runs that restore position ``p`` go through the
    blocks together, and compute only positions ``p ..``, taking the keys and values of the earlier
    positions (which the restoration cannot change) from the corrupted run. One heatmap costs about
    a quarter of ``n_layers * n_positions * samples`` forward passes of the prompt: a few seconds
    on a CPU for the course model. The result equals plain patching with hooks (tested).
    """
    _check_model(model)
    if kind not in KINDS:
        raise UnknownKindError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    if not isinstance(samples, int) or samples < 1:
        raise FactError(f"samples must be a whole number of at least 1, got {samples!r}")
    if not noise > 0:
        raise FactError(f"noise must be a positive number, got {noise!r}")
    n_layers = model.cfg.n_layers
    if window is None:
        window = 1 if kind == "resid" else max(1, round(n_layers / 6))
    if kind == "resid":
        window = 1
    if not isinstance(window, int) or not 1 <= window <= n_layers:
        raise FactError(f"window must be a whole number from 1 to {n_layers}, got {window!r}")

    t = target_id(model, target)
    tokens = _tokens(model, prompt)
    subj = subject_positions(model, prompt, subject)
    n_pos = tokens.shape[1]
    act_names = [f"blocks.{i}.{_HOOKS[kind]}" for i in range(n_layers)]

    # 1. The clean run: the activations to restore, and what each block was called with.
    clean = _capture(model, tokens, [*act_names, "blocks.0.hook_resid_pre"])
    p_clean = float(clean.logits[0, -1].softmax(-1)[t])
    clean_acts = torch.cat([clean.cache[n] for n in act_names])  # [n_layers, pos, d_model]

    # 2. The corrupted runs, all samples in one batch, keeping each block's input and its keys and
    # values (so that later runs can reuse the positions before the one they restore).
    gen = torch.Generator().manual_seed(seed)
    blur = torch.randn(samples, len(subj), model.cfg.d_model, generator=gen) * (noise * noise_scale(model))
    resid = clean.cache["blocks.0.hook_resid_pre"].repeat(samples, 1, 1)  # the embeddings
    resid[:, subj] += blur.to(resid.device, resid.dtype)
    recorder = _KeyValueRecorder()
    resid_pre = []  # [n_layers] of [samples, pos, d_model]
    for i in range(n_layers):
        resid_pre.append(resid)
        resid = _block(model, i, resid, {**clean.block_kwargs[i], "past_key_values": recorder})
    p_corrupted_each = _final_logits(model, resid[:, -1]).softmax(-1)[:, t]  # [samples]
    p_corrupted = float(p_corrupted_each.mean())
    reuse = len(recorder.keys) == n_layers

    # 3. Restore one position at a time. The runs for position p share everything before p with
    # the corrupted runs, so only positions p.. are computed (when the attention takes a cache).
    first = subj[0]
    p_restored = torch.full((n_layers, n_pos), p_corrupted)
    windows = [_window(layer, window, n_layers) for layer in range(n_layers)]
    for p in range(first, n_pos):
        keep = p if reuse else 0
        kwargs = [_suffix_kwargs(kw, keep, n_pos) for kw in clean.block_kwargs] if keep else clean.block_kwargs
        if any(kw is None for kw in kwargs):
            keep, kwargs = 0, clean.block_kwargs
        p_restored[:, p] = _restore_position(model, p, keep, windows, samples, act_names, clean_acts,
                                             resid_pre, recorder if keep else None, kwargs, t)

    denominator = p_clean - p_corrupted
    restored = (p_restored - p_corrupted) / denominator if abs(denominator) > 1e-12 else torch.zeros_like(p_restored)
    return TraceResult(
        restored=restored, p_clean=p_clean, p_corrupted=p_corrupted, p_restored=p_restored,
        tokens=model.to_str_tokens(tokens[0]), subject=subj, kind=kind, noise=noise, samples=samples,
        window=window, seed=seed,
    )


def _restore_position(model: Any, p: int, keep: int, windows: list[tuple[int, int]], samples: int,
                      act_names: list[str], clean_acts: torch.Tensor, resid_pre: list[torch.Tensor],
                      recorder: _KeyValueRecorder | None, block_kwargs: list[dict[str, Any]],
                      t: int) -> Float[torch.Tensor, "n_layers"]:
    """Mean target probability for every layer when the clean activation is put back at ``p``.

    One run per (layer, sample). A run joins the batch at the first block of its window, starting
    from the corrupted run's residual stream there; the batch grows as the loop goes up the layers.
    """
    n_layers = len(windows)
    lo = torch.tensor([w[0] for w in windows]).repeat_interleave(samples)  # row = layer * samples + s
    hi = torch.tensor([w[1] for w in windows]).repeat_interleave(samples)
    sample = torch.arange(samples).repeat(n_layers)
    order = torch.argsort(lo, stable=True)
    lo, hi, sample = lo[order], hi[order], sample[order]
    cache = _PrefixCache(recorder, keep) if recorder is not None else None
    joined = 0
    state = {"layer": 0}

    def put_back(act: torch.Tensor, hook: Any) -> torch.Tensor:
        layer = state["layer"]
        hit = ((lo[:joined] <= layer) & (hi[:joined] >= layer)).nonzero().squeeze(1)
        if len(hit):
            act = act.clone()
            act[hit, p - keep] = clean_acts[layer, p]
        return act

    resid = resid_pre[0].new_empty(0, resid_pre[0].shape[1] - keep, resid_pre[0].shape[2])
    with model.hooks(fwd_hooks=[(name, put_back) for name in act_names]):
        for layer in range(n_layers):
            new = int((lo == layer).sum())
            if new:
                resid = torch.cat([resid, resid_pre[layer][sample[joined:joined + new], keep:]])
                joined += new
            state["layer"] = layer
            kwargs = block_kwargs[layer]
            if cache is not None:
                cache.rows = sample[:joined]
                kwargs = {**kwargs, "past_key_values": cache}
            resid = _block(model, layer, resid, kwargs)
    probs = _final_logits(model, resid[:, -1]).softmax(-1)[:, t]  # [rows], in sorted order
    per_row = torch.empty_like(probs)
    per_row[order] = probs
    return per_row.view(n_layers, samples).mean(-1).float().cpu()


def trace(model: Any, prompt: str, subject: str, target: str, kind: str = "mlp", *,
          noise: float = 3.0, samples: int = 5, window: int | None = None,
          seed: int = 0) -> Float[torch.Tensor, "n_layers n_positions"]:
    """Causal tracing: how much of the answer comes back when one activation is restored.

    Returns a ``[n_layers, n_positions]`` tensor: entry ``[l, p]`` is the fraction of the clean
    answer probability restored by putting back the clean ``kind`` activation (``"resid"``,
    ``"mlp"`` or ``"attn"``) of layer ``l`` at position ``p`` into runs where the subject's token
    embeddings were blurred with noise. See :func:`trace_details` for the method and parameters.

    >>> from course_utils import load_model
    >>> heat = trace(load_model(), "The capital of Poland is", "Poland", " Warsaw", kind="resid", samples=2)
    >>> tuple(heat.shape)
    (30, 6)
    """
    return trace_details(model, prompt, subject, target, kind, noise=noise, samples=samples,
                         window=window, seed=seed).restored


_KIND_WORDS = {"resid": "residual stream", "mlp": "MLP output", "attn": "attention output"}


def trace_heatmaps(results: Sequence[TraceResult], *, titles: Sequence[str] | None = None,
                   columns: int = 3, height_per_row: int = 300) -> Any:
    """Plotly heatmaps of :func:`trace_details` results, one panel each: layers across, the
    prompt's tokens down (subject tokens marked with ``*``), colour = fraction restored.

    The colour scale runs from 0 to 1; a cell outside that range (noise can push a few a little
    below 0 or above 1) gets the end colour, and hovering shows its value.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not results:
        raise FactError("no trace results to draw")
    columns = max(1, min(columns, len(results)))
    rows = math.ceil(len(results) / columns)
    if titles is None:
        titles = [f"{_KIND_WORDS[r.kind]}" + (f", window {r.window}" if r.kind != "resid" else "") for r in results]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=list(titles), horizontal_spacing=0.12,
                        vertical_spacing=0.16 if rows > 1 else 0.1)
    for i, r in enumerate(results):
        labels = [f"{t!r}*" if p in r.subject else repr(t) for p, t in enumerate(r.tokens)]
        labels = [f"{p} {label}" for p, label in enumerate(labels)]  # positions keep equal tokens apart
        z = r.restored.T.tolist()  # [positions, layers]
        fig.add_trace(go.Heatmap(
            z=z, x=list(range(r.restored.shape[0])), y=labels, zmin=0.0, zmax=1.0, colorscale="Purples",
            showscale=i == 0, colorbar=dict(title="restored", len=0.8),
            hovertemplate="layer %{x}<br>token %{y}<br>restored %{z:.2f}<extra></extra>",
        ), row=i // columns + 1, col=i % columns + 1)
        fig.update_yaxes(autorange="reversed", row=i // columns + 1, col=i % columns + 1)
        fig.update_xaxes(title_text="layer", row=i // columns + 1, col=i % columns + 1)
    fig.update_layout(height=height_per_row * rows + 80, template="plotly_white", margin=dict(t=60))
    return fig


def trace_summary(results: Sequence[TraceResult]) -> pd.DataFrame:
    """One row per trace: the clean and corrupted probabilities, and where restoring helps most
    (at the subject's last token, and at the prompt's last token)."""
    import pandas as pd

    rows = []
    for r in results:
        last_subject, last = r.subject[-1], len(r.tokens) - 1
        col_s, col_l = r.restored[:, last_subject], r.restored[:, last]
        rows.append({
            "prompt": "".join(r.tokens[1:]),
            "kind": r.kind,
            "p clean": r.p_clean,
            "p corrupted": r.p_corrupted,
            "best layer at subject's last token": int(col_s.argmax()),
            "restored there": float(col_s.max()),
            "best layer at last token": int(col_l.argmax()),
            "restored at last token": float(col_l.max()),
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Editing a fact (ROME-style rank-one edit of one MLP's down-projection)
#
# The MLP of layer L ends with out = h @ W_out, where h ([d_mlp], TransformerLens's
# ``blocks.L.mlp.hook_post``, the input of the down-projection) is the SwiGLU hidden vector. Read
# W_out as a memory: a key h comes in, the value h @ W_out goes out into the residual stream.
#
# 1. key k*: h at the subject's last token, averaged over the prompt with a few openings in front.
# 2. value: find a change d of the MLP's output at that token such that the model then says the
#    new target (a few steps of Adam on d, the rest of the model frozen).
# 3. update: W_out' = W_out + u d^T / (u . k*), with u = C^-1 k*: exactly d more output for k*, and
#    for another key k a change of (u . k) / (u . k*) times d. C, the second moment of the keys
#    over ordinary text, makes u point where ordinary keys rarely go, so that other subjects'
#    keys are disturbed as little as possible (C = identity gives the smallest change of W_out).


@dataclass
class FactEdit:
    """What :func:`edit_fact` changed; the weights are restored when the ``with`` block ends.

    Attributes:
        layer: the layer whose down-projection (``blocks[layer].mlp.out.weight``) was changed.
        key: ``[d_mlp]`` the subject's key k* (mean of ``blocks.L.mlp.hook_post`` at its last token).
        change: ``[d_model]`` the change d of the MLP's output for that key.
        direction: ``[d_mlp]`` u = C^-1 k*, the direction of keys the edit responds to.
        probability: the new target's mean probability on the edit prompts after the optimisation.
        steps: optimisation steps taken.
    """

    layer: int
    key: Float[torch.Tensor, "d_mlp"]
    change: Float[torch.Tensor, "d_model"]
    direction: Float[torch.Tensor, "d_mlp"]
    probability: float
    steps: int
    prompt: str = ""
    new_target: str = ""

    def weight_delta(self) -> Float[torch.Tensor, "d_mlp d_model"]:
        """The rank-one change of ``W_out`` (TransformerLens layout: ``[d_mlp, d_model]``)."""
        return torch.outer(self.direction, self.change) / (self.direction @ self.key)


def default_edit_layer(model: Any) -> int:
    """The layer :func:`edit_fact` edits by default: a fixed fraction of the depth (layer 4 of 30).

    Chosen on the course model: causal tracing puts the MLPs that carry a fact at the subject's
    last token in the first third of the layers (layer 0 itself mostly re-reads the blurred token);
    among layers 2-9, edits at layer 4 generalised best to paraphrases (all seven test facts at
    least half, none of the unrelated facts changed)."""
    return max(1, round(EDIT_DEPTH * model.cfg.n_layers))


EDIT_DEPTH = 4 / 30  # layer 4 of 30 on the course model


class _PaddedPrefixCache:
    """Stands in for a Hugging Face cache: puts each row's recorded keys and values of the
    positions before its suffix (left-padded to a common length) in front of the ones computed now."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor]) -> None:
        self.keys, self.values = keys, values  # per layer: [batch, kv_heads, prefix, d_head]

    def update(self, k: torch.Tensor, v: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any) -> tuple:
        return torch.cat([self.keys[layer_idx], k], dim=-2), torch.cat([self.values[layer_idx], v], dim=-2)


@dataclass
class _SuffixBatch:
    """Prompts run from block ``layer`` on, only from each one's subject's last token to its end.

    Each row keeps, from a clean run, the residual stream entering block ``layer`` at its suffix,
    and every layer's keys and values of the positions before the suffix. Rows of different
    lengths share one batch: suffixes are padded at the end, prefixes at the front, and a mask
    hides the padding. So one optimisation step is one batched pass through the upper blocks.
    """

    layer: int
    resid: Float[torch.Tensor, "batch suffix d_model"]
    last: Int[torch.Tensor, "batch"]  # index of each row's last real position in the suffix
    keys: Float[torch.Tensor, "batch d_mlp"]  # blocks.layer.mlp.hook_post at the subject's last token
    cache: _PaddedPrefixCache
    kwargs: list[dict[str, Any]]  # per block, for the whole batch


def _allowed(mask: torch.Tensor | None, n_pos: int) -> torch.Tensor:
    """A block's attention mask as booleans ``[n_pos, n_pos]`` (True = may attend)."""
    if mask is None:
        return torch.ones(n_pos, n_pos, dtype=torch.bool).tril()
    mask = mask[0, 0] if mask.ndim == 4 else mask
    if mask.dtype == torch.bool:
        return mask.cpu()
    return (mask > torch.finfo(mask.dtype).min / 2).cpu()


@torch.no_grad()
def _suffix_batch(model: Any, prompts: list[tuple[str, str]], layer: int) -> _SuffixBatch:
    """Clean runs of ``(prompt, subject)`` pairs, packed into one :class:`_SuffixBatch`."""
    n_layers = model.cfg.n_layers
    post = f"blocks.{layer}.mlp.hook_post"
    rows = []
    for prompt, subject in prompts:
        tokens = _tokens(model, prompt)
        lookup = subject_positions(model, prompt, subject)[-1]
        recorder = _KeyValueRecorder()
        run = _capture(model, tokens, [f"blocks.{layer}.hook_resid_pre", post], recorder)
        unknown = [k for kw in run.block_kwargs for k, v in kw.items()
                   if isinstance(v, torch.Tensor) and k not in ("attention_mask", "position_ids", "cache_position")]
        if unknown:
            raise FactError(f"edit_fact does not know how to shorten the block argument {unknown[0]!r} of this model")
        suffix_input = run.cache[f"blocks.{layer}.hook_resid_pre"][0, lookup:]
        if len(recorder.keys) != n_layers:
            raise FactError("edit_fact needs attention layers that accept a key-value cache")
        rows.append((tokens.shape[1], lookup, suffix_input, run, recorder))

    batch = len(rows)
    width = max(n - lookup for n, lookup, *_ in rows)  # padded suffix length
    front = max(lookup for _, lookup, *_ in rows)  # padded prefix length
    resid = torch.zeros(batch, width, model.cfg.d_model, dtype=rows[0][2].dtype)
    last = torch.tensor([n - lookup - 1 for n, lookup, *_ in rows])
    for r, (n, lookup, suffix_input, *_rest) in enumerate(rows):
        resid[r, : n - lookup] = suffix_input
    keys, values, kwargs = [], [], []
    for i in range(n_layers):
        k0 = rows[0][4].keys[i]
        k_pad = k0.new_zeros(batch, k0.shape[1], front, k0.shape[3])
        v_pad = k_pad.clone()
        allowed = torch.zeros(batch, 1, width, front + width, dtype=torch.bool)
        cos_sin = None
        for r, (n, lookup, _, run, recorder) in enumerate(rows):
            k_pad[r, :, front - lookup:] = recorder.keys[i][0, :, :lookup]
            v_pad[r, :, front - lookup:] = recorder.values[i][0, :, :lookup]
            full = _allowed(run.block_kwargs[i].get("attention_mask"), n)  # [n, n]
            allowed[r, 0, : n - lookup, front - lookup:front] = full[lookup:, :lookup]
            allowed[r, 0, : n - lookup, front:front + n - lookup] = full[lookup:, lookup:]
            pe = run.block_kwargs[i].get("position_embeddings")
            if pe is not None:
                if cos_sin is None:
                    cos_sin = [t.new_zeros(batch, width, t.shape[-1]) for t in pe]
                for part, t in zip(cos_sin, pe):
                    part[r, : n - lookup] = t[0, lookup:]
        allowed[:, 0].diagonal(offset=front, dim1=-2, dim2=-1).fill_(True)  # padding sees itself
        keys.append(k_pad)
        values.append(v_pad)
        kw: dict[str, Any] = {"attention_mask": allowed}
        if cos_sin is not None:
            kw["position_embeddings"] = tuple(cos_sin)
        kwargs.append(kw)
    post_keys = torch.stack([run.cache[post][0, lookup] for _, lookup, _, run, _ in rows])
    return _SuffixBatch(layer, resid, last, post_keys, _PaddedPrefixCache(keys, values), kwargs)


def _run_suffix_batch(model: Any, batch: _SuffixBatch,
                      change: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities ``[batch, d_vocab]`` right after the subject and at the last position,
    with ``change`` added to the MLP output of ``batch.layer`` at the subject's last token."""

    def add(out: torch.Tensor, hook: Any) -> torch.Tensor:
        return torch.cat([out[:, :1] + change, out[:, 1:]], dim=1)

    resid = batch.resid
    with model.hooks(fwd_hooks=[(f"blocks.{batch.layer}.hook_mlp_out", add)]):
        for i in range(batch.layer, model.cfg.n_layers):
            resid = _block(model, i, resid, {**batch.kwargs[i], "past_key_values": batch.cache})
    rows = torch.arange(len(resid))
    picked = torch.stack([resid[:, 0], resid[rows, batch.last]], dim=1)  # [batch, 2, d_model]
    log_probs = _final_logits(model, picked).log_softmax(-1)
    return log_probs[:, 0], log_probs[:, 1]


def _with_prefixes(prompt: str, prefixes: Sequence[str]) -> list[str]:
    return [f"{p} {prompt}" if p else prompt for p in prefixes]


def _fit_change(model: Any, batch: _SuffixBatch, n_edit: int, new_id: int, *, steps: int, lr: float,
                until: float, kl_weight: float, decay: float, max_norm: float,
                scale: float) -> tuple[torch.Tensor, float, int]:
    """Adam on the MLP-output change. Rows ``:n_edit`` are edit prompts: maximise the new target's
    log-probability at their end. The other rows are "{subject} is a" prompts: keep the
    prediction right after the subject as it was (KL divergence)."""
    with torch.no_grad():
        reference, _ = _run_suffix_batch(model, batch, torch.zeros(model.cfg.d_model))
        reference = reference[n_edit:]
    change = torch.zeros(model.cfg.d_model, requires_grad=True)
    optimiser = torch.optim.Adam([change], lr=lr)
    probability, step = 0.0, 0
    for step in range(1, steps + 1):
        with torch.enable_grad():
            after_subject, at_end = _run_suffix_batch(model, batch, change)
            target_lp = at_end[:n_edit, new_id]
            kl = torch.nn.functional.kl_div(after_subject[n_edit:], reference, log_target=True,
                                            reduction="batchmean")
            loss = -target_lp.mean() + kl_weight * kl + decay * (change.norm() / scale) ** 2
            (grad,) = torch.autograd.grad(loss, [change])
        probability = float(target_lp.detach().exp().mean())
        if probability > until:
            break
        change.grad = grad
        optimiser.step()
        with torch.no_grad():
            norm = change.norm()
            if norm > max_norm * scale:
                change.mul_(max_norm * scale / norm)
    return change.detach(), probability, step


@contextlib.contextmanager
def edit_fact(model: Any, prompt: str, subject: str, new_target: str, *, layer: int | None = None,
              second_moment: Float[torch.Tensor, "d_mlp d_mlp"] | None = None,
              prefixes: Sequence[str] = CONTEXT_PREFIXES, steps: int = 25, lr: float = 1.0,
              until: float = 0.9, kl_weight: float = 0.0625, decay: float = 0.5,
              max_norm: float = 8.0) -> Iterator[FactEdit]:
    """Make the model answer ``new_target`` for ``prompt`` inside a ``with`` block.

    A rank-one change of one MLP's down-projection, in the style of ROME (Meng et al. 2022); see
    the comment above :class:`FactEdit` for the three steps. When the block ends, even by an
    exception, the weight is copied back from a saved copy, bit for bit.

    Args:
        layer: the MLP to edit (default :func:`default_edit_layer`).
        second_moment: ``[d_mlp, d_mlp]`` mean of ``k k^T`` over keys of ordinary text at that layer
            (:func:`key_second_moment`); ``None`` uses the identity (the smallest possible change).
        prefixes: openings put in front of the prompt; the key is averaged over them and the change
            must work after each.
        steps, lr, until: the optimisation of the output change: at most ``steps`` steps of Adam
            with learning rate ``lr``, stopping once the new target's mean probability over the
            edit prompts passes ``until``.
        kl_weight, decay, max_norm: ROME's regularisers: keep the model's prediction right after
            "{subject} is a" unchanged, penalise ``|d|^2`` (relative to the MLP's own output norm
            for the key), and cap ``|d|`` at ``max_norm`` times that norm. ROME caps at 4 on GPT-2
            XL; here the MLP outputs of layer 4 are small next to the residual stream, and 8 lets
            the optimisation finish in fewer steps with the same specificity (measured).

    >>> from course_utils import load_model
    >>> model = load_model()
    >>> with edit_fact(model, "The capital of Poland is", "Poland", " Paris"):  # doctest: +SKIP
    ...     predict(model, "The capital of Poland is", k=1)[0][0]
    ' Paris'
    >>> predict(model, "The capital of Poland is", k=1)[0][0]  # doctest: +SKIP
    ' Warsaw'
    """
    _check_model(model)
    new_id = target_id(model, new_target)
    subject_positions(model, prompt, subject)  # clear errors before any work
    n_layers = model.cfg.n_layers
    layer = default_edit_layer(model) if layer is None else layer
    if not isinstance(layer, int) or not 0 <= layer < n_layers:
        raise FactError(f"layer must be a whole number from 0 to {n_layers - 1}, got {layer!r}")
    weight = model.blocks[layer].mlp.out.weight  # [d_model, d_mlp]: W_out transposed
    d_mlp = weight.shape[1]
    if second_moment is not None and tuple(second_moment.shape) != (d_mlp, d_mlp):
        raise FactError(f"second_moment must have shape ({d_mlp}, {d_mlp}), got {tuple(second_moment.shape)}")

    edit_prompts = [(p, subject) for p in _with_prefixes(prompt, prefixes)]
    keep_prompts = [(f"{subject} is a", subject)]
    batch = _suffix_batch(model, edit_prompts + keep_prompts, layer)
    key = batch.keys[: len(edit_prompts)].mean(0)  # k*, [d_mlp]
    scale = float((key @ weight.T).norm().detach())  # |W_out^T k*|: the MLP's own output for the key
    change, probability, taken = _fit_change(
        model, batch, len(edit_prompts), new_id, steps=steps, lr=lr, until=until, kl_weight=kl_weight,
        decay=decay, max_norm=max_norm, scale=scale)
    with torch.no_grad():
        direction = key if second_moment is None else torch.linalg.solve(second_moment.to(key), key)
        edit = FactEdit(layer, key, change, direction, probability, taken, prompt, new_target)
        saved = weight.detach().clone()
        try:
            weight.add_(torch.outer(change, direction) / (direction @ key))
            yield edit
        finally:
            weight.copy_(saved)


@torch.no_grad()
def key_second_moment(model: Any, layer: int, windows: Int[torch.Tensor, "n_windows pos"], *,
                      shrink: float = 0.1, batch_size: int = 16) -> Float[torch.Tensor, "d_mlp d_mlp"]:
    """The mean of ``k k^T`` over the MLP keys (``blocks.L.mlp.hook_post``) of ordinary text.

    Args:
        windows: token windows of a corpus, ``<|endoftext|>`` first (see
            :func:`course_utils.neurons.corpus_windows`). The first position is left out: its
            activations are outliers. The forward pass stops after block ``layer``.
        shrink: with a few thousand keys in ``d_mlp`` dimensions the estimate is noisy (and
            singular when there are fewer keys than dimensions), so it is shrunk towards a
            multiple of the identity: ``(1 - shrink) C + shrink * trace(C) / d_mlp * I``.
    """
    _check_model(model)
    if not isinstance(layer, int) or not 0 <= layer < model.cfg.n_layers:
        raise FactError(f"layer must be a whole number from 0 to {model.cfg.n_layers - 1}, got {layer!r}")
    if windows.ndim != 2 or windows.shape[1] < 2:
        raise FactError(f"windows must be token ids of shape [n_windows, pos >= 2], got {tuple(windows.shape)}")
    hook = f"blocks.{layer}.mlp.hook_post"
    total = torch.zeros(model.cfg.d_mlp, model.cfg.d_mlp)
    count = 0
    for start in range(0, len(windows), batch_size):
        keys: list[torch.Tensor] = []
        with model.hooks(fwd_hooks=[(hook, lambda act, hook: keys.append(act[:, 1:].flatten(0, 1).float().cpu()))]):
            if layer + 1 < model.cfg.n_layers:
                model(windows[start:start + batch_size], stop_at_layer=layer + 1)
            else:
                model(windows[start:start + batch_size], logits_to_keep=1)
        total += keys[0].T @ keys[0]
        count += len(keys[0])
    moment = total / count
    return (1 - shrink) * moment + shrink * moment.trace() / len(moment) * torch.eye(len(moment))


# ---------------------------------------------------------------------------------------------
# Measuring an edit


@dataclass
class EditReport:
    """How an edit did: efficacy, generalisation and specificity (the three measures of ROME).

    Attributes:
        efficacy: the new target is the top answer to the edited prompt.
        p_new: its probability there.
        paraphrases: ``(prompt, top answer after the edit, hit)`` for each paraphrase.
        generalisation: the fraction of paraphrases whose top answer became the new target.
        specificity: the fraction of unrelated probe prompts whose top answer did not change.
        changed: ``(probe, top answer before, after)`` for the probes that changed.
        edit: the :class:`FactEdit` itself.
        continuations: ``(prompt, greedy continuation)`` written by the edited model, for the
            prompts given to :func:`edit_report` as ``continue_prompts``.
    """

    fact: Fact
    new_target: str
    efficacy: bool
    p_new: float
    paraphrases: list[tuple[str, str, bool]]
    generalisation: float
    specificity: float
    n_probes: int
    changed: list[tuple[str, str, str]]
    edit: FactEdit
    continuations: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.fact.subject}: {self.fact.target!r} -> {self.new_target!r} at layer {self.edit.layer}: "
                f"efficacy {'yes' if self.efficacy else 'no'} (p {self.p_new:.2f}), "
                f"paraphrases {sum(h for *_, h in self.paraphrases)}/{len(self.paraphrases)}, "
                f"unrelated facts unchanged {self.specificity:.0%} of {self.n_probes}")


def _top_answers(model: Any, prompts: Sequence[str]) -> list[int]:
    return _last_log_probs(model, prompts).argmax(-1).tolist() if prompts else []


def edit_report(model: Any, fact: Fact, new_target: str | None = None, *,
                probes: Sequence[str] | None = None, continue_prompts: Sequence[str] = (),
                max_new_tokens: int = 12, **edit_kwargs: Any) -> EditReport:
    """Edit ``fact`` to ``new_target`` (default ``fact.counterfactual``) with :func:`edit_fact`
    and measure the edit while it is in place; the weights are restored before this returns.

    Args:
        probes: prompts of unrelated facts whose top answers should not change; default every
            prompt of :data:`FACTS` and :data:`HELD_OUT_FACTS` about another subject.
        continue_prompts: prompts for the edited model to continue (greedy, ``max_new_tokens``
            tokens), to read what it writes while the edit is in place.
        edit_kwargs: passed to :func:`edit_fact` (``layer``, ``second_moment``, ...).
    """
    new_target = new_target or fact.counterfactual
    if not new_target:
        raise FactError(f"give a new target: the fact about {fact.subject!r} has no counterfactual")
    if probes is None:
        probes = [f.prompt for f in (*FACTS, *HELD_OUT_FACTS) if f.subject != fact.subject]
    new_id = target_id(model, new_target)
    before = _top_answers(model, probes)
    with edit_fact(model, fact.prompt, fact.subject, new_target, **edit_kwargs) as edit:
        with torch.no_grad():
            probs = model(_tokens(model, fact.prompt), logits_to_keep=1)[0, -1].softmax(-1)
        para_tops = _top_answers(model, fact.paraphrases)
        after = _top_answers(model, probes)
        continuations = [(p, _continue(model, p, max_new_tokens)) for p in continue_prompts]
    decode = model.tokenizer.decode
    paraphrases = [(p, decode([t]), t == new_id) for p, t in zip(fact.paraphrases, para_tops)]
    changed = [(p, decode([b]), decode([a])) for p, b, a in zip(probes, before, after) if a != b]
    return EditReport(
        fact=fact, new_target=new_target, efficacy=int(probs.argmax()) == new_id, p_new=float(probs[new_id]),
        paraphrases=paraphrases,
        generalisation=sum(h for *_, h in paraphrases) / len(paraphrases) if paraphrases else float("nan"),
        specificity=1 - len(changed) / len(probes) if probes else float("nan"), n_probes=len(probes),
        changed=changed, edit=edit, continuations=continuations,
    )


@torch.no_grad()
def _continue(model: Any, prompt: str, max_new_tokens: int) -> str:
    """The greedy continuation of ``prompt`` (the new text only)."""
    tokens = _tokens(model, prompt)
    out = model.generate(tokens, max_new_tokens=max_new_tokens, do_sample=False, verbose=False)
    return model.tokenizer.decode(out[0, tokens.shape[1]:].tolist())
