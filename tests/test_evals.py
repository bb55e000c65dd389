"""course_utils.evals: task files, log-probability scoring, intervals, the 2024 score, free answers.

The task files here (tests/data/tom) are used by no chapter: a tiny valid one and several broken ones.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from course_utils.errors import OneLineError
from course_utils.evals import (
    FAMILIES,
    KOSINSKI_2024_VARIANTS,
    SCENARIO_SCORE,
    TASK_DIR,
    UNCLEAR,
    ChatTemplateError,
    TaskFileError,
    chat_text,
    compare_scoring,
    evaluate,
    generate_answers,
    load_tasks,
    parse_answer,
    plot_margins,
    plot_summary,
    summarise,
    tasks_frame,
    validate_task,
    wilson_interval,
)

DATA = Path(__file__).resolve().parent / "data" / "tom"
TINY = DATA / "tiny.jsonl"


@pytest.fixture(scope="module")
def tiny_results(model) -> pd.DataFrame:
    return evaluate(model, load_tasks(TINY), progress=False)


# ---------------------------------------------------------------------------------------------
# Task files


def test_tiny_file_loads_with_every_field():
    tasks = load_tasks(TINY)
    assert len(tasks) == 6 and list(tasks.columns) == ["id", "scenario", "family", "variant", "prompt",
                                                       "answers", "expected"]
    assert all(isinstance(a, tuple) and len(a) >= 2 for a in tasks["answers"])
    assert all(e in a for e, a in zip(tasks["expected"], tasks["answers"]))


@pytest.mark.parametrize("name, line, field, words", [
    ("bad_json.jsonl", 3, None, "not valid JSON"),
    ("missing_field.jsonl", 2, "expected", "missing"),
    ("unknown_family.jsonl", 3, "family", "unexpected_location"),
    ("expected_not_in_answers.jsonl", 1, "expected", "biscuits"),
    ("no_leading_space.jsonl", 2, "answers", "start with exactly one space"),
    ("duplicate_id.jsonl", 4, "id", "already used on line 1"),
    ("wrong_type.jsonl", 2, "answers", "list of strings"),
])
def test_a_broken_file_names_file_line_and_field(name, line, field, words):
    with pytest.raises(TaskFileError) as info:
        load_tasks(DATA / name)
    err = info.value
    message = str(err)
    assert isinstance(err, OneLineError) and "\n" not in message
    assert message.startswith(f"{name}, line {line}")
    assert (err.source, err.line, err.field) == (name, line, field)
    if field:
        assert f"field {field!r}" in message
    assert words in message


def test_a_broken_file_in_a_folder_loads_nothing(tmp_path):
    shutil.copy(TINY, tmp_path / "a_good.jsonl")
    lines = [json.loads(line) for line in TINY.read_text().splitlines()]
    for i, record in enumerate(lines):
        record["id"] += ".copy"
        record["family"] = "unexpected_location" if i == 2 else record["family"]
    (tmp_path / "b_bad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = None
    with pytest.raises(TaskFileError, match="b_bad.jsonl, line 3"):
        result = load_tasks(tmp_path)
    assert result is None
    shutil.copy(TINY, tmp_path / "c_again.jsonl")  # the same ids in a second file
    (tmp_path / "b_bad.jsonl").unlink()
    with pytest.raises(TaskFileError, match=r"c_again.jsonl, line 1, field 'id': 'easy.control' is already "
                                            r"used on line 1 of a_good.jsonl"):
        load_tasks(tmp_path)


def _record(**changes):
    record = json.loads(TINY.read_text().splitlines()[2])
    record.update(changes)
    return record


@pytest.mark.parametrize("changes, field, words", [
    ({"answers": [" buttons"]}, "answers", "at least two"),
    ({"answers": [" buttons", " buttons"]}, "answers", "listed twice"),
    ({"answers": [" buttons", "  cookies"]}, "answers", "exactly one space"),
    ({"answers": [" buttons", " buttons and cookies"], "expected": " buttons"}, "answers", "is the start of"),
    ({"prompt": "It is full of "}, "prompt", "ends with white space"),
    ({"variant": "False Belief"}, "variant", "lower-case"),
    ({"id": 7}, "id", "must be a string"),
    ({"scenario": "  "}, "scenario", "is empty"),
    ({"expectd": " cookies"}, "expectd", "did you mean 'expected'"),
])
def test_each_rule_has_its_own_message(changes, field, words):
    with pytest.raises(TaskFileError) as info:
        validate_task(_record(**changes), source="mine.jsonl", line=5)
    assert info.value.field == field and words in str(info.value)
    assert str(info.value).startswith(f"mine.jsonl, line 5, field {field!r}")


def test_not_an_object_and_empty_files(tmp_path):
    with pytest.raises(TaskFileError, match="line 1: expected a JSON object"):
        tasks_frame([["a", "list"]])
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(TaskFileError, match="empty.jsonl: holds no tasks"):
        load_tasks(tmp_path / "empty.jsonl")
    with pytest.raises(TaskFileError, match="no such file"):
        load_tasks(tmp_path / "missing.jsonl")


def test_line_breaks_inside_json_strings_stay_inside_their_line(tmp_path):
    record = _record(prompt="Tom reads the label\u2028twice. Tom believes that the tin is full of")
    (tmp_path / "odd.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\r\n", encoding="utf-8")
    tasks = load_tasks(tmp_path / "odd.jsonl")
    assert len(tasks) == 1 and "\u2028" in tasks["prompt"].iloc[0]


def test_one_scenario_keeps_one_family():
    records = [_record(), _record(id="tin.other", family="unexpected_transfer")]
    with pytest.raises(TaskFileError, match="line 2, field 'family': scenario 'tin' is unexpected_contents"):
        tasks_frame(records, source="two.jsonl")


def test_families_of_your_own_are_accepted_only_when_asked_for(tmp_path):
    record = _record(family="weight_comparison")
    with pytest.raises(TaskFileError, match="'weight_comparison' is not a task family.*families=None"):
        validate_task(record)
    assert validate_task(record, families=None)["family"] == "weight_comparison"
    with pytest.raises(TaskFileError, match="field 'family': 'Weight Comparison' must be lower-case"):
        validate_task(_record(family="Weight Comparison"), families=None)
    (tmp_path / "own.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(TaskFileError, match="own.jsonl, line 1, field 'family'"):
        load_tasks(tmp_path / "own.jsonl")
    assert load_tasks(tmp_path / "own.jsonl", families=None)["family"].tolist() == ["weight_comparison"]
    assert load_tasks(tmp_path / "own.jsonl", families=["weight_comparison"])["family"].tolist() == ["weight_comparison"]


def test_course_tasks_cover_both_families_with_core_variants_and_perturbations():
    tasks = load_tasks()
    for family in FAMILIES:
        part = tasks[tasks["family"] == family]
        assert part["scenario"].nunique() >= 20
        per_scenario = part.groupby("scenario")["variant"].apply(set)
        assert all(set(KOSINSKI_2024_VARIANTS) <= v for v in per_scenario)
        for perturbation in ("transparent", "cannot_read", "trusted_testimony", "self_placed"):
            assert (part["variant"] == perturbation).sum() >= 20
        assert len(set(part["variant"]) - set(KOSINSKI_2024_VARIANTS)) >= 5
    # The swapped version swaps the expected answer: no single word passes both.
    core = tasks.set_index("id")
    for sid in tasks["scenario"].unique():
        assert core.loc[f"{sid}.false_belief", "expected"] != core.loc[f"{sid}.label_swap", "expected"]
        assert core.loc[f"{sid}.false_belief", "expected"] != core.loc[f"{sid}.true_belief_control", "expected"]
    assert TASK_DIR.is_dir()


# ---------------------------------------------------------------------------------------------
# Scoring


def test_evaluate_gives_one_row_per_prompt_with_the_columns(tiny_results):
    r = tiny_results
    assert len(r) == 6
    for column in ("model", "chat", "id", "scenario", "family", "variant", "prompt", "answers", "expected",
                   "chosen", "correct", "chosen_normalised", "correct_normalised", "margin", "logprob_sum",
                   "logprob_mean", "n_tokens"):
        assert column in r.columns
    assert r["model"].iloc[0] == "smollm2-135m" and not r["chat"].any()
    assert r["correct"].dtype == bool
    assert all(c in a for c, a in zip(r["chosen"], r["answers"]))
    assert ((r["margin"] > 0) == r["correct"]).all()
    assert all(lp <= 0 for row in r["logprob_sum"] for lp in row)


def test_the_easy_control_is_answered_right_by_a_wide_margin(tiny_results):
    easy = tiny_results.set_index("id").loc["easy.control"]
    assert easy["chosen"] == " drawer" and easy["margin"] > 3  # " volcano" is absurd here


def test_summed_and_normalised_scores_differ_for_multi_token_answers(tiny_results):
    row = tiny_results.set_index("id").loc["tin.knowledge"]
    assert min(row["n_tokens"]) > 1 and len(set(row["n_tokens"])) == 2
    for total, mean, n in zip(row["logprob_sum"], row["logprob_mean"], row["n_tokens"]):
        assert mean == pytest.approx(total / n) and mean != pytest.approx(total)
    single = tiny_results.set_index("id").loc["tin.false_belief"]
    assert single["n_tokens"] == (1, 1) and single["logprob_sum"] == pytest.approx(single["logprob_mean"])


def test_a_multi_token_score_is_the_sum_over_its_tokens(model, tiny_results):
    row = tiny_results.set_index("id").loc["bag.on_not_in"]
    answer = row["answers"][0]
    prompt_ids = model.to_tokens(row["prompt"])[0]
    answer_ids = torch.tensor(model.tokenizer(answer, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logprobs = model(torch.cat([prompt_ids, answer_ids])[None])[0].log_softmax(-1)
    n = len(prompt_ids)
    direct = sum(float(logprobs[n - 1 + k, t]) for k, t in enumerate(answer_ids.tolist()))
    assert row["logprob_sum"][0] == pytest.approx(direct, abs=1e-3)


def test_batching_does_not_change_the_scores(model, tiny_results):
    plain = evaluate(model, TINY, max_rows=1, progress=False)
    for a, b in zip(plain["logprob_sum"], tiny_results["logprob_sum"]):
        assert a == pytest.approx(b, abs=1e-3)
    assert (plain["chosen"] == tiny_results["chosen"]).all()


def test_chat_mode_uses_the_template(model):
    text = chat_text(model.tokenizer, "Tom reads the label. He believes that the tin is full of")
    assert text.startswith("<|im_start|>") and "<|im_start|>assistant\n" in text
    assert text.endswith("<|im_start|>assistant\nHe believes that the tin is full of")
    r = evaluate(model, TINY, chat=True, progress=False)
    assert r["chat"].all() and len(r) == 6 and np.isfinite(r["margin"]).all()
    no_template = copy.copy(model.tokenizer)
    no_template.chat_template = None
    with pytest.raises(ChatTemplateError, match="has no chat template"):
        chat_text(no_template, "x")


# ---------------------------------------------------------------------------------------------
# Summaries


def _fake_results(n_scenarios: int, p: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"model": "m", "family": family, "scenario": f"{family}-{s}", "variant": v,
             "correct": bool(rng.random() < p)}
            for family in FAMILIES for s in range(n_scenarios) for v in [*KOSINSKI_2024_VARIANTS, "transparent"]]
    return pd.DataFrame(rows)


def test_intervals_contain_the_estimate_and_shrink_with_more_data():
    small, large = summarise(_fake_results(20, 0.7, 1)), summarise(_fake_results(400, 0.7, 1))
    for table in (small, large):
        assert (table["ci_low"] <= table["accuracy"]).all() and (table["accuracy"] <= table["ci_high"]).all()
        assert table["ci_low"].between(0, 1).all() and table["ci_high"].between(0, 1).all()
    width = lambda t: (t["ci_high"] - t["ci_low"])[t["variant"] == "false_belief"].mean()  # noqa: E731
    assert width(large) < width(small) / 2.5  # 20x the data: about 1/sqrt(20) of the width


def test_summaries_are_seeded():
    data = _fake_results(20, 0.6, 2)
    pd.testing.assert_frame_equal(summarise(data, seed=3), summarise(data, seed=3))
    assert not summarise(data, seed=3)["ci_low"].equals(summarise(data, seed=4)["ci_low"])


def test_the_2024_score_is_never_above_the_accuracy_of_any_core_variant():
    for p in (0.3, 0.7, 0.95):
        table = summarise(_fake_results(30, p, 5)).set_index(["family", "variant"])
        for family in (*FAMILIES, "both"):
            score = table.loc[(family, SCENARIO_SCORE), "accuracy"]
            core = [table.loc[(family, v), "accuracy"] for v in KOSINSKI_2024_VARIANTS]
            assert score <= min(core) and score <= np.mean(core)
            assert table.loc[(family, SCENARIO_SCORE), "n"] == (60 if family == "both" else 30)


def test_the_2024_score_counts_a_scenario_only_when_all_its_core_prompts_are_right():
    data = pd.DataFrame({"model": "m", "family": FAMILIES[0], "scenario": ["a"] * 4 + ["b"] * 4,
                         "variant": list(KOSINSKI_2024_VARIANTS) * 2,
                         "correct": [True, True, True, True, True, True, True, False]})
    row = summarise(data).set_index(["family", "variant"]).loc[(FAMILIES[0], SCENARIO_SCORE)]
    assert row["accuracy"] == 0.5 and row["n"] == 2


def test_one_family_of_your_own_is_summarised_without_a_pooled_copy():
    data = pd.DataFrame({"model": "m", "family": "weight_comparison", "scenario": ["a", "a", "b", "b"],
                         "variant": ["heavier", "lighter"] * 2, "correct": [True, True, True, False]})
    table = summarise(data, scenario_variants=["heavier", "lighter"])
    assert set(table["family"]) == {"weight_comparison"}
    assert table.set_index("variant").loc[SCENARIO_SCORE, "accuracy"] == 0.5
    two = pd.concat([data, data.assign(family="other_claim", scenario=["c", "c", "d", "d"])])
    assert summarise(two)["family"].unique().tolist() == ["weight_comparison", "other_claim", "both"]
    fig = plot_summary(summarise(two))
    assert [a.text for a in fig.layout.annotations] == ["weight comparison", "other claim"]


def test_wilson_interval_stays_open_at_the_edges():
    low, high = wilson_interval(0, 40)
    assert low == 0 and 0.08 < high < 0.09  # 0 of 40 still allows a rate near 9%
    low, high = wilson_interval(40, 40)
    assert 0.91 < low < 0.92 and high == 1
    assert wilson_interval(10, 20, confidence=0.5)[1] - wilson_interval(10, 20, confidence=0.5)[0] < \
        wilson_interval(10, 20)[1] - wilson_interval(10, 20)[0]
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(5, 4)


def test_summarise_on_real_results_orders_core_variants_first(tiny_results):
    table = summarise(tiny_results)
    assert {"model", "family", "variant", "n", "accuracy", "ci_low", "ci_high"} <= set(table.columns)
    transfer = table[table["family"] == "unexpected_transfer"]["variant"].tolist()
    assert transfer[:2] == ["false_belief", "true_belief_control"] and transfer[-1] == SCENARIO_SCORE


# ---------------------------------------------------------------------------------------------
# Free generation


@pytest.mark.parametrize("text, expected", [
    (" chocolate.", " chocolate"),
    (" Chocolate!", " chocolate"),
    (" chocolates and", " chocolate"),
    ("\n\nPopcorn, I think", " popcorn"),
    (" popcorn, not chocolate", " popcorn"),
    (" not popcorn but chocolate", " chocolate"),
    (" something sweet", UNCLEAR),
    (" a chocolat", UNCLEAR),
    ("", UNCLEAR),
    (" no idea what is inside", UNCLEAR),
])
def test_the_parser_maps_free_text_to_a_candidate(text, expected):
    assert parse_answer(text, [" popcorn", " chocolate"]) == expected


def test_the_parser_with_several_word_answers():
    answers = [" on the suitcase", " in the bag"]
    assert parse_answer(" in the bag, of course", answers) == " in the bag"
    assert parse_answer(" on the suitcases", answers) == " on the suitcase"
    assert parse_answer(" the bag", answers) == UNCLEAR
    assert parse_answer(" No.", [" yes", " no"]) == " no"
    assert parse_answer(" a pen. She", [" coins", " pens"]) == " pens"  # singular of a plural answer
    assert parse_answer(" as", [" a", " b"]) == UNCLEAR


def test_free_generation_is_greedy_batched_and_parsed(model, tiny_results):
    one_by_one = generate_answers(model, TINY, max_rows=1, progress=False)
    batched = generate_answers(model, TINY, max_rows=6, progress=False)
    assert (one_by_one["generated"] == batched["generated"]).all()  # left padding changes nothing
    assert batched["generated"].map(len).gt(0).all()
    assert all(p == UNCLEAR or p in a for p, a in zip(batched["parsed"], batched["answers"]))
    both = compare_scoring(tiny_results, batched)
    assert len(both) == 6 and both["agree"].dtype == bool
    assert (both["agree"] == (both["parsed"] == both["chosen"])).all()
    assert summarise(batched)["n"].sum() > 0


def test_free_generation_matches_the_models_own_greedy_generate(model):
    task = load_tasks(TINY).iloc[1]
    ours = generate_answers(model, [dict(task, answers=list(task["answers"]))], max_new_tokens=5,
                            progress=False)["generated"].iloc[0]
    theirs = model.generate(task["prompt"], max_new_tokens=5, do_sample=False, verbose=False)
    assert theirs.endswith(ours) and len(ours) > 0


# ---------------------------------------------------------------------------------------------
# Plots


def test_plots_have_one_trace_per_model_and_family(tiny_results):
    two_models = pd.concat([tiny_results, tiny_results.assign(model="copy")])
    fig = plot_summary(summarise(two_models))
    assert len(fig.data) == 4 and fig.data[0].error_y.array is not None
    fig = plot_margins(two_models)
    assert len(fig.data) == 4
