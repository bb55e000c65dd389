"""course_utils.ioi on the course model: the logit difference, knock-outs, patching, and held-out prompts."""

from __future__ import annotations

import pytest
import torch

from course_utils import ioi
from course_utils.ioi import IOIError

EXAMPLE = {"prompt": "When Mary and John went to the store, John gave a drink to", "io": " Mary", "s": " John"}


@pytest.fixture(scope="module")
def data(model):
    return ioi.ioi_dataset(model, 24)


@pytest.fixture(scope="module")
def heldout(model):
    return ioi.ioi_dataset(model, 18, split="heldout", seed=1)


@pytest.fixture(scope="module")
def ranking(model, data):
    return ioi.rank_heads(model, data[:18], candidates=8)


# ---------------------------------------------------------------------------------------------
# Dataset


def test_dataset_is_balanced_seeded_and_uses_single_token_names(model):
    data = ioi.ioi_dataset(model, 60)
    assert len(data) == 60 and data == ioi.ioi_dataset(model, 60)
    assert len({ex["template"] for ex in data}) == len(ioi.CHAPTER_TEMPLATES)
    assert sum(ex["order"] == "ABBA" for ex in data) == 30
    for ex in data:
        for key in ("io", "s", "c"):
            assert ex[key].startswith(" ")
            assert len(model.tokenizer(ex[key], add_special_tokens=False)["input_ids"]) == 1
        assert len({ex["io"], ex["s"], ex["c"]}) == 3
        assert ex["prompt"].count(ex["s"].strip()) == 2 and ex["prompt"].count(ex["io"].strip()) == 1
        clean, corrupted = model.to_tokens(ex["prompt"])[0], model.to_tokens(ex["corrupted"])[0]
        assert len(clean) == len(corrupted) and int((clean != corrupted).sum()) == 1  # only S2 differs
    assert ioi.ioi_dataset(model, 60, seed=1) != data


def test_heldout_split_shares_no_template_and_no_name_with_the_chapter(model):
    chapter, held = ioi.ioi_dataset(model, 60), ioi.ioi_dataset(model, 60, split="heldout")
    names = lambda d: {ex[k] for ex in d for k in ("io", "s", "c")}  # noqa: E731
    assert not names(chapter) & names(held)
    assert not set(ioi.CHAPTER_TEMPLATES) & set(ioi.HELDOUT_TEMPLATES)
    assert {ex["prompt"].split(",")[0] for ex in held}.isdisjoint({ex["prompt"].split(",")[0] for ex in chapter})


def test_chapter_templates_share_one_token_layout(model):
    positions = ioi.ioi_positions(model, ioi.ioi_dataset(model, 12))
    assert positions["s2"].unique().tolist() == [10] and positions["end"].unique().tolist() == [14]
    assert set(positions["io"].tolist()) == set(positions["s1"].tolist()) == {2, 4}


def test_dataset_rejects_bad_arguments(model):
    with pytest.raises(IOIError, match="split"):
        ioi.ioi_dataset(model, 10, split="test")
    with pytest.raises(IOIError, match="positive"):
        ioi.ioi_dataset(model, 0)


# ---------------------------------------------------------------------------------------------
# Logit difference


def test_model_prefers_the_indirect_object_and_not_on_corrupted_prompts(model, data):
    clean = ioi.logit_diff(model, data)
    assert clean.shape == (24,) and clean.dtype == torch.float32
    assert clean.mean() > 2 and (clean > 0).float().mean() >= 0.9
    corrupted = ioi.logit_diff(model, [dict(ex, prompt=ex["corrupted"]) for ex in data])
    assert corrupted.mean().abs() < 1 < clean.mean() - corrupted.mean()


def test_logit_diff_matches_the_logits_of_one_prompt(model):
    logits = model(model.to_tokens(EXAMPLE["prompt"]))[0, -1]
    expected = logits[model.to_single_token(" Mary")] - logits[model.to_single_token(" John")]
    assert torch.allclose(ioi.logit_diff(model, [EXAMPLE])[0], expected, atol=1e-4)


def test_prompts_of_different_lengths_are_read_at_their_own_last_token(model, heldout):
    mixed = [EXAMPLE, heldout[0], heldout[1], {"prompt": "Mary and John went out. John called", "io": " Mary", "s": " John"}]
    assert len({len(model.to_tokens(ex["prompt"])[0]) for ex in mixed}) >= 3
    together = ioi.logit_diff(model, mixed)
    one_by_one = torch.cat([ioi.logit_diff(model, [ex]) for ex in mixed])
    assert torch.allclose(together, one_by_one, atol=1e-4)
    assert torch.allclose(ioi.logit_diff(model, mixed, batch_size=3), together, atol=1e-4)


@pytest.mark.parametrize("bad, message", [
    ([], "empty"),
    (EXAMPLE, "not a single dict"),
    ("When Mary and John", "list of dicts"),
    ([{"prompt": "When Mary and John", "io": " Mary"}], "no 's' key"),
    ([{"prompt": "", "io": " Mary", "s": " John"}], "non-empty string"),
    ([{"prompt": "x", "io": " Maryanne Smith", "s": " John"}], "single-token answer"),
    ([{"prompt": "x", "io": " Mary", "s": " Mary"}], "same token"),
    ([EXAMPLE, "When Mary"], "example 1 is a str"),
])
def test_bad_examples_get_one_line_errors(model, bad, message):
    with pytest.raises(IOIError, match=message) as info:
        ioi.logit_diff(model, bad)
    assert "\n" not in str(info.value)


def test_patching_needs_a_corrupted_prompt_of_the_same_length(model):
    with pytest.raises(IOIError, match="corrupted"):
        ioi.patch_heads(model, [EXAMPLE])
    uneven = dict(EXAMPLE, corrupted="When Mary and John went to the store, Maryanne Smith gave a drink to")
    with pytest.raises(IOIError, match="same length"):
        ioi.patch_heads(model, [uneven])


# ---------------------------------------------------------------------------------------------
# Knocking heads out


def test_ablate_heads_leaves_the_model_exactly_as_before(model, data):
    tokens = model.to_tokens(data[0]["prompt"])
    before = model(tokens)
    with ioi.ablate_heads(model, [(23, 3), (20, 0)], data[:8]):
        inside = model(tokens)
    assert not torch.equal(before, inside)
    assert torch.equal(model(tokens), before)
    with pytest.raises(ZeroDivisionError), ioi.ablate_heads(model, [(23, 3)], data[:8]):
        1 / 0
    assert torch.equal(model(tokens), before)
    assert not any(hp.fwd_hooks for hp in model.hook_dict.values())


def test_ablated_head_outputs_its_mean_at_each_position(model, data):
    examples = data[:6]
    tokens = torch.cat([model.to_tokens(ex["prompt"]) for ex in examples])  # one token layout: no padding
    _, cache = model.run_with_cache(tokens, names_filter="blocks.20.attn.hook_z")
    z = cache["blocks.20.attn.hook_z"]
    with ioi.ablate_heads(model, [(20, 0)], examples):
        _, inside = model.run_with_cache(tokens, names_filter="blocks.20.attn.hook_z")
    ablated = inside["blocks.20.attn.hook_z"]
    assert torch.allclose(ablated[:, :, 0], z[:, :, 0].mean(0, keepdim=True).expand_as(z[:, :, 0]), atol=1e-5)
    assert torch.equal(ablated[:, :, 1:], z[:, :, 1:])


def test_bad_heads_get_one_line_errors(model, data):
    with pytest.raises(IOIError, match=r"head \(30, 0\) does not exist"):
        with ioi.ablate_heads(model, [(30, 0)], data):
            pass
    with pytest.raises(IOIError, match="pairs"):
        with ioi.ablate_heads(model, [3], data):
            pass
    with pytest.raises(IOIError, match="positive"):
        ioi.find_heads(model, data, k=0)


# ---------------------------------------------------------------------------------------------
# Finding heads, and checking them on prompts the search never saw


def test_ranking_checks_its_candidates_and_the_estimate_points_at_them(model, ranking):
    assert ranking.estimated.shape == (model.cfg.n_layers, model.cfg.n_heads)
    assert len(ranking.exact) == 8
    drops = [ranking.exact[h] for h in ranking.heads]
    assert drops == sorted(drops, reverse=True) and drops[0] > 1.0
    top_estimated = ranking.estimated.flatten().argsort(descending=True)[:3]
    top_exact = {layer * model.cfg.n_heads + head for layer, head in ranking.heads[:3]}
    assert len(top_exact & set(top_estimated.tolist())) >= 2


def test_found_heads_also_matter_on_heldout_templates_and_names(model, ranking, heldout):
    found = ranking.top(6)
    assert len(set(found)) == 6
    controls = {f"random {seed}": ioi.random_heads(model, 6, seed=seed, exclude=found) for seed in range(3)}
    results = ioi.ablation_results(model, heldout, {"found": found, **controls})
    clean = results["none"]
    random_mean = sum(results[label] for label in controls) / len(controls)
    assert clean > 2
    assert results["found"] <= clean / 2  # the found heads remove at least half of the logit difference
    assert clean - results["found"] > 3 * (clean - random_mean)  # ... and far more than random heads


def test_find_heads_returns_k_valid_pairs(model, data):
    heads = ioi.find_heads(model, data[:4], k=1)
    assert len(heads) == 1 and all(0 <= layer < 30 and 0 <= head < 9 for layer, head in heads)


def test_random_heads_are_seeded_and_exclude(model):
    assert ioi.random_heads(model, 5, seed=0) == ioi.random_heads(model, 5, seed=0)
    assert not set(ioi.random_heads(model, 200, seed=1, exclude=[(0, 0)])) & {(0, 0)}
    with pytest.raises(IOIError, match="cannot draw"):
        ioi.random_heads(model, 271, seed=0)


# ---------------------------------------------------------------------------------------------
# Patching


def test_residual_patching_at_s2_restores_everything_early_and_nothing_before_it(model, data):
    result = ioi.patch_residual(model, data[:6], layers=[0, 29], positions=[9, "s2", "end"])
    assert result.scores.shape == (2, 3) and result.cols == ["9", "s2", "end"]
    fig = result.figure(col_labels=[",", " John", " to"])
    assert list(fig.data[0].x) == ["9 (,)", "s2 ( John)", "end ( to)"] and list(fig.data[0].y) == ["0", "29"]
    assert result.clean > 2 > abs(result.corrupted)
    # The prompts differ only at S2: before it nothing changes, and at layer 0 S2 carries everything.
    assert result.scores[0, 0].abs() < 1e-4 and result.scores[1, 0].abs() < 1e-4
    assert abs(result.scores[0, 1] - 1) < 1e-3
    # At the last layer S2 no longer matters and most of the difference sits at the last token.
    assert result.scores[1, 1].abs() < 0.1 and result.scores[1, 2] > 0.75
    # Attribution patching is a linear estimate: fine at the last token late on, where the change is small.
    estimate = ioi.patch_residual(model, data[:6], layers=[29], positions=["end"], method="attribution")
    assert abs(float(estimate.scores[0, 0]) - float(result.scores[1, 2])) < 0.1


def test_residual_positions_must_mean_one_thing(model, data, heldout):
    with pytest.raises(IOIError, match="different token lengths"):
        ioi.patch_residual(model, [data[0], heldout[0]], layers=[0])
    with pytest.raises(IOIError, match="unknown position"):
        ioi.patch_residual(model, data[:2], layers=[0], positions=["verb"])
    with pytest.raises(IOIError, match="direction"):
        ioi.patch_residual(model, data[:2], layers=[0], direction="sideways")


def test_attribution_patching_of_heads_agrees_with_exact_patching(model, data):
    examples = data[:6]
    estimate = ioi.patch_heads(model, examples, method="attribution")
    assert estimate.scores.shape == (30, 9) and not estimate.scores.isnan().any()
    top = estimate.scores.sub(0).abs().flatten().argsort(descending=True)[:3]
    heads = [(int(i) // 9, int(i) % 9) for i in top]
    exact = ioi.patch_heads(model, examples, heads=heads)
    for head in heads:
        assert abs(float(exact.scores[head]) - float(estimate.scores[head])) < 0.15
    assert int(exact.scores.isnan().sum()) == 270 - 3


# ---------------------------------------------------------------------------------------------
# What heads do


def test_head_direct_effects_add_up_to_the_attention_layer_output(model, data):
    examples = data[:6]
    direct = ioi.head_logit_attribution(model, examples)
    layer = 23
    tokens = torch.cat([model.to_tokens(ex["prompt"]) for ex in examples])
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in {f"blocks.{layer}.hook_attn_out", "ln_final.hook_scale"})
    io = torch.tensor([model.to_single_token(ex["io"]) for ex in examples])
    s = torch.tensor([model.to_single_token(ex["s"]) for ex in examples])
    out = cache[f"blocks.{layer}.hook_attn_out"][:, -1] / cache["ln_final.hook_scale"][:, -1]
    direction = (model.W_U[:, io] - model.W_U[:, s]).T * model.ln_final.w
    layer_total = (out * direction).sum(-1).mean()
    assert torch.allclose(direct[layer].sum(), layer_total, atol=1e-3)


def test_direct_effect_splits_into_io_and_s_parts(model, data):
    examples = data[:6]
    diff = ioi.head_logit_attribution(model, examples)
    io = ioi.head_logit_attribution(model, examples, answer="io")
    s = ioi.head_logit_attribution(model, examples, answer="s")
    assert torch.allclose(io - s, diff, atol=1e-4)
    with pytest.raises(IOIError, match="answer"):
        ioi.head_logit_attribution(model, examples, answer="c")


def test_ioi_attention_matches_the_patterns(model, data):
    examples = data[:4]
    scores = ioi.ioi_attention(model, examples)
    tokens = torch.cat([model.to_tokens(ex["prompt"]) for ex in examples])
    _, cache = model.run_with_cache(tokens, names_filter="blocks.17.attn.hook_pattern")
    pattern = cache["blocks.17.attn.hook_pattern"]
    where = ioi.ioi_positions(model, examples)
    rows = torch.arange(4)
    assert torch.allclose(scores["end_to_io"][17], pattern[rows, :, 14, where["io"]].mean(0), atol=1e-5)
    assert torch.allclose(scores["s2_to_s1_next"][17], pattern[rows, :, 10, where["s1"] + 1].mean(0), atol=1e-5)


def test_classify_heads_reports_measurements_and_a_class(model, data):
    table = ioi.classify_heads(model, data[:8], [(0, 0), (23, 0)])
    assert list(table.index) == ["0.0", "23.0"]
    assert {"end_to_io", "end_to_s2", "s2_to_s1", "direct", "direct_io", "direct_s", "class"} <= set(table.columns)
    assert table.loc["0.0", "class"].startswith("other")
    assert all(isinstance(c, str) and c for c in table["class"])
