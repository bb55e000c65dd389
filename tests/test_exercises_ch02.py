"""Chapter 02 exercises: every known mistake gets its hint (tests/test_exercises.py covers the rest)."""

from __future__ import annotations

import math

import pytest
import torch

from exercise_outcomes import outcome


@pytest.fixture(scope="module", autouse=True)
def loaded(model):
    """Load the model before the checks run, so no check spends its time limit loading."""
    return model


def _raw(q, k):
    return torch.einsum("bqhd,bkhd->bhqk", q, k)


def _future(scores):
    n = scores.shape[-1]
    return torch.ones(n, n, dtype=torch.bool).triu(1)


def _masked(scores):
    return scores.masked_fill(_future(scores), float("-inf"))


WRONG = {
    "attention_scores": [
        (lambda q, k: _raw(q, k), "not scaled"),
        (lambda q, k: _raw(q, k) / q.shape[-1], "divide by its square root"),
        (lambda q, k: _raw(q, k) / 8.0, "q.shape[-1]"),  # sqrt(64) typed in: right for d_head 64 only
        (lambda q, k: _raw(q, k) / 2.0, "q.shape[-1]"),  # sqrt(4) typed in: right for d_head 4 only
        (lambda q, k: _raw(q, k).transpose(-1, -2) / math.sqrt(q.shape[-1]), "keys on the"),
        (lambda q, k: (_raw(q, k) / math.sqrt(q.shape[-1])).softmax(-1), "scaled scores only"),
    ],
    "apply_causal_mask": [
        (lambda s: s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool).triu(0), float("-inf")), "diagonal"),
        (lambda s: s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool).tril(-1), float("-inf")), "masked the past"),
        (lambda s: s.masked_fill(_future(s), 0.0), "fill it with -inf"),
        (lambda s: _future(s), "not the mask itself"),
    ],
    "attention_pattern": [
        (lambda s: _masked(s).softmax(-2), "over the queries"),
        (lambda s: s.softmax(-1), "no causal mask"),
        (lambda s: s.softmax(-1).masked_fill(_future(s), 0.0), "after the softmax"),
        (lambda s: s.softmax(-1).masked_fill(_future(s), float("-inf")), "after the softmax"),
        (lambda s: _masked(s), "still scores"),
    ],
    "head_outputs": [
        (lambda p, v: torch.einsum("bhkq,bkhd->bqhd", p, v), "transposed"),
        (lambda p, v: torch.einsum("bhqk,bkhd->bhqd", p, v), "[batch, q_pos, head, d_head]"),
        (lambda p, v: p[..., None] * v.permute(0, 2, 1, 3)[:, :, None], "expected shape"),
    ],
    "repeat_kv": [
        (lambda k, n: k.repeat(1, 1, n // k.shape[2], 1), "repeat_interleave"),
        (lambda k, n: k, "own copy"),
        (lambda k, n: k.repeat_interleave(n // k.shape[2], dim=1), "expected shape"),
    ],
    "attention_output": [
        (lambda z, w: torch.einsum("bqhd,hdm->bqhm", z, w).mean(2), "averaged over the heads"),
        (lambda z, w: torch.einsum("bqhd,hdm->bqhm", z, w), "sum over the head axis"),
    ],
    "induction_score": [
        (lambda p, n: p.diagonal(-n)[-n:].mean().item(), "duplicate-token score"),
        (lambda p, n: p.diagonal(-1).mean().item(), "previous-token score"),
        (lambda p, n: p.diagonal(-1)[-n:].mean().item(), "previous-token score"),
        (lambda p, n: p.diagonal(-(n - 1)).mean().item(), "first-half queries"),
        (lambda p, n: p.diagonal(-(n - 1))[-n:].sum().item(), "summed"),
    ],
    "logit_difference": [
        (lambda lg, last, io, s: lg[:, -1].gather(1, io[:, None])[:, 0] - lg[:, -1].gather(1, s[:, None])[:, 0],
         "own last token"),
        (lambda lg, last, io, s: (lambda f: f[torch.arange(len(s)), s] - f[torch.arange(len(s)), io])(
            lg[torch.arange(len(last)), last]), "sign is wrong"),
        (lambda lg, last, io, s: (lambda f: f[torch.arange(len(s)), io] - f[torch.arange(len(s)), s])(
            lg[torch.arange(len(last)), last].softmax(-1)), "probabilities"),
        (lambda lg, last, io, s: (lambda f: f[torch.arange(len(s)), io] - f[torch.arange(len(s)), s])(
            lg[torch.arange(len(last)), last - 1]), "one position too early"),
    ],
    "patching_metric": [
        (lambda p, c, x: (c - p) / (c - x), "swapped"),
        (lambda p, c, x: p - x, "not normalised"),
        (lambda p, c, x: (p - c) / (c - x), "from the corrupted run"),
        (lambda p, c, x: p / c, "ratio to the clean value"),
    ],
    "attention_heads_per_token": [
        (lambda cfg: cfg["n_layers"] + cfg["n_heads"], "multiply"),
        (lambda cfg: cfg["n_heads"], "one layer's heads"),
        (lambda cfg: float(cfg["n_layers"] * cfg["n_heads"]), "int"),
        (lambda cfg: cfg["n_layers"] * cfg["n_heads"] * cfg.get("d_head", 2), "count heads, not numbers"),
    ],
}


@pytest.mark.parametrize("exercise_id, wrong, hint",
                         [(eid, fn, hint) for eid, cases in WRONG.items() for fn, hint in cases],
                         ids=[f"{eid}-{hint[:24]}" for eid, cases in WRONG.items() for _, hint in cases])
def test_known_mistake_fails_with_its_hint(exercise_id, wrong, hint):
    statuses, message = outcome(exercise_id, wrong)
    assert "fail" in statuses, f"{exercise_id}: the wrong version passed"
    assert hint in message, f"{exercise_id}: expected the hint {hint!r}, got:\n{message}"


def test_grouped_query_count_is_told_to_count_query_heads():
    statuses, message = outcome("attention_heads_per_token",
                                lambda cfg: cfg["n_layers"] * cfg.get("n_key_value_heads", cfg["n_heads"]))
    assert statuses == ["pass", "fail"] and "count query heads" in message


def test_in_place_mask_is_caught_before_it_changes_the_chapter():
    def in_place(scores):
        return scores.masked_fill_(_future(scores), float("-inf"))

    statuses, message = outcome("apply_causal_mask", in_place)
    assert statuses[0] == "fail" and "changed its input `scores` in place" in message


def test_mask_with_a_large_negative_number_passes():
    statuses, _ = outcome("apply_causal_mask", lambda s: s.masked_fill(_future(s), torch.finfo(s.dtype).min))
    assert statuses == ["pass", "pass"]
    statuses, _ = outcome("apply_causal_mask", lambda s: s.masked_fill(_future(s), -1e9))
    assert statuses == ["pass", "pass"]


def test_log_probabilities_give_the_same_logit_difference():
    def from_log_probs(logits, last, io, s):
        final = logits[torch.arange(len(last)), last].log_softmax(-1)
        return final[torch.arange(len(io)), io] - final[torch.arange(len(s)), s]

    assert outcome("logit_difference", from_log_probs)[0] == ["pass", "pass"]


def test_a_zero_dim_tensor_is_accepted_as_the_induction_score():
    def as_tensor(pattern, seq_len):
        return pattern.diagonal(-(seq_len - 1))[-seq_len:].mean()

    assert outcome("induction_score", as_tensor)[0] == ["pass", "pass"]


def test_learner_exception_is_reported_not_raised():
    statuses, message = outcome("attention_scores", lambda q, k: q @ k)
    assert statuses[0] == "error" and "your function raised" in message


@pytest.mark.parametrize("exercise_id, wrong", [("q_scale", "a"), ("q_scale", "d"), ("q_gqa", "a"), ("q_gqa", "c"),
                                                ("q_looking", "a"), ("q_looking", "d")])
def test_wrong_choice_gets_feedback(exercise_id, wrong):
    statuses, message = outcome(exercise_id, wrong)
    assert statuses == ["fail"] and "hint:" in message
