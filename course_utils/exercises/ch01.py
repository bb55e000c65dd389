"""Chapter 01 (tokens and vectors): reference solutions and visible checks.

Eight functions and three conceptual questions:

1.1 count_tokens          1.2 q_leading_space (choice)   1.3 cosine_similarity
1.4 nearest_neighbours    1.5 solve_analogy              1.6 project_out
1.7 q_debias (choice)     1.8 vectors_at_positions       1.9 sense_similarity
1.10 pairwise_angles      1.11 q_superposition (choice)

Each check names the case it tests; known mistakes are recognised and explained.
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float, Int

from course_utils.checks import Mistake, exercise, exercise_choice, expect_close, expect_whole_number

CHAPTER = "01"


def _tokenizer() -> Any:
    from course_utils.models import load_model

    return load_model().tokenizer


def _glove() -> Any:
    from course_utils.vectors import load_glove

    return load_glove()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# 1.1 Counting tokens

COUNT_HINT = "count the token ids: len(...) of the list is a whole number"
TOKEN_TEXTS = [
    "The cat sat on the mat.",
    "The bank of the river Vistula flows through Warsaw.",
    "In 2024, about 1,863,056 people lived there.",
    "def square(x):\n    return x ** 2",
    "El perro come manzanas en el jardín.",
    "我喜欢学习语言模型。",
]


@exercise("count_tokens", chapter=CHAPTER, number="1.1", title="Counting tokens")
def count_tokens(tokenizer: Any, text: str) -> int:
    """How many tokens the model reads for ``text``, not counting the start-of-text marker."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _count_mistakes(tokenizer: Any, texts: list[str]) -> list[Mistake]:
    def per_text(fn: Any) -> Any:
        return lambda: [fn(t) for t in texts]

    return [
        Mistake("you counted the <|endoftext|> marker that the tokenizer puts in front of the text: "
                "pass add_special_tokens=False (or subtract 1)",
                per_text(lambda t: len(tokenizer(t)["input_ids"]))),
        Mistake("you counted words (pieces between spaces); a token is often a piece of a word",
                per_text(lambda t: len(t.split()))),
        Mistake("you counted characters; most tokens are several characters long",
                per_text(len)),
        Mistake("you counted distinct tokens; a token that appears twice counts twice",
                per_text(lambda t: len(set(tokenizer(t, add_special_tokens=False)["input_ids"])))),
    ]


@count_tokens.check("returns a whole number for one English sentence")
def _(submission: Any) -> None:
    tokenizer = _tokenizer()
    text = TOKEN_TEXTS[0]
    got = expect_whole_number(submission(tokenizer, text), f"count_tokens(tokenizer, {text!r})", hint=COUNT_HINT)
    expect_close(got, count_tokens.reference(tokenizer, text), name=f"count_tokens(tokenizer, {text!r})",
                 atol=0, rtol=0, mistakes=[Mistake(m.hint, lambda m=m: m.compute()[0])
                                           for m in _count_mistakes(tokenizer, [text])])


@count_tokens.check("names, numbers, code, Spanish and Chinese")
def _(submission: Any) -> None:
    tokenizer = _tokenizer()
    got = [expect_whole_number(submission(tokenizer, t), f"count_tokens(tokenizer, {t!r})", hint=COUNT_HINT)
           for t in TOKEN_TEXTS]
    want = [count_tokens.reference(tokenizer, t) for t in TOKEN_TEXTS]
    expect_close(got, want, name="[count_tokens(tokenizer, text) for text in texts]", atol=0, rtol=0,
                 mistakes=_count_mistakes(tokenizer, TOKEN_TEXTS))


# ---------------------------------------------------------------------------------------------
# 1.2 Why " bank" and "bank" are different tokens

exercise_choice(
    "q_leading_space", chapter=CHAPTER, number="1.2", title="Two tokens for one word",
    options={
        "a": "the tokenizer lower-cases words at the start of a sentence, and the two ids are the two cases",
        "b": "a token carries the space in front of a word; in running text most words follow a space, "
             "so \" bank\" gets its own entry, and \"bank\" without the space is a separate one",
        "c": "the model adds a space to every noun so that it can tell nouns from verbs",
        "d": "\"bank\" without a space is a rare spelling mistake, so the tokenizer splits it into letters",
    },
    answer_hash="eb1f77f71b07cf408bb9d2b644d827067b4f495bc49a1fe88bf3880b52962973",
    explanation="the leading space is part of the token, so a word has one id after a space and another "
                "at the start of a text or a line.",
    feedback={
        "a": "case has nothing to do with it here: both tokens are lower-case; look at what differs between them",
        "c": "the tokenizer knows nothing about grammar; it only cuts text into pieces it has seen often",
        "d": "\"bank\" is a single token too (id 19501), not a string of letters",
    },
)


# ---------------------------------------------------------------------------------------------
# 1.3 Cosine similarity


@exercise("cosine_similarity", chapter=CHAPTER, number="1.3", title="Cosine similarity")
def cosine_similarity(a: Float[torch.Tensor, "*batch d"], b: Float[torch.Tensor, "*batch d"]) -> Float[torch.Tensor, "*batch"]:
    """Cosine of the angle between ``a`` and ``b`` along the last dimension (broadcasting the rest)."""
    return (a * b).sum(dim=-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def _cosine_mistakes(a: torch.Tensor, b: torch.Tensor) -> list[Mistake]:
    dot = (a * b).sum(-1)
    return [
        Mistake("that is the plain dot product: divide it by the lengths of both vectors", lambda: dot),
        Mistake("you divided by the length of a only; divide by the lengths of both vectors",
                lambda: dot / a.norm(dim=-1)),
        Mistake("you divided by the length of b only; divide by the lengths of both vectors",
                lambda: dot / b.norm(dim=-1)),
        Mistake("that is 1 - cosine (the cosine distance); return the cosine itself",
                lambda: 1 - dot / (a.norm(dim=-1) * b.norm(dim=-1))),
        Mistake("you divided by the product of squared lengths; use the lengths themselves (.norm())",
                lambda: dot / ((a * a).sum(-1) * (b * b).sum(-1))),
        Mistake("you summed over the first dimension; the vectors run along the last one (dim=-1)",
                lambda: (a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0))),
    ]


@cosine_similarity.check("8 pairs of random 50-d vectors, shape (8, 50)")
def _(submission: Any) -> None:
    g = _gen(0)
    a, b = 3 * torch.randn(8, 50, generator=g), torch.randn(8, 50, generator=g)
    expect_close(submission(a.clone(), b.clone()), cosine_similarity.reference(a, b),
                 name="cosine_similarity(a, b)", mistakes=_cosine_mistakes(a, b))


@cosine_similarity.check("parallel, opposite and perpendicular vectors (1-d inputs give a 0-d result)")
def _(submission: Any) -> None:
    x = torch.tensor([3.0, 4.0, 0.0])
    for other, want, what in [(2 * x, 1.0, "2x"), (-x, -1.0, "-x"), (torch.tensor([4.0, -3.0, 7.0]), 0.0, "a perpendicular vector")]:
        expect_close(submission(x, other), torch.tensor(want), name=f"cosine_similarity(x, {what})",
                     mistakes=_cosine_mistakes(x, other))


@cosine_similarity.check("one vector against many (broadcasting): a (50,), b (6, 50)")
def _(submission: Any) -> None:
    g = _gen(1)
    a, b = torch.randn(50, generator=g), 0.1 * torch.randn(6, 50, generator=g)
    expect_close(submission(a, b), cosine_similarity.reference(a, b), name="cosine_similarity(a, b)",
                 mistakes=_cosine_mistakes(a, b))


# ---------------------------------------------------------------------------------------------
# 1.4 Nearest neighbours


@exercise("nearest_neighbours", chapter=CHAPTER, number="1.4", title="Nearest neighbours")
def nearest_neighbours(matrix: Float[torch.Tensor, "n d"], query: Float[torch.Tensor, "d"], k: int) -> Int[torch.Tensor, "k"]:
    """Row indices of the ``k`` rows of ``matrix`` with the highest cosine similarity to ``query``, best first."""
    sims = (matrix @ query) / (matrix.norm(dim=-1) * query.norm())
    return sims.topk(k).indices


def _neighbour_mistakes(matrix: torch.Tensor, query: torch.Tensor, k: int) -> list[Mistake]:
    cos = (matrix @ query) / (matrix.norm(dim=-1) * query.norm())
    return [
        Mistake("you ranked by the dot product; long vectors then win whatever their direction. "
                "Divide by the lengths to rank by cosine", lambda: (matrix @ query).topk(k).indices),
        Mistake("you ranked by Euclidean distance; it depends on the vectors' lengths. Rank by cosine",
                lambda: (matrix - query).norm(dim=-1).topk(k, largest=False).indices),
        Mistake("these are the k least similar rows: the most similar come first (largest=True)",
                lambda: cos.topk(k, largest=False).indices),
        Mistake("the order is reversed: put the most similar row first",
                lambda: cos.topk(k).indices.flip(0)),
    ]


def _check_indices(got: Any, name: str) -> None:
    if isinstance(got, torch.Tensor) and got.dtype.is_floating_point:
        raise AssertionError(f"{name}: got floating-point values {got[:4].tolist()}...\n"
                             "hint: return the row indices (topk(...).indices), not the similarities")


@nearest_neighbours.check("200 random rows of very different lengths, k=5")
def _(submission: Any) -> None:
    g = _gen(2)
    lengths = torch.exp(1.5 * torch.randn(200, 1, generator=g))
    matrix, query = lengths * torch.randn(200, 20, generator=g), torch.randn(20, generator=g)
    got = submission(matrix.clone(), query.clone(), 5)
    _check_indices(got, "nearest_neighbours(matrix, query, 5)")
    expect_close(got, nearest_neighbours.reference(matrix, query, 5), name="nearest_neighbours(matrix, query, 5)",
                 atol=0, rtol=0, mistakes=_neighbour_mistakes(matrix, query, 5))


@nearest_neighbours.check("GloVe: the 8 nearest words to 'cat' among 400,000")
def _(submission: Any) -> None:
    glove = _glove()
    query = glove["cat"]
    got = submission(glove.vectors, query, 8)
    _check_indices(got, "nearest_neighbours(glove.vectors, glove['cat'], 8)")
    expect_close(got, nearest_neighbours.reference(glove.vectors, query, 8),
                 name="nearest_neighbours(glove.vectors, glove['cat'], 8)", atol=0, rtol=0,
                 mistakes=_neighbour_mistakes(glove.vectors, query, 8))


# ---------------------------------------------------------------------------------------------
# 1.5 Solving analogies

ANALOGIES = [  # (a, b, c, expected): a is to b as c is to expected
    ("man", "king", "woman", "queen"),
    ("paris", "france", "berlin", "germany"),
    ("good", "better", "bad", "worse"),
    ("boy", "girl", "man", "woman"),
    ("france", "paris", "japan", "tokyo"),
]


@exercise("solve_analogy", chapter=CHAPTER, number="1.5", title="Solving analogies")
def solve_analogy(vectors: Any, a: str, b: str, c: str) -> str:
    """"a is to b as c is to ?": the word nearest to unit(b) - unit(a) + unit(c), other than a, b, c."""
    def unit(word: str) -> torch.Tensor:
        v = vectors[word]
        return v / v.norm()

    sims = vectors.similarities(unit(b) - unit(a) + unit(c))
    for word in (a, b, c):
        sims[vectors.index[vectors.normalise(word)]] = -torch.inf
    return vectors.words[int(sims.argmax())]


def _analogy_diagnosis(vectors: Any, a: str, b: str, c: str, got: Any) -> str:
    """Why ``got`` is wrong, when it matches a known mistake."""
    if got in (a, b, c):
        return (f"'{got}' is one of the three query words: the sum b - a + c usually stays closest to b or c, "
                "so leave a, b and c out of the candidates (set their similarity to -inf)")
    reversed_ = vectors.nearest(vectors.unit(a) - vectors.unit(b) + vectors.unit(c), k=1, exclude=(a, b, c))[0][0]
    if got == reversed_:
        return "that is the answer for a - b + c: the analogy needs b - a + c (start from b, remove a, add c)"
    plus_a = vectors.nearest(vectors.unit(a) + vectors.unit(b) - vectors.unit(c), k=1, exclude=(a, b, c))[0][0]
    if got == plus_a:
        return "that is the answer for a + b - c: the analogy needs b - a + c"
    return ""


def _check_analogy(submission: Any, vectors: Any, a: str, b: str, c: str) -> None:
    want = solve_analogy.reference(vectors, a, b, c)
    got = submission(vectors, a, b, c)
    call = f"solve_analogy(glove, {a!r}, {b!r}, {c!r})"
    if not isinstance(got, str):
        hint = ""
        if isinstance(got, (int, torch.Tensor)):
            hint = "\nhint: turn the index of the best row into its word with vectors.words[index]"
        raise AssertionError(f"{call}: expected a word (str), got {type(got).__name__} {got!r:.60}{hint}")
    if got == want:
        return
    why = _analogy_diagnosis(vectors, a, b, c, got)
    raise AssertionError(f"{call}: expected '{want}', got '{got}'" + (f"\nhint: {why}" if why else ""))


@solve_analogy.check("man : king :: woman : ?")
def _(submission: Any) -> None:
    _check_analogy(submission, _glove(), "man", "king", "woman")


@solve_analogy.check("four more: paris:france::berlin, good:better::bad, boy:girl::man, france:paris::japan")
def _(submission: Any) -> None:
    glove = _glove()
    for a, b, c, _expected in ANALOGIES[1:]:
        _check_analogy(submission, glove, a, b, c)


# ---------------------------------------------------------------------------------------------
# 1.6 Removing a direction


@exercise("project_out", chapter=CHAPTER, number="1.6", title="Removing a direction")
def project_out(vectors: Float[torch.Tensor, "*batch d"], direction: Float[torch.Tensor, "d"]) -> Float[torch.Tensor, "*batch d"]:
    """``vectors`` with their component along ``direction`` removed (``direction`` need not have length 1)."""
    unit = direction / direction.norm()
    return vectors - (vectors @ unit)[..., None] * unit


def _projection_mistakes(v: torch.Tensor, g: torch.Tensor) -> list[Mistake]:
    unit = g / g.norm()
    return [
        Mistake("the direction was not scaled to length 1: use unit = direction / direction.norm() "
                "in both places of (v · unit) unit", lambda: v - (v @ g)[..., None] * g),
        Mistake("you divided by the direction's length once; the projection (v · g) g needs |g|² "
                "(or use the unit vector twice)", lambda: v - (v @ g)[..., None] * g / g.norm()),
        Mistake("you subtracted the direction itself; subtract only the part of v along it, (v · unit) unit",
                lambda: v - g),
        Mistake("that is the part along the direction (the projection); return what is left after removing it",
                lambda: (v @ unit)[..., None] * unit),
    ]


@project_out.check("5 random 10-d vectors, a direction of length 3")
def _(submission: Any) -> None:
    g = _gen(3)
    v = torch.randn(5, 10, generator=g)
    direction = torch.randn(10, generator=g)
    direction = 3 * direction / direction.norm()
    expect_close(submission(v.clone(), direction.clone()), project_out.reference(v, direction),
                 name="project_out(v, direction)", mistakes=_projection_mistakes(v, direction))


@project_out.check("the result is perpendicular to the direction; removing twice changes nothing")
def _(submission: Any) -> None:
    g = _gen(4)
    v = torch.randn(3, 4, 6, generator=g)
    direction = 0.2 * torch.randn(6, generator=g)
    once = submission(v, direction)
    expect_close(once @ direction, torch.zeros(3, 4), atol=1e-5, name="project_out(v, direction) @ direction",
                 mistakes=[Mistake(m.hint, lambda m=m: m.compute() @ direction) for m in _projection_mistakes(v, direction)])
    expect_close(submission(once, direction), once, atol=1e-5, name="project_out(project_out(v, d), d)")


@project_out.check("a single vector: [3, 4] without the direction [1, 0] is [0, 4]")
def _(submission: Any) -> None:
    v, d = torch.tensor([3.0, 4.0]), torch.tensor([2.0, 0.0])
    expect_close(submission(v, d), torch.tensor([0.0, 4.0]), name="project_out([3, 4], [2, 0])",
                 mistakes=_projection_mistakes(v, d))


# ---------------------------------------------------------------------------------------------
# 1.7 What removing a direction does

exercise_choice(
    "q_debias", chapter=CHAPTER, number="1.7", title="What removing the gender direction does",
    options={
        "a": "the vectors no longer hold any information about gender",
        "b": "nothing changes: subtracting a projection only rescales the vectors",
        "c": "every word now has zero component along that one direction, but gender can still be read "
             "from other directions, for example from which words are a word's neighbours",
        "d": "analogies can no longer give stereotyped answers",
    },
    answer_hash="648baaf39535c23446d77944c4c273821cfbeda592ec86579740088a25ccd4a1",
    explanation="one direction is gone, but the bias is spread over many directions; the neighbours "
                "still give it away.",
    feedback={
        "a": "look at the neighbour test above: a 10-neighbour vote still tells the two groups apart",
        "b": "the vectors change direction, not just length: their component along the gender direction is now 0",
        "d": "look at the analogy table after the removal: some stereotyped answers are still there",
    },
)


# ---------------------------------------------------------------------------------------------
# 1.8 Reading one word's vector at every layer


@exercise("vectors_at_positions", chapter=CHAPTER, number="1.8", title="One word's vector at every layer")
def vectors_at_positions(resid: Float[torch.Tensor, "layer batch pos d_model"],
                         positions: Int[torch.Tensor, "batch"]) -> Float[torch.Tensor, "layer batch d_model"]:
    """For sentence ``i`` of the batch, the vector at position ``positions[i]``, at every layer."""
    return resid[:, torch.arange(resid.shape[1]), positions]


def _position_mistakes(resid: torch.Tensor, positions: torch.Tensor) -> list[Mistake]:
    batch = torch.arange(resid.shape[1])
    return [
        Mistake("you took the last position of every sentence; take position positions[i] for sentence i "
                "(padding makes the last position a different token)", lambda: resid[:, :, -1]),
        Mistake("you took every position in `positions` for every sentence; pair sentence i with "
                "positions[i] by indexing with torch.arange(batch) and positions together",
                lambda: resid[:, :, positions]),
        Mistake("off by one: you took the token after the word. The positions already count the "
                "<|endoftext|> marker at position 0", lambda: resid[:, batch, positions + 1]),
        Mistake("off by one: you took the token before the word. The positions already count the "
                "<|endoftext|> marker at position 0", lambda: resid[:, batch, positions - 1]),
    ]


@vectors_at_positions.check("3 layers, 4 sentences of 7 positions, positions [2, 1, 5, 3]")
def _(submission: Any) -> None:
    resid = torch.randn(3, 4, 7, 5, generator=_gen(5))
    positions = torch.tensor([2, 1, 5, 3])
    expect_close(submission(resid.clone(), positions.clone()), vectors_at_positions.reference(resid, positions),
                 name="vectors_at_positions(resid, positions)", mistakes=_position_mistakes(resid, positions))


@vectors_at_positions.check("31 layers, 2 sentences, the same position in both")
def _(submission: Any) -> None:
    resid = torch.randn(31, 2, 6, 8, generator=_gen(6))
    positions = torch.tensor([4, 4])
    expect_close(submission(resid, positions), vectors_at_positions.reference(resid, positions),
                 name="vectors_at_positions(resid, positions)", mistakes=_position_mistakes(resid, positions))


# ---------------------------------------------------------------------------------------------
# 1.9 Same sense, different sense


@exercise("sense_similarity", chapter=CHAPTER, number="1.9", title="Same sense, different sense")
def sense_similarity(vecs: Float[torch.Tensor, "layer n d"], senses: Int[torch.Tensor, "n"]) -> Float[torch.Tensor, "2 layer"]:
    """Per layer: mean cosine over pairs of different contexts with the same sense (row 0) and with
    different senses (row 1). A context is never paired with itself."""
    unit = vecs / vecs.norm(dim=-1, keepdim=True)
    cos = unit @ unit.transpose(-1, -2)  # [layer, n, n]
    same = senses[:, None] == senses[None, :]
    other = ~torch.eye(len(senses), dtype=torch.bool)
    return torch.stack([cos[:, same & other].mean(-1), cos[:, ~same].mean(-1)])


def _sense_mistakes(vecs: torch.Tensor, senses: torch.Tensor) -> list[Mistake]:
    unit = vecs / vecs.norm(dim=-1, keepdim=True)
    cos = unit @ unit.transpose(-1, -2)
    dot = vecs @ vecs.transpose(-1, -2)
    same = senses[:, None] == senses[None, :]
    other = ~torch.eye(len(senses), dtype=torch.bool)
    return [
        Mistake("the same-sense average includes each context paired with itself (cosine 1): "
                "leave out the diagonal", lambda: torch.stack([cos[:, same].mean(-1), cos[:, ~same].mean(-1)])),
        Mistake("the two rows are swapped: row 0 is same-sense pairs, row 1 different-sense pairs",
                lambda: torch.stack([cos[:, ~same].mean(-1), cos[:, same & other].mean(-1)])),
        Mistake("these are dot products; normalise the vectors to length 1 first",
                lambda: torch.stack([dot[:, same & other].mean(-1), dot[:, ~same].mean(-1)])),
    ]


@sense_similarity.check("4 layers, 6 contexts, senses [0, 0, 0, 1, 1, 1]")
def _(submission: Any) -> None:
    g = _gen(7)
    vecs = torch.randn(4, 6, 8, generator=g) + torch.tensor([2.0] + [0.0] * 7)
    senses = torch.tensor([0, 0, 0, 1, 1, 1])
    expect_close(submission(vecs.clone(), senses.clone()), sense_similarity.reference(vecs, senses),
                 name="sense_similarity(vecs, senses)", mistakes=_sense_mistakes(vecs, senses))


@sense_similarity.check("three senses in mixed order, groups of 2, 3 and 2")
def _(submission: Any) -> None:
    g = _gen(8)
    vecs = 5 * torch.randn(2, 7, 4, generator=g)
    senses = torch.tensor([2, 0, 1, 0, 1, 2, 1])
    expect_close(submission(vecs, senses), sense_similarity.reference(vecs, senses),
                 name="sense_similarity(vecs, senses)", mistakes=_sense_mistakes(vecs, senses))


@sense_similarity.check("contexts with identical vectors within a sense give 1 in row 0")
def _(submission: Any) -> None:
    base = torch.randn(3, 2, 5, generator=_gen(9))
    vecs = base.repeat_interleave(3, dim=1)  # [3, 6, 5]: each sense's three contexts identical
    senses = torch.tensor([0, 0, 0, 1, 1, 1])
    got = submission(vecs, senses)
    expect_close(got, sense_similarity.reference(vecs, senses), name="sense_similarity(vecs, senses)",
                 mistakes=_sense_mistakes(vecs, senses))


# ---------------------------------------------------------------------------------------------
# 1.10 Angles between many vectors


@exercise("pairwise_angles", chapter=CHAPTER, number="1.10", title="Angles between many vectors")
def pairwise_angles(vectors: Float[torch.Tensor, "n d"]) -> Float[torch.Tensor, "n n"]:
    """The angle in degrees between every pair of rows (0 on the diagonal)."""
    unit = vectors / vectors.norm(dim=-1, keepdim=True)
    cos = (unit @ unit.T).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


def _angle_mistakes(v: torch.Tensor) -> list[Mistake]:
    unit = v / v.norm(dim=-1, keepdim=True)
    cos = (unit @ unit.T).clamp(-1, 1)
    return [
        Mistake("these are radians: convert to degrees (torch.rad2deg, or multiply by 180 / pi)",
                lambda: torch.acos(cos)),
        Mistake("these are cosines, not angles: take torch.acos, then convert to degrees",
                lambda: cos),
        Mistake("the vectors were not scaled to length 1 before the dot products",
                lambda: torch.rad2deg(torch.acos((v @ v.T).clamp(-1, 1)))),
    ]


def _no_nan(got: Any, name: str) -> None:
    if isinstance(got, torch.Tensor) and torch.isnan(got).any():
        raise AssertionError(f"{name}: the result contains NaN ({int(torch.isnan(got).sum())} entries)\n"
                             "hint: rounding can make a cosine 1.0000001, and acos of anything above 1 is NaN; "
                             "clamp the cosines to [-1, 1] before torch.acos")


@pairwise_angles.check("6 random 4-d vectors of different lengths")
def _(submission: Any) -> None:
    g = _gen(10)
    v = torch.randn(6, 4, generator=g) * torch.tensor([[0.5], [1.0], [2.0], [3.0], [0.7], [1.5]])
    got = submission(v.clone())
    _no_nan(got, "pairwise_angles(v)")
    expect_close(got, pairwise_angles.reference(v), name="pairwise_angles(v)", atol=0.05, rtol=1e-4,
                 mistakes=_angle_mistakes(v))


@pairwise_angles.check("axes are 90° apart, a vector and its negative 180°")
def _(submission: Any) -> None:
    v = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.5], [-3.0, 0.0, 0.0]])
    want = torch.tensor([[0.0, 90, 90, 180], [90, 0, 90, 90], [90, 90, 0, 90], [180, 90, 90, 0]])
    got = submission(v)
    _no_nan(got, "pairwise_angles(axes)")
    expect_close(got, want, name="pairwise_angles(axes)", atol=0.05, mistakes=_angle_mistakes(v))


@pairwise_angles.check("300 random 100-d vectors: no NaN, 0 on the diagonal")
def _(submission: Any) -> None:
    v = torch.randn(300, 100, generator=_gen(11))
    got = submission(v)
    _no_nan(got, "pairwise_angles(300 random vectors)")
    expect_close(got, pairwise_angles.reference(v), name="pairwise_angles(300 random vectors)", atol=0.05,
                 mistakes=_angle_mistakes(v))


# ---------------------------------------------------------------------------------------------
# 1.11 More features than dimensions

exercise_choice(
    "q_superposition", chapter=CHAPTER, number="1.11", title="More features than dimensions",
    options={
        "a": "it can hold at most d_model features, one per dimension",
        "b": "it can give far more than d_model features their own nearly perpendicular directions; reading one "
             "feature then picks up a little of the others, which stays small while only a few are present at once",
        "c": "it can hold any number of features with no interference at all, since the directions are perpendicular",
        "d": "nearly perpendicular directions are useless: features must be exactly perpendicular to be read",
    },
    answer_hash="53eff59a11fa0c632b234178fc3d0fb49da846448670742e0ee550d6fb6bc16f",
    explanation="nearly perpendicular directions let a vector hold more features than it has dimensions, "
                "at the price of a little interference.",
    feedback={
        "a": "we just fitted many more directions than dimensions, each nearly perpendicular to every other",
        "c": "the directions are nearly, not exactly, perpendicular: the readout test above shows the interference grow",
        "d": "the readout test above recovered the active features from nearly perpendicular directions",
    },
)
