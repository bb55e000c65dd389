"""Chapter 00 (start here): a demonstration of checks, a numeric answer, a conceptual question, a function.

The reference solutions are the chapter source's solution blocks (``course_utils/solutions/ch00.py``).
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float

from course_utils.exercises import (
    PROPERTY,
    Case,
    Mistake,
    choice,
    exercise,
    expect,
    expect_close,
    expect_whole_number,
)

CHAPTER = "00"


def _model() -> Any:
    from course_utils.models import load_model

    return load_model()


# ---------------------------------------------------------------------------------------------
# Demonstration (not graded): what a passing and a failing check look like


def _softmax(scores: Float[torch.Tensor, "batch d_vocab"]) -> Float[torch.Tensor, "batch d_vocab"]:
    """The demonstration's reference: each row of scores turned into probabilities."""
    return torch.softmax(scores, dim=-1)


demo_softmax = exercise("demo_softmax", chapter=CHAPTER, number="demo", title="Softmax (demonstration)",
                        graded=False, reference=_softmax)


@demo_softmax.check("rows of random scores, shape (3, 5)")
def _() -> Case:
    scores = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    return Case(args=(scores,), call="softmax(scores)", mistakes=[
        Mistake("you divided the raw scores by their sum: exponentiate them first",
                lambda: scores / scores.sum(-1, keepdim=True)),
        Mistake("you normalised over the wrong dimension: each row (dim=-1) should sum to 1",
                lambda: torch.softmax(scores, dim=0)),
    ])


@demo_softmax.check("very large scores do not overflow")
def _() -> Case:
    return Case(args=(torch.tensor([[1000.0, 999.0, 0.0]]),), call="softmax([[1000, 999, 0]])")


# ---------------------------------------------------------------------------------------------
# Exercise 0.1: count the parameters (a numeric answer)

n_params_answer = exercise("n_params_answer", chapter=CHAPTER, number="0.1", title="Count the parameters",
                           kind="value")
COUNT_HINT = "a parameter count is an int; int(x) converts a float or a one-element tensor"


@n_params_answer.check("is a whole number")
def _() -> Case:
    return Case(call="n_params_answer", expected=PROPERTY,
                compare=lambda got, _: expect_whole_number(got, "n_params_answer", hint=COUNT_HINT))


def _compare_count(got: Any, want: int) -> None:
    number = expect_whole_number(got, "n_params_answer", hint=COUNT_HINT)
    expect(not (0 < number < 1e6 and abs(number * 1e6 - want) < 0.01 * want),
           f"n_params_answer: {number} looks like a count in millions\nhint: give the exact count, every digit")
    expect_close(number, want, name="n_params_answer", atol=0, rtol=0, mistakes=[
        Mistake("the unembedding W_U shares its numbers with the embedding W_E (tied weights): "
                "count them once, as model.parameters() does", lambda: want + _model().W_E.numel()),
        Mistake("that is the number of weight tensors; add up their sizes with p.numel()",
                lambda: len(list(_model().parameters()))),
    ])


@n_params_answer.check("matches the parameter count of the loaded model")
def _() -> Case:
    return Case(call="n_params_answer", compare=_compare_count)


# ---------------------------------------------------------------------------------------------
# Exercise 0.2: what the model outputs (a multiple-choice question)

choice(
    "q_model_output", chapter=CHAPTER, number="0.2", title="What comes out of the model",
    options={
        "a": "one token: the word the model has chosen to come next",
        "b": "at every position, one score per vocabulary token; softmax turns them into a probability "
             "distribution over the next token",
        "c": "a probability distribution over the next token, but only at the last position",
        "d": "one vector of d_model numbers that stands for the meaning of the whole sentence",
    },
    explanation="the logits have shape [batch, pos, d_vocab]: a guess for the next token at every position.",
    feedback={
        "a": "choosing one token is a separate step (sampling or taking the top one); look at the shape of the logits",
        "c": "we only looked at the last position, but look at the shape of the logits: is there a row per position?",
        "d": "d_model is the width of the vectors inside the model; the output is as wide as the vocabulary",
    },
)


# ---------------------------------------------------------------------------------------------
# Exercise 0.3: the distribution over the next token (a function)

next_token_probs = exercise("next_token_probs", chapter=CHAPTER, number="0.3", title="Next-token probabilities")


@next_token_probs.check("random logits, batch 2, pos 4, d_vocab 10")
def _() -> Case:
    logits = torch.randn(2, 4, 10, generator=torch.Generator().manual_seed(0))
    return Case(args=(logits,), call="next_token_probs(logits)", mistakes=[
        Mistake("you returned a distribution for every position; keep only the last one, logits[:, -1]",
                lambda: logits.softmax(dim=-1)),
        Mistake("that is the first position; the next token comes after the last one, index -1",
                lambda: logits[:, 0].softmax(dim=-1)),
        Mistake("softmax went over the wrong dimension: each row (dim=-1, the vocabulary) should sum to 1",
                lambda: logits[:, -1].softmax(dim=0)),
        Mistake("these are the raw scores (logits); apply softmax to turn them into probabilities",
                lambda: logits[:, -1]),
    ])


def _compare_probs(got: Any, want: torch.Tensor) -> None:
    expect_close(got, want, name="next_token_probs(logits)")
    expect(bool((got >= 0).all()), "next_token_probs(logits): some probabilities are negative")


@next_token_probs.check("probabilities are non-negative and sum to 1 (batch 3, pos 1, d_vocab 49152)")
def _() -> Case:
    logits = 3 * torch.randn(3, 1, 49152, generator=torch.Generator().manual_seed(1))
    return Case(args=(logits,), call="next_token_probs(logits)", compare=_compare_probs)
