"""course_utils.vectors: GloVe loading, similarity search, analogies, unknown words, token tables."""

from __future__ import annotations

import time

import pytest
import torch

from course_utils.vectors import UnknownWordError, WordVectors, embedding_vectors, load_glove


@pytest.fixture(scope="module")
def glove() -> WordVectors:
    return load_glove()


def test_load_gives_400k_words_of_50_dimensions(glove):
    assert len(glove) == 400_000 and glove.dim == 50
    assert glove.vectors.shape == (400_000, 50) and glove.vectors.dtype == torch.float32
    assert glove.words[:3] == ["the", ",", "."]  # sorted by frequency
    assert load_glove() is glove  # cached


def test_lookup_lower_cases_and_strips(glove):
    assert "Paris" in glove and " paris " in glove
    assert torch.equal(glove["Paris"], glove["paris"])
    assert glove["cat"].shape == (50,)
    assert 42 not in glove


def test_getitem_returns_a_copy(glove):
    v = glove["cat"]
    v += 1
    assert not torch.equal(v, glove["cat"])


def test_neighbours_of_cat_include_dog_and_exclude_cat(glove):
    top = glove.nearest("cat", k=10)
    words = [w for w, _ in top]
    assert words[0] == "dog" and "cat" not in words
    assert "pet" in words or "kitten" in words or "cats" in words
    sims = [s for _, s in top]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1 for s in sims)


def test_nearest_accepts_a_vector_and_exclude(glove):
    words = [w for w, _ in glove.nearest(glove["cat"], k=3)]
    assert words[0] == "cat"  # a vector query does not exclude anything by itself
    words = [w for w, _ in glove.nearest(glove["cat"], k=3, exclude=["cat", "dog"])]
    assert "cat" not in words and "dog" not in words


def test_similarities_are_cosines(glove):
    sims = glove.similarities("king")
    a, b = glove["king"], glove["queen"]
    expected = (a @ b) / (a.norm() * b.norm())
    assert torch.isclose(sims[glove.index["queen"]], expected, atol=1e-6)
    assert torch.isclose(sims[glove.index["king"]], torch.tensor(1.0), atol=1e-5)


def test_search_over_all_words_is_fast(glove):
    glove.nearest("cat")
    start = time.perf_counter()
    for _ in range(5):
        glove.nearest("cat")
    assert (time.perf_counter() - start) / 5 < 0.5  # a few ms normally; generous for busy CI machines


def test_king_minus_man_plus_woman_is_queen(glove):
    assert glove.analogy("man", "king", "woman", k=1)[0][0] == "queen"
    assert glove.analogy("paris", "france", "berlin", k=1)[0][0] == "germany"
    answers = [w for w, _ in glove.analogy("man", "king", "woman", k=10)]
    assert not {"man", "king", "woman"} & set(answers)


def test_analogy_vector_uses_unit_vectors(glove):
    v = glove.analogy_vector("man", "king", "woman")
    expected = glove.unit("king") - glove.unit("man") + glove.unit("woman")
    assert torch.allclose(v, expected)


def test_rank_of_the_documented_misses(glove):
    q = glove.analogy_vector("big", "biggest", "small")
    assert glove.analogy("big", "biggest", "small", k=1)[0][0] == "largest"
    assert glove.rank_of("smallest", q, exclude=("big", "biggest", "small")) == 47
    q = glove.analogy_vector("mouse", "mice", "dollar")
    assert glove.rank_of("dollars", q, exclude=("mouse", "mice", "dollar")) == 19
    assert glove.rank_of("queen", glove.analogy_vector("man", "king", "woman"), exclude=("man", "king", "woman")) == 1


def test_rank_of_counts_from_one(glove):
    assert glove.rank_of("cat", glove["cat"]) == 1
    assert glove.rank_of("dog", glove["cat"]) == 2
    assert glove.rank_of("dog", glove["cat"], exclude=["cat"]) == 1


def test_unknown_word_suggests_close_words(glove):
    with pytest.raises(UnknownWordError) as info:
        glove["kingg"]
    err = info.value
    assert isinstance(err, KeyError)
    assert "king" in err.suggestions
    assert "'kingg' is not in the vocabulary" in str(err) and "king" in str(err)


def test_unknown_word_without_suggestions(glove):
    with pytest.raises(UnknownWordError) as info:
        glove.nearest("qqqxxzzv")
    assert info.value.suggestions == [] and "not in the vocabulary" in str(info.value)


def test_suggestions_are_fast(glove):
    start = time.perf_counter()
    glove.suggest("elefant")
    assert time.perf_counter() - start < 2.0


def test_with_vectors_keeps_vocabulary(glove):
    zeroed = glove.with_vectors(torch.zeros(len(glove), glove.dim) + glove.vectors)
    assert zeroed.words is not glove.words and zeroed.words == glove.words
    assert zeroed.nearest("cat", k=1)[0][0] == "dog"


def test_small_table_and_wrong_shapes():
    table = WordVectors(["a", "b", "c"], torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), lowercase=False)
    assert table.nearest("a", k=1)[0][0] == "b"
    with pytest.raises(ValueError):
        table.vector(torch.zeros(3))
    with pytest.raises(ValueError):
        WordVectors(["a"], torch.zeros(2, 2))


def test_embedding_table_keeps_spaces_and_case(model):
    lm = embedding_vectors(model)
    assert len(lm) == model.cfg.d_vocab and lm.dim == model.cfg.d_model
    assert " cat" in lm and "cat" in lm
    cat_id = model.tokenizer(" cat", add_special_tokens=False)["input_ids"][0]
    assert torch.equal(lm[" cat"], model.W_E[cat_id].detach())
    assert not torch.equal(lm[" cat"], lm["cat"])
    assert lm.analogy(" man", " king", " woman", k=1)[0][0] == " queen"
