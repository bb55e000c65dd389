"""Chapter 02 (attention): the exercises and their visible checks.

Ten functions and three conceptual questions:

2.1 attention_scores      2.2 q_scale (choice)         2.3 apply_causal_mask
2.4 attention_pattern     2.5 head_outputs             2.6 repeat_kv
2.7 q_gqa (choice)        2.8 attention_output         2.9 induction_score
2.10 logit_difference     2.11 patching_metric         2.12 q_looking (choice)
2.13 attention_heads_per_token

Each check names the case it tests; known mistakes are recognised and explained. The checks on the
course model compare with the model's own hooks (``blocks.17.attn.hook_attn_scores``, ...), not with
a copy of the answer. The reference solutions are the chapter source's solution blocks
(``course_utils/solutions/ch02.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch

from course_utils.exercises import (
    Case,
    Mistake,
    Resource,
    choice,
    exercise,
    expect_close,
    expect_whole_number,
    resource,
)

CHAPTER = "02"
LAYER = 17  # the layer the chapter re-implements by hand
SENTENCE = "When Mary and John went to the store, John gave a drink to"
MASKED = -1e9  # a masked score must be at most this (-inf, or finfo.min as the model uses, both qualify)


def _model() -> Any:
    from course_utils.models import load_model

    return load_model()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@functools.cache
def _cached_layer(layer: int = LAYER) -> dict[str, torch.Tensor]:
    """One run of the course model on SENTENCE: the attention hooks of ``layer`` (CPU copies)."""
    model = _model()
    names = {f"blocks.{layer}.attn.{hook}" for hook in
             ("hook_rot_q", "hook_rot_k", "hook_v", "hook_attn_scores", "hook_pattern", "hook_z")}
    names.add(f"blocks.{layer}.hook_attn_out")
    with torch.no_grad():
        _, cache = model.run_with_cache(model.to_tokens(SENTENCE), names_filter=lambda name: name in names)
    out = {name.split(".")[-1]: cache[name].detach().float().cpu() for name in names}
    out["W_O"] = model.blocks[layer].attn.W_O.detach().float().cpu()
    return out


def _layer(hook: str) -> torch.Tensor:
    """A fresh copy of one cached tensor (a check must never hand out a shared tensor)."""
    return _cached_layer()[hook].clone()


def _shared_kv(t: torch.Tensor, n: int) -> torch.Tensor:
    """Key or value head 0 given to ``n`` query heads: [batch, pos, 1, d] -> [batch, pos, n, d]."""
    return t[:, :, :1].expand(-1, -1, n, -1).clone()


def _is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def _looks_like(got: Any, wrong: Any, *, atol: float = 1e-5) -> bool:
    """``got`` reproduces the wrong answer ``wrong`` (same shape; infinities in the same places)."""
    if not (_is_tensor(got) and _is_tensor(wrong)) or got.shape != wrong.shape:
        return False
    return bool(torch.allclose(got.double(), wrong.double(), atol=atol, rtol=1e-4, equal_nan=True))


def _mistakes_first(got: Any, want: Any, name: str, mistakes: Sequence[Mistake], *, atol: float = 1e-5,
                    rtol: float = 1e-4) -> None:
    """Name a known mistake before anything else (a mistake may put -inf or NaN where
    :func:`expect_close` would stop at "contains inf"), then compare as usual."""
    for mistake in mistakes:
        try:
            wrong = mistake.compute()
        except Exception:
            continue
        if _looks_like(got, wrong, atol=atol) and not _looks_like(want, wrong, atol=atol):
            raise AssertionError(f"{name}: values wrong\nhint: {mistake.hint}")
    expect_close(got, want, name=name, atol=atol, rtol=rtol, mistakes=mistakes)


# ---------------------------------------------------------------------------------------------
# 2.1 Attention scores

attention_scores = exercise("attention_scores", chapter=CHAPTER, number="2.1", title="Attention scores")


def _score_mistakes(q: torch.Tensor, k: torch.Tensor) -> list[Mistake]:
    d_head = q.shape[-1]
    raw = lambda: torch.einsum("bqhd,bkhd->bhqk", q, k)  # noqa: E731
    return [
        Mistake(f"your scores are not scaled: divide the dot products by sqrt(d_head) = sqrt({d_head})", raw),
        Mistake(f"you divided by d_head = {d_head}; divide by its square root, sqrt(d_head)", lambda: raw() / d_head),
        Mistake("you multiplied by sqrt(d_head); divide by it", lambda: raw() * d_head ** 0.5),
        Mistake("rows must be queries and columns keys, [batch, head, q_pos, k_pos]; yours has the keys on the "
                "rows (q and k swapped?)", lambda: raw().transpose(-1, -2) / d_head ** 0.5),
        Mistake("these rows sum to 1: return the scaled scores only; the mask and the softmax come later",
                lambda: (raw() / d_head ** 0.5).softmax(-1)),
        *[Mistake(f"you divided by {typed:g}, a scale typed in by hand; use this input's head size, "
                  "math.sqrt(q.shape[-1])", (lambda t: lambda: raw() / t)(typed))
          for typed in (2.0, 8.0, 64.0, 4.0) if typed not in (d_head, d_head ** 0.5)],
    ]


@attention_scores.check("random q and k: batch 2, 5 positions, 3 heads, d_head 4")
def _() -> Case:
    g = _gen(0)
    q, k = torch.randn(2, 5, 3, 4, generator=g), torch.randn(2, 5, 3, 4, generator=g)
    return Case(args=(q, k), call="attention_scores(q, k)", mistakes=_score_mistakes(q, k))


@attention_scores.check("6 queries and 4 keys, d_head 64 (a scale typed in by hand fails one of the two sizes)")
def _() -> Case:
    g = _gen(1)
    q, k = torch.randn(1, 6, 2, 64, generator=g), torch.randn(1, 4, 2, 64, generator=g)
    return Case(args=(q, k), call="attention_scores(q [6 queries], k [4 keys])", mistakes=_score_mistakes(q, k))


def _compare_causal_part(call: str, mistakes: Sequence[Mistake]) -> Callable[[Any, Any], None]:
    """Compare only where a token may look (on or below the diagonal): the model's own scores hold
    finfo.min above it, which a function that does not mask cannot match."""
    def compare(got: Any, want: torch.Tensor) -> None:
        lower = torch.ones(want.shape[-2:], dtype=torch.bool).tril()
        if _is_tensor(got) and got.shape == want.shape and got.is_floating_point():
            got = got.masked_fill(~lower, 0.0)
        expect_close(got, want.masked_fill(~lower, 0.0), name=call, atol=1e-4, mistakes=mistakes)

    return compare


@attention_scores.check(f"the course model, layer {LAYER}, query heads 0-2 (which share key head 0): "
                        "equals hook_attn_scores where a token may look")
def _() -> Case:
    q, k = _layer("hook_rot_q")[:, :, :3], _shared_kv(_layer("hook_rot_k"), 3)
    lower = torch.ones(q.shape[1], q.shape[1], dtype=torch.bool).tril()
    mistakes = [Mistake(m.hint, (lambda f: lambda: f().masked_fill(~lower, 0.0))(m.compute))
                for m in _score_mistakes(q, k)]
    call = f"attention_scores(hook_rot_q, hook_rot_k) at layer {LAYER}"
    return Case(args=(q, k), call=call, expected=_layer("hook_attn_scores")[:, :3],
                compare=_compare_causal_part(call, mistakes))


# ---------------------------------------------------------------------------------------------
# 2.2 Why divide by sqrt(d_head)?

choice(
    "q_scale", chapter=CHAPTER, number="2.2", title="Why divide by sqrt(d_head)?",
    options={
        "a": "so that each row of the attention pattern sums to 1",
        "b": "the dot product of two random d_head-dimensional vectors grows like sqrt(d_head); without the "
             "division, softmax saturates and one key takes almost all the weight",
        "c": "the causal mask only works on scaled scores",
        "d": "it turns the scores into probabilities",
    },
    explanation="dividing by sqrt(d_head) keeps the scores' spread about 1 whatever the head size, so softmax "
                "can still spread attention over several keys (and its gradients do not vanish in training).",
    feedback={
        "a": "the softmax makes rows sum to 1, whatever the scale of the scores",
        "c": "the mask sets future scores to -inf; that works at any scale",
        "d": "the softmax turns scores into probabilities; the scale only changes how peaked they are",
    },
)


# ---------------------------------------------------------------------------------------------
# 2.3 The causal mask

apply_causal_mask = exercise("apply_causal_mask", chapter=CHAPTER, number="2.3", title="The causal mask")


def _future(n_q: int, n_k: int) -> torch.Tensor:
    return torch.ones(n_q, n_k, dtype=torch.bool).triu(1)


def _mask_mistakes(scores: torch.Tensor) -> list[Mistake]:
    n = scores.shape[-1]
    return [
        Mistake("the diagonal is masked too: a token may look at itself; mask only the keys after the query "
                "(k > q, .triu(1))", lambda: scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(0), float("-inf"))),
        Mistake("you masked the past: a query may look at earlier keys (below the diagonal), not at later ones",
                lambda: scores.masked_fill(torch.ones(n, n, dtype=torch.bool).tril(-1), float("-inf"))),
        Mistake("the future is set to 0, but softmax still gives exp(0) a weight: fill it with -inf",
                lambda: scores.masked_fill(_future(n, n), 0.0)),
    ]


def _normalised_mask(x: Any) -> Any:
    """Every entry at or below MASKED becomes -inf, so -inf, finfo.min and -1e9 all count as masked."""
    if _is_tensor(x) and x.is_floating_point():
        return x.masked_fill(x <= MASKED, float("-inf"))
    return x


def _compare_mask(call: str, mistakes: Sequence[Mistake]) -> Callable[[Any, Any], None]:
    def compare(got: Any, want: torch.Tensor) -> None:
        if _is_tensor(got) and got.dtype == torch.bool:
            raise AssertionError(f"{call}: got booleans\nhint: return the scores with the future filled with "
                                 "-inf (scores.masked_fill(mask, float('-inf'))), not the mask itself")
        _mistakes_first(_normalised_mask(got), _normalised_mask(want), call, mistakes)

    return compare


@apply_causal_mask.check("random scores: batch 2, 3 heads, 5 x 5")
def _() -> Case:
    scores = torch.randn(2, 3, 5, 5, generator=_gen(2))
    call = "apply_causal_mask(scores)"
    return Case(args=(scores,), call=call, compare=_compare_mask(call, _mask_mistakes(scores)))


@apply_causal_mask.check(f"the course model's scores at layer {LAYER} below the diagonal, random numbers above it")
def _() -> Case:
    # The model's hook holds masked scores; the entries below the diagonal are the unmasked ones.
    scores = _layer("hook_attn_scores")
    scores = scores.masked_fill(_future(15, 15), 0.0) + torch.randn(scores.shape, generator=_gen(3)).triu(1)
    call = "apply_causal_mask(scores of layer 17)"
    return Case(args=(scores,), call=call, compare=_compare_mask(call, _mask_mistakes(scores)))


# ---------------------------------------------------------------------------------------------
# 2.4 The attention pattern

attention_pattern = exercise("attention_pattern", chapter=CHAPTER, number="2.4", title="The attention pattern")


def _pattern_mistakes(scores: torch.Tensor) -> list[Mistake]:
    n = scores.shape[-1]
    future = _future(n, n)
    masked = lambda: scores.masked_fill(future, float("-inf"))  # noqa: E731
    return [
        Mistake("softmax went over the queries (dim=-2); each row, one query, must sum to 1 over the keys (dim=-1)",
                lambda: masked().softmax(-2)),
        Mistake("there is no causal mask: tokens give weight to later tokens; call apply_causal_mask first",
                lambda: scores.softmax(-1)),
        Mistake("the mask came after the softmax, so the rows no longer sum to 1: mask first, then softmax",
                lambda: scores.softmax(-1).masked_fill(future, 0.0)),
        Mistake("the mask came after the softmax (masked entries are -inf): mask first, then softmax",
                lambda: scores.softmax(-1).masked_fill(future, float("-inf"))),
        Mistake("these are still scores: apply softmax over the keys (dim=-1)", masked),
    ]


@attention_pattern.check("random scores: batch 2, 3 heads, 6 x 6")
def _() -> Case:
    scores = 2 * torch.randn(2, 3, 6, 6, generator=_gen(4))
    call = "attention_pattern(scores)"
    mistakes = _pattern_mistakes(scores)
    return Case(args=(scores,), call=call,
                compare=lambda got, want: _mistakes_first(got, want, call, mistakes))


@attention_pattern.check(f"the course model's scores at layer {LAYER} give its hook_pattern")
def _() -> Case:
    scores = _layer("hook_attn_scores")
    call = f"attention_pattern(hook_attn_scores of layer {LAYER})"
    mistakes = _pattern_mistakes(scores.masked_fill(_future(15, 15), 0.0))[:1]
    return Case(args=(scores,), call=call, expected=_layer("hook_pattern"),
                compare=lambda got, want: _mistakes_first(got, want, call, mistakes))


# ---------------------------------------------------------------------------------------------
# 2.5 What each head reads: the weighted sum of values

head_outputs = exercise("head_outputs", chapter=CHAPTER, number="2.5", title="Each head's output")


def _z_mistakes(pattern: torch.Tensor, v: torch.Tensor) -> list[Mistake]:
    return [
        Mistake("the pattern is transposed: the output at query q sums the values of the keys, weighted by "
                "row q of the pattern (pattern[..., q, :])", lambda: torch.einsum("bhkq,bkhd->bqhd", pattern, v)),
        Mistake("the result is [batch, head, q_pos, d_head]; the hook (and the next step) expects "
                "[batch, q_pos, head, d_head]", lambda: torch.einsum("bhqk,bkhd->bhqd", pattern, v)),
    ]


@head_outputs.check("random pattern and values: batch 2, 3 heads, 5 positions, d_head 4")
def _() -> Case:
    g = _gen(5)
    pattern = torch.randn(2, 3, 5, 5, generator=g).masked_fill(_future(5, 5), float("-inf")).softmax(-1)
    v = torch.randn(2, 5, 3, 4, generator=g)
    return Case(args=(pattern, v), call="head_outputs(pattern, v)", mistakes=_z_mistakes(pattern, v))


@head_outputs.check(f"the course model, layer {LAYER}, heads 0-2: equals hook_z")
def _() -> Case:
    pattern, v = _layer("hook_pattern")[:, :3], _shared_kv(_layer("hook_v"), 3)
    return Case(args=(pattern, v), call=f"head_outputs(hook_pattern, hook_v) at layer {LAYER}",
                expected=_layer("hook_z")[:, :, :3], mistakes=_z_mistakes(pattern, v))


# ---------------------------------------------------------------------------------------------
# 2.6 Grouped-query attention: sharing key and value heads

repeat_kv = exercise("repeat_kv", chapter=CHAPTER, number="2.6", title="Sharing key and value heads")


def _kv_mistakes(k: torch.Tensor, n_heads: int) -> list[Mistake]:
    group = n_heads // k.shape[2]
    return [
        Mistake(f"you tiled the heads (0, 1, 2, 0, 1, 2, ...); query heads 0..{group - 1} share key/value head 0, "
                f"the next {group} share head 1: use repeat_interleave, not repeat",
                lambda: k.repeat(1, 1, group, 1)),
        Mistake("the heads are unchanged: each query head needs its own copy of the key/value head it shares",
                lambda: k),
    ]


@repeat_kv.check("random keys: 3 key/value heads for 9 query heads, d_head 4")
def _() -> Case:
    k = torch.randn(2, 5, 3, 4, generator=_gen(6))
    return Case(args=(k, 9), call="repeat_kv(k [3 heads], 9)", mistakes=_kv_mistakes(k, 9))


@repeat_kv.check("2 key/value heads for 8 query heads, d_head 64")
def _() -> Case:
    k = torch.randn(1, 4, 2, 64, generator=_gen(7))
    return Case(args=(k, 8), call="repeat_kv(k [2 heads], 8)", mistakes=_kv_mistakes(k, 8))


@repeat_kv.check(f"the course model's rotated keys at layer {LAYER} (3 heads -> 9)")
def _() -> Case:
    k = _layer("hook_rot_k")
    return Case(args=(k, 9), call=f"repeat_kv(hook_rot_k of layer {LAYER}, 9)", mistakes=_kv_mistakes(k, 9))


# ---------------------------------------------------------------------------------------------
# 2.7 What grouped-query attention shares

choice(
    "q_gqa", chapter=CHAPTER, number="2.7", title="What grouped-query attention shares",
    options={
        "a": "the three query heads of a group always have the same attention pattern",
        "b": "they read the same keys and values but have their own queries, so their patterns can differ; "
             "only the key/value parameters and memory are shared",
        "c": "they share their queries too, so they are really one head",
        "d": "the model has only 3 heads per layer; the other 6 are copies",
    },
    explanation="a pattern comes from queries and keys; with their own queries, heads that share keys still "
                "look at different tokens (you measured it above).",
    feedback={
        "a": "look at the measured difference between the patterns of heads 0 and 1: is it zero?",
        "c": "hook_q has 9 heads and hook_k only 3: which one is shared?",
        "d": "hook_pattern has 9 heads: each query head computes its own pattern",
    },
)


# ---------------------------------------------------------------------------------------------
# 2.8 The attention layer's output

attention_output = exercise("attention_output", chapter=CHAPTER, number="2.8", title="The attention layer's output")


def _out_mistakes(z: torch.Tensor, w_o: torch.Tensor) -> list[Mistake]:
    per_head = lambda: torch.einsum("bqhd,hdm->bqhm", z, w_o)  # noqa: E731
    return [
        Mistake("you averaged over the heads; their outputs add up in the residual stream: sum them",
                lambda: per_head().mean(2)),
        Mistake("this is each head's output, [batch, pos, head, d_model]; the layer's output is their sum "
                "over the head axis", per_head),
    ]


@attention_output.check("random z and W_O: batch 2, 4 positions, 3 heads, d_head 4, d_model 6")
def _() -> Case:
    g = _gen(8)
    z, w_o = torch.randn(2, 4, 3, 4, generator=g), torch.randn(3, 4, 6, generator=g)
    return Case(args=(z, w_o), call="attention_output(z, W_O)", mistakes=_out_mistakes(z, w_o))


@attention_output.check(f"the course model, layer {LAYER}: hook_z and W_O give hook_attn_out (atol 1e-4)")
def _() -> Case:
    z, w_o = _layer("hook_z"), _layer("W_O")
    return Case(args=(z, w_o), call=f"attention_output(hook_z, W_O) at layer {LAYER}",
                expected=_layer("hook_attn_out"), atol=1e-4, mistakes=_out_mistakes(z, w_o))


# ---------------------------------------------------------------------------------------------
# 2.9 Induction score of one head

induction_score = exercise("induction_score", chapter=CHAPTER, number="2.9", title="Induction score of one head")


def _band(pattern: torch.Tensor, offset: int, seq_len: int, *, second_half_only: bool = True) -> float:
    band = pattern.diagonal(offset=-offset)
    return float((band[-seq_len:] if second_half_only else band).mean())


def _induction_mistakes(pattern: torch.Tensor, seq_len: int) -> list[Mistake]:
    return [
        Mistake("that is the duplicate-token score (attention to the earlier copy of the same token); an "
                "induction head looks one token *after* the earlier copy",
                lambda: _band(pattern, seq_len, seq_len)),
        Mistake("that is the previous-token score; an induction head looks at the token after the earlier "
                "copy, seq_len - 1 positions back", lambda: _band(pattern, 1, seq_len)),
        Mistake("that is the previous-token score (over every token); an induction head looks at the token "
                "after the earlier copy, seq_len - 1 positions back",
                lambda: _band(pattern, 1, seq_len, second_half_only=False)),
        Mistake("you averaged over first-half queries too; only tokens of the repeated half have an earlier "
                "copy to find", lambda: _band(pattern, seq_len - 1, seq_len, second_half_only=False)),
        Mistake("you summed the attention weights; average them over the repeated half's tokens",
                lambda: float(pattern.diagonal(-(seq_len - 1))[-seq_len:].sum())),
    ]


def _synthetic_pattern(seq_len: int, g: torch.Generator) -> torch.Tensor:
    """A causal pattern over BOS + a sequence repeated twice, in which the previous-token, duplicate-token
    and induction offsets each get their own (random) share of every row."""
    n = 1 + 2 * seq_len
    weights = torch.rand(n, n, generator=g).tril() * 0.1
    for q in range(1, n):
        weights[q, q - 1] += 0.6  # previous token
        if q > seq_len:
            weights[q, q - seq_len] += 0.9  # the same token, earlier (duplicate)
            weights[q, q - seq_len + 1] += 1.6  # the token after it (induction)
    return weights / weights.sum(-1, keepdim=True)


@induction_score.check("a made-up pattern in which each kind of head has its own strength (seq_len 6)")
def _() -> Case:
    pattern = _synthetic_pattern(6, _gen(9))
    return Case(args=(pattern, 6), call="induction_score(pattern, 6)", mistakes=_induction_mistakes(pattern, 6))


@functools.cache
def _repeated_pattern(layer: int, seq_len: int) -> torch.Tensor:
    """The course model's patterns at ``layer`` on one seeded repeated random sequence: [head, pos, pos]."""
    from course_utils.attention import repeated_tokens

    model = _model()
    tokens = repeated_tokens(model, seq_len=seq_len, batch=1, seed=3)
    name = f"blocks.{layer}.attn.hook_pattern"
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n == name, logits_to_keep=1)
    return cache[name][0].detach().float().cpu()


@induction_score.check("every head of the course model's layer 18 on a repeated random sequence (seq_len 20)")
def _() -> list[Case]:
    patterns = _repeated_pattern(18, 20)
    return [Case(args=(patterns[h].clone(), 20), call=f"induction_score(pattern of head 18.{h}, 20)",
                 mistakes=_induction_mistakes(patterns[h], 20)) for h in range(len(patterns))]


# ---------------------------------------------------------------------------------------------
# 2.10 The logit difference, from logits

logit_difference = exercise("logit_difference", chapter=CHAPTER, number="2.10", title="The logit difference")

# Prompts of different token lengths (not the chapter's dataset), so a padded batch is needed.
LOGIT_PROMPTS = [
    {"prompt": "When Mary and John went to the store, John gave a drink to", "io": " Mary", "s": " John"},
    {"prompt": "Then Anna and Tom had lunch, and Tom gave a book to", "io": " Anna", "s": " Tom"},
    {"prompt": "After the meeting, Kate and Paul stayed behind and Kate gave the notes to", "io": " Paul", "s": " Kate"},
    {"prompt": "Lisa and Mark met; Mark thanked", "io": " Lisa", "s": " Mark"},
]


class _PaddedLogits:
    """The course model's logits on LOGIT_PROMPTS, right-padded, with what the exercise needs."""

    def __init__(self) -> None:
        model = _model()
        rows = [model.to_tokens(ex["prompt"])[0] for ex in LOGIT_PROMPTS]
        width = max(len(r) for r in rows)
        tokens = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            tokens[i, : len(r)] = r
        ids = lambda key: torch.tensor([model.to_single_token(ex[key]) for ex in LOGIT_PROMPTS])  # noqa: E731
        with torch.no_grad():
            self.logits = model(tokens).detach().float().cpu()  # [4, width, d_vocab]
        self.last = torch.tensor([len(r) - 1 for r in rows])
        self.io, self.s = ids("io"), ids("s")


@resource("padded_logits")
def _padded_logits() -> _PaddedLogits:
    return _PaddedLogits()


def _ld_mistakes(logits: Any, last: torch.Tensor, io: torch.Tensor, s: torch.Tensor) -> list[Mistake]:
    rows = torch.arange(len(last))
    at = lambda where: (logits() if callable(logits) else logits)[rows, where]  # noqa: E731
    diff = lambda final: final[rows, io] - final[rows, s]  # noqa: E731
    return [
        Mistake("you read every prompt at the last column (-1); in a right-padded batch, read each prompt at "
                "its own last token, last[i]", lambda: diff(at(-1))),
        Mistake("the sign is wrong: the logit difference is logit(IO) - logit(S)", lambda: -diff(at(last))),
        Mistake("that is a difference of probabilities; the logit difference uses the logits themselves",
                lambda: diff(at(last).softmax(-1))),
        Mistake("you read one position too early: the prediction of the next word is at the last token, "
                "last[i]", lambda: diff(at(last - 1))),
    ]


@logit_difference.check("random logits: 3 right-padded prompts (last tokens at 5, 2 and 4), 20 words")
def _() -> Case:
    g = _gen(10)
    logits = 3 * torch.randn(3, 6, 20, generator=g)
    last, io, s = torch.tensor([5, 2, 4]), torch.tensor([3, 7, 11]), torch.tensor([8, 1, 10])
    return Case(args=(logits, last, io, s), call="logit_difference(logits, last, io, s)",
                mistakes=_ld_mistakes(logits, last, io, s))


@logit_difference.check("the course model's logits on 4 padded prompts equal ioi.logit_diff")
def _() -> Case:
    from course_utils.ioi import logit_diff

    data = _padded_logits()
    expected = logit_diff(_model(), LOGIT_PROMPTS)
    args = tuple(Resource("padded_logits", attr=a) for a in ("logits", "last", "io", "s"))
    return Case(args=args, call="logit_difference(model logits, last, io, s)", expected=expected, atol=1e-4,
                mistakes=_ld_mistakes(lambda: data.logits, data.last, data.io, data.s))


# ---------------------------------------------------------------------------------------------
# 2.11 The patching metric

patching_metric = exercise("patching_metric", chapter=CHAPTER, number="2.11", title="The patching metric")


def _metric_mistakes(patched: torch.Tensor, clean: float, corrupted: float) -> list[Mistake]:
    return [
        Mistake("0 and 1 are swapped: 1 must mean 'as good as the clean run', 0 'as bad as the corrupted run'",
                lambda: (clean - patched) / (clean - corrupted)),
        Mistake("not normalised: divide (patched - corrupted) by (clean - corrupted)", lambda: patched - corrupted),
        Mistake("measure from the corrupted run: subtract corrupted, not clean, from patched",
                lambda: (patched - clean) / (clean - corrupted)),
        Mistake("a ratio to the clean value is not the metric: measure both distances from the corrupted run",
                lambda: patched / clean),
    ]


@patching_metric.check("a 4 x 5 grid of patched logit differences, clean 3.5, corrupted 0.25")
def _() -> Case:
    patched = 4 * torch.rand(4, 5, generator=_gen(11)) - 0.5
    return Case(args=(patched, 3.5, 0.25), call="patching_metric(patched, 3.5, 0.25)",
                mistakes=_metric_mistakes(patched, 3.5, 0.25))


@patching_metric.check("the corrupted run is better than the clean one (clean -1.0, corrupted 2.0)")
def _() -> Case:
    patched = torch.tensor([-1.0, 0.5, 2.0, 3.0])
    return Case(args=(patched, -1.0, 2.0), call="patching_metric([-1, 0.5, 2, 3], -1.0, 2.0)",
                mistakes=_metric_mistakes(patched, -1.0, 2.0))


# ---------------------------------------------------------------------------------------------
# 2.12 Looking versus intervening

choice(
    "q_looking", chapter=CHAPTER, number="2.12", title="Looking versus intervening",
    options={
        "a": "the head is broken: a head that attends to the right token must matter",
        "b": "attention shows where information can flow, not whether the answer depends on it; other heads "
             "can carry the same signal, so only an intervention tells",
        "c": "attention weights are meaningless and should never be looked at",
        "d": "mean-ablation is wrong; zeroing the head would have shown its effect",
    },
    explanation="a pattern is a hypothesis about what a head does; knocking it out (or patching it) tests the "
                "hypothesis, and redundant heads can make a visible mechanism unnecessary.",
    feedback={
        "a": "the model's answer barely changed without it, so it is not needed for this answer; that does not "
             "make it broken",
        "c": "attention told us which heads to test; it just cannot prove that they matter",
        "d": "zeroing a head is a bigger change than replacing it by its mean, not a more honest one; and the "
             "question is what the model needs, not how hard we can hit it",
    },
)


# ---------------------------------------------------------------------------------------------
# 2.13 Counting attention heads from a config

attention_heads_per_token = exercise("attention_heads_per_token", chapter=CHAPTER, number="2.13",
                                     title="Attention heads per token")

GPT3_CONFIG = {"n_layers": 96, "n_heads": 96, "d_model": 12288, "d_head": 128}


def _count_case(config: dict[str, int], label: str) -> Case:
    call = f"attention_heads_per_token({label})"
    layers, heads = config["n_layers"], config["n_heads"]
    kv = config.get("n_key_value_heads", heads)
    mistakes = [
        Mistake("you added layers and heads; every layer runs all of its heads, so multiply",
                lambda: layers + heads),
        Mistake("that is one layer's heads; a token goes through every layer", lambda: heads),
        Mistake("you counted key/value heads; count query heads: each one computes its own pattern",
                lambda: layers * kv),
        Mistake("you multiplied by d_head too; count heads, not numbers", lambda: layers * heads * config.get("d_head", 1)),
    ]

    def compare(got: Any, want: int) -> None:
        number = expect_whole_number(got, call, hint="a count of heads is an int: int(...) converts it")
        expect_close(number, want, name=call, atol=0, rtol=0, mistakes=[m for m in mistakes if m.compute() != want])

    return Case(args=(dict(config),), call=call, compare=compare)


@attention_heads_per_token.check("GPT-3 (the videos' count): 96 layers of 96 heads")
def _() -> Case:
    return _count_case(GPT3_CONFIG, "GPT-3 config")


def _course_config() -> dict[str, int]:
    cfg = _model().cfg
    return {key: int(getattr(cfg, key)) for key in ("n_layers", "n_heads", "n_key_value_heads", "d_head", "d_model")}


@attention_heads_per_token.check("the course model's config (grouped-query attention: 9 query heads, 3 key/value heads)")
def _() -> Case:
    return _count_case(_course_config(), "course model config")
