"""Chapter 05 exercises: every known mistake gets its hint (tests/test_exercises.py covers the rest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from course_utils.evals import KOSINSKI_2024_VARIANTS, load_tasks
from course_utils.exercises import Resource, get_exercise
from exercise_outcomes import outcome


@pytest.fixture(scope="module", autouse=True)
def loaded(model):
    """Load the model before the checks run, so that no check spends its time limit loading it."""
    return model


# ---------------------------------------------------------------------------------------------
# Functions


def _answer_positions(tokens, n):
    return torch.arange(n, len(tokens))


def _lp(logits):
    return logits.log_softmax(dim=-1)


WRONG = {
    "candidate_logprob": [
        (lambda lg, t, n: float(_lp(lg)[_answer_positions(t, n), t[_answer_positions(t, n)]].sum()), "own position"),
        (lambda lg, t, n: float(lg[_answer_positions(t, n) - 1, t[_answer_positions(t, n)]].sum()), "raw logits"),
        (lambda lg, t, n: float(_lp(lg)[_answer_positions(t, n) - 1, t[_answer_positions(t, n)]].mean()),
         "averaged the answer's"),
        (lambda lg, t, n: float(_lp(lg)[_answer_positions(t, n) - 1, t[_answer_positions(t, n)]].sum().exp()),
         "that is a probability"),
        (lambda lg, t, n: float(_lp(lg)[torch.arange(len(t) - 1), t[1:]].sum()), "prompt's own tokens"),
        (lambda lg, t, n: float(lg.softmax(-1)[_answer_positions(t, n) - 1, t[_answer_positions(t, n)]].sum()),
         "softmax, not log_softmax"),
    ],
}


def _bootstrap(correct, n_resamples=2000, confidence=0.95, seed=0, *, level=None, replace=True):
    correct = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    if replace:
        means = correct[rng.integers(0, len(correct), size=(n_resamples, len(correct)))].mean(axis=1)
    else:
        means = np.stack([rng.permutation(correct) for _ in range(n_resamples)]).mean(axis=1)
    alpha = (1 - (level or confidence)) / 2
    return tuple(float(q) for q in np.quantile(means, [alpha, 1 - alpha]))


WRONG["bootstrap_interval"] = [
    (lambda c, n_resamples=2000, confidence=0.95, seed=0: _bootstrap(c, n_resamples, confidence, seed, replace=False),
     "every resample has the same mean"),
    (lambda c, n_resamples=2000, confidence=0.95, seed=0: _bootstrap(c, n_resamples, confidence, seed,
                                                                     level=2 * confidence - 1), "narrower interval"),
    (lambda c, n_resamples=2000, confidence=0.95, seed=0: (c.mean() - 1.96 * c.std(), c.mean() + 1.96 * c.std()),
     "spread of single answers"),
    (lambda c, n_resamples=2000, confidence=0.95, seed=0: tuple(np.quantile(c, [0.025, 0.975])),
     "quantiles of the data itself"),
    (lambda c, n_resamples=2000, confidence=0.95, seed=0: (0.1, 0.5, 0.9), "expected two numbers"),
    (lambda c, n_resamples=2000, confidence=0.95, seed=0: _bootstrap(c, n_resamples, confidence, seed)[::-1],
     "is above high"),
]


def _chosen(results):
    return results.pivot(index="scenario", columns="variant", values="chosen")


def _correct_column(results):
    ok = results.pivot(index="scenario", columns="variant", values="correct")
    return float((ok["false_belief"] == ok["true_belief_control"]).mean())


def _by_position(results):
    fb = results[results["variant"] == "false_belief"]["chosen"].to_numpy()
    tb = results[results["variant"] == "true_belief_control"]["chosen"].to_numpy()
    return float((fb == tb).mean())


WRONG["same_answer_rate"] = [
    (_correct_column, "where the answer *changed*"),
    (lambda r: float((_chosen(r)["false_belief"] != _chosen(r)["true_belief_control"]).mean()), "*changed*"),
    (_by_position, "rows are not in scenario order"),
    (lambda r: float((_chosen(r)["false_belief"] == _chosen(r)["label_swap"]).mean()), "label-swapped story"),
    (lambda r: float((_chosen(r)["false_belief"] == _chosen(r)["true_belief_control"]).sum()), "count of scenarios"),
]


def _core(results):
    return results[results["variant"].isin(KOSINSKI_2024_VARIANTS)]


WRONG["scenario_score_2024"] = [
    (lambda r: float(_core(r)["correct"].mean()), "counts scenarios"),
    (lambda r: float(_core(r).groupby("scenario")["correct"].any().mean()), "*any*"),
    (lambda r: float(r.groupby("scenario")["correct"].all().mean()), "you included the perturbations"),
    (lambda r: float(_core(r)[_core(r)["variant"] == "false_belief"]["correct"].mean()), "false-belief prompts alone"),
    (lambda r: float(_core(r).groupby("scenario")["correct"].all().sum()), "count of scenarios"),
]


@pytest.mark.parametrize("exercise_id, wrong, hint",
                         [(eid, fn, hint) for eid, cases in WRONG.items() for fn, hint in cases],
                         ids=[f"{eid}-{hint[:24]}" for eid, cases in WRONG.items() for _, hint in cases])
def test_known_mistake_fails_with_its_hint(exercise_id, wrong, hint):
    statuses, message = outcome(exercise_id, wrong)
    assert "fail" in statuses, f"{exercise_id}: the wrong version passed"
    assert hint in message, f"{exercise_id}: expected the hint {hint!r}, got:\n{message}"


def test_changing_the_logits_in_place_is_caught():
    def in_place(logits, tokens, n_prompt):
        logits -= logits.logsumexp(dim=-1, keepdim=True)
        positions = torch.arange(n_prompt, len(tokens))
        return float(logits[positions - 1, tokens[positions]].sum())

    statuses, message = outcome("candidate_logprob", in_place)
    assert statuses[0] == "fail" and "changed its input `logits` in place" in message


def test_changing_the_results_table_in_place_is_caught_and_the_table_rebuilt():
    def adds_a_column(results):
        chosen = results.pivot(index="scenario", columns="variant", values="chosen")
        results["same"] = results["scenario"].map(chosen["false_belief"] == chosen["true_belief_control"])
        return float((chosen["false_belief"] == chosen["true_belief_control"]).mean())

    statuses, message = outcome("same_answer_rate", adds_a_column)
    assert statuses[0] == "fail" and "changed the results table" in message
    assert "same" not in Resource("tom_results", n_scenarios=20, p_right=0.5, seed=10).resolve().columns


def test_a_bootstrap_with_other_resamples_is_close_enough_or_told_the_recipe():
    def transposed(correct, n_resamples=2000, confidence=0.95, seed=0):
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, len(correct), size=(len(correct), n_resamples)).T
        means = np.asarray(correct, float)[rows].mean(axis=1)
        alpha = (1 - confidence) / 2
        return tuple(float(q) for q in np.quantile(means, [alpha, 1 - alpha]))

    statuses, message = outcome("bootstrap_interval", transposed)
    assert statuses == ["pass"] * 3 or "rng.integers(0, n, size=(n_resamples, n))" in message


# ---------------------------------------------------------------------------------------------
# The perturbation written as data


@pytest.fixture(scope="module")
def good_task():
    return get_exercise("my_perturbation").reference_value()


def test_the_reference_perturbation_passes(good_task):
    assert outcome("my_perturbation", good_task)[0] == ["pass"] * 4


@pytest.mark.parametrize("changes, hint", [
    ({"expected": " chocolate"}, "the right answer is the real one, ' popcorn'"),
    ({"answers": [" popcorn", "chocolate"]}, "must start with exactly one space"),
    ({"answers": (" popcorn", " chocolate")}, "must be a list of strings"),
    ({"scenario": "uc99", "id": "uc99.saw_it_filled"}, "not one of the course's scenarios"),
    ({"variant": "transparent", "id": "uc01.transparent"}, "already one of the course's"),
    ({"id": "mine"}, "the id should be scenario.variant"),
    ({"answers": [" popcorn", " candy"], "expected": " popcorn"}, "use the scenario's two answers"),
    ({"family": "unexpected_transfer"}, "is unexpected_contents, not unexpected_transfer"),
    ({"prompt": "Sam watched Alex fill the bag with popcorn. Sam thinks that the bag holds"}, "own unfinished question"),
    ({"prompt": "Sam watched Alex fill the bag with popcorn. She believes that the bag is full of "}, "white space"),
    ({"colour": "red"}, "is not a task field"),
])
def test_a_broken_perturbation_gets_its_message(good_task, changes, hint):
    statuses, message = outcome("my_perturbation", good_task | changes)
    assert "fail" in statuses and hint in message, message


def test_a_course_prompt_is_not_a_new_story(good_task):
    course = load_tasks()
    old = course[course["id"] == "uc01.transparent"].iloc[0]["prompt"]
    statuses, message = outcome("my_perturbation", good_task | {"prompt": old})
    assert statuses[-1] == "fail" and "already one of the course's tasks" in message


def test_not_a_dict():
    statuses, message = outcome("my_perturbation", ["uc01"])
    assert statuses[0] == "fail" and "expected a dict" in message


# ---------------------------------------------------------------------------------------------
# Questions and the synthetic results


@pytest.mark.parametrize("exercise_id, wrong", [("q_length", "b"), ("q_length", "c"), ("q_zero_width", "a"),
                                                ("q_zero_width", "d"), ("q_clever_hans", "a"),
                                                ("q_clever_hans", "d")])
def test_wrong_choice_gets_feedback(exercise_id, wrong):
    statuses, message = outcome(exercise_id, wrong)
    assert statuses == ["fail"] and "hint:" in message


def test_the_synthetic_results_look_like_evaluate_output_and_follow_their_parameters():
    table = Resource("tom_results", n_scenarios=12, p_right=1.0, seed=4).resolve()
    assert {"model", "chat", "id", "scenario", "family", "variant", "answers", "expected", "chosen", "correct",
            "margin"} <= set(table.columns)
    assert len(table) == 2 * 12 * 7 and table["id"].is_unique and table["correct"].all()
    assert not table["scenario"].is_monotonic_increasing  # shuffled: position is not scenario
    cue = Resource("tom_results", n_scenarios=12, p_cue=1.0, seed=4).resolve()
    chosen = cue.pivot(index="scenario", columns="variant", values="chosen")
    assert (chosen["false_belief"] == chosen["true_belief_control"]).all()
    assert not cue[cue["variant"] == "true_belief_control"]["correct"].any()
    assert cue[cue["variant"] == "false_belief"]["correct"].all()
    pd.testing.assert_frame_equal(Resource("tom_results", n_scenarios=12, p_cue=1.0, seed=4).resolve(), cue)
