"""Chapter 04 exercises: every known mistake gets its hint (tests/test_exercises.py covers the rest)."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils.checks import run_checks
from course_utils.exercises import get_exercise
from exercise_outcomes import outcome


@pytest.fixture(scope="module", autouse=True)
def loaded(model):
    """Load the course model before the checks run, so that no check spends its time limit loading."""
    return model


# ---------------------------------------------------------------------------------------------
# Wrong answers, each with the hint it must get


def _log_probs(logits):
    return logits.log_softmax(-1)


def _no_shift(logits, tokens):
    return -_log_probs(logits).gather(-1, tokens[..., None])[..., 0][:, :-1]


def _right_losses(logits, tokens):
    return -_log_probs(logits[:, :-1]).gather(-1, tokens[:, 1:, None])[..., 0]


def _sgd_loop(zero_grad=True, sign=1.0, total=False):
    def fit(x, y, lr, steps):
        w = torch.zeros(1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([w, b], lr=lr)
        losses = []
        for _ in range(steps):
            errors = (w * x + b - y) ** 2
            loss = errors.sum() if total else errors.mean()
            if zero_grad:
                optimizer.zero_grad()
            (sign * loss).backward()
            optimizer.step()
            losses.append(errors.mean().item())
        return w.item(), b.item(), losses

    return fit


def _backprop(no_tanh=False, total=False, sign=1.0, bias_mean=False):
    def grads(x, y, w1, b1, w2, b2):
        h = torch.tanh(x @ w1 + b1)
        out = h @ w2 + b2
        d_out = 2 * (out - y) * sign / (1 if total else out.numel())
        d_z = d_out @ w2.T if no_tanh else (d_out @ w2.T) * (1 - h ** 2)
        reduce = (lambda t: t.mean(0)) if bias_mean else (lambda t: t.sum(0))
        return {"w1": x.T @ d_z, "b1": reduce(d_z), "w2": h.T @ d_out, "b2": reduce(d_out)}

    return grads


def _numerical(central=True, divide=2.0, all_at_once=False):
    def grad(f, x, eps=1e-3):
        if all_at_once:
            return ((f(x + eps) - f(x - eps)) / (2 * eps)).expand(len(x)).clone()
        out = torch.zeros_like(x)
        for i in range(len(x)):
            step = torch.zeros_like(x)
            step[i] = eps
            low = f(x - step) if central else f(x)
            out[i] = (f(x + step) - low) / (divide * eps if central else eps)
        return out

    return grad


def _unigram(smooth=True, fit_on_eval=False, bits=False, total=False):
    def loss(train_tokens, eval_tokens, d_vocab):
        counts = torch.bincount(eval_tokens if fit_on_eval else train_tokens, minlength=d_vocab).double()
        counts = counts + 1 if smooth else counts
        values = -(counts / counts.sum()).log()[eval_tokens]
        value = values.sum() if total else values.mean()
        return float(value / math.log(2) if bits else value)

    return loss


WRONG = {
    "token_losses": [
        (_no_shift, "no shift"),
        (lambda logits, tokens: _right_losses(logits, tokens) / math.log(2), "bits"),
        (lambda logits, tokens: -_right_losses(logits, tokens), "the sign is wrong"),
        (lambda logits, tokens: logits[:, :-1].softmax(-1).gather(-1, tokens[:, 1:, None])[..., 0], "probabilities"),
        (lambda logits, tokens: -logits[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0], "raw logits"),
        (lambda logits, tokens: _right_losses(logits, tokens).mean(), "expected shape"),
    ],
    "perplexity": [
        (lambda losses: float(losses.exp().mean()), "average the losses first"),
        (lambda losses: float(2 ** losses.mean()), "in bits"),
        (lambda losses: float(losses.sum().exp()), "SUM"),
        (lambda losses: float(losses.mean()), "exp(mean loss)"),
    ],
    "unigram_loss": [
        (_unigram(smooth=False), "add one to every count"),
        (_unigram(fit_on_eval=True), "training tokens only"),
        (lambda train_tokens, eval_tokens, d_vocab: math.log(d_vocab), "uniform baseline"),
        (_unigram(bits=True), "bits"),
        (_unigram(total=True), "mean per token"),
    ],
    "backprop_by_hand": [
        (_backprop(no_tanh=True), "derivative of tanh is missing"),
        (_backprop(total=True), "MEAN of the squared errors"),
        (_backprop(sign=-1.0), "sign is wrong"),
        (_backprop(bias_mean=True), "summed over the batch"),
        (lambda *args: [1.0, 2.0], "expected a dict"),
    ],
    "numerical_gradient": [
        (_numerical(central=False), "one-sided difference"),
        (_numerical(divide=1.0), "divide by 2 * eps"),
        (_numerical(all_at_once=True), "one coordinate at a time"),
    ],
    "fit_line": [
        (_sgd_loop(zero_grad=False), "zero_grad"),
        (_sgd_loop(sign=-1.0), "climbed the gradient"),
        (_sgd_loop(total=True), "SUM of squared errors"),
        (lambda x, y, lr, steps: (3.0, -1.0, [0.0] * steps), "the losses differ"),
        (lambda x, y, lr, steps: _sgd_loop()(x, y, lr, steps)[:2], "expected a tuple (w, b, losses)"),
    ],
    "training_flops": [
        (lambda n, d: 2.0 * n * d, "forward pass only"),
        (lambda n, d: 4.0 * n * d, "backward pass alone"),
        (lambda n, d: 1.0 * n * d, "multiply-add is 2 FLOPs"),
    ],
}


@pytest.mark.parametrize("exercise_id, wrong, hint",
                         [(eid, fn, hint) for eid, cases in WRONG.items() for fn, hint in cases],
                         ids=[f"{eid}-{hint[:24]}" for eid, cases in WRONG.items() for _, hint in cases])
def test_known_mistake_fails_with_its_hint(exercise_id, wrong, hint):
    statuses, message = outcome(exercise_id, wrong)
    assert "fail" in statuses, f"{exercise_id}: the wrong version passed"
    assert hint in message, f"{exercise_id}: expected the hint {hint!r}, got:\n{message}"


@pytest.mark.parametrize("value, hint", [(6 * 175e9 * 500e9, "whole dataset"), (2 * 175e9 * 300e9, "forward pass"),
                                         (6 * 175 * 300e9, "in billions"), ("3e23", "expected a number")])
def test_gpt3_flops_mistakes(value, hint):
    statuses, message = outcome("gpt3_flops", value)
    assert statuses == ["fail"] and hint in message, message


def test_gpt3_flops_accepts_the_papers_number():
    assert outcome("gpt3_flops", 3.14e23)[0] == ["pass"]


def test_the_course_model_check_compares_with_its_own_loss():
    """A right shape with the wrong mean (bits) fails the course-model check, naming the model's loss."""
    ex = get_exercise("token_losses")
    check = next(c for c in ex.visible_checks if "course model" in c.name)
    wrong = lambda logits, tokens: _right_losses(logits, tokens) / math.log(2)  # noqa: E731
    result = run_checks(ex, wrong, [check], seconds=None)[0]
    assert result.status == "fail" and ".mean()" in result.message
    assert run_checks(ex, _right_losses, [check], seconds=None)[0].passed


def test_manual_update_without_no_grad_reports_the_error():
    def manual(x, y, lr, steps):
        w = torch.zeros(1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        losses = []
        for _ in range(steps):
            loss = ((w * x + b - y) ** 2).mean()
            loss.backward()
            w -= lr * w.grad  # in place on a leaf that requires grad: PyTorch refuses
            losses.append(loss.item())
        return w.item(), b.item(), losses

    statuses, message = outcome("fit_line", manual)
    assert statuses[0] == "error" and "your function raised" in message and "leaf" in message


def test_numerical_gradient_that_changes_x_in_place_is_caught():
    def in_place(f, x, eps=1e-3):
        out = torch.zeros_like(x)
        for i in range(len(x)):
            x[i] += eps
            high = f(x)
            x[i] -= 2 * eps
            low = f(x)
            x[i] += eps + 1e-9  # never quite back where it was
            out[i] = (high - low) / (2 * eps)
        return out

    statuses, message = outcome("numerical_gradient", in_place)
    assert statuses[0] == "fail" and "changed its input `x` in place" in message


@pytest.mark.parametrize("exercise_id, wrong", [
    ("q_bits", "a"), ("q_bits", "c"), ("q_bits", "d"), ("q_zero_grad", "a"), ("q_zero_grad", "c"), ("q_loss_floor", "a"),
    ("q_induction_data", "a"), ("q_induction_data", "c"), ("q_kaplan", "c"),
])
def test_wrong_choice_gets_feedback(exercise_id, wrong):
    statuses, message = outcome(exercise_id, wrong)
    assert statuses == ["fail"] and "hint:" in message
