"""Indirect object identification (IOI): the logit difference, head knock-outs and activation patching.

"When Mary and John went to the store, John gave a drink to" ends with the name that was *not*
repeated: the indirect object (IO, " Mary"), not the subject (S, " John"). Wang et al. (2022) traced
how GPT-2 small does this to a circuit of attention heads. This module holds the tools to repeat
that search on any TransformerLens model:

* :func:`logit_diff`: logit(IO) - logit(S) at the last token, one value per example;
* :func:`ablate_heads`: a context manager that replaces some heads' outputs by their mean;
* :func:`find_heads` / :func:`rank_heads`: the heads whose mean-ablation lowers the logit
  difference most, scored for all heads at once by attribution patching and then checked exactly;
* :func:`patch_residual`, :func:`patch_heads`: activation patching between a clean prompt and its
  corrupted "ABC" counterpart, exact or by attribution patching, with a normalised metric;
* :func:`ablation_results`, :func:`random_heads`: knock out several sets of heads (the found ones,
  random controls) and compare the mean logit difference;
* :func:`ioi_attention`, :func:`head_logit_attribution`, :func:`attention_shift`,
  :func:`classify_heads`: the measurements that sort heads into name-mover-like, S-inhibition-like
  and duplicate-token-like, and say so when a head fits none of them;
* :func:`ioi_dataset`: prompts from a few templates and single-token names, with their corrupted
  counterparts, and a held-out split (other templates, other names) for honest tests.

An *example* is a dict ``{"prompt": str, "io": " Mary", "s": " John"}``; the answers carry their
leading space and must be single tokens. Patching also needs ``"corrupted"``: the same prompt with
the second mention of S replaced by a third name, which :func:`ioi_dataset` provides.

>>> from course_utils import load_model
>>> model = load_model()
>>> example = {"prompt": "When Mary and John went to the store, John gave a drink to", "io": " Mary", "s": " John"}
>>> bool(logit_diff(model, [example])[0] > 2)
True

Prompts of different token lengths are padded on the right and read at their own last token. The
model attends causally, so padding after a prompt cannot change anything at or before its last token.
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from jaxtyping import Float, Int

from course_utils.errors import OneLineError

__all__ = [
    "HeadRanking",
    "IOIError",
    "PatchingResult",
    "ablate_heads",
    "ablation_results",
    "attention_shift",
    "classify_heads",
    "find_heads",
    "head_logit_attribution",
    "ioi_attention",
    "ioi_dataset",
    "ioi_positions",
    "logit_diff",
    "patch_heads",
    "patch_residual",
    "random_heads",
    "rank_heads",
]

Example = Mapping[str, Any]
Head = tuple[int, int]
Direction = Literal["noise", "denoise"]
Method = Literal["exact", "attribution"]

DEFAULT_BATCH = 32  # prompts per forward pass; a small batch keeps the activations of one pass small
# Prompts per backward pass: the graph of all 30 layers is held until the gradient is read, about
# 20 MB per prompt of 15 tokens, so a small chunk keeps the peak low at little cost in time.
GRADIENT_BATCH = 4


class IOIError(OneLineError, ValueError):
    """Bad input to the IOI tools: the message says what is wrong and what an example looks like."""


# ---------------------------------------------------------------------------------------------
# The dataset

# The chapter's templates share one token layout with the course tokenizer (BOS, one word, name,
# "and", name, four words, ",", S, three words, "to"), so a position means the same thing in every
# prompt: position 10 is always the second mention of the subject, position 14 the last token. That
# makes "the mean at each position" (ablate_heads) and a layer x position patching plot meaningful.
CHAPTER_TEMPLATES = (
    "When {A} and {B} went to the store, {S} gave a drink to",
    "After {A} and {B} went to the park, {S} gave a ball to",
    "When {A} and {B} arrived at the hotel, {S} handed the keys to",
    "While {A} and {B} were at the office, {S} sent an email to",
    "Later {A} and {B} walked to the station, {S} gave a ticket to",
    "Once {A} and {B} sat in the garden, {S} passed a cup to",
)
# Templates and names that the chapter never shows: the tests check the chapter's findings on them.
# Their layouts differ on purpose (17 or 18 tokens, names at different positions).
HELDOUT_TEMPLATES = (
    "On Friday, {A} and {B} visited the museum, and {S} showed a painting to",
    "At the party, {A} and {B} were talking, and then {S} offered a cake to",
    "In the morning, {A} and {B} were cooking breakfast, and {S} handed a spoon to",
)
CHAPTER_NAMES = (
    "Mary", "John", "Tom", "James", "Dan", "Amy", "Kate", "Paul", "Lisa", "Anna", "Mark", "Sarah",
    "Emma", "Jack", "Mike", "Laura", "David", "Alice", "Ben", "Sam", "Rose", "Jane", "Tim", "Joe",
    "Kevin", "Eric", "Peter", "Chris", "Susan", "Helen", "Lucy", "Grace",
)
HELDOUT_NAMES = (
    "Oliver", "Harry", "Charlie", "Jacob", "Noah", "Ethan", "Ella", "Mia", "Lily", "Oscar", "Hugo",
    "Felix", "Victor", "Simon", "Patrick", "Sean", "Diana", "Monica", "Heather", "Vera", "Julie",
    "Rachel", "Claire", "Sophie",
)


def _single_token_names(tokenizer: Any, names: Sequence[str]) -> list[str]:
    """The names that are one token (with their leading space) for this tokenizer."""
    return [n for n in names if len(tokenizer(" " + n, add_special_tokens=False)["input_ids"]) == 1]


def ioi_dataset(
    model: Any, n: int = 60, *, split: Literal["chapter", "heldout"] = "chapter", seed: int = 0
) -> list[dict[str, Any]]:
    """``n`` IOI prompts with their corrupted counterparts, balanced over templates and name orders.

    Each example is a dict with ``prompt``, ``io`` and ``s`` (answers with a leading space) and:

    * ``corrupted``: the same prompt with the second mention of S replaced by a third name C (the
      "ABC" version: three different names, so nothing tells IO from S any more);
    * ``c``: that third name; ``template``: the template's index; ``order``: ``"ABBA"`` when IO comes
      first ("When Mary and John ..., John ...") and ``"BABA"`` when S comes first.

    ``split="heldout"`` uses other templates and other names, never shown in the chapter. Names are
    kept only if they are one token for ``model``'s tokenizer, so the same call works for GPT-2.
    """
    if split not in ("chapter", "heldout"):
        raise IOIError(f"split must be 'chapter' or 'heldout', got {split!r}.")
    if not isinstance(n, int) or n < 1:
        raise IOIError(f"n must be a positive whole number of prompts, got {n!r}.")
    templates = CHAPTER_TEMPLATES if split == "chapter" else HELDOUT_TEMPLATES
    names = _single_token_names(model.tokenizer, CHAPTER_NAMES if split == "chapter" else HELDOUT_NAMES)
    if len(names) < 3:
        raise IOIError("fewer than three of the dataset's names are single tokens for this tokenizer.")
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        template = i % len(templates)
        order = "ABBA" if (i // len(templates)) % 2 == 0 else "BABA"
        io, s, c = rng.sample(names, 3)
        first, second = (io, s) if order == "ABBA" else (s, io)
        text = templates[template]
        examples.append({
            "prompt": text.format(A=first, B=second, S=s),
            "io": " " + io,
            "s": " " + s,
            "corrupted": text.format(A=first, B=second, S=c),
            "c": " " + c,
            "template": template,
            "order": order,
        })
    return examples


# ---------------------------------------------------------------------------------------------
# Checking input and tokenising


def _check_examples(examples: Any, *, need: Sequence[str] = ("prompt", "io", "s")) -> list[Example]:
    if isinstance(examples, Mapping):
        raise IOIError("pass a list of examples, not a single dict: wrap it as [example].")
    if isinstance(examples, str) or not isinstance(examples, Sequence):
        raise IOIError(f"examples must be a list of dicts like {{'prompt': ..., 'io': ' Mary', 's': ' John'}}, "
                       f"got {type(examples).__name__}.")
    if len(examples) == 0:
        raise IOIError("examples is empty: pass at least one {'prompt': ..., 'io': ..., 's': ...} dict.")
    for i, ex in enumerate(examples):
        if not isinstance(ex, Mapping):
            raise IOIError(f"example {i} is a {type(ex).__name__}, not a dict with keys {', '.join(need)}.")
        missing = [key for key in need if key not in ex]
        if missing:
            hint = " (ioi_dataset makes examples with a corrupted prompt)" if "corrupted" in missing else ""
            raise IOIError(f"example {i} has no {' or '.join(repr(m) for m in missing)} key; "
                           f"it needs {', '.join(repr(k) for k in need)}{hint}.")
        for key in need:
            if not isinstance(ex[key], str) or not ex[key]:
                raise IOIError(f"example {i}: {key!r} must be a non-empty string, got {ex[key]!r}.")
    return list(examples)


def _answer_id(tokenizer: Any, answer: str, i: int, key: str) -> int:
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = [tokenizer.decode([t]) for t in ids]
        space = "" if answer.startswith(" ") else "; did you forget the leading space?"
        raise IOIError(f"example {i}: {key}={answer!r} is {len(ids)} tokens {pieces} for this tokenizer, "
                       f"but the logit difference needs a single-token answer{space}")
    return ids[0]


@dataclass(frozen=True)
class _Batch:
    """Tokenised examples: right-padded prompts, their lengths and the two answer ids."""

    tokens: Int[torch.Tensor, "batch pos"]
    lengths: Int[torch.Tensor, "batch"]
    io: Int[torch.Tensor, "batch"]
    s: Int[torch.Tensor, "batch"]

    def __len__(self) -> int:
        return len(self.lengths)

    def rows(self, idx: slice | torch.Tensor) -> _Batch:
        lengths = self.lengths[idx]
        return _Batch(self.tokens[idx][:, : int(lengths.max())], lengths, self.io[idx], self.s[idx])

    def mask(self) -> torch.Tensor:
        """``[batch, pos]``: True at real tokens, False at padding."""
        return torch.arange(self.tokens.shape[1]) < self.lengths[:, None]


def _pad(rows: Sequence[torch.Tensor], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(r) for r in rows])
    tokens = torch.full((len(rows), int(lengths.max())), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        tokens[i, : len(r)] = r
    return tokens, lengths


def _encode(model: Any, examples: Sequence[Example], key: str = "prompt") -> _Batch:
    tokenizer = model.tokenizer
    io = torch.tensor([_answer_id(tokenizer, ex["io"], i, "io") for i, ex in enumerate(examples)])
    s = torch.tensor([_answer_id(tokenizer, ex["s"], i, "s") for i, ex in enumerate(examples)])
    same = (io == s).nonzero()
    if len(same):
        raise IOIError(f"example {int(same[0])}: io and s are the same token, so their difference is always 0.")
    # One prompt at a time: the BOS the model prepends is then right, and a pad id that is also the
    # BOS id (GPT-2) cannot be mistaken for padding.
    rows = [model.to_tokens(ex[key])[0].cpu() for ex in examples]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    tokens, lengths = _pad(rows, pad_id)
    return _Batch(tokens.to(_device(model)), lengths, io, s)


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _pair(model: Any, examples: Sequence[Example]) -> tuple[_Batch, _Batch]:
    """The clean and corrupted prompts, checked to have the same token length pairwise."""
    clean, corrupted = _encode(model, examples, "prompt"), _encode(model, examples, "corrupted")
    differ = (clean.lengths != corrupted.lengths).nonzero()
    if len(differ):
        i = int(differ[0])
        raise IOIError(f"example {i}: the corrupted prompt is {int(corrupted.lengths[i])} tokens and the clean one "
                       f"{int(clean.lengths[i])}; patching needs the same length (swap names for single-token names).")
    return clean, corrupted


# ---------------------------------------------------------------------------------------------
# Running the model and reading the logit difference

Hook = tuple[str, Callable[..., Any]]


def _final_logits(model: Any, batch: _Batch, hooks: Sequence[Hook] = ()) -> Float[torch.Tensor, "batch d_vocab"]:
    """Logits at each prompt's last real token; only those positions go through the unembedding."""
    last = (batch.lengths - 1).to(batch.tokens.device)
    keep = torch.unique(last)  # sorted
    logits = model.run_with_hooks(batch.tokens, fwd_hooks=list(hooks), logits_to_keep=keep.cpu())
    return logits[torch.arange(len(last)), torch.searchsorted(keep, last)]


def _diffs(logits: Float[torch.Tensor, "batch d_vocab"], batch: _Batch) -> Float[torch.Tensor, "batch"]:
    rows = torch.arange(len(batch), device=logits.device)
    return logits[rows, batch.io.to(logits.device)] - logits[rows, batch.s.to(logits.device)]


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _run_diffs(model: Any, batch: _Batch, hooks_for: Callable[[slice], Sequence[Hook]] | None = None,
               batch_size: int = DEFAULT_BATCH) -> Float[torch.Tensor, "batch"]:
    out = []
    with torch.no_grad():
        for rows in _chunks(len(batch), batch_size):
            sub = batch.rows(rows)
            hooks = hooks_for(rows) if hooks_for else ()
            out.append(_diffs(_final_logits(model, sub, hooks), sub).float().cpu())
    return torch.cat(out)


def logit_diff(model: Any, examples: Sequence[Example], *, batch_size: int = DEFAULT_BATCH) -> Float[torch.Tensor, "batch"]:
    """logit(IO) - logit(S) at the last token of each prompt: one value per example.

    Positive means the model prefers the indirect object, as it should. Any hooks already attached
    to the model (for example inside :func:`ablate_heads`) take effect.

    Raises:
        IOIError: empty list, a missing key, or an answer that is not a single token.
    """
    examples = _check_examples(examples)
    return _run_diffs(model, _encode(model, examples), batch_size=batch_size)


def ioi_positions(model: Any, examples: Sequence[Example]) -> dict[str, Int[torch.Tensor, "batch"]]:
    """Token positions of IO, the first and second mention of S (S1, S2), and the last token (END).

    Found by token id: IO is the first occurrence of the IO token, S1 and S2 the first and last of
    the S token. An example whose prompt does not contain both names (S twice) gets an error.
    """
    examples = _check_examples(examples)
    batch = _encode(model, examples)
    found: dict[str, list[int]] = {"io": [], "s1": [], "s2": [], "end": []}
    for i in range(len(batch)):
        toks = batch.tokens[i, : int(batch.lengths[i])].cpu()
        io_at = (toks == batch.io[i]).nonzero().flatten()
        s_at = (toks == batch.s[i]).nonzero().flatten()
        if len(io_at) == 0 or len(s_at) < 2:
            raise IOIError(f"example {i}: the prompt must mention io once and s twice as whole tokens "
                           f"(found io {len(io_at)}x, s {len(s_at)}x): {examples[i]['prompt']!r}")
        found["io"].append(int(io_at[0]))
        found["s1"].append(int(s_at[0]))
        found["s2"].append(int(s_at[-1]))
        found["end"].append(int(batch.lengths[i]) - 1)
    return {k: torch.tensor(v) for k, v in found.items()}


# ---------------------------------------------------------------------------------------------
# Heads: checking, means, ablation


def _check_heads(model: Any, heads: Any) -> list[Head]:
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    try:
        out = [(int(layer), int(head)) for layer, head in heads]
    except (TypeError, ValueError):
        raise IOIError(f"heads must be a list of (layer, head) pairs such as [(20, 3), (24, 1)], got {heads!r}.") from None
    for layer, head in out:
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise IOIError(f"head ({layer}, {head}) does not exist: layers go 0..{n_layers - 1}, "
                           f"heads 0..{n_heads - 1}.")
    return list(dict.fromkeys(out))


def _z_name(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_z"


@dataclass
class _HeadMeans:
    """Per layer: the mean of ``hook_z`` at each position over the examples, and over all positions."""

    per_position: dict[int, Float[torch.Tensor, "pos n_heads d_head"]]
    overall: dict[int, Float[torch.Tensor, "n_heads d_head"]]

    def at(self, layer: int, n_pos: int) -> Float[torch.Tensor, "pos n_heads d_head"]:
        """The means for ``n_pos`` positions; positions past the longest example get the overall mean."""
        table = self.per_position[layer]
        if n_pos <= len(table):
            return table[:n_pos]
        extra = self.overall[layer].expand(n_pos - len(table), *table.shape[1:])
        return torch.cat([table, extra])


def _accumulate_means(sums: dict[int, torch.Tensor], counts: torch.Tensor) -> _HeadMeans:
    per_position = {layer: s / counts[:, None, None].clamp_min(1) for layer, s in sums.items()}
    overall = {layer: s.sum(0) / counts.sum() for layer, s in sums.items()}
    return _HeadMeans(per_position, overall)


def _head_means(model: Any, batch: _Batch, layers: Sequence[int], batch_size: int, *,
                with_diffs: bool = False) -> tuple[_HeadMeans, float | None]:
    """Means of ``hook_z`` at ``layers`` over ``batch``; with ``with_diffs`` the same full pass also
    gives the mean logit difference (otherwise the run stops after the last layer needed)."""
    n_pos = batch.tokens.shape[1]
    shape = (n_pos, model.cfg.n_heads, model.cfg.d_head)
    sums = {layer: torch.zeros(shape) for layer in layers}
    counts = batch.mask().sum(0).float().cpu()
    if not layers and not with_diffs:
        return _accumulate_means(sums, counts), None

    def add(z: torch.Tensor, hook: Any, layer: int, mask: torch.Tensor) -> None:
        sums[layer][: z.shape[1]] += (z.detach().float().cpu() * mask[:, :, None, None]).sum(0)

    diffs = []
    with torch.no_grad():
        for rows in _chunks(len(batch), batch_size):
            sub = batch.rows(rows)
            mask = sub.mask().float().cpu()
            hooks = [(_z_name(layer), functools.partial(add, layer=layer, mask=mask)) for layer in layers]
            if with_diffs:
                diffs.append(_diffs(_final_logits(model, sub, hooks), sub).float().cpu())
            else:
                model.run_with_hooks(sub.tokens, fwd_hooks=hooks, stop_at_layer=max(layers) + 1)
    return _accumulate_means(sums, counts), (float(torch.cat(diffs).mean()) if with_diffs else None)


def _mean_ablation_hook(z: torch.Tensor, hook: Any, heads: list[int], means: _HeadMeans, layer: int) -> torch.Tensor:
    fill = means.at(layer, z.shape[1]).to(z.dtype).to(z.device)  # [pos, n_heads, d_head]
    z = z.clone()
    z[:, :, heads] = fill[None, :, heads]
    return z


def _ablation_hooks(heads: Sequence[Head], means: _HeadMeans) -> list[Hook]:
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)
    return [(_z_name(layer), functools.partial(_mean_ablation_hook, heads=hs, means=means, layer=layer))
            for layer, hs in sorted(by_layer.items())]


@contextlib.contextmanager
def ablate_heads(model: Any, heads: Sequence[Head], examples: Sequence[Example], *,
                 batch_size: int = DEFAULT_BATCH) -> Iterator[None]:
    """Inside the ``with`` block, each given head outputs its mean over ``examples`` at each position.

    The mean of the head's ``hook_z`` (its attention-weighted values, before the output matrix) is
    taken over the examples at each token position, padding left out. It removes what the head says
    about *this* prompt while keeping what it says on every prompt of the kind. A prompt longer than
    every example gets, past that length, the head's mean over all positions. On leaving the block
    the hooks are removed, even when the block raises, and the model computes exactly what it did
    before.

    >>> from course_utils import load_model
    >>> model = load_model()
    >>> data = ioi_dataset(model, 12)
    >>> with ablate_heads(model, [(0, 0)], data):
    ...     ablated = logit_diff(model, data)
    >>> ablated.shape
    torch.Size([12])
    """
    heads = _check_heads(model, heads)
    examples = _check_examples(examples, need=("prompt",))
    batch = _encode_prompts(model, examples)
    means, _ = _head_means(model, batch, sorted({layer for layer, _ in heads}), batch_size)
    with model.hooks(fwd_hooks=_ablation_hooks(heads, means)):
        yield


def _encode_prompts(model: Any, examples: Sequence[Example]) -> _Batch:
    """Prompts only (answers not needed): what :func:`ablate_heads` averages over."""
    rows = [model.to_tokens(ex["prompt"])[0].cpu() for ex in examples]
    pad_id = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    tokens, lengths = _pad(rows, pad_id)
    zeros = torch.zeros(len(rows), dtype=torch.long)
    return _Batch(tokens.to(_device(model)), lengths, zeros, zeros)


def ablation_results(model: Any, examples: Sequence[Example], head_sets: Mapping[str, Sequence[Head]], *,
                     batch_size: int = DEFAULT_BATCH) -> dict[str, float]:
    """The mean logit difference with each set of heads mean-ablated together, and with none ("none").

    The means are those :func:`ablate_heads` uses, computed once for all sets, so comparing the found
    heads with several random sets costs one forward pass per set (plus two).

    >>> from course_utils import load_model
    >>> model = load_model()
    >>> data = ioi_dataset(model, 6)
    >>> results = ablation_results(model, data, {"one early head": [(0, 0)]})
    >>> sorted(results)
    ['none', 'one early head']
    """
    examples = _check_examples(examples)
    checked = {label: _check_heads(model, heads) for label, heads in head_sets.items()}
    if "none" in checked:
        raise IOIError('"none" is the label of the run without ablation; name your head set differently.')
    batch = _encode(model, examples)
    means, clean = _head_means(model, batch, range(model.cfg.n_layers), batch_size, with_diffs=True)
    results = {"none": clean}
    for label, heads in _progress(list(checked.items()), "ablating head sets"):
        hooks = _ablation_hooks(heads, means)
        results[label] = float(_run_diffs(model, batch, lambda rows: hooks, batch_size=batch_size).mean())
    return results


def random_heads(model: Any, k: int, *, seed: int, exclude: Sequence[Head] = ()) -> list[Head]:
    """``k`` heads drawn uniformly at random (seeded) from all heads not in ``exclude``: a control."""
    excluded = set(_check_heads(model, exclude))
    pool = [(layer, head) for layer in range(model.cfg.n_layers) for head in range(model.cfg.n_heads)
            if (layer, head) not in excluded]
    if not 0 <= k <= len(pool):
        raise IOIError(f"cannot draw {k} heads from {len(pool)}.")
    return sorted(random.Random(seed).sample(pool, k))


# ---------------------------------------------------------------------------------------------
# Gradients of the logit difference (attribution patching)


@contextlib.contextmanager
def _weights_frozen(model: Any) -> Iterator[None]:
    """Parameters need no gradient here; turning it off halves what the backward pass stores."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _gradients(model: Any, batch: _Batch, names: Sequence[str], *, batch_size: int = GRADIENT_BATCH) -> Iterator[tuple[slice, dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]]:
    """For each chunk of examples: the activations at ``names``, d(sum of logit diffs)/d(activation), and the diffs.

    One forward and one backward pass per chunk. The embedding output is made to require a gradient
    so that the graph exists even though the weights are frozen.
    """
    embed_name = "hook_embed" if "hook_embed" in model.hook_dict else "embed.hook_out"

    def start_graph(x: torch.Tensor, hook: Any) -> torch.Tensor:
        return x.detach().requires_grad_(True)

    with _weights_frozen(model), torch.enable_grad():
        for rows in _chunks(len(batch), batch_size):
            sub = batch.rows(rows)
            acts: dict[str, torch.Tensor] = {}

            def keep(x: torch.Tensor, hook: Any, name: str) -> torch.Tensor:
                acts[name] = x  # by the name asked for: hook.name may be the alias's target
                return x

            hooks = [(embed_name, start_graph), *[(name, functools.partial(keep, name=name)) for name in names]]
            diffs = _diffs(_final_logits(model, sub, hooks), sub)
            grads = torch.autograd.grad(diffs.sum(), [acts[name] for name in names])
            yield (rows, {n: acts[n].detach() for n in names}, dict(zip(names, (g.detach() for g in grads))),
                   diffs.detach())
            del acts, grads, diffs


# ---------------------------------------------------------------------------------------------
# Finding the heads that matter


@dataclass
class HeadRanking:
    """What :func:`rank_heads` found.

    Attributes:
        estimated: ``[n_layers, n_heads]``, the first-order estimate of how much mean-ablating each
            head alone lowers the mean logit difference (attribution patching), for every head.
        exact: the measured drop for each checked candidate, ``{(layer, head): drop}``.
        clean: the mean logit difference without any ablation.
        heads: the candidates ordered by measured drop, largest first.
    """

    estimated: Float[torch.Tensor, "n_layers n_heads"]
    exact: dict[Head, float]
    clean: float
    heads: list[Head] = field(default_factory=list)

    def top(self, k: int) -> list[Head]:
        return self.heads[:k]


def rank_heads(model: Any, examples: Sequence[Example], *, candidates: int = 15,
               batch_size: int = DEFAULT_BATCH) -> HeadRanking:
    """Score every head by how much mean-ablating it lowers the mean logit difference.

    1. **Attribution patching** (Nanda 2023; Syed et al. 2023) scores all heads at once. Replacing
       a head's output ``z`` by its mean ``m`` changes the mean logit difference by about
       ``sum((m - z) * dLD/dz)``, a first-order Taylor estimate; one forward and one backward pass
       give ``z`` and the gradient for every head of every layer (``hook_z``, ``[batch, pos, head,
       d_head]``), and the means come from the same pass.
    2. **Exact check**: the ``candidates`` heads with the largest estimated drop are each
       mean-ablated for real (one forward pass over the examples per head), and ranked by the drop
       measured. The estimate is only a guide: a head the estimate ranks below ``candidates`` is
       never checked.

    The cost is about three forward passes for step 1 and ``candidates`` for step 2, instead of
    one per head (270 for the course model).
    """
    examples = _check_examples(examples)
    batch = _encode(model, examples)
    n_layers, n_heads, d_head = model.cfg.n_layers, model.cfg.n_heads, model.cfg.d_head
    names = [_z_name(layer) for layer in range(n_layers)]
    n_pos = batch.tokens.shape[1]
    z_sums = {layer: torch.zeros(n_pos, n_heads, d_head) for layer in range(n_layers)}
    grad_sums = {layer: torch.zeros(n_pos, n_heads, d_head) for layer in range(n_layers)}
    grad_dot_z = torch.zeros(n_layers, n_heads)
    mask_all = batch.mask().float().cpu()
    diffs = []
    for rows, acts, grads, d in _gradients(model, batch, names, batch_size=min(batch_size, GRADIENT_BATCH)):
        mask = mask_all[rows][:, : acts[names[0]].shape[1], None, None]
        for layer, name in enumerate(names):
            z, g = acts[name].float().cpu() * mask, grads[name].float().cpu()
            width = z.shape[1]
            z_sums[layer][:width] += z.sum(0)
            grad_sums[layer][:width] += g.sum(0)
            grad_dot_z[layer] += (g * z).sum((0, 1, 3))
        diffs.append(d.float().cpu())
    clean = float(torch.cat(diffs).mean())
    means = _accumulate_means(z_sums, mask_all.sum(0))
    estimated = torch.stack([
        grad_dot_z[layer] - (means.per_position[layer] * grad_sums[layer]).sum((0, 2))
        for layer in range(n_layers)
    ]) / len(batch)  # estimated drop = -(change)
    order = estimated.flatten().argsort(descending=True)[:candidates]
    chosen = [(int(i) // n_heads, int(i) % n_heads) for i in order]
    exact = {}
    for head in _progress(chosen, "checking candidate heads"):
        hooks = _ablation_hooks([head], means)
        ablated = _run_diffs(model, batch, lambda rows: hooks, batch_size=batch_size).mean()
        exact[head] = clean - float(ablated)
    ranked = sorted(exact, key=exact.get, reverse=True)
    return HeadRanking(estimated=estimated, exact=exact, clean=clean, heads=ranked)


def find_heads(model: Any, examples: Sequence[Example], k: int = 10) -> list[Head]:
    """The ``k`` heads whose mean-ablation most lowers the mean logit difference on ``examples``.

    All heads are scored at once by attribution patching (one forward and one backward pass), the
    ``k + 5`` best are then each mean-ablated for real, and the ``k`` with the largest measured drop
    are returned, largest first, as ``(layer, head)`` pairs. See :func:`rank_heads` for the details
    and for the scores themselves.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise IOIError(f"k must be a positive whole number of heads, got {k!r}.")
    return rank_heads(model, examples, candidates=k + 5).top(k)


def _progress(items: Sequence[Any], desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=True, disable=len(items) < 4)


# ---------------------------------------------------------------------------------------------
# Activation patching between clean and corrupted prompts


def _capture(model: Any, batch: _Batch, names: Sequence[str],
             batch_size: int) -> tuple[dict[str, torch.Tensor], float]:
    """The activations at ``names`` for every example (``[batch, pos, ...]``, on the CPU, padded to
    the longest prompt) and the mean logit difference of the same run."""
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    width = batch.tokens.shape[1]

    def keep(x: torch.Tensor, hook: Any, name: str) -> None:
        pad = width - x.shape[1]
        x = x.detach().float().cpu()
        parts[name].append(torch.nn.functional.pad(x, (0, 0) * (x.ndim - 2) + (0, pad)) if pad else x)

    diffs = []
    with torch.no_grad():
        for rows in _chunks(len(batch), batch_size):
            sub = batch.rows(rows)
            hooks = [(n, functools.partial(keep, name=n)) for n in names]
            diffs.append(_diffs(_final_logits(model, sub, hooks), sub).float().cpu())
    return {name: torch.cat(chunks) for name, chunks in parts.items()}, float(torch.cat(diffs).mean())


@dataclass(frozen=True)
class _Cell:
    """One patch: a hook, the positions (one per example, or None for all) and a head (or None)."""

    name: str
    positions: torch.Tensor | None
    head: int | None


def _patch_hook(x: torch.Tensor, hook: Any, rows: torch.Tensor, examples: torch.Tensor, cells: list[_Cell],
                source: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    width = x.shape[1]
    src = source[examples, :width].to(x.device, x.dtype)  # [rows, pos, ...]
    for k, (row, cell) in enumerate(zip(rows.tolist(), cells)):
        where = slice(None) if cell.positions is None else int(cell.positions[examples[k]])
        if cell.head is None:
            x[row, where] = src[k, where]
        else:
            x[row, where, cell.head] = src[k, where, cell.head]
    return x


def _patched_diffs(model: Any, batch: _Batch, cells: Sequence[_Cell], source: Mapping[str, torch.Tensor],
                   batch_size: int, desc: str) -> Float[torch.Tensor, "cells"]:
    """Mean logit difference of ``batch`` with each cell patched from ``source``: one value per cell.

    Every (cell, example) pair is one row; rows are packed into forward passes of ``batch_size``,
    so that few examples times many cells still make full batches.
    """
    n = len(batch)
    pairs = [(c, e) for c in range(len(cells)) for e in range(n)]
    totals = torch.zeros(len(cells))
    chunks = list(_chunks(len(pairs), batch_size))
    with torch.no_grad():
        for chunk in _progress(chunks, desc):
            cell_idx = torch.tensor([pairs[i][0] for i in range(chunk.start, chunk.stop)])
            ex_idx = torch.tensor([pairs[i][1] for i in range(chunk.start, chunk.stop)])
            lengths = batch.lengths[ex_idx]
            sub = _Batch(batch.tokens[ex_idx][:, : int(lengths.max())], lengths, batch.io[ex_idx], batch.s[ex_idx])
            hooks = []
            for name in dict.fromkeys(cells[int(c)].name for c in cell_idx):
                rows = torch.tensor([r for r, c in enumerate(cell_idx.tolist()) if cells[c].name == name])
                hooks.append((name, functools.partial(
                    _patch_hook, rows=rows, examples=ex_idx[rows], cells=[cells[int(cell_idx[r])] for r in rows],
                    source=source[name])))
            diffs = _diffs(_final_logits(model, sub, hooks), sub).float().cpu()
            totals.index_add_(0, cell_idx, diffs)
    return totals / n


def _resolve_positions(model: Any, examples: Sequence[Example], batch: _Batch,
                       positions: Sequence[int | str] | None) -> tuple[list[str], list[torch.Tensor]]:
    """Labels and per-example indices for positions given as ints or as roles ("io", "s1", "s2", "end")."""
    if positions is None:
        if len(batch.lengths.unique()) > 1:
            raise IOIError("these prompts have different token lengths, so a position number means different "
                           "words; pass positions as roles, e.g. positions=['s2', 'end'], or use one template.")
        positions = list(range(int(batch.lengths[0])))
    roles = None
    labels, indices = [], []
    for p in positions:
        if isinstance(p, str):
            roles = roles if roles is not None else ioi_positions(model, examples)
            if p not in roles:
                raise IOIError(f"unknown position {p!r}: use a number or one of {', '.join(roles)}.")
            labels.append(p)
            indices.append(roles[p])
        else:
            if not 0 <= int(p) < int(batch.lengths.min()):
                raise IOIError(f"position {p} is outside the shortest prompt ({int(batch.lengths.min())} tokens).")
            labels.append(str(int(p)))
            indices.append(torch.full((len(batch),), int(p)))
    return labels, indices


def _normalise(patched: torch.Tensor, clean: float, corrupted: float) -> torch.Tensor:
    """0 where the patched run does as badly as the corrupted run, 1 where it does as well as the clean one."""
    return (patched - corrupted) / (clean - corrupted)


def _check_choice(value: str, name: str, options: Sequence[str]) -> None:
    if value not in options:
        raise IOIError(f"{name} must be one of {', '.join(repr(o) for o in options)}, got {value!r}.")


@dataclass
class PatchingResult:
    """Normalised patching scores with their labels and the two reference logit differences.

    ``scores[i, j]`` is ``(LD_patched - LD_corrupted) / (LD_clean - LD_corrupted)`` for row ``i``
    (a layer) and column ``j`` (a position or a head), each LD the mean over the examples: 1 means
    the patched run does as well as the clean prompt, 0 as badly as the corrupted one.
    """

    scores: Float[torch.Tensor, "rows cols"]
    rows: list[str]
    cols: list[str]
    clean: float
    corrupted: float
    method: str
    direction: str

    def figure(self, *, title: str = "", col_labels: Sequence[str] | None = None,
               row_title: str = "layer", col_title: str = "") -> Any:
        """The scores as a plotly heatmap (blue: restores the clean answer, red: goes the other way)."""
        import plotly.graph_objects as go

        cols = self.cols
        if col_labels is not None:  # e.g. tokens; numbered, because a token can occur twice
            if len(col_labels) != len(self.cols):
                raise IOIError(f"{len(col_labels)} column labels for {len(self.cols)} columns.")
            cols = [f"{c} ({label})" for c, label in zip(self.cols, col_labels)]
        fig = go.Figure(go.Heatmap(
            z=self.scores.tolist(), x=cols, y=self.rows, zmid=0,
            colorscale="RdBu", colorbar=dict(title="score"),
            hovertemplate=f"{row_title} %{{y}}, %{{x}}: %{{z:.2f}}<extra></extra>",
        ))
        fig.update_layout(title=title or f"{self.method} patching ({self.direction})", template="plotly_white",
                          xaxis_title=col_title, yaxis_title=row_title, height=560)
        fig.update_yaxes(type="category")
        return fig


def _attribution_deltas(model: Any, run: _Batch, source: Mapping[str, torch.Tensor], names: Sequence[str],
                        batch_size: int) -> tuple[dict[str, torch.Tensor], float]:
    """Per example and position (and head): (source - activation) . gradient, from one backward pass.

    Returns ``{name: [batch, pos] or [batch, pos, head]}`` and the mean logit difference of ``run``.
    """
    width = run.tokens.shape[1]
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    diffs = []
    for rows, acts, grads, d in _gradients(model, run, names, batch_size=min(batch_size, GRADIENT_BATCH)):
        for name in names:
            act, grad = acts[name].float().cpu(), grads[name].float().cpu()
            contrib = ((source[name][rows][:, : act.shape[1]] - act) * grad).sum(-1)  # [b, pos(, head)]
            pad = width - contrib.shape[1]
            parts[name].append(torch.nn.functional.pad(contrib, (0, 0) * (contrib.ndim - 2) + (0, pad)))
        diffs.append(d.float().cpu())
    return {name: torch.cat(p) for name, p in parts.items()}, float(torch.cat(diffs).mean())


def _at(table: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``table[i, positions[i]]`` for every example ``i``."""
    return table[torch.arange(len(table)), positions]


def patch_residual(model: Any, examples: Sequence[Example], *, layers: Sequence[int] | None = None,
                   positions: Sequence[int | str] | None = None, direction: Direction = "denoise",
                   method: Method = "exact", batch_size: int = DEFAULT_BATCH) -> PatchingResult:
    """Activation patching of the residual stream (``blocks.L.hook_resid_pre``), layer x position.

    ``direction="denoise"`` runs the corrupted prompt and puts back the clean residual vector at one
    layer and position; ``"noise"`` runs the clean prompt with the corrupted vector put in. Either
    way the score is normalised so that 1 is clean behaviour and 0 corrupted behaviour.

    ``method="exact"`` runs the model once per cell (batched); ``"attribution"`` estimates every
    cell from one forward and one backward pass, ``(patch - activation) . gradient``, a first-order
    Taylor estimate that can be far off where the patch changes a lot (check it against "exact").

    ``positions``: numbers (all prompts must then have one token length) or roles "io", "s1", "s2",
    "end"; default: every position. ``layers``: default all.
    """
    examples = _check_examples(examples, need=("prompt", "io", "s", "corrupted"))
    _check_choice(direction, "direction", ("denoise", "noise"))
    _check_choice(method, "method", ("exact", "attribution"))
    clean, corrupted = _pair(model, examples)
    labels, indices = _resolve_positions(model, examples, clean, positions)
    layers = list(range(model.cfg.n_layers)) if layers is None else [int(x) for x in layers]
    for layer in layers:
        if not 0 <= layer < model.cfg.n_layers:
            raise IOIError(f"layer {layer} does not exist: layers go 0..{model.cfg.n_layers - 1}.")
    names = [f"blocks.{layer}.hook_resid_pre" for layer in layers]
    run, other = (corrupted, clean) if direction == "denoise" else (clean, corrupted)
    source, ld_other = _capture(model, other, names, batch_size)
    if method == "exact":
        ld_run = float(_run_diffs(model, run, batch_size=batch_size).mean())
        cells = [_Cell(name, idx, None) for name in names for idx in indices]
        patched = _patched_diffs(model, run, cells, source, batch_size, "patching the residual stream")
        patched = patched.reshape(len(layers), len(indices))
    else:
        deltas, ld_run = _attribution_deltas(model, run, source, names, batch_size)
        patched = torch.stack([torch.stack([_at(deltas[name], idx).mean() for idx in indices])
                               for name in names]) + ld_run
    ld_clean, ld_corrupted = (ld_other, ld_run) if direction == "denoise" else (ld_run, ld_other)
    return PatchingResult(_normalise(patched, ld_clean, ld_corrupted), [str(x) for x in layers], labels,
                          ld_clean, ld_corrupted, method, direction)


def patch_heads(model: Any, examples: Sequence[Example], *, heads: Sequence[Head] | None = None,
                position: int | str | None = None, direction: Direction = "denoise", method: Method = "exact",
                batch_size: int = DEFAULT_BATCH) -> PatchingResult:
    """Activation patching of each head's output (``hook_z``), one head at a time: ``[layer, head]``.

    Same ``direction`` and ``method`` as :func:`patch_residual`, and the same normalised score. The
    head's output is patched at every position, or only at ``position`` (a number or a role: "io",
    "s1", "s2", "end"). ``heads`` limits the exact method to some heads (the others are NaN); the
    attribution method scores all heads at once anyway.
    """
    examples = _check_examples(examples, need=("prompt", "io", "s", "corrupted"))
    _check_choice(direction, "direction", ("denoise", "noise"))
    _check_choice(method, "method", ("exact", "attribution"))
    clean, corrupted = _pair(model, examples)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    chosen = [(layer, head) for layer in range(n_layers) for head in range(n_heads)] if heads is None \
        else _check_heads(model, heads)
    label, where = "all", None
    if position is not None:
        [label], [where] = _resolve_positions(model, examples, clean, [position])
    layers = sorted({layer for layer, _ in chosen})
    names = {layer: _z_name(layer) for layer in layers}
    run, other = (corrupted, clean) if direction == "denoise" else (clean, corrupted)
    source, ld_other = _capture(model, other, list(names.values()), batch_size)
    patched = torch.full((n_layers, n_heads), float("nan"))
    if method == "exact":
        ld_run = float(_run_diffs(model, run, batch_size=batch_size).mean())
        cells = [_Cell(names[layer], where, head) for layer, head in chosen]
        values = _patched_diffs(model, run, cells, source, batch_size, "patching head outputs")
        for (layer, head), value in zip(chosen, values):
            patched[layer, head] = value
    else:
        deltas, ld_run = _attribution_deltas(model, run, source, list(names.values()), batch_size)
        for layer, head in chosen:
            table = deltas[names[layer]][:, :, head]  # [batch, pos]
            change = table.sum(1) if where is None else _at(table, where)
            patched[layer, head] = change.mean() + ld_run
    ld_clean, ld_corrupted = (ld_other, ld_run) if direction == "denoise" else (ld_run, ld_other)
    return PatchingResult(_normalise(patched, ld_clean, ld_corrupted), [str(x) for x in range(n_layers)],
                          [str(h) for h in range(n_heads)], ld_clean, ld_corrupted, method, direction)


# ---------------------------------------------------------------------------------------------
# What heads do: attention, direct effect on the logits, and the effect of knocking one out


def _final_norm_direction(model: Any, io: torch.Tensor, s: torch.Tensor) -> Float[torch.Tensor, "batch d_model"]:
    """The unembedding direction of logit(IO) - logit(S), times the final norm's weight."""
    w_u = model.W_U  # [d_model, d_vocab]
    direction = (w_u[:, io] - w_u[:, s]).T
    weight = getattr(model.ln_final, "w", None)
    return direction * weight if weight is not None else direction


def _answer_directions(model: Any, answer: torch.Tensor) -> Float[torch.Tensor, "batch d_model"]:
    """The unembedding direction of one answer's logit minus the mean logit over the vocabulary (adding
    the same amount to every logit changes nothing), times the final norm's weight."""
    w_u = model.W_U  # [d_model, d_vocab]
    direction = (w_u[:, answer] - w_u.mean(1, keepdim=True)).T
    weight = getattr(model.ln_final, "w", None)
    return direction * weight if weight is not None else direction


def _head_readings(model: Any, batch: _Batch, roles: Mapping[str, torch.Tensor], batch_size: int,
                   extra_hooks: Sequence[Hook] = ()) -> dict[str, torch.Tensor]:
    """One pass over the examples: IOI attention of every head, and each head's direct logit effect.

    Attention is read from ``hook_pattern`` at the positions given by ``roles``; the direct effect is
    the head's output at the last token (``hook_z`` times ``W_O``) divided by the final norm's scale
    (frozen at its value in this run) and dotted with the IO - S unembedding direction; ``direct_io``
    and ``direct_s`` split it into the effect on each answer's logit, relative to the vocabulary's mean.
    """
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    keys = ("end_to_io", "end_to_s1", "end_to_s2", "s2_to_s1", "s2_to_s1_next")
    sums = {key: torch.zeros(n_layers, n_heads) for key in keys}
    for key in ("direct", "direct_io", "direct_s"):
        sums[key] = torch.zeros(n_layers, n_heads)
    centre = str(getattr(model.cfg, "normalization_type", "")).upper().startswith("LN")
    w_o = {layer: model.blocks[layer].attn.W_O.detach() for layer in range(n_layers)}  # [head, d_head, d_model]

    with torch.no_grad():
        for rows in _chunks(len(batch), batch_size):
            sub = batch.rows(rows)
            r = torch.arange(len(sub))
            at = {k: v[rows].to(sub.tokens.device) for k, v in roles.items()}
            direction = _final_norm_direction(model, sub.io, sub.s)
            towards = {"direct_io": _answer_directions(model, sub.io), "direct_s": _answer_directions(model, sub.s)}
            outs: dict[int, torch.Tensor] = {}
            scale: list[torch.Tensor] = []

            def read_pattern(pattern: torch.Tensor, hook: Any, layer: int) -> None:
                end, s2 = pattern[r, :, at["end"]], pattern[r, :, at["s2"]]  # [b, head, k_pos]
                sums["end_to_io"][layer] += end[r, :, at["io"]].sum(0).float().cpu()
                sums["end_to_s1"][layer] += end[r, :, at["s1"]].sum(0).float().cpu()
                sums["end_to_s2"][layer] += end[r, :, at["s2"]].sum(0).float().cpu()
                sums["s2_to_s1"][layer] += s2[r, :, at["s1"]].sum(0).float().cpu()
                sums["s2_to_s1_next"][layer] += s2[r, :, at["s1"] + 1].sum(0).float().cpu()

            def read_z(z: torch.Tensor, hook: Any, layer: int) -> None:
                out = torch.einsum("bhd,hdm->bhm", z[r, at["end"]], w_o[layer])  # [b, head, d_model]
                outs[layer] = out - out.mean(-1, keepdim=True) if centre else out

            def read_scale(x: torch.Tensor, hook: Any) -> None:
                scale.append(x[r, at["end"]])  # [b, 1]

            hooks = [*extra_hooks, ("ln_final.hook_scale", read_scale)]
            for layer in range(n_layers):
                hooks.append((f"blocks.{layer}.attn.hook_pattern", functools.partial(read_pattern, layer=layer)))
                hooks.append((_z_name(layer), functools.partial(read_z, layer=layer)))
            _final_logits(model, sub, hooks)
            for layer, out in outs.items():
                direct = (out * direction[:, None]).sum(-1) / scale[0]  # [b, head]
                sums["direct"][layer] += direct.sum(0).float().cpu()
                for key, answer_direction in towards.items():
                    sums[key][layer] += ((out * answer_direction[:, None]).sum(-1) / scale[0]).sum(0).float().cpu()
    return {key: value / len(batch) for key, value in sums.items()}


def ioi_attention(model: Any, examples: Sequence[Example], *,
                  batch_size: int = DEFAULT_BATCH) -> dict[str, Float[torch.Tensor, "n_layers n_heads"]]:
    """Mean attention of every head at the positions IOI heads are known for, ``[layer, head]`` each.

    * ``end_to_io``, ``end_to_s1``, ``end_to_s2``: from the last token to IO and to each mention of S
      (name movers attend to IO from there; S-inhibition heads in GPT-2 attend to S2);
    * ``s2_to_s1``: from S2 to S1, the earlier copy of the same token (duplicate-token heads);
    * ``s2_to_s1_next``: from S2 to the token after S1 (induction heads).
    """
    examples = _check_examples(examples)
    readings = _head_readings(model, _encode(model, examples), ioi_positions(model, examples), batch_size)
    return {key: value for key, value in readings.items() if not key.startswith("direct")}


def head_logit_attribution(model: Any, examples: Sequence[Example], *, answer: Literal["diff", "io", "s"] = "diff",
                           batch_size: int = DEFAULT_BATCH) -> Float[torch.Tensor, "n_layers n_heads"]:
    """Each head's direct effect on logit(IO) - logit(S) at the last token, mean over examples.

    The head's output there goes straight through the final norm (its scale frozen at the value of
    this run) and the unembedding. Positive: the head writes "IO rather than S". This misses every
    effect that goes through later layers. ``answer="io"`` or ``"s"``: the effect on that answer's
    logit alone, relative to the mean logit over the vocabulary (the two differ by the default).
    """
    examples = _check_examples(examples)
    _check_choice(answer, "answer", ("diff", "io", "s"))
    key = {"diff": "direct", "io": "direct_io", "s": "direct_s"}[answer]
    return _head_readings(model, _encode(model, examples), ioi_positions(model, examples), batch_size)[key]


def attention_shift(model: Any, examples: Sequence[Example], knocked_out: Sequence[Head],
                    receivers: Sequence[Head], *, batch_size: int = DEFAULT_BATCH) -> dict[str, torch.Tensor]:
    """How the receivers' attention from the last token moves when ``knocked_out`` heads are mean-ablated.

    Returns, per receiver (in order), the attention to IO and to S (S1 + S2) before and after. An
    S-inhibition head in Wang et al.'s sense makes the name movers attend to IO rather than S, so
    knocking it out moves their attention from IO towards S.
    """
    examples = _check_examples(examples)
    receivers = _check_heads(model, receivers)
    batch, roles = _encode(model, examples), ioi_positions(model, examples)
    before = _head_readings(model, batch, roles, batch_size)
    means, _ = _head_means(model, batch, sorted({layer for layer, _ in _check_heads(model, knocked_out)}), batch_size)
    after = _head_readings(model, batch, roles, batch_size, extra_hooks=_ablation_hooks(knocked_out, means))
    pick = lambda table: torch.stack([table[layer, head] for layer, head in receivers])  # noqa: E731
    return {
        "io_before": pick(before["end_to_io"]),
        "io_after": pick(after["end_to_io"]),
        "s_before": pick(before["end_to_s1"] + before["end_to_s2"]),
        "s_after": pick(after["end_to_s1"] + after["end_to_s2"]),
    }


# Thresholds of the sorting rules below: deliberately simple, stated, and shown next to the numbers.
NAME_MOVER_ATTENTION = 0.3  # END -> IO attention, and more than to S1 + S2
DIRECT_EFFECT = 0.2  # |direct effect| in logits that counts as "writes to the answer"
S2_ATTENTION = 0.2  # END -> S2 attention of an S-inhibition-like head
DUPLICATE_ATTENTION = 0.3  # S2 -> S1 (duplicate) or S2 -> S1+1 (induction) attention
SHIFT = 0.05  # how far knocking a head out must move the name movers' attention from IO to S


def classify_heads(model: Any, examples: Sequence[Example], heads: Sequence[Head], *,
                   batch_size: int = DEFAULT_BATCH) -> Any:
    """Sort ``heads`` into Wang et al.'s classes by what they attend to and what they write.

    Returns a pandas DataFrame, one row per head, with the measurements and the class the rules give:

    * **name mover**: attends from the last token to IO (>= 0.3, more than to S) and its direct
      effect raises logit(IO) - logit(S) (>= +0.2); **negative name mover**: the same attention,
      direct effect <= -0.2;
    * **S-inhibition-like**: attends from the last token to S2 (>= 0.2), little direct effect, and
      knocking it out moves the name movers' attention from IO towards S (by >= 0.05);
    * **duplicate-token-like** / **induction-like**: attends from S2 to S1 / to the token after S1
      (>= 0.3), i.e. it notices that S is repeated;
    * anything else is described, not forced into a class: for example a head that attends to S2 and
      *lowers* logit(S) directly (``direct_s`` <= -0.2) is copy-suppression-like, a kind Wang et al.
      did not list.

    ``direct`` is the head's direct effect on logit(IO) - logit(S); ``direct_io`` and ``direct_s``
    are its effects on each logit alone, relative to the vocabulary's mean logit.

    The name movers used for the knock-out test are all heads of the model that pass the name-mover
    rule, not only those in ``heads``.
    """
    import pandas as pd

    examples = _check_examples(examples)
    heads = _check_heads(model, heads)
    batch, roles = _encode(model, examples), ioi_positions(model, examples)
    base = _head_readings(model, batch, roles, batch_size)
    to_s = base["end_to_s1"] + base["end_to_s2"]
    movers = (base["end_to_io"] >= NAME_MOVER_ATTENTION) & (base["end_to_io"] > to_s)
    receivers = [(int(l), int(h)) for l, h in (movers & (base["direct"].abs() >= DIRECT_EFFECT)).nonzero()]
    rows = []
    means = None
    for layer, head in heads:
        reading = {key: float(value[layer, head]) for key, value in base.items()}
        shift = float("nan")
        s_inhibition_candidate = (reading["end_to_s2"] >= S2_ATTENTION and abs(reading["direct"]) < DIRECT_EFFECT)
        later = [r for r in receivers if r[0] > layer]
        if s_inhibition_candidate and later:
            if means is None:
                means, _ = _head_means(model, batch, range(model.cfg.n_layers), batch_size)
            after = _head_readings(model, batch, roles, batch_size,
                                   extra_hooks=_ablation_hooks([(layer, head)], means))
            moved = [float((after["end_to_s1"] + after["end_to_s2"] - to_s)[r] - (after["end_to_io"] - base["end_to_io"])[r])
                     for r in later]
            shift = sum(moved) / len(moved) / 2  # mean of (S gained, IO lost)
        rows.append({"head": f"{layer}.{head}", **{k: round(v, 3) for k, v in reading.items()},
                     "name_mover_shift": round(shift, 3), "class": _class_of(reading, shift)})
    return pd.DataFrame(rows).set_index("head")


def _class_of(r: Mapping[str, float], shift: float) -> str:
    to_s = r["end_to_s1"] + r["end_to_s2"]
    if r["end_to_io"] >= NAME_MOVER_ATTENTION and r["end_to_io"] > to_s:
        if r["direct"] >= DIRECT_EFFECT:
            return "name mover"
        if r["direct"] <= -DIRECT_EFFECT:
            return "negative name mover"
    if r["end_to_s2"] >= S2_ATTENTION and abs(r["direct"]) < DIRECT_EFFECT and shift >= SHIFT:
        return "S-inhibition-like"
    if r["s2_to_s1"] >= DUPLICATE_ATTENTION:
        return "duplicate-token-like"
    if r["s2_to_s1_next"] >= DUPLICATE_ATTENTION:
        return "induction-like"
    if r["end_to_s2"] >= S2_ATTENTION and r["direct"] >= DIRECT_EFFECT:
        if r.get("direct_s", 0.0) <= -DIRECT_EFFECT:
            return "other: attends to S2 and pushes S down (copy-suppression-like)"
        return "other: attends to S2 and raises IO - S directly"
    if abs(r["direct"]) >= DIRECT_EFFECT:
        return "other: writes to the answer directly, attending to neither name"
    return "other: none of the rules"
