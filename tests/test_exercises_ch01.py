"""Chapter 01 exercises: every known mistake gets its hint (tests/test_exercises.py covers the rest)."""

from __future__ import annotations

import pytest
import torch

from course_utils.vectors import load_glove
from exercise_outcomes import outcome

@pytest.fixture(scope="module", autouse=True)
def loaded(model):
    """Load the model and GloVe before the checks run, so no check spends its time limit loading."""
    load_glove()
    return model


def _tok(tokenizer, text, **kwargs):
    return tokenizer(text, **kwargs)["input_ids"]


WRONG = {
    "count_tokens": [
        (lambda tok, text: len(_tok(tok, text)), "<|endoftext|> marker"),
        (lambda tok, text: len(text.split()), "you counted words"),
        (lambda tok, text: len(text), "you counted characters"),
        (lambda tok, text: len(set(_tok(tok, text, add_special_tokens=False))), "distinct tokens"),
        (lambda tok, text: float(len(_tok(tok, text, add_special_tokens=False))), "whole number"),
    ],
    "cosine_similarity": [
        (lambda a, b: (a * b).sum(-1), "plain dot product"),
        (lambda a, b: (a * b).sum(-1) / a.norm(dim=-1), "length of a only"),
        (lambda a, b: 1 - (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)), "1 - cosine"),
        (lambda a, b: (a * b).sum(-1) / ((a * a).sum(-1) * (b * b).sum(-1)), "squared lengths"),
        (lambda a, b: (a * b).sum(-1) / (a.norm() * b.norm()), ".norm() without dim="),
    ],
    "nearest_neighbours": [
        (lambda m, q, k: (m @ q).topk(k).indices, "ranked by the dot product"),
        (lambda m, q, k: (m - q).norm(dim=-1).topk(k, largest=False).indices, "Euclidean distance"),
        (lambda m, q, k: ((m @ q) / (m.norm(dim=-1) * q.norm())).topk(k, largest=False).indices, "least similar"),
        (lambda m, q, k: ((m @ q) / (m.norm(dim=-1) * q.norm())).topk(k).values, "not the similarities"),
    ],
    "project_out": [
        (lambda v, d: v - (v @ d)[..., None] * d, "not scaled to length 1"),
        (lambda v, d: v - (v @ d)[..., None] * d / d.norm(), "divided by the direction's length once"),
        (lambda v, d: v - d, "subtracted the direction itself"),
        (lambda v, d: v + (v @ (d / d.norm()))[..., None] * (d / d.norm()), "the sign is wrong"),
        (lambda v, d: (v @ (d / d.norm()))[..., None] * (d / d.norm()), "the projection"),
    ],
    "vectors_at_positions": [
        (lambda r, p: r[:, :, -1], "last position"),
        (lambda r, p: r[:, :, p], "every position in `positions`"),
        (lambda r, p: r[:, torch.arange(r.shape[1]), p + 1], "the token after the word"),
        (lambda r, p: r[:, torch.arange(r.shape[1]), p - 1], "the token before the word"),
    ],
    "pairwise_angles": [
        (lambda v: torch.acos(((v / v.norm(dim=-1, keepdim=True)) @ (v / v.norm(dim=-1, keepdim=True)).T)
                              .clamp(-1, 1)), "radians"),
        (lambda v: ((v / v.norm(dim=-1, keepdim=True)) @ (v / v.norm(dim=-1, keepdim=True)).T), "cosines, not angles"),
        (lambda v: torch.rad2deg(torch.acos((v @ v.T).clamp(-1, 1))), "not scaled to length 1"),
    ],
}


def _sense_wrong(include_diagonal=False, swap=False, dot=False):
    def wrong(vecs, senses):
        unit = vecs if dot else vecs / vecs.norm(dim=-1, keepdim=True)
        cos = unit @ unit.transpose(-1, -2)
        same = senses[:, None] == senses[None, :]
        mask = same if include_diagonal else same & ~torch.eye(len(senses), dtype=torch.bool)
        rows = [cos[:, mask].mean(-1), cos[:, ~same].mean(-1)]
        return torch.stack(rows[::-1] if swap else rows)

    return wrong


def _sense_whole_norm(vecs, senses):
    unit = vecs / vecs.norm()
    cos = unit @ unit.transpose(-1, -2)
    same = senses[:, None] == senses[None, :]
    mask = same & ~torch.eye(len(senses), dtype=torch.bool)
    return torch.stack([cos[:, mask].mean(-1), cos[:, ~same].mean(-1)])


WRONG["sense_similarity"] = [
    (_sense_wrong(include_diagonal=True), "leave out the diagonal"),
    (_sense_wrong(swap=True), "rows are swapped"),
    (_sense_wrong(dot=True), "dot products"),
    (_sense_whole_norm, ".norm() without dim="),
]


def _analogy_wrong(exclude=True, sign=(1, -1, 1)):
    def wrong(vectors, a, b, c):
        query = sign[0] * vectors.unit(b) + sign[1] * vectors.unit(a) + sign[2] * vectors.unit(c)
        sims = vectors.similarities(query)
        if exclude:
            for word in (a, b, c):
                sims[vectors.index[word]] = -torch.inf
        return vectors.words[int(sims.argmax())]

    return wrong


def _analogy_raw(vectors, a, b, c):
    sims = vectors.similarities(vectors[b] - vectors[a] + vectors[c])
    for word in (a, b, c):
        sims[vectors.index[word]] = -torch.inf
    return vectors.words[int(sims.argmax())]


WRONG["solve_analogy"] = [
    (_analogy_raw, "scale each of a, b and c to length 1"),
    (_analogy_wrong(exclude=False), "one of the three query words"),
    (_analogy_wrong(sign=(-1, 1, 1)), "a - b + c"),
    (lambda vectors, a, b, c: int(vectors.similarities(vectors["king"]).argmax()), "vectors.words[index]"),
]


@pytest.mark.parametrize("exercise_id, wrong, hint",
                         [(eid, fn, hint) for eid, cases in WRONG.items() for fn, hint in cases],
                         ids=[f"{eid}-{hint[:24]}" for eid, cases in WRONG.items() for _, hint in cases])
def test_known_mistake_fails_with_its_hint(exercise_id, wrong, hint):
    statuses, message = outcome(exercise_id, wrong)
    assert "fail" in statuses, f"{exercise_id}: the wrong version passed"
    assert hint in message, f"{exercise_id}: expected the hint {hint!r}, got:\n{message}"


def test_acos_without_clamp_is_told_to_clamp():
    def no_clamp(v):
        unit = v / v.norm(dim=-1, keepdim=True)
        return torch.rad2deg(torch.acos(unit @ unit.T))

    statuses, message = outcome("pairwise_angles", no_clamp)
    if "fail" in statuses:  # rounding may or may not push a cosine above 1 on this machine
        assert "clamp" in message or "wrong" in message


def test_learner_exception_is_reported_not_raised():
    def crashes(a, b):
        return a @ torch.zeros(3)

    statuses, message = outcome("cosine_similarity", crashes)
    assert statuses[0] == "error" and "your function raised" in message


@pytest.mark.parametrize("exercise_id, wrong", [("q_leading_space", "a"), ("q_debias", "a"), ("q_debias", "d"),
                                                ("q_superposition", "c")])
def test_wrong_choice_gets_feedback(exercise_id, wrong):
    statuses, message = outcome(exercise_id, wrong)
    assert statuses == ["fail"] and "hint:" in message


def test_in_place_projection_is_caught_before_it_changes_the_chapter():
    def in_place(vectors, direction):
        unit = direction / direction.norm()
        vectors -= (vectors @ unit)[..., None] * unit
        return vectors

    statuses, message = outcome("project_out", in_place)
    assert statuses[0] == "fail" and "changed its input `vectors` in place" in message


def test_choice_accepts_case_and_brackets():
    assert outcome("q_debias", " (C) ")[0] == ["pass"]
