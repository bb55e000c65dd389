"""Chapter 04 (training): the exercises and their visible checks.

Eight functions or values and five conceptual questions:

4.1 token_losses          4.2 perplexity              4.3 q_bits (choice)
4.4 unigram_loss          4.5 backprop_by_hand        4.6 numerical_gradient
4.7 fit_line              4.8 q_zero_grad (choice)    4.9 q_loss_floor (choice)
4.10 q_induction_data (choice)                        4.11 q_kaplan (choice)
4.12 training_flops       4.13 gpt3_flops (a value)

Each check names the case it tests; known mistakes (no shift, bits instead of nats, a sum instead
of a mean, a missing ``zero_grad``, ...) are recognised and explained. The reference solutions are
the chapter source's solution blocks (``course_utils/solutions/ch04.py``).

Two resources are registered here: ``course_sentence`` (the course model's logits and tokens for a
sentence, so that a check can compare with the model's own loss) and ``scalar_function`` (a few
functions of a vector with known gradients, for 4.6: a function cannot travel as plain data).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F

from course_utils.exercises import (
    PROPERTY,
    Case,
    Mistake,
    Resource,
    choice,
    exercise,
    expect,
    expect_close,
    resource,
)

CHAPTER = "04"
SENTENCE = "The capital of France is Paris, and the capital of Poland is Warsaw."


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _reference(exercise_id: str) -> Callable[..., Any]:
    """The chapter's reference solution (a known mistake is often "the reference, changed"); it raises
    when the reference is withheld, and a mistake that raises is simply not reported."""
    from course_utils.exercises import get_exercise

    return get_exercise(exercise_id).reference_function()


def _as_float(got: Any, name: str) -> float:
    """``got`` as a Python float (a number or a one-element tensor), else an AssertionError that says so."""
    if isinstance(got, bool):
        raise AssertionError(f"{name}: expected a number, got the boolean {got!r}")
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        return float(got.item())
    if isinstance(got, (int, float)):
        return float(got)
    raise AssertionError(f"{name}: expected a number (a float), got {type(got).__name__}\n"
                         "hint: a one-element tensor becomes a number with .item() or float(...)")


# ---------------------------------------------------------------------------------------------
# Resources


@resource("course_sentence")
def course_sentence(text: str = SENTENCE) -> SimpleNamespace:
    """The course model on ``text``: ``.logits`` [1, pos, d_vocab], ``.tokens`` [1, pos], ``.loss`` (its own)."""
    from course_utils.models import load_model

    model = load_model()
    tokens = model.to_tokens(text)
    with torch.no_grad():
        logits = model(tokens).float()
        loss = float(model(tokens, return_type="loss"))
    return SimpleNamespace(logits=logits, tokens=tokens, loss=loss)


_FUNCTIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], str]] = {
    "cubic": (lambda v: (v ** 3).sum() + v[0] * v[1], "sum(v^3) + v0 v1"),
    "log_sum_exp": (lambda v: torch.logsumexp(v, dim=0), "log(sum(exp(v)))"),
    "wave": (lambda v: (torch.sin(3 * v) * v).sum(), "sum(sin(3 v) v)"),
}


@resource("scalar_function")
def scalar_function(which: str = "cubic") -> Callable[[torch.Tensor], torch.Tensor]:
    """A function of one vector that returns a 0-d tensor (``"cubic"``, ``"log_sum_exp"``, ``"wave"``)."""
    return _FUNCTIONS[which][0]


# ---------------------------------------------------------------------------------------------
# 4.1 The loss of every token

token_losses = exercise("token_losses", chapter=CHAPTER, number="4.1", title="The loss of every token")


def token_loss_mistakes(logits: torch.Tensor, tokens: torch.Tensor) -> list[Mistake]:
    """Known wrong answers of 4.1 on these inputs (also used by the hidden checks)."""
    def right() -> torch.Tensor:  # what F.cross_entropy gives, position by position
        predicting = logits[:, :-1].double()
        return F.cross_entropy(predicting.transpose(1, 2), tokens[:, 1:], reduction="none")

    def picked(values: torch.Tensor) -> torch.Tensor:
        return values.gather(-1, tokens[:, 1:, None])[..., 0]

    return [
        Mistake("no shift: the logits at position t predict token t + 1, so compare logits[:, :-1] "
                "with tokens[:, 1:]",
                lambda: -logits.double().log_softmax(-1).gather(-1, tokens[..., None])[..., 0][:, :-1]),
        Mistake("these are bits (log base 2); the model's loss, and this exercise, use the natural log (nats)",
                lambda: right() / math.log(2)),
        Mistake("the sign is wrong: the loss is MINUS the log-probability, so it is positive", lambda: -right()),
        Mistake("these are probabilities; the loss is -log(probability)",
                lambda: picked(logits[:, :-1].double().softmax(-1))),
        Mistake("you used the raw logits: turn them into log-probabilities with log_softmax first",
                lambda: -picked(logits[:, :-1].double())),
        Mistake("the log-probabilities were taken over the wrong dimension: the vocabulary is the last one (dim=-1)",
                lambda: -picked(logits[:, :-1].double().log_softmax(1))),
    ]


def _random_logits(seed: int, batch: int, pos: int, d_vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    return 3 * torch.randn(batch, pos, d_vocab, generator=g), torch.randint(0, d_vocab, (batch, pos), generator=g)


@token_losses.check("random logits: batch 2, 7 positions, a vocabulary of 10")
def _() -> Case:
    logits, tokens = _random_logits(0, 2, 7, 10)
    return Case(args=(logits, tokens), call="token_losses(logits, tokens)",
                mistakes=token_loss_mistakes(logits, tokens))


@token_losses.check("random logits: batch 3, 12 positions, a vocabulary of 1000")
def _() -> Case:
    logits, tokens = _random_logits(1, 3, 12, 1000)
    return Case(args=(logits, tokens), call="token_losses(logits, tokens)",
                mistakes=token_loss_mistakes(logits, tokens))


def _mean_is_model_loss(got: Any, want: float) -> None:
    name = "token_losses(course model logits, tokens).mean()"
    expect(isinstance(got, torch.Tensor) and got.shape[:1] == (1,),
           f"{name}: expected a tensor of shape [1, pos - 1], got {type(got).__name__} "
           f"{tuple(got.shape) if isinstance(got, torch.Tensor) else ''}")
    expect_close(float(got.double().mean()), want, name=name, atol=1e-3, rtol=1e-3)


@token_losses.check("the course model on the chapter's sentence: the mean is model(tokens, return_type='loss')")
def _() -> Case:
    return Case(args=(Resource("course_sentence", attr="logits"), Resource("course_sentence", attr="tokens")),
                call="token_losses(logits, tokens) on the course model", expected=PROPERTY,
                compare=lambda got, _: _mean_is_model_loss(got, Resource("course_sentence").resolve().loss))


# ---------------------------------------------------------------------------------------------
# 4.2 Perplexity

perplexity = exercise("perplexity", chapter=CHAPTER, number="4.2", title="Perplexity")


def perplexity_mistakes(losses: torch.Tensor) -> list[Mistake]:
    """Known wrong answers of 4.2."""
    return [
        Mistake("you averaged exp(loss) over the tokens: average the losses first, then exponentiate",
                lambda: float(losses.double().exp().mean())),
        Mistake("2 ** loss is the perplexity of losses in bits; these are in nats: use exp",
                lambda: float(2 ** losses.double().mean())),
        Mistake("exp of the SUM of the losses is the inverse probability of the whole text; perplexity "
                "uses the mean (one token's worth)", lambda: float(losses.double().sum().exp())),
        Mistake("that is the mean loss itself; perplexity is exp(mean loss)", lambda: float(losses.double().mean())),
    ]


@perplexity.check("8 losses around 2 nats")
def _() -> Case:
    losses = 2 + 0.5 * torch.randn(8, generator=_gen(2)).abs()
    return Case(args=(losses,), call="perplexity(losses)", mistakes=perplexity_mistakes(losses))


@perplexity.check("30 losses between 0 and 6 nats")
def _() -> Case:
    losses = 6 * torch.rand(30, generator=_gen(3))
    return Case(args=(losses,), call="perplexity(losses)", mistakes=perplexity_mistakes(losses))


# ---------------------------------------------------------------------------------------------
# 4.3 Bits and nats

choice(
    "q_bits", chapter=CHAPTER, number="4.3", title="Bits and nats",
    options={
        "a": "2.08 bits: a loss is the same number in any unit",
        "b": "3.0 bits",
        "c": "1.44 bits",
        "d": "7.9 bits",
    },
    explanation="a bit is ln 2 = 0.693 nats, so 2.08 nats are 2.08 / 0.693 = 3.0 bits: the model is as unsure "
                "as a fair choice among 2**3 = e**2.08 = 8 tokens.",
    feedback={
        "a": "the unit changes the number: log base 2 and log base e of the same probability differ by a factor ln 2",
        "c": "that is 2.08 x ln 2: you converted the wrong way round (a nat is worth more than a bit)",
        "d": "that is e**2.08, the perplexity, not the loss in bits",
    },
)


# ---------------------------------------------------------------------------------------------
# 4.4 The unigram baseline

unigram_loss = exercise("unigram_loss", chapter=CHAPTER, number="4.4", title="The unigram baseline")


def unigram_mistakes(train_tokens: torch.Tensor, eval_tokens: torch.Tensor, d_vocab: int) -> list[Mistake]:
    """Known wrong answers of 4.4 (an unsmoothed answer is infinite and caught before these)."""
    def reference(fitted_on: torch.Tensor) -> float:
        return float(_reference("unigram_loss")(fitted_on, eval_tokens, d_vocab))

    train_counts = torch.bincount(train_tokens, minlength=d_vocab).double()
    return [
        Mistake("you counted the evaluation tokens: the baseline must be fitted on the training tokens only",
                lambda: reference(eval_tokens)),
        Mistake("that is log(d_vocab), the uniform baseline: count how often each token occurs in training",
                lambda: math.log(d_vocab)),
        Mistake("these are bits: use the natural log", lambda: reference(train_tokens) / math.log(2)),
        Mistake("you summed the losses of the evaluation tokens; the baseline is a mean per token",
                lambda: reference(train_tokens) * len(eval_tokens)),
        Mistake("you smoothed with the counts of the training tokens only (d_vocab missing from the total): "
                "add 1 to every one of the d_vocab counts",
                lambda: float(-((train_counts + 1) / len(train_tokens)).log()[eval_tokens].mean())),
    ]


def _unigram_compare(call: str, mistakes: list[Mistake]) -> Callable[[Any, Any], None]:
    def compare(got: Any, want: float) -> None:
        value = _as_float(got, call)
        expect(math.isfinite(value),
               f"{call}: got {value}\nhint: a token that never occurs in training gets probability 0 and an "
               "infinite loss: add one to every count (add-one smoothing) before dividing")
        expect_close(value, want, name=call, mistakes=mistakes)

    return compare


@unigram_loss.check("50 kinds of training tokens; the evaluation tokens include 10 never seen in training")
def _() -> Case:
    train_tokens = torch.randint(0, 50, (500,), generator=_gen(4))
    eval_tokens = torch.randint(0, 60, (200,), generator=_gen(5))
    call = "unigram_loss(train_tokens, eval_tokens, d_vocab=60)"
    return Case(args=(train_tokens, eval_tokens, 60), call=call,
                compare=_unigram_compare(call, unigram_mistakes(train_tokens, eval_tokens, 60)))


@unigram_loss.check("a skewed distribution: token 0 is half of the training tokens")
def _() -> Case:
    g = _gen(6)
    train_tokens = torch.cat([torch.zeros(300, dtype=torch.long), torch.randint(1, 20, (300,), generator=g)])
    eval_tokens = torch.randint(0, 20, (100,), generator=g)
    call = "unigram_loss(train_tokens, eval_tokens, d_vocab=20)"
    return Case(args=(train_tokens, eval_tokens, 20), call=call,
                compare=_unigram_compare(call, unigram_mistakes(train_tokens, eval_tokens, 20)))


# ---------------------------------------------------------------------------------------------
# 4.5 Backpropagation by hand

backprop_by_hand = exercise("backprop_by_hand", chapter=CHAPTER, number="4.5", title="Backpropagation by hand")
PARAMETERS = ("w1", "b1", "w2", "b2")


def tiny_network(seed: int, batch: int, n_in: int = 3, n_hidden: int = 4) -> tuple[torch.Tensor, ...]:
    """Inputs, targets and weights of a tiny tanh network: ``(x, y, w1, b1, w2, b2)``."""
    g = _gen(seed)
    return (torch.randn(batch, n_in, generator=g), torch.randn(batch, 1, generator=g),
            torch.randn(n_in, n_hidden, generator=g), 0.5 * torch.randn(n_hidden, generator=g),
            torch.randn(n_hidden, 1, generator=g), 0.5 * torch.randn(1, generator=g))


def autograd_gradients(x: torch.Tensor, y: torch.Tensor, *weights: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gradients of the mean squared error that autograd finds (what 4.5 must reproduce)."""
    leaves = [w.detach().clone().requires_grad_() for w in weights]
    with torch.enable_grad():
        w1, b1, w2, b2 = leaves
        loss = ((torch.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean()
        loss.backward()
    return {name: leaf.grad for name, leaf in zip(PARAMETERS, leaves)}


def _backprop_mistakes(x: torch.Tensor, y: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor,
                       b2: torch.Tensor) -> dict[str, list[Mistake]]:
    """Per parameter, the known wrong gradients."""
    h = torch.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    d_out = 2 * (out - y) / out.numel()
    dz = (d_out @ w2.T) * (1 - h ** 2)
    n = out.numel()
    sign = "the sign is wrong: the gradient points uphill, towards a larger loss (out - y, not y - out)"
    total = ("every gradient is {n} times too big: the loss is the MEAN of the squared errors, so its gradient "
             "is divided by the number of outputs ({n})").format(n=n)
    return {
        "w1": [Mistake("the derivative of tanh is missing: multiply by 1 - h**2 on the way back",
                       lambda: x.T @ (d_out @ w2.T)),
               Mistake("the derivative of tanh is 1 - tanh(z)**2 = 1 - h**2, not 1 - z**2 or tanh(z)",
                       lambda: x.T @ ((d_out @ w2.T) * (1 - (x @ w1 + b1) ** 2))),
               Mistake(total, lambda: x.T @ dz * n), Mistake(sign, lambda: -(x.T @ dz))],
        "b1": [Mistake("the bias gradient is the upstream gradient summed over the batch (dz.sum(0)), not averaged",
                       lambda: dz.mean(0)),
               Mistake("the derivative of tanh is missing: multiply by 1 - h**2 on the way back",
                       lambda: (d_out @ w2.T).sum(0)),
               Mistake(total, lambda: dz.sum(0) * n), Mistake(sign, lambda: -dz.sum(0))],
        "w2": [Mistake(total, lambda: h.T @ d_out * n), Mistake(sign, lambda: -(h.T @ d_out)),
               Mistake("w2's gradient multiplies by the hidden activations h = tanh(x @ w1 + b1), not by x @ w1 + b1",
                       lambda: (x @ w1 + b1).T @ d_out)],
        "b2": [Mistake(total, lambda: d_out.sum(0) * n), Mistake(sign, lambda: -d_out.sum(0)),
               Mistake("the bias gradient is the upstream gradient summed over the batch, not averaged",
                       lambda: d_out.mean(0))],
    }


def _backprop_compare(call: str, inputs: tuple[torch.Tensor, ...]) -> Callable[[Any, Any], None]:
    def compare(got: Any, want: dict[str, torch.Tensor]) -> None:
        expect(isinstance(got, dict), f"{call}: expected a dict {{'w1': ..., 'b1': ..., 'w2': ..., 'b2': ...}}, "
                                      f"got {type(got).__name__}")
        missing = [k for k in PARAMETERS if k not in got]
        expect(not missing, f"{call}: the dict has no entry for {', '.join(missing)} (keys: {sorted(got)})")
        mistakes = _backprop_mistakes(*inputs)
        for name in PARAMETERS:
            expect_close(got[name], want[name], name=f"{call}[{name!r}]", atol=1e-5, rtol=1e-4,
                         mistakes=mistakes[name])

    return compare


def _backprop_case(seed: int, batch: int, n_in: int = 3, n_hidden: int = 4) -> Case:
    inputs = tiny_network(seed, batch, n_in, n_hidden)
    call = f"backprop_by_hand(x, y, w1, b1, w2, b2) with a batch of {batch}"
    return Case(args=inputs, call=call, expected=autograd_gradients(*inputs), compare=_backprop_compare(call, inputs))


@backprop_by_hand.check("a batch of 8, sizes 3 -> 4 -> 1: the same gradients as autograd")
def _() -> Case:
    return _backprop_case(7, 8)


@backprop_by_hand.check("a batch of 5, sizes 6 -> 10 -> 1")
def _() -> Case:
    return _backprop_case(8, 5, 6, 10)


# ---------------------------------------------------------------------------------------------
# 4.6 The numerical gradient

numerical_gradient = exercise("numerical_gradient", chapter=CHAPTER, number="4.6", title="The numerical gradient")


def _autograd_of(name: str, x: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_()
    with torch.enable_grad():
        scalar_function(name)(leaf).backward()
    return leaf.grad


def numerical_mistakes(name: str, x: torch.Tensor, eps: float) -> list[Mistake]:
    """Known wrong answers of 4.6 for ``scalar_function(name)`` at ``x``."""
    f = scalar_function(name)
    basis = torch.eye(len(x), dtype=x.dtype)
    return [
        Mistake("that is the one-sided difference (f(x + eps) - f(x)) / eps: its error grows with eps; use the "
                "central difference (f(x + eps) - f(x - eps)) / (2 eps)",
                lambda: torch.stack([(f(x + eps * e) - f(x)) / eps for e in basis])),
        Mistake("you divided by eps; the two points are 2 eps apart, so divide by 2 * eps",
                lambda: torch.stack([(f(x + eps * e) - f(x - eps * e)) / eps for e in basis])),
        Mistake("you nudged every coordinate at once: nudge one coordinate at a time",
                lambda: ((f(x + eps) - f(x - eps)) / (2 * eps)).expand(len(x))),
    ]


def _numerical_case(name: str, x: torch.Tensor, eps: float) -> Case:
    call = f"numerical_gradient(f, x, eps={eps}) with f(v) = {_FUNCTIONS[name][1]}"
    return Case(args=(Resource("scalar_function", which=name), x, eps), call=call, expected=_autograd_of(name, x),
                atol=1e-6, rtol=1e-5, mistakes=numerical_mistakes(name, x, eps))


@numerical_gradient.check("f(v) = sum(v^3) + v0 v1 at 3 points (float64): autograd's gradient")
def _() -> Case:
    return _numerical_case("cubic", torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), 1e-3)


@numerical_gradient.check("f(v) = log(sum(exp(v))) in 6 dimensions (float64)")
def _() -> Case:
    return _numerical_case("log_sum_exp", torch.randn(6, generator=_gen(9), dtype=torch.float64), 1e-4)


# ---------------------------------------------------------------------------------------------
# 4.7 Gradient descent

fit_line = exercise("fit_line", chapter=CHAPTER, number="4.7", title="Gradient descent on a line")


def line_data(seed: int, n: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """Points near the line y = 3x - 1."""
    x = torch.linspace(-1, 1, n)
    return x, 3 * x - 1 + 0.1 * torch.randn(n, generator=_gen(seed))


WRONG_LOOPS = {
    "no zero_grad": "the gradients add up from one step to the next: call optimizer.zero_grad() (or set .grad to "
                    "None) in every step, before loss.backward()",
    "ascent": "the loss grows: you climbed the gradient; step against it (w - lr * grad), as optimizer.step() does",
    "sum": "you minimised the SUM of squared errors, so every step is len(x) times too big: use the mean",
}


def _wrong_loop(x: torch.Tensor, y: torch.Tensor, lr: float, steps: int, mistake: str) -> list[float]:
    """The losses of a gradient-descent loop from w = b = 0 that makes ``mistake`` (a key of WRONG_LOOPS)."""
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            errors = (w * x + b - y) ** 2
            losses.append(errors.mean().item())
            if mistake != "no zero_grad":
                w.grad = b.grad = None
            (errors.sum() if mistake == "sum" else errors.mean()).backward()
            with torch.no_grad():
                direction = -1.0 if mistake == "ascent" else 1.0
                w -= direction * lr * w.grad
                b -= direction * lr * b.grad
    return losses


def fit_line_mistakes(x: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> list[tuple[str, list[float]]]:
    """(hint, loss trajectory) of the known wrong loops."""
    return [(hint, _wrong_loop(x, y, lr, steps, mistake)) for mistake, hint in WRONG_LOOPS.items()]


def _trajectory_hint(losses: list[float], mistakes: list[tuple[str, list[float]]]) -> str:
    """The hint of the wrong loop whose losses ``losses`` follow (over its finite part: a loop that
    diverges overflows to inf, and from there on nothing can be compared)."""
    for hint, wrong in mistakes:
        n = next((i for i, v in enumerate(wrong) if not math.isfinite(v)), len(wrong))
        if len(wrong) == len(losses) and n >= 3 and all(
                math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6) for a, b in zip(losses[:n], wrong[:n])):
            return hint
    return ""


def _fit_line_compare(call: str, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> Callable[[Any, Any], None]:
    def compare(got: Any, want: tuple[float, float, list[float]]) -> None:
        expect(isinstance(got, (tuple, list)) and len(got) == 3,
               f"{call}: expected a tuple (w, b, losses), got {type(got).__name__}")
        w, b, losses = got
        w, b = _as_float(w, f"{call}: w"), _as_float(b, f"{call}: b")
        expect(isinstance(losses, (list, tuple)) and all(isinstance(v, (int, float)) for v in losses),
               f"{call}: losses should be a list of floats (loss.item() at every step)")
        expect(len(losses) == steps, f"{call}: expected {steps} losses (one per step), got {len(losses)}")
        losses = [float(v) for v in losses]
        if not all(math.isclose(a, b_, rel_tol=1e-3, abs_tol=1e-6) for a, b_ in zip(losses, want[2])):
            hint = _trajectory_hint(losses, fit_line_mistakes(x, y, lr, steps))
            first = next(i for i, (a, b_) in enumerate(zip(losses, want[2]))
                         if not math.isclose(a, b_, rel_tol=1e-3, abs_tol=1e-6))
            raise AssertionError(
                f"{call}: the losses differ from step {first} on: expected {want[2][first]:.4g}, "
                f"got {losses[first]:.4g}"
                + (f"\nhint: {hint}" if hint else
                   "\nhint: start from w = b = 0, record the mean squared error before each update, and take "
                   "`steps` plain SGD steps with learning rate lr"))
        expect_close(w, want[0], name=f"{call}: w", atol=1e-4, rtol=1e-4)
        expect_close(b, want[1], name=f"{call}: b", atol=1e-4, rtol=1e-4)

    return compare


def fit_line_case(seed: int, lr: float, steps: int) -> Case:
    x, y = line_data(seed)
    call = f"fit_line(x, y, lr={lr}, steps={steps})"
    return Case(args=(x, y, lr, steps), call=call, compare=_fit_line_compare(call, x, y, lr, steps))


@fit_line.check("20 points near y = 3x - 1, lr 0.3, 60 steps: the same trajectory as plain SGD from zero")
def _() -> Case:
    return fit_line_case(10, 0.3, 60)


@fit_line.check("a smaller learning rate, 0.05, and 25 steps")
def _() -> Case:
    return fit_line_case(11, 0.05, 25)


# ---------------------------------------------------------------------------------------------
# Conceptual questions about training

choice(
    "q_zero_grad", chapter=CHAPTER, number="4.8", title="What zero_grad is for",
    options={
        "a": "it sets the weights back to zero before each step",
        "b": "loss.backward() adds to .grad; without zeroing, each step follows the sum of all gradients so far",
        "c": "it saves memory, but the training goes the same without it",
        "d": "it stops the learning rate from growing",
    },
    explanation="PyTorch accumulates gradients (useful to add up several small batches), so every step "
                "must start from zero; otherwise old gradients keep pushing the weights long after they stopped "
                "being right.",
    feedback={
        "a": "the weights are untouched; only the .grad of each weight is cleared",
        "c": "the trajectory changes: the fit_line check recognises it",
        "d": "the learning rate is the optimizer's setting; zero_grad never touches it",
    },
)

choice(
    "q_loss_floor", chapter=CHAPTER, number="4.9", title="Why the held-out loss stays above zero",
    options={
        "a": "the model overfits the training documents",
        "b": "the documents contain choices drawn at random (weekdays, who met whom, who is in the book club) "
             "that no model can predict",
        "c": "the learning rate is too small to get there",
        "d": "the tokenizer splits the names into several tokens",
    },
    explanation="part of every toy-world document is random by design, so even a perfect model pays for those "
                "tokens: the loss has a floor above zero, while the facts can all be right.",
    feedback={
        "a": "the held-out and training losses are close, and the facts hold on held-out text too: no overfitting",
        "c": "more steps lower the loss only a little more: the floor comes from the data",
        "d": "every toy-world answer is one token (the tokenizer was trained on the toy world)",
    },
)

choice(
    "q_induction_data", chapter=CHAPTER, number="4.10", title="What makes an induction head form",
    options={
        "a": "a few words repeated very often",
        "b": "many different random tokens, each sequence repeated, with copies of varying length",
        "c": "the same sequence at the same positions in every window",
        "d": "any text, as long as the model is trained long enough on a CPU",
    },
    explanation="an induction head pays only when the next token cannot be known from the weights but can be "
                "read from earlier in the context; varying lengths stop a head from finding it by position alone.",
    feedback={
        "a": "few frequent words are cheaper to memorise: the model learns their frequencies in its weights",
        "c": "a fixed position can be looked up by position alone, without any induction",
        "d": "the toy world and Shakespeare alone did not grow one within our budget",
    },
)

choice(
    "q_kaplan", chapter=CHAPTER, number="4.11", title="Our exponent and Kaplan's",
    options={
        "a": "our training code is wrong",
        "b": "our models are tiny, trained for a few hundred steps (not to convergence, not compute-optimal), on a "
             "toy world whose loss has a floor, over a narrow range of sizes",
        "c": "CPUs learn faster than GPUs",
        "d": "Llama's architecture is better than GPT-2's",
    },
    explanation="a power law's exponent depends on the regime: Kaplan et al. trained far larger models on "
                "far more text over six orders of magnitude of size; a floor or undertraining bends a small sweep.",
    feedback={
        "a": "the losses fall with size as expected; the exponent says how fast, and that depends on the regime",
        "c": "the hardware changes the seconds, not the loss after a given number of steps",
        "d": "Kaplan et al. found the architecture's details matter little next to size",
    },
)


# ---------------------------------------------------------------------------------------------
# 4.12 and 4.13 Compute

training_flops = exercise("training_flops", chapter=CHAPTER, number="4.12", title="Training compute: 6ND")


def flops_mistakes(n_params: float, n_tokens: float) -> list[Mistake]:
    """Known wrong answers of 4.12."""
    return [
        Mistake("2 N D counts the forward pass only; the backward pass costs about twice as much again: 6 N D",
                lambda: 2.0 * n_params * n_tokens),
        Mistake("4 N D is the backward pass alone; add the forward pass (2 N D)", lambda: 4.0 * n_params * n_tokens),
        Mistake("N D counts one operation per parameter and token; a multiply-add is 2 FLOPs, and the backward "
                "pass doubles it twice: 6 N D", lambda: 1.0 * n_params * n_tokens),
    ]


@training_flops.check("a small model: 1 million parameters, 10 million tokens")
def _() -> Case:
    return Case(args=(1e6, 1e7), call="training_flops(1e6, 1e7)", mistakes=flops_mistakes(1e6, 1e7))


@training_flops.check("SmolLM2-135M's published run: 135 million parameters, 2 trillion tokens")
def _() -> Case:
    return Case(args=(135e6, 2e12), call="training_flops(135e6, 2e12)", mistakes=flops_mistakes(135e6, 2e12))


gpt3_flops = exercise("gpt3_flops", chapter=CHAPTER, number="4.13", title="GPT-3's training compute", kind="value")
GPT3_PARAMS, GPT3_TOKENS, GPT3_DATASET_TOKENS = 175e9, 300e9, 500e9


@gpt3_flops.check("about 3e23 FLOPs, as Brown et al. (2020) report")
def _() -> Case:
    def compare(got: Any, want: Any) -> None:
        value = _as_float(got, "gpt3_flops")
        expect_close(value, 6 * GPT3_PARAMS * GPT3_TOKENS, name="gpt3_flops", rtol=0.01, mistakes=[
            Mistake("that uses the ~500 billion tokens of GPT-3's whole dataset; it was trained on 300 billion",
                    lambda: 6 * GPT3_PARAMS * GPT3_DATASET_TOKENS),
            Mistake("2 N D is the forward pass only: training costs 6 N D",
                    lambda: 2 * GPT3_PARAMS * GPT3_TOKENS),
            Mistake("175 is GPT-3's size in billions: use 175e9 parameters", lambda: 6 * 175 * GPT3_TOKENS),
            Mistake("300 is the number of tokens in billions: use 300e9", lambda: 6 * GPT3_PARAMS * 300),
        ])

    return Case(call="gpt3_flops", expected=PROPERTY, compare=compare)
