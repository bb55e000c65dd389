"""Chapter 03 exercises: every known mistake gets its hint (tests/test_exercises.py covers the rest)."""

from __future__ import annotations

import math

import pytest
import torch

from exercise_outcomes import outcome

silu, gelu = torch.nn.functional.silu, torch.nn.functional.gelu


@pytest.fixture(scope="module", autouse=True)
def loaded(model):
    """Load the model before the checks run, so that no check spends its time limit loading it."""
    return model


def _ms(x):
    return x.pow(2).mean(-1, keepdim=True)


def _counts(config, *, matrices=None, kv=None, tied=None, norms=None, total_offset=0, as_float=False):
    """A parameter count with one deliberate mistake."""
    d, n, d_head = config["d_model"], config["n_layers"], config["d_head"]
    kv = config["n_key_value_heads"] if kv is None else kv
    matrices = (3 if config["gated_mlp"] else 2) if matrices is None else matrices
    tied = config["tied_embeddings"] if tied is None else tied
    counts = {"embedding": config["d_vocab"] * d,
              "attention": n * d * d_head * (2 * config["n_heads"] + 2 * kv),
              "mlp": n * matrices * d * config["d_mlp"],
              "norms": (2 * n + 1) * config["params_per_norm"] if norms is None else norms(config),
              "unembedding": 0 if tied else config["d_vocab"] * d}
    counts["total"] = sum(counts.values()) + total_offset
    return {k: float(v) for k, v in counts.items()} if as_float else counts


def _dims_no_guard(W):
    lengths = W.norm(dim=0)
    unit = W / lengths
    return lengths ** 2 / ((unit.T @ W) ** 2).sum(-1)


def _dims_unnormalised(W):
    lengths = W.norm(dim=0)
    out = lengths ** 2 / ((W.T @ W) ** 2).sum(-1).clamp_min(1e-12)
    return torch.where(lengths > 1e-6, out, torch.zeros_like(out))


def _add_in_place(resid, vector):
    resid[:, -1] += vector
    return resid


WRONG = {
    "and_neuron": [
        (lambda a, b: (a + b, 0.0), "that is an OR gate"),
        (lambda a, b: (a + b, -2.5), "does not fire when both directions are present"),
        (lambda a, b: (a + b, 1.0), "fires with nothing present"),
        (lambda a, b: a + b, "expected a pair (w, b)"),
        (lambda a, b: (a + b, "minus one"), "b should be a number"),
    ],
    "rms_norm": [
        (lambda x, w, eps: x / (_ms(x).sqrt() + eps) * w, "the epsilon goes inside the square root"),
        (lambda x, w, eps: x / (_ms(x) + eps).sqrt(), "learned weight"),
        (lambda x, w, eps: x / (_ms(x) + eps) * w, "you forgot the square root"),
        (lambda x, w, eps: (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True, unbiased=False) + eps).sqrt() * w,
         "that is a LayerNorm"),
        (lambda x, w, eps: x / (x.pow(2).sum(-1, keepdim=True) + eps).sqrt() * w, "L2 norm"),
    ],
    "swiglu_mlp": [
        (lambda x, g, i, o: (torch.relu(x @ g) * (x @ i)) @ o, "you used ReLU on the gate"),
        (lambda x, g, i, o: (gelu(x @ g) * (x @ i)) @ o, "you used GELU on the gate"),
        (lambda x, g, i, o: ((x @ g) * silu(x @ i)) @ o, "not on the up part"),
        (lambda x, g, i, o: silu(x @ g) @ o, "the up part is missing"),
        (lambda x, g, i, o: silu(x @ i) @ o, "the gate is missing"),
    ],
    "count_parameters": [
        (lambda c: _counts(c, matrices=2), "a gated MLP has three matrices"),
        (lambda c: _counts(c, kv=c["n_heads"]), "W_K and W_V have n_key_value_heads heads"),
        (lambda c: _counts(c, tied=False), "the embeddings are tied"),
        (lambda c: _counts(c, norms=lambda c: 2 * c["n_layers"] * c["params_per_norm"]), "one more norm"),
        (lambda c: _counts(c, total_offset=7), "total must be the sum"),
        (lambda c: _counts(c, as_float=True), "whole numbers"),
        (lambda c: {k: v for k, v in _counts(c).items() if k != "norms"}, "no entry 'norms'"),
    ],
    "logit_parts": [
        (lambda h, w: (float(h.norm()), w.norm(dim=0), h @ w), "these are the dot products"),
        (lambda h, w: (float(h.norm()), w.norm().expand(w.shape[1]), (h @ w) / (h.norm() * w.norm())), "w.norm(dim=0)"),
        (lambda h, w: (float(h.norm()), w.norm(dim=0), (h @ w) / h.norm()), "you divided by |h| only"),
        (lambda h, w: (float(h.norm() ** 2), w.norm(dim=0), (h @ w) / (h.norm() * w.norm(dim=0))), "squared length"),
        (lambda h, w: (float(h.norm()), w.norm(dim=0)), "expected three things"),
    ],
    "mlp_direct_effects": [
        (lambda o, s, w, u: (o * w) @ u, "did not divide by the final norm's scale"),
        (lambda o, s, w, u: (o / s) @ u, "forgot the final norm's weight"),
        (lambda o, s, w, u: (o * s * w) @ u, "you multiplied by final_scale"),
    ],
    "restoration_score": [
        (lambda p, c, x: (p - x) / c, "you divided by p_clean alone"),
        (lambda p, c, x: p / c, "that is p_restored / p_clean"),
        (lambda p, c, x: p - x, "forgot to divide"),
        (lambda p, c, x: (c - p) / (c - x), "that is 1 minus the score"),
    ],
    "add_at_last_position": [
        (lambda r, v: r + v, "at every position"),
        (lambda r, v: torch.cat([r[:, :1] + v, r[:, 1:]], dim=1), "at the first position"),
        (lambda r, v: torch.cat([r[:, :-1], r[:, -1:] - v], dim=1), "you subtracted the vector"),
        (_add_in_place, "changed its input `resid` in place"),
    ],
    "rank_one_update": [
        (lambda W, k, d, u: W + torch.outer(u, d), "forgot to divide by direction · key"),
        (lambda W, k, d, u: W + torch.outer(u, d) / (k @ k), "not key · key"),
        (lambda W, k, d, u: W + torch.outer(k, d) / (k @ k), "the key instead of the direction throughout"),
        (lambda W, k, d, u: torch.outer(u, d) / (u @ k), "only the change of the matrix"),
        (lambda W, k, d, u: W - torch.outer(u, d) / (u @ k), "you subtracted the change"),
    ],
    "feature_dimensionality": [
        (_dims_no_guard, "0 / 0 is NaN"),
        (_dims_unnormalised, "scale W_i to length 1"),
    ],
}


@pytest.mark.parametrize("exercise_id, wrong, hint",
                         [(eid, fn, hint) for eid, cases in WRONG.items() for fn, hint in cases],
                         ids=[f"{eid}-{hint[:24]}" for eid, cases in WRONG.items() for _, hint in cases])
def test_known_mistake_fails_with_its_hint(exercise_id, wrong, hint):
    statuses, message = outcome(exercise_id, wrong)
    assert "fail" in statuses, f"{exercise_id}: the wrong version passed"
    assert hint in message, f"{exercise_id}: expected the hint {hint!r}, got:\n{message}"


def test_other_correct_answers_pass():
    """Several answers are right: another AND neuron, |h| as a 0-d tensor, keyword-free updates."""
    assert outcome("and_neuron", lambda a, b: (2 * (a + b), -3.0))[0] == ["pass", "pass"]
    assert outcome("and_neuron", lambda a, b: (a + b, torch.tensor(-1.0)))[0] == ["pass", "pass"]

    def parts_with_tensor_length(h, w):
        return h.norm(), w.norm(dim=0), (h @ w) / (h.norm() * w.norm(dim=0))

    assert set(outcome("logit_parts", parts_with_tensor_length)[0]) == {"pass"}

    def dims_by_loop(W):
        out = []
        for i in range(W.shape[1]):
            length = W[:, i].norm()
            if length < 1e-6:
                out.append(0.0)
                continue
            unit = W[:, i] / length
            out.append(float(length ** 2 / sum(float(unit @ W[:, j]) ** 2 for j in range(W.shape[1]))))
        return torch.tensor(out)

    assert set(outcome("feature_dimensionality", dims_by_loop)[0]) == {"pass"}


def test_swiglu_checks_use_two_layers_so_a_fixed_layer_fails(model):
    from course_utils.exercises.ch03 import layer_activations

    fixed = layer_activations(4)["mlp_out"]
    statuses, message = outcome("swiglu_mlp", lambda x, g, i, o: fixed.clone() if x.shape == fixed.shape else
                                (silu(x @ g) * (x @ i)) @ o)
    assert statuses[0] == "pass" and "fail" in statuses


@pytest.mark.parametrize("exercise_id, wrong", [("q_lens_late", "a"), ("q_lens_late", "c"), ("q_trace_control", "d"),
                                                ("q_sparse_sharing", "a")])
def test_wrong_choice_gets_feedback(exercise_id, wrong):
    statuses, message = outcome(exercise_id, wrong)
    assert statuses == ["fail"] and "hint:" in message


def test_pentagon_case_is_exact():
    angles = torch.arange(5) * 2 * math.pi / 5
    W = torch.stack([torch.cos(angles), torch.sin(angles)])
    from course_utils.solutions.ch03 import feature_dimensionality

    assert torch.allclose(feature_dimensionality(W), torch.full((5,), 0.4), atol=1e-6)
