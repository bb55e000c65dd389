"""Chapter 05 (theory-of-mind evals): the exercises and their visible checks.

Five functions or values and three conceptual questions:

5.1 candidate_logprob       5.2 q_length (choice)          5.3 bootstrap_interval
5.4 q_zero_width (choice)   5.5 same_answer_rate           5.6 q_clever_hans (choice)
5.7 scenario_score_2024     5.8 my_perturbation (a task written as data)

The checks of 5.5 and 5.7 take a results table. A table cannot travel as plain data, so it is the
resource ``tom_results``: a seeded, synthetic table with the columns of
:func:`course_utils.evals.evaluate`, built in each process (no model needed, so the checks are quick).
The reference solutions are the chapter source's solution blocks (``course_utils/solutions/ch05.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

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
from course_utils.exercises.spec import forget_resources

CHAPTER = "05"
CORE = ("false_belief", "true_belief_control", "label_swap", "control_label_swap")
PERTURBATIONS = ("transparent", "trusted_testimony", "self_placed")
# Answer pairs of the synthetic scenarios: (what the false-belief story's character believes, the truth).
WORDS = {
    "unexpected_contents": [(" chocolate", " popcorn"), (" coins", " pens"), (" tea", " rice"), (" jam", " soup")],
    "unexpected_transfer": [(" basket", " box"), (" drawer", " bag"), (" shelf", " bucket"), (" car", " shed")],
}


# ---------------------------------------------------------------------------------------------
# The synthetic results table


def _expected_and_cue(variant: str, believed: str, truth: str) -> tuple[tuple[str, str], str, str]:
    """(answers, expected answer, the word a cue-follower names) of one synthetic prompt."""
    if variant == "false_belief":
        return (truth, believed), believed, believed
    if variant == "true_belief_control":
        return (truth, believed), truth, believed
    if variant == "label_swap":  # the two words trade places in the story
        return (believed, truth), truth, truth
    if variant == "control_label_swap":
        return (believed, truth), believed, truth
    return (truth, believed), truth, believed  # a perturbation: the character can know the truth


@resource("tom_results")
def tom_results(n_scenarios: int = 20, p_right: float = 0.7, p_cue: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """A results table like ``evaluate()``'s, for one made-up model, ``n_scenarios`` per family.

    In a fraction ``p_cue`` of the scenarios the made-up model follows a cue: it names the label
    word (or the first place) in every prompt of the scenario, whatever the story says. In the
    others it is right on each prompt with probability ``p_right``. Rows are shuffled.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for family, pairs in WORDS.items():
        prefix = "uc" if family == "unexpected_contents" else "ut"
        for s in range(n_scenarios):
            scenario = f"{prefix}{s + 1:02d}"
            believed, truth = pairs[s % len(pairs)]
            follows_cue = rng.random() < p_cue
            for variant in (*CORE, *PERTURBATIONS):
                answers, expected, cue = _expected_and_cue(variant, believed, truth)
                other = answers[0] if expected == answers[1] else answers[1]
                if follows_cue:
                    chosen = cue
                else:
                    chosen = expected if rng.random() < p_right else other
                margin = (1 if chosen == expected else -1) * (0.1 + abs(float(rng.normal(0, 2))))
                rows.append({"model": "made-up model", "chat": False, "id": f"{scenario}.{variant}",
                             "scenario": scenario, "family": family, "variant": variant,
                             "prompt": f"(story {scenario}, {variant.replace('_', ' ')})", "answers": answers,
                             "expected": expected, "chosen": chosen, "correct": chosen == expected,
                             "margin": round(margin, 3)})
    table = pd.DataFrame(rows)
    return table.iloc[rng.permutation(len(table))].reset_index(drop=True)


def _table(**params: Any) -> pd.DataFrame:
    return Resource("tom_results", **params).resolve()


def _describe(params: dict[str, Any]) -> str:
    words = [f"{params.get('n_scenarios', 20)} scenarios per family"]
    if params.get("p_cue"):
        words.append(f"{params['p_cue']:.0%} of them answered by a cue")
    words.append(f"otherwise {params.get('p_right', 0.7):.0%} right")
    return ", ".join(words) + f" (seed {params.get('seed', 0)})"


def _table_compare(call: str, params: dict[str, Any], mistakes: list[Mistake], atol: float = 1e-6) -> Any:
    """Compare a number computed from the table, after checking that the table was left as it was."""

    def compare(got: Any, want: float) -> None:
        fresh = tom_results(**params)
        try:
            pd.testing.assert_frame_equal(_table(**params), fresh)
        except AssertionError:
            forget_resources()
            raise AssertionError(f"{call}: your function changed the results table it was given (a column "
                                 "added, values or order changed)\nhint: work on a copy: filter, pivot or "
                                 "results.copy() return new tables") from None
        if isinstance(got, bool):
            raise AssertionError(f"{call}: expected a fraction between 0 and 1, got the boolean {got}")
        expect_close(got, want, name=call, atol=atol, rtol=0, mistakes=mistakes)
        number = float(got)
        expect(0.0 <= number <= 1.0, f"{call}: a fraction lies between 0 and 1, got {number}")

    return compare


# ---------------------------------------------------------------------------------------------
# 5.1 The log-probability of one candidate

candidate_logprob = exercise("candidate_logprob", chapter=CHAPTER, number="5.1",
                             title="The log-probability of a candidate answer")


def _logprob_mistakes(logits: torch.Tensor, tokens: torch.Tensor, n_prompt: int) -> list[Mistake]:
    positions = torch.arange(n_prompt, len(tokens))

    def logprobs() -> torch.Tensor:
        return logits.double().log_softmax(dim=-1)

    return [
        Mistake("you read the logits at the answer token's own position; the logits at position p predict "
                "the token at p + 1, so read position p - 1",
                lambda: float(logprobs()[positions, tokens[positions]].sum())),
        Mistake("you summed raw logits: turn them into log-probabilities first (logits.log_softmax(dim=-1))",
                lambda: float(logits.double()[positions - 1, tokens[positions]].sum())),
        Mistake("you averaged the answer's log-probabilities; the probability of a sequence is the product "
                "of its tokens' probabilities, so the log-probabilities add up: sum them",
                lambda: float(logprobs()[positions - 1, tokens[positions]].mean())),
        Mistake("that is a probability (between 0 and 1); return its log, the sum of the log-probabilities",
                lambda: float(logprobs()[positions - 1, tokens[positions]].sum().exp())),
        Mistake("you included the prompt's own tokens: start at position n_prompt, the answer's first token",
                lambda: float(logprobs()[torch.arange(len(tokens) - 1), tokens[1:]].sum())),
        Mistake("you used softmax, not log_softmax, and summed the probabilities",
                lambda: float(logits.double().softmax(dim=-1)[positions - 1, tokens[positions]].sum())),
    ]


def _logprob_case(logits: torch.Tensor, tokens: torch.Tensor, n_prompt: int, what: str) -> Case:
    call = f"candidate_logprob(logits, tokens, n_prompt={n_prompt}) on {what}"
    return Case(args=(logits, tokens, n_prompt), call=call, atol=1e-4, rtol=1e-5,
                mistakes=_logprob_mistakes(logits, tokens, n_prompt))


@candidate_logprob.check("random logits over 50 tokens: answers of 7, 3 and 1 tokens after the prompt")
def _() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(12, 50, generator=g)
    tokens = torch.randint(0, 50, (12,), generator=g)
    return [_logprob_case(logits, tokens, n, f"12 random tokens, the answer after position {n}") for n in (5, 9, 11)]


REAL_PROMPT = "John puts the cat in the basket and leaves. John will look for the cat"
REAL_ANSWER = " on the box"


@candidate_logprob.check(f"the course model: {REAL_PROMPT!r} + {REAL_ANSWER!r}")
def _() -> Case:
    from course_utils.models import load_model

    model = load_model()
    prompt = model.to_tokens(REAL_PROMPT)[0]
    answer = torch.tensor(model.tokenizer(REAL_ANSWER, add_special_tokens=False)["input_ids"])
    tokens = torch.cat([prompt, answer])
    with torch.no_grad():
        logits = model(tokens[None])[0].float()
    return _logprob_case(logits, tokens, len(prompt), "the course model's logits")


# ---------------------------------------------------------------------------------------------
# 5.2 Summed or averaged

choice(
    "q_length", chapter=CHAPTER, number="5.2", title="Summed or length-normalised",
    options={
        "a": "every extra token multiplies in a probability below 1, so the summed log-probability favours "
             "answers with fewer tokens; the mean per token does not, so the two can pick different answers "
             "when the answers have different numbers of tokens",
        "b": "the mean is always larger than the sum, so it picks the answer with the larger probability",
        "c": "they can differ only inside the chat template",
        "d": "dividing by the number of tokens removes the effect of the prompt, so only the mean measures the answer",
    },
    explanation="the sum punishes every extra token; the mean asks how likely each token is on average. "
                "With answers of one token each they agree.",
    feedback={
        "b": "both are log-probabilities, so both are negative; the mean of several negative numbers is larger "
             "than their sum, but that holds for every answer alike and decides nothing by itself",
        "c": "look at the table above: the plain prompts already disagree where the answers differ in length",
        "d": "the prompt is the same for every candidate; neither score removes it",
    },
)


# ---------------------------------------------------------------------------------------------
# 5.3 A bootstrap interval

bootstrap_interval = exercise("bootstrap_interval", chapter=CHAPTER, number="5.3", title="A bootstrap interval")

RECIPE_HINT = ("draw the resamples as the exercise says: rng = np.random.default_rng(seed), then "
               "rng.integers(0, n, size=(n_resamples, n)) picks the rows of every resample")


def _answers(n: int, rate: float, seed: int) -> np.ndarray:
    """``n`` answers (1.0 right, 0.0 wrong), exactly ``round(rate * n)`` of them right, in seeded order."""
    right = round(rate * n)
    return np.random.default_rng(seed).permutation(np.r_[np.ones(right), np.zeros(n - right)])


def _bootstrap_mistakes(correct: np.ndarray, n_resamples: int, confidence: float, seed: int) -> list[Mistake]:
    def percentile(means: np.ndarray, level: float) -> tuple[float, float]:
        alpha = (1 - level) / 2
        return tuple(float(q) for q in np.quantile(means, [alpha, 1 - alpha]))

    def resampled(rng: np.random.Generator) -> np.ndarray:
        return correct[rng.integers(0, len(correct), size=(n_resamples, len(correct)))].mean(axis=1)

    def no_replacement() -> tuple[float, float]:
        rng = np.random.default_rng(seed)
        return percentile(np.stack([rng.permutation(correct) for _ in range(n_resamples)]).mean(axis=1), confidence)

    mean, sd = correct.mean(), correct.std()
    lower = 100 * (1 - confidence) / 2
    return [
        Mistake("every resample has the same mean, so the interval has no width: draw n rows *with* "
                "replacement (some rows twice, some not at all), not a reshuffle", no_replacement),
        Mistake(f"that is a narrower interval: for {confidence:.0%} cut {lower:g}% off each end, i.e. the "
                f"quantiles (1 - confidence) / 2 and 1 - (1 - confidence) / 2",
                lambda: percentile(resampled(np.random.default_rng(seed)), 2 * confidence - 1)),
        Mistake("that is the spread of single answers (mean ± 1.96 standard deviations of the data), not of "
                "the accuracy: bootstrap the mean", lambda: (mean - 1.96 * sd, mean + 1.96 * sd)),
        Mistake("the interval should be two numbers (low, high) around the accuracy, quantiles of the "
                "resampled means; you returned the quantiles of the data itself",
                lambda: percentile(correct, confidence)),
    ]


def _bootstrap_case(n: int, rate: float, seed: int, *, n_resamples: int = 2000, confidence: float = 0.95,
                    rng_seed: int = 0) -> Case:
    correct = _answers(n, rate, seed)
    call = (f"bootstrap_interval(correct, n_resamples={n_resamples}, confidence={confidence}, seed={rng_seed}) "
            f"for {int(correct.sum())} right out of {n}")
    sd_of_mean = math.sqrt(max(rate * (1 - rate), 1e-4) / n)
    # Any correct recipe is within a quarter of a standard error (a 90% interval instead of 95% is
    # 0.3 off at each end), or one step of 1/n where the accuracy can take only a few values.
    atol = max(0.25 * sd_of_mean, 1.2 / n)
    mistakes = _bootstrap_mistakes(correct, n_resamples, confidence, rng_seed)

    def compare(got: Any, want: tuple[float, float]) -> None:
        if not isinstance(got, (tuple, list, np.ndarray, torch.Tensor)) or len(got) != 2:
            raise AssertionError(f"{call}: expected two numbers (low, high), got {type(got).__name__} {got!r:.60}")
        low, high = (float(x) for x in got)
        expect(low <= high, f"{call}: low {low:.3f} is above high {high:.3f}\nhint: return (low, high)")
        try:
            expect_close((low, high), want, name=call, atol=atol, rtol=0, mistakes=mistakes)
        except AssertionError as err:
            message = str(err)
            if "hint:" not in message and max(abs(low - want[0]), abs(high - want[1])) < 1.5 * sd_of_mean:
                message += f"\nhint: close, but not the same resamples; {RECIPE_HINT}"
            raise AssertionError(message) from None

    return Case(args=(correct,), kwargs=dict(n_resamples=n_resamples, confidence=confidence, seed=rng_seed),
                call=call, compare=compare)


@bootstrap_interval.check("400 answers, 70% right: a 95% interval")
def _() -> Case:
    return _bootstrap_case(400, 0.7, 1)


@bootstrap_interval.check("20 answers, 65% right: the interval is much wider")
def _() -> Case:
    return _bootstrap_case(20, 0.65, 2)


@bootstrap_interval.check("a 90% interval of 1,000 answers, 50% right, seed 7")
def _() -> Case:
    return _bootstrap_case(1000, 0.5, 3, confidence=0.9, rng_seed=7)


# ---------------------------------------------------------------------------------------------
# 5.4 An interval of zero width

choice(
    "q_zero_width", chapter=CHAPTER, number="5.4", title="What an interval of zero width means",
    options={
        "a": "the model certainly never solves a scenario: the interval says so with 95% confidence",
        "b": "every resample of forty zeros is forty zeros, so the percentile bootstrap cannot show any "
             "uncertainty here; a true rate of several percent would still often give 0 out of 40",
        "c": "the seed was unlucky: another seed would give a wider interval",
        "d": "2,000 resamples are too few; with 100,000 the interval would widen",
    },
    explanation="the bootstrap only reshuffles what was seen; with no success in the data it sees no "
                "success anywhere. The Wilson interval, computed from a formula, still allows a small rate.",
    feedback={
        "a": "forty scenarios cannot rule out a small rate: if the model solved 5% of such scenarios, it would "
             "get 0 out of 40 about one time in eight (0.95^40)",
        "c": "every resample of forty zeros has mean 0, whatever the seed",
        "d": "more resamples of forty zeros are still all zeros",
    },
)


# ---------------------------------------------------------------------------------------------
# 5.5 The clever-Hans index

same_answer_rate = exercise("same_answer_rate", chapter=CHAPTER, number="5.5",
                            title="A clever-Hans index: the same answer either way")


def _pivot(results: pd.DataFrame, column: str) -> pd.DataFrame:
    return results.pivot(index="scenario", columns="variant", values=column)


def _same_answer_mistakes(params: dict[str, Any]) -> list[Mistake]:
    def by_position() -> float:
        t = _table(**params)
        fb = t[t["variant"] == "false_belief"]["chosen"].to_numpy()
        tb = t[t["variant"] == "true_belief_control"]["chosen"].to_numpy()
        return float((fb == tb).mean())

    def changed() -> float:
        chosen = _pivot(_table(**params), "chosen")
        return float((chosen["false_belief"] != chosen["true_belief_control"]).mean())

    def label_swap() -> float:
        chosen = _pivot(_table(**params), "chosen")
        return float((chosen["false_belief"] == chosen["label_swap"]).mean())

    def count() -> float:
        chosen = _pivot(_table(**params), "chosen")
        return float((chosen["false_belief"] == chosen["true_belief_control"]).sum())

    return [
        Mistake("that is the fraction of scenarios where the answer *changed*. (Comparing the `correct` column "
                "gives it too: the two stories have different right answers, so right in both means the answer "
                "changed.) Compare the `chosen` answers and count where they are equal", changed),
        Mistake("the rows are not in scenario order (they are shuffled here): match each false-belief row "
                "with the control of the same scenario (pivot on scenario, or merge on it)", by_position),
        Mistake("compare the false-belief story with its true-belief control, not with the label-swapped story",
                label_swap),
        Mistake("that is a count of scenarios; return the fraction (divide by the number of scenarios)", count),
    ]


def _same_answer_case(**params: Any) -> Case:
    call = f"same_answer_rate(results) on a made-up model: {_describe(params)}"
    return Case(args=(Resource("tom_results", **params),), call=call,
                compare=_table_compare(call, params, _same_answer_mistakes(params)))


@same_answer_rate.check("a made-up model that answers every prompt at random")
def _() -> Case:
    return _same_answer_case(n_scenarios=20, p_right=0.5, seed=10)


@same_answer_rate.check("a made-up model that mostly follows the label (mostly the same), and a careful one")
def _() -> list[Case]:
    return [_same_answer_case(n_scenarios=20, p_right=0.7, p_cue=0.85, seed=10),
            _same_answer_case(n_scenarios=20, p_right=0.9, seed=10)]


# ---------------------------------------------------------------------------------------------
# 5.6 Reading a failed control

choice(
    "q_clever_hans", chapter=CHAPTER, number="5.6", title="A high score and a failed control",
    options={
        "a": "strong evidence that the model tracks beliefs, with some noise in the controls",
        "b": "the model gives the answer that is right in the false-belief story whether or not the character "
             "could know better, so the 95% measures a cue (the label word, the first place), not beliefs",
        "c": "the controls are harder than the false-belief stories, so a lower score there is expected",
        "d": "averaged over both, the model is at 52%, close to chance, so we can conclude nothing",
    },
    explanation="a control that fails in the same direction as the headline test passes shows what the "
                "headline score measured: a shortcut that happens to agree with the right answer there.",
    feedback={
        "a": "a reader who tracks beliefs would answer the controls right too: she looked inside the bag",
        "c": "the control is the easier story: the character simply saw the truth",
        "d": "the average hides the pattern: look at the two scores together, and at which answer the model gave",
    },
)


# ---------------------------------------------------------------------------------------------
# 5.7 The 2024 score

scenario_score_2024 = exercise("scenario_score_2024", chapter=CHAPTER, number="5.7",
                               title="Scoring scenarios the 2024 way")


def _scenario_mistakes(params: dict[str, Any]) -> list[Mistake]:
    def core() -> pd.DataFrame:
        t = _table(**params)
        return t[t["variant"].isin(CORE)]

    return [
        Mistake("that is the fraction of prompts right; the 2024 score counts scenarios, each one only when all "
                "four of its core prompts are right (group by scenario)", lambda: float(core()["correct"].mean())),
        Mistake("you counted a scenario when *any* of its prompts is right; it must be all of them (.all())",
                lambda: float(core().groupby("scenario")["correct"].any().mean())),
        Mistake("you included the perturbations: the 2024 score uses only the four core variants "
                "(KOSINSKI_2024_VARIANTS)", lambda: float(_table(**params).groupby("scenario")["correct"].all().mean())),
        Mistake("that is the accuracy on the false-belief prompts alone; a scenario needs its controls and the "
                "swapped versions right too",
                lambda: float(core()[core()["variant"] == "false_belief"]["correct"].mean())),
        Mistake("that is a count of scenarios; return the fraction",
                lambda: float(core().groupby("scenario")["correct"].all().sum())),
    ]


def _scenario_case(**params: Any) -> Case:
    call = f"scenario_score_2024(results) on a made-up model: {_describe(params)}"
    return Case(args=(Resource("tom_results", **params),), call=call,
                compare=_table_compare(call, params, _scenario_mistakes(params)))


@scenario_score_2024.check("a made-up model that is right on 90% of prompts")
def _() -> Case:
    return _scenario_case(n_scenarios=20, p_right=0.9, seed=10)


@scenario_score_2024.check("a coin-flipping model, and one that follows the label in half of the scenarios")
def _() -> list[Case]:
    return [_scenario_case(n_scenarios=20, p_right=0.5, seed=10),
            _scenario_case(n_scenarios=20, p_right=0.95, p_cue=0.5, seed=10)]


# ---------------------------------------------------------------------------------------------
# 5.8 A perturbation of your own, as data

my_perturbation = exercise("my_perturbation", chapter=CHAPTER, number="5.8",
                           title="A perturbation of your own, as data", kind="value")
NAME = "my_perturbation"


def _course_tasks() -> pd.DataFrame:
    from course_utils.evals import load_tasks

    return load_tasks()


def _validated(got: Any) -> dict[str, Any]:
    """The learner's task after the harness's own validator, or AssertionError with its one-line message."""
    from course_utils.evals import TaskFileError, validate_task

    if type(got) is not dict:
        raise AssertionError(f"{NAME}: expected a dict with the seven task fields, got {type(got).__name__}")
    try:
        return validate_task(got, source=NAME, line=1)
    except TaskFileError as err:
        raise AssertionError(f"{err}\nhint: load_tasks() would refuse this line; fix the field it names") from None


def _scenario_rows(task: dict[str, Any]) -> pd.DataFrame:
    course = _course_tasks()
    rows = course[course["scenario"] == task["scenario"]]
    if rows.empty:
        known = ", ".join(sorted(course["scenario"].unique())[:3])
        raise AssertionError(f"{NAME}: scenario {task['scenario']!r} is not one of the course's scenarios "
                             f"({known}, ...)\nhint: perturb an existing scenario, so that its false-belief story "
                             "and control are there to compare with")
    return rows.set_index("variant")


def _check_is_a_task(got: Any, _: Any) -> None:
    _validated(got)


def _check_belongs(got: Any, _: Any) -> None:
    task = _validated(got)
    rows = _scenario_rows(task)
    course = _course_tasks()
    fb = rows.loc["false_belief"]
    expect(task["family"] == fb["family"],
           f"{NAME}: scenario {task['scenario']!r} is {fb['family']}, not {task['family']}")
    expect(task["variant"] not in set(course["variant"]),
           f"{NAME}: the variant {task['variant']!r} is already one of the course's; give yours a new name "
           "that says what you changed")
    expect(task["id"] == f"{task['scenario']}.{task['variant']}",
           f"{NAME}: the id should be scenario.variant, here {task['scenario'] + '.' + task['variant']!r}, "
           f"got {task['id']!r}")
    expect(sorted(task["answers"]) == sorted(fb["answers"]),
           f"{NAME}: use the scenario's two answers {list(fb['answers'])}, got {list(task['answers'])}\n"
           "hint: the same two words keep the new story comparable with the false-belief story and its control")


def _check_expected_truth(got: Any, _: Any) -> None:
    task = _validated(got)
    rows = _scenario_rows(task)
    truth = rows.loc["true_belief_control", "expected"]
    expect(task["expected"] == truth,
           f"{NAME}: expected is {task['expected']!r}, but in your perturbation the character can know the "
           f"truth, so the right answer is the real one, {truth!r} (the control's answer)")


def _check_new_story(got: Any, _: Any) -> None:
    task = _validated(got)
    rows = _scenario_rows(task)
    course = _course_tasks()
    expect(task["prompt"] not in set(course["prompt"]),
           f"{NAME}: this prompt is already one of the course's tasks: change the story")
    question = _last_sentence(rows.loc["false_belief", "prompt"])
    expect(task["prompt"].endswith(question),
           f"{NAME}: end the story with the scenario's own unfinished question, {question!r}, so that the "
           "answers continue it as in the other prompts")


def _last_sentence(prompt: str) -> str:
    import re

    ends = list(re.finditer(r"[.!?][\"')]*\s+", prompt))
    return prompt[ends[-1].end():] if ends else prompt


@my_perturbation.check("is a task that load_tasks() accepts (the harness's own validator)")
def _() -> Case:
    return Case(call=NAME, expected=PROPERTY, compare=_check_is_a_task)


@my_perturbation.check("perturbs a course scenario: its family and two answers, a new variant, id scenario.variant")
def _() -> Case:
    return Case(call=NAME, expected=PROPERTY, compare=_check_belongs)


@my_perturbation.check("the expected answer is the truth (the character can know it)")
def _() -> Case:
    return Case(call=NAME, expected=PROPERTY, compare=_check_expected_truth)


@my_perturbation.check("a new story that ends with the scenario's own question")
def _() -> Case:
    return Case(call=NAME, expected=PROPERTY, compare=_check_new_story)
