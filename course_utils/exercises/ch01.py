"""Chapter 01 (tokens and vectors): the exercises and their visible checks.

Eight functions and three conceptual questions:

1.1 count_tokens          1.2 q_leading_space (choice)   1.3 cosine_similarity
1.4 nearest_neighbours    1.5 solve_analogy              1.6 project_out
1.7 q_debias (choice)     1.8 vectors_at_positions       1.9 sense_similarity
1.10 pairwise_angles      1.11 q_superposition (choice)

Each check names the case it tests; known mistakes are recognised and explained. The reference
solutions are the chapter source's solution blocks (``course_utils/solutions/ch01.py``).
"""

from __future__ import annotations

from typing import Any

import torch

from course_utils.exercises import (
    PROPERTY,
    Case,
    Mistake,
    Resource,
    choice,
    exercise,
    expect_close,
    expect_whole_number,
)

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

count_tokens = exercise("count_tokens", chapter=CHAPTER, number="1.1", title="Counting tokens")


def _count_mistakes(text: str) -> list[Mistake]:
    def ids(**kwargs: Any) -> list[int]:
        return _tokenizer()(text, **kwargs)["input_ids"]

    return [
        Mistake("you counted the <|endoftext|> marker that the tokenizer puts in front of the text: "
                "pass add_special_tokens=False (or subtract 1)", lambda: len(ids())),
        Mistake("you counted words (pieces between spaces); a token is often a piece of a word",
                lambda: len(text.split())),
        Mistake("you counted characters; most tokens are several characters long", lambda: len(text)),
        Mistake("you counted distinct tokens; a token that appears twice counts twice",
                lambda: len(set(ids(add_special_tokens=False)))),
    ]


def _count_case(text: str) -> Case:
    call = f"count_tokens(tokenizer, {text!r})"

    def compare(got: Any, want: int) -> None:
        number = expect_whole_number(got, call, hint=COUNT_HINT)
        expect_close(number, want, name=call, atol=0, rtol=0, mistakes=_count_mistakes(text))

    return Case(args=(Resource("tokenizer"), text), call=call, compare=compare)


@count_tokens.check("returns a whole number for one English sentence")
def _() -> Case:
    return _count_case(TOKEN_TEXTS[0])


@count_tokens.check("names, numbers, code, Spanish and Chinese")
def _() -> list[Case]:
    return [_count_case(text) for text in TOKEN_TEXTS[1:]]


# ---------------------------------------------------------------------------------------------
# 1.2 Why " bank" and "bank" are different tokens

choice(
    "q_leading_space", chapter=CHAPTER, number="1.2", title="Two tokens for one word",
    options={
        "a": "the tokenizer lower-cases words at the start of a sentence, and the two ids are the two cases",
        "b": "a token carries the space in front of a word; in running text most words follow a space, "
             "so \" bank\" gets its own entry, and \"bank\" without the space is a separate one",
        "c": "the model adds a space to every noun so that it can tell nouns from verbs",
        "d": "\"bank\" without a space is a rare spelling mistake, so the tokenizer splits it into letters",
    },
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

cosine_similarity = exercise("cosine_similarity", chapter=CHAPTER, number="1.3", title="Cosine similarity")


def _cosine_mistakes(a: torch.Tensor, b: torch.Tensor) -> list[Mistake]:
    dot = (a * b).sum(-1)
    return [
        Mistake("that is the plain dot product: divide it by the lengths of both vectors", lambda: dot),
        Mistake("you divided by the length of a only; divide by the lengths of both vectors",
                lambda: dot / a.norm(dim=-1)),
        Mistake("you divided by the length of b only; divide by the lengths of both vectors",
                lambda: dot / b.norm(dim=-1)),
        Mistake(".norm() without dim= gives one length for the whole tensor, not one per vector: "
                "use .norm(dim=-1)", lambda: dot / (a.norm() * b.norm())),
        Mistake("that is 1 - cosine (the cosine distance); return the cosine itself",
                lambda: 1 - dot / (a.norm(dim=-1) * b.norm(dim=-1))),
        Mistake("you divided by the product of squared lengths; use the lengths themselves (.norm())",
                lambda: dot / ((a * a).sum(-1) * (b * b).sum(-1))),
        Mistake("you summed over the first dimension; the vectors run along the last one (dim=-1)",
                lambda: (a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0))),
    ]


@cosine_similarity.check("8 pairs of random 50-d vectors, shape (8, 50)")
def _() -> Case:
    g = _gen(0)
    a, b = 3 * torch.randn(8, 50, generator=g), torch.randn(8, 50, generator=g)
    return Case(args=(a, b), call="cosine_similarity(a, b)", mistakes=_cosine_mistakes(a, b))


@cosine_similarity.check("parallel, opposite and perpendicular vectors (1-d inputs give a 0-d result)")
def _() -> list[Case]:
    x = torch.tensor([3.0, 4.0, 0.0])
    return [Case(args=(x, other), call=f"cosine_similarity(x, {what})", expected=torch.tensor(want),
                 mistakes=_cosine_mistakes(x, other))
            for other, want, what in [(2 * x, 1.0, "2x"), (-x, -1.0, "-x"),
                                      (torch.tensor([4.0, -3.0, 7.0]), 0.0, "a perpendicular vector")]]


@cosine_similarity.check("one vector against many (broadcasting): a (50,), b (6, 50)")
def _() -> Case:
    g = _gen(1)
    a, b = torch.randn(50, generator=g), 0.1 * torch.randn(6, 50, generator=g)
    return Case(args=(a, b), call="cosine_similarity(a, b)", mistakes=_cosine_mistakes(a, b))


# ---------------------------------------------------------------------------------------------
# 1.4 Nearest neighbours

nearest_neighbours = exercise("nearest_neighbours", chapter=CHAPTER, number="1.4", title="Nearest neighbours")


def _neighbour_mistakes(matrix: Any, query: torch.Tensor, k: int) -> list[Mistake]:
    def cos() -> torch.Tensor:
        m = matrix() if callable(matrix) else matrix
        return (m @ query) / (m.norm(dim=-1) * query.norm())

    def rows() -> torch.Tensor:
        return matrix() if callable(matrix) else matrix

    return [
        Mistake("you ranked by the dot product; long vectors then win whatever their direction. "
                "Divide by the lengths to rank by cosine", lambda: (rows() @ query).topk(k).indices),
        Mistake("you ranked by Euclidean distance; it depends on the vectors' lengths. Rank by cosine",
                lambda: (rows() - query).norm(dim=-1).topk(k, largest=False).indices),
        Mistake("these are the k least similar rows: the most similar come first (largest=True)",
                lambda: cos().topk(k, largest=False).indices),
        Mistake("the order is reversed: put the most similar row first", lambda: cos().topk(k).indices.flip(0)),
    ]


def _indices_compare(call: str, mistakes: list[Mistake]) -> Any:
    def compare(got: Any, want: torch.Tensor) -> None:
        if isinstance(got, torch.Tensor) and got.dtype.is_floating_point:
            raise AssertionError(f"{call}: got floating-point values {got[:4].tolist()}...\n"
                                 "hint: return the row indices (topk(...).indices), not the similarities")
        expect_close(got, want, name=call, atol=0, rtol=0, mistakes=mistakes)

    return compare


@nearest_neighbours.check("200 random rows of very different lengths, k=5")
def _() -> Case:
    g = _gen(2)
    lengths = torch.exp(1.5 * torch.randn(200, 1, generator=g))
    matrix, query = lengths * torch.randn(200, 20, generator=g), torch.randn(20, generator=g)
    call = "nearest_neighbours(matrix, query, 5)"
    return Case(args=(matrix, query, 5), call=call,
                compare=_indices_compare(call, _neighbour_mistakes(matrix, query, 5)))


@nearest_neighbours.check("GloVe: the 8 nearest words to 'cat' among 400,000")
def _() -> Case:
    query = _glove()["cat"]
    call = "nearest_neighbours(glove.vectors, glove['cat'], 8)"
    return Case(args=(Resource("glove", attr="vectors"), query, 8), call=call,
                compare=_indices_compare(call, _neighbour_mistakes(lambda: _glove().vectors, query, 8)))


# ---------------------------------------------------------------------------------------------
# 1.5 Solving analogies

ANALOGIES = [  # (a, b, c, expected): a is to b as c is to expected
    ("man", "king", "woman", "queen"),
    ("paris", "france", "berlin", "germany"),
    ("good", "better", "bad", "worse"),
    ("boy", "girl", "man", "woman"),
    ("france", "paris", "japan", "tokyo"),
    ("italy", "rome", "spain", "madrid"),
]

solve_analogy = exercise("solve_analogy", chapter=CHAPTER, number="1.5", title="Solving analogies")


def _analogy_diagnosis(a: str, b: str, c: str, got: str) -> str:
    """Why ``got`` is wrong, when it matches a known mistake."""
    vectors = _glove()
    if got in (a, b, c):
        return (f"'{got}' is one of the three query words: the sum b - a + c usually stays closest to b or c, "
                "so leave a, b and c out of the candidates (set their similarity to -inf)")
    variants = [
        (vectors.unit(a) - vectors.unit(b) + vectors.unit(c),
         "that is the answer for a - b + c: the analogy needs b - a + c (start from b, remove a, add c)"),
        (vectors.unit(a) + vectors.unit(b) - vectors.unit(c), "that is the answer for a + b - c: the analogy needs b - a + c"),
        (vectors[b] - vectors[a] + vectors[c],
         "that is the answer with the raw vectors: scale each of a, b and c to length 1 first, so that "
         "a frequent word's long vector does not outweigh the others"),
    ]
    for vector, why in variants:
        if got == vectors.nearest(vector, k=1, exclude=(a, b, c))[0][0]:
            return why
    return ""


def _analogy_case(a: str, b: str, c: str) -> Case:
    call = f"solve_analogy(glove, {a!r}, {b!r}, {c!r})"

    def compare(got: Any, want: str) -> None:
        if type(got) is not str:
            hint = ("\nhint: turn the index of the best row into its word with vectors.words[index]"
                    if isinstance(got, (int, torch.Tensor)) else "")
            raise AssertionError(f"{call}: expected a word (str), got {type(got).__name__} {got!r:.60}{hint}")
        if got != want:
            why = _analogy_diagnosis(a, b, c, got)
            raise AssertionError(f"{call}: expected '{want}', got '{got}'" + (f"\nhint: {why}" if why else ""))

    return Case(args=(Resource("glove"), a, b, c), call=call, compare=compare)


@solve_analogy.check("man : king :: woman : ?")
def _() -> Case:
    return _analogy_case("man", "king", "woman")


@solve_analogy.check("five more: paris:france::berlin, good:better::bad, boy:girl::man, france:paris::japan, "
                     "italy:rome::spain")
def _() -> list[Case]:
    return [_analogy_case(a, b, c) for a, b, c, _ in ANALOGIES[1:]]


# ---------------------------------------------------------------------------------------------
# 1.6 Removing a direction

project_out = exercise("project_out", chapter=CHAPTER, number="1.6", title="Removing a direction")


def _projection_mistakes(v: torch.Tensor, g: torch.Tensor) -> list[Mistake]:
    unit = g / g.norm()
    return [
        Mistake("the direction was not scaled to length 1: use unit = direction / direction.norm() "
                "in both places of (v · unit) unit", lambda: v - (v @ g)[..., None] * g),
        Mistake("you divided by the direction's length once; the projection (v · g) g needs |g|² "
                "(or use the unit vector twice)", lambda: v - (v @ g)[..., None] * g / g.norm()),
        Mistake("the sign is wrong: you added the part along the direction instead of subtracting it",
                lambda: v + (v @ unit)[..., None] * unit),
        Mistake("you subtracted the direction itself; subtract only the part of v along it, (v · unit) unit",
                lambda: v - g),
        Mistake("that is the part along the direction (the projection); return what is left after removing it",
                lambda: (v @ unit)[..., None] * unit),
    ]


@project_out.check("5 random 10-d vectors, a direction of length 3")
def _() -> Case:
    g = _gen(3)
    v = torch.randn(5, 10, generator=g)
    direction = torch.randn(10, generator=g)
    direction = 3 * direction / direction.norm()
    return Case(args=(v, direction), call="project_out(v, direction)", mistakes=_projection_mistakes(v, direction))


@project_out.check("the result is perpendicular to the direction; a perpendicular vector is left as it is")
def _() -> list[Case]:
    g = _gen(4)
    v = torch.randn(3, 4, 6, generator=g)
    direction = 0.2 * torch.randn(6, generator=g)
    unit = direction / direction.norm()
    perpendicular = v - (v @ unit)[..., None] * unit

    def perpendicular_to_direction(got: Any, _: Any) -> None:
        if not isinstance(got, torch.Tensor) or got.shape != v.shape:
            raise AssertionError(f"project_out(v, direction): expected a tensor of shape {tuple(v.shape)}, "
                                 f"got {type(got).__name__} {tuple(getattr(got, 'shape', ()))}")
        expect_close(got @ direction, torch.zeros(3, 4), atol=1e-5, name="project_out(v, direction) @ direction",
                     mistakes=[Mistake(m.hint, lambda m=m: m.compute() @ direction)
                               for m in _projection_mistakes(v, direction)])

    return [Case(args=(v, direction), call="project_out(v, direction)", expected=PROPERTY,
                 compare=perpendicular_to_direction),
            Case(args=(perpendicular, direction), call="project_out(w, direction) where w is already perpendicular",
                 expected=perpendicular, atol=1e-5, mistakes=_projection_mistakes(perpendicular, direction))]


@project_out.check("a single vector: [3, 4] without the direction [2, 0] is [0, 4]")
def _() -> Case:
    v, d = torch.tensor([3.0, 4.0]), torch.tensor([2.0, 0.0])
    return Case(args=(v, d), call="project_out([3, 4], [2, 0])", expected=torch.tensor([0.0, 4.0]),
                mistakes=_projection_mistakes(v, d))


# ---------------------------------------------------------------------------------------------
# 1.7 What removing a direction does

choice(
    "q_debias", chapter=CHAPTER, number="1.7", title="What removing the gender direction does",
    options={
        "a": "the vectors no longer hold any information about gender",
        "b": "nothing changes: subtracting a projection only rescales the vectors",
        "c": "every word now has zero component along that one direction, but gender can still be read "
             "from other directions, for example from which words are a word's neighbours",
        "d": "analogies can no longer give stereotyped answers",
    },
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

vectors_at_positions = exercise("vectors_at_positions", chapter=CHAPTER, number="1.8",
                                title="One word's vector at every layer")


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
def _() -> Case:
    resid = torch.randn(3, 4, 7, 5, generator=_gen(5))
    positions = torch.tensor([2, 1, 5, 3])
    return Case(args=(resid, positions), call="vectors_at_positions(resid, positions)",
                mistakes=_position_mistakes(resid, positions))


@vectors_at_positions.check("31 layers, 2 sentences, the same position in both")
def _() -> Case:
    resid = torch.randn(31, 2, 6, 8, generator=_gen(6))
    positions = torch.tensor([4, 4])
    return Case(args=(resid, positions), call="vectors_at_positions(resid, positions)",
                mistakes=_position_mistakes(resid, positions))


# ---------------------------------------------------------------------------------------------
# 1.9 Same sense, different sense

sense_similarity = exercise("sense_similarity", chapter=CHAPTER, number="1.9", title="Same sense, different sense")


def _sense_mistakes(vecs: torch.Tensor, senses: torch.Tensor) -> list[Mistake]:
    unit = vecs / vecs.norm(dim=-1, keepdim=True)
    cos = unit @ unit.transpose(-1, -2)
    dot = vecs @ vecs.transpose(-1, -2)
    whole = vecs / vecs.norm()
    cos_whole = whole @ whole.transpose(-1, -2)
    same = senses[:, None] == senses[None, :]
    other = ~torch.eye(len(senses), dtype=torch.bool)
    return [
        Mistake("the same-sense average includes each context paired with itself (cosine 1): "
                "leave out the diagonal", lambda: torch.stack([cos[:, same].mean(-1), cos[:, ~same].mean(-1)])),
        Mistake("the two rows are swapped: row 0 is same-sense pairs, row 1 different-sense pairs",
                lambda: torch.stack([cos[:, ~same].mean(-1), cos[:, same & other].mean(-1)])),
        Mistake("these are dot products; normalise the vectors to length 1 first",
                lambda: torch.stack([dot[:, same & other].mean(-1), dot[:, ~same].mean(-1)])),
        Mistake(".norm() without dim= divides every vector by one length for the whole tensor: use "
                ".norm(dim=-1, keepdim=True)",
                lambda: torch.stack([cos_whole[:, same & other].mean(-1), cos_whole[:, ~same].mean(-1)])),
    ]


@sense_similarity.check("4 layers, 6 contexts, senses [0, 0, 0, 1, 1, 1]")
def _() -> Case:
    g = _gen(7)
    vecs = torch.randn(4, 6, 8, generator=g) + torch.tensor([2.0] + [0.0] * 7)
    senses = torch.tensor([0, 0, 0, 1, 1, 1])
    return Case(args=(vecs, senses), call="sense_similarity(vecs, senses)", mistakes=_sense_mistakes(vecs, senses))


@sense_similarity.check("three senses in mixed order, groups of 2, 3 and 2")
def _() -> Case:
    vecs = 5 * torch.randn(2, 7, 4, generator=_gen(8))
    senses = torch.tensor([2, 0, 1, 0, 1, 2, 1])
    return Case(args=(vecs, senses), call="sense_similarity(vecs, senses)", mistakes=_sense_mistakes(vecs, senses))


@sense_similarity.check("contexts with identical vectors within a sense give 1 in row 0")
def _() -> Case:
    base = torch.randn(3, 2, 5, generator=_gen(9))
    vecs = base.repeat_interleave(3, dim=1)  # [3, 6, 5]: each sense's three contexts identical
    senses = torch.tensor([0, 0, 0, 1, 1, 1])
    return Case(args=(vecs, senses), call="sense_similarity(vecs, senses)", mistakes=_sense_mistakes(vecs, senses))


# ---------------------------------------------------------------------------------------------
# 1.10 Angles between many vectors

pairwise_angles = exercise("pairwise_angles", chapter=CHAPTER, number="1.10", title="Angles between many vectors")


def _angle_mistakes(v: torch.Tensor) -> list[Mistake]:
    unit = v / v.norm(dim=-1, keepdim=True)
    cos = (unit @ unit.T).clamp(-1, 1)
    whole = v / v.norm()
    return [
        Mistake("these are radians: convert to degrees (torch.rad2deg, or multiply by 180 / pi)",
                lambda: torch.acos(cos)),
        Mistake("these are cosines, not angles: take torch.acos, then convert to degrees", lambda: cos),
        Mistake("the vectors were not scaled to length 1 before the dot products",
                lambda: torch.rad2deg(torch.acos((v @ v.T).clamp(-1, 1)))),
        Mistake(".norm() without dim= gives one length for the whole matrix; scale each row with "
                ".norm(dim=-1, keepdim=True)", lambda: torch.rad2deg(torch.acos((whole @ whole.T).clamp(-1, 1)))),
    ]


def _angles_compare(call: str, v: torch.Tensor) -> Any:
    def compare(got: Any, want: Any) -> None:
        if isinstance(got, torch.Tensor) and got.dtype.is_floating_point and torch.isnan(got).any():
            raise AssertionError(f"{call}: the result contains NaN ({int(torch.isnan(got).sum())} entries)\n"
                                 "hint: rounding can make a cosine 1.0000001, and acos of anything above 1 is NaN; "
                                 "clamp the cosines to [-1, 1] before torch.acos")
        expect_close(got, want, name=call, atol=0.05, rtol=1e-4, mistakes=_angle_mistakes(v))

    return compare


@pairwise_angles.check("6 random 4-d vectors of different lengths")
def _() -> Case:
    v = torch.randn(6, 4, generator=_gen(10)) * torch.tensor([[0.5], [1.0], [2.0], [3.0], [0.7], [1.5]])
    return Case(args=(v,), call="pairwise_angles(v)", compare=_angles_compare("pairwise_angles(v)", v))


@pairwise_angles.check("axes are 90° apart, a vector and its negative 180°")
def _() -> Case:
    v = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.5], [-3.0, 0.0, 0.0]])
    want = torch.tensor([[0.0, 90, 90, 180], [90, 0, 90, 90], [90, 90, 0, 90], [180, 90, 90, 0]])
    return Case(args=(v,), call="pairwise_angles(axes)", expected=want,
                compare=_angles_compare("pairwise_angles(axes)", v))


@pairwise_angles.check("300 random 100-d vectors: no NaN, 0 on the diagonal")
def _() -> Case:
    v = torch.randn(300, 100, generator=_gen(11))
    call = "pairwise_angles(300 random vectors)"
    return Case(args=(v,), call=call, compare=_angles_compare(call, v))


# ---------------------------------------------------------------------------------------------
# 1.11 More features than dimensions

choice(
    "q_superposition", chapter=CHAPTER, number="1.11", title="More features than dimensions",
    options={
        "a": "it can hold at most d_model features, one per dimension",
        "b": "it can give far more than d_model features their own nearly perpendicular directions; reading one "
             "feature then picks up a little of the others, which stays small while only a few are present at once",
        "c": "it can hold any number of features with no interference at all, since the directions are perpendicular",
        "d": "nearly perpendicular directions are useless: features must be exactly perpendicular to be read",
    },
    explanation="nearly perpendicular directions let a vector hold more features than it has dimensions, "
                "at the price of a little interference.",
    feedback={
        "a": "we just fitted many more directions than dimensions, each nearly perpendicular to every other",
        "c": "the directions are nearly, not exactly, perpendicular: the readout test above shows the interference grow",
        "d": "the readout test above recovered the active features from nearly perpendicular directions",
    },
)
