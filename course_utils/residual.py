"""Reading the residual stream: every token's vector after every layer, and one word's vector in context.

>>> from course_utils import load_model
>>> model = load_model()
>>> tokens = model.to_tokens(["The bank of the river.", "Cash from the bank."])
>>> residual_stream(model, tokens).shape[0] == model.cfg.n_layers + 1
True
>>> word_positions(model.tokenizer, tokens, "bank").tolist()
[2, 5]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float, Int

from course_utils.errors import OneLineError

__all__ = ["WordNotFound", "context_vectors", "real_token_mask", "residual_names", "residual_stream",
           "word_positions"]


class WordNotFound(OneLineError, ValueError):
    """A sentence that does not hold the word exactly once (as one token)."""


def residual_names(n_layers: int) -> list[str]:
    """Hook names of the residual stream: the embedding (before block 0), then after each block."""
    return ["blocks.0.hook_resid_pre"] + [f"blocks.{layer}.hook_resid_post" for layer in range(n_layers)]


@torch.no_grad()
def residual_stream(model: Any, tokens: Int[torch.Tensor, "batch pos"]) -> Float[torch.Tensor, "layer batch pos d_model"]:
    """The residual stream of every token at every layer; index 0 is the embedding, L is after block L-1.

    Only the residual stream is cached, and only the last position's logits are computed, so a batch
    of sentences costs little memory beyond the result itself.
    """
    names = residual_names(model.cfg.n_layers)
    wanted = set(names)
    _, cache = model.run_with_cache(tokens, names_filter=lambda name: name in wanted, logits_to_keep=1)
    return torch.stack([cache[name] for name in names])


def word_positions(tokenizer: Any, tokens: Int[torch.Tensor, "batch pos"], word: str) -> Int[torch.Tensor, "batch"]:
    """The position of the token ``' word'`` (with its leading space) in each row of ``tokens``.

    Raises:
        WordNotFound: ``' word'`` is several tokens, or a row does not hold it exactly once.
    """
    ids = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise WordNotFound(f"' {word}' is {len(ids)} tokens for this tokenizer; pick a word that is one token")
    is_word = tokens == ids[0]  # [batch, pos]
    counts = is_word.sum(dim=1)
    if not bool((counts == 1).all()):
        bad = int((counts != 1).nonzero()[0])
        raise WordNotFound(f"sentence {bad} holds ' {word}' {int(counts[bad])} times; each must hold it exactly once")
    return is_word.int().argmax(dim=1)


def real_token_mask(tokenizer: Any, tokens: Int[torch.Tensor, "batch pos"]) -> torch.Tensor:
    """True where ``tokens`` holds a token of the text: not the start marker (position 0), not padding."""
    real = tokens != tokenizer.pad_token_id
    real[:, 0] = False
    return real


def context_vectors(model: Any, sentences: Sequence[str], word: str, *, offset: int = 0,
                    centre: bool = True) -> Float[torch.Tensor, "layer n d_model"]:
    """The vector of ``' word'`` in each sentence at every layer (or of the token ``offset`` places away).

    ``offset=-1`` reads the token just before the word: a control that sees the same context but is
    not the word. With ``centre``, each layer's average over every real token of the batch is
    subtracted: vectors in a layer share a large common part that hides their differences.
    """
    tokens = model.to_tokens(list(sentences))  # [batch, pos], padded on the right
    resid = residual_stream(model, tokens)  # [layer, batch, pos, d_model]
    positions = word_positions(model.tokenizer, tokens, word) + offset
    if bool((positions < 1).any()):
        raise WordNotFound(f"offset {offset} reaches before the first word of a sentence")
    picked = torch.stack([resid[:, i, int(p)] for i, p in enumerate(positions)], dim=1)  # [layer, batch, d]
    if centre:
        picked = picked - resid[:, real_token_mask(model.tokenizer, tokens)].mean(dim=1)[:, None, :]
    return picked
