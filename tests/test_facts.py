"""course_utils.facts on the course model: fact data, logit lens, causal tracing, fact editing."""

from __future__ import annotations

import pytest
import torch

from course_utils import facts
from course_utils.errors import OneLineError
from course_utils.facts import (
    FACTS,
    HELD_OUT_FACTS,
    FactError,
    MultiTokenTargetError,
    SubjectNotFoundError,
    UnknownKindError,
    WrongModelError,
)

POLAND = ("The capital of Poland is", "Poland", " Warsaw")
JORDAN = ("Michael Jordan plays the sport of", "Michael Jordan", " basketball")


def one_line(err: BaseException) -> bool:
    return isinstance(err, OneLineError) and "\n" not in str(err) and str(err)


@pytest.fixture(autouse=True)
def no_grad():
    with torch.no_grad():
        yield


# ---------------------------------------------------------------------------------------------
# Facts and tokens


def test_the_model_knows_every_fact(model):
    for facts_set in (FACTS, HELD_OUT_FACTS):
        table = facts.fact_table(model, facts_set)
        assert (table["rank"] == 0).all(), table[table["rank"] > 0]
    assert len(FACTS) >= 20 and len(HELD_OUT_FACTS) >= 5
    assert not {f.subject for f in FACTS} & {f.subject for f in HELD_OUT_FACTS}


def test_fact_data_is_consistent(model):
    for fact in (*FACTS, *HELD_OUT_FACTS):
        assert fact.subject in fact.prompt
        assert all(fact.subject in p for p in fact.paraphrases)
        facts.target_id(model, fact.target)
        if fact.counterfactual:
            assert facts.target_id(model, fact.counterfactual) != facts.target_id(model, fact.target)
    assert all(len(f.paraphrases) >= 3 and f.counterfactual for f in HELD_OUT_FACTS)


def test_subject_positions(model):
    assert facts.subject_positions(model, *JORDAN[:2]) == [1, 2]
    assert facts.subject_positions(model, "The Eiffel Tower is located in", "Eiffel Tower") == [2, 3, 4]
    tokens = model.to_str_tokens("The Eiffel Tower is located in")
    assert "".join(tokens[2:5]).strip() == "Eiffel Tower"


def test_bad_subject_and_target_get_one_line_errors(model):
    with pytest.raises(SubjectNotFoundError) as err:
        facts.subject_positions(model, "The capital of Poland is", "Hungary")
    assert one_line(err.value) and "Hungary" in str(err.value)
    with pytest.raises(MultiTokenTargetError) as err:
        facts.target_id(model, " Zuckerberg")
    assert one_line(err.value) and "tokens" in str(err.value)
    with pytest.raises(MultiTokenTargetError) as err:
        facts.target_id(model, "basketball")  # without its space it is two tokens
    assert "' basketball' is one token" in str(err.value)
    with pytest.raises(WrongModelError) as err:
        facts.logit_lens("gpt2", *POLAND[::2])
    assert one_line(err.value)


# ---------------------------------------------------------------------------------------------
# The logit lens


def test_logit_lens_warsaw_only_at_the_last_layer(model):
    ranks = facts.logit_lens(model, POLAND[0], POLAND[2])
    assert len(ranks) == model.cfg.n_layers and all(isinstance(r, int) for r in ranks)
    assert ranks[-1] == 0 and min(ranks[:-1]) > 0  # the claim the chapter makes about this model
    logits = model(model.to_tokens(POLAND[0]))[0, -1]
    assert ranks[-1] == int((logits > logits[model.to_single_token(" Warsaw")]).sum())


def test_lens_table_views(model):
    plain = facts.lens_table(model, *POLAND[::2])
    assert list(plain.columns) == ["layer", "rank", "probability", "log10 probability", "top token"]
    assert plain["probability"].between(0, 1).all() and plain["top token"].iloc[-1] == " Warsaw"
    n = model.cfg.n_layers
    # Through every remaining block, each layer's residual gives the model's own final answer.
    exact = facts.lens_table(model, *POLAND[::2], final_blocks=n - 1)
    assert (exact["rank"] == 0).all()
    assert exact["probability"].sub(plain["probability"].iloc[-1]).abs().max() < 1e-4
    # Through the last two blocks, the second-to-last rows are exact as well, earlier ones are not.
    two = facts.lens_table(model, *POLAND[::2], final_blocks=2)
    assert (two["rank"].iloc[-3:] == 0).all() and not two["rank"].equals(plain["rank"])
    with pytest.raises(FactError):
        facts.lens_table(model, *POLAND[::2], final_blocks=n)


# ---------------------------------------------------------------------------------------------
# Causal tracing


def naive_restored_probability(model, prompt, subject, target, kind, layer, position, samples, seed=0, window=1):
    """One cell of the heatmap the slow way: full forward passes with hooks."""
    tokens = model.to_tokens(prompt)
    subj = facts.subject_positions(model, prompt, subject)
    gen = torch.Generator().manual_seed(seed)
    blur = torch.randn(samples, len(subj), model.cfg.d_model, generator=gen) * (3.0 * facts.noise_scale(model))
    name = facts._HOOKS[kind]
    _, clean = model.run_with_cache(tokens, names_filter=lambda n: n.endswith(name))

    def noise(x, hook):
        x = x.clone()
        x[:, subj] += blur
        return x

    hooks = [("hook_embed", noise)]
    lo, hi = facts._window(layer, window, model.cfg.n_layers)
    for j in range(lo, hi + 1):
        def restore(x, hook, j=j):
            x = x.clone()
            x[:, position] = clean[f"blocks.{j}.{name}"][0, position]
            return x
        hooks.append((f"blocks.{j}.{name}", restore))
    logits = model.run_with_hooks(tokens.repeat(samples, 1), fwd_hooks=hooks)
    return float(logits[:, -1].softmax(-1)[:, model.to_single_token(target)].mean())


def test_trace_agrees_with_plain_patching(model):
    result = facts.trace_details(model, *POLAND, kind="mlp", samples=2, window=3)
    for layer, position in [(0, 4), (7, 4), (20, 5)]:
        slow = naive_restored_probability(model, *POLAND, "mlp", layer, position, samples=2, window=3)
        assert result.p_restored[layer, position] == pytest.approx(slow, rel=1e-4, abs=1e-7)


def test_trace_heatmap_shape_and_limits(model):
    result = facts.trace_details(model, *POLAND, kind="resid", samples=2)
    heat = result.restored
    assert heat.shape == (model.cfg.n_layers, len(model.to_tokens(POLAND[0])[0]))
    assert result.tokens[result.subject[0]] == " Poland" and result.p_corrupted < result.p_clean / 10
    assert (heat[:, : result.subject[0]] == 0).all()  # before the subject nothing was corrupted
    assert heat[-1, -1] == pytest.approx(1.0, abs=1e-4)  # the last residual at the end is the output
    assert heat[:, result.subject[-1]].max() > 0.5  # the subject's own residual carries the fact
    again = facts.trace(model, *POLAND, kind="resid", samples=2)
    assert torch.equal(heat, again)  # seeded
    other = facts.trace(model, *POLAND, kind="resid", samples=2, seed=1)
    assert not torch.equal(heat, other)


def test_trace_bad_input(model):
    with pytest.raises(UnknownKindError) as err:
        facts.trace(model, *POLAND, kind="mlp_out")
    assert one_line(err.value) and "'resid'" in str(err.value)
    with pytest.raises(SubjectNotFoundError):
        facts.trace(model, "The capital of Poland is", "Hungary", " Warsaw")
    with pytest.raises(MultiTokenTargetError):
        facts.trace(model, "Facebook was founded by Mark", "Facebook", " Zuckerberg")
    with pytest.raises(FactError):
        facts.trace(model, *POLAND, samples=0)


# ---------------------------------------------------------------------------------------------
# Editing


def test_edit_changes_the_answer_and_restores_the_weights_bit_for_bit(model):
    tokens = model.to_tokens(POLAND[0])
    before = model(tokens)
    weight = model.blocks[facts.default_edit_layer(model)].mlp.out.weight
    saved = weight.detach().clone()
    quick = {"prefixes": ("",), "until": 0.6}  # one prompt: enough to change this answer
    with facts.edit_fact(model, POLAND[0], POLAND[1], " Paris", **quick) as edit:
        assert facts.predict(model, POLAND[0], k=1)[0][0] == " Paris"
        delta = weight.detach() - saved
        assert torch.linalg.matrix_rank(delta).item() == 1
        assert torch.allclose(edit.weight_delta(), delta.T, atol=1e-5)
    assert torch.equal(model(tokens), before) and torch.equal(weight, saved)

    with pytest.raises(KeyError):
        with facts.edit_fact(model, POLAND[0], POLAND[1], " Paris", **quick):
            assert not torch.equal(weight, saved)
            raise KeyError("the body fails")
    assert torch.equal(model(tokens), before)


def test_edit_bad_input(model):
    with pytest.raises(SubjectNotFoundError):
        with facts.edit_fact(model, POLAND[0], "Hungary", " Paris"):
            pass
    with pytest.raises(MultiTokenTargetError):
        with facts.edit_fact(model, POLAND[0], POLAND[1], " Zuckerberg"):
            pass
    with pytest.raises(FactError) as err:
        with facts.edit_fact(model, POLAND[0], POLAND[1], " Paris", layer=99):
            pass
    assert one_line(err.value)


@pytest.mark.parametrize("fact", HELD_OUT_FACTS[:2], ids=lambda f: f.subject)
def test_edit_meets_the_requirements_on_held_out_facts(model, fact):
    report = facts.edit_report(model, fact)
    assert report.efficacy, report.summary()
    assert report.generalisation >= 0.5, report.summary()
    assert report.specificity >= 0.9, report.summary()
    assert report.n_probes >= 20


def test_lens_explorer_shows_ranks_and_messages(model):
    page = facts.lens_result_html(model, *POLAND[::2])
    assert page.startswith("<svg") and "from layer 29 on" in page and "top token" in page
    assert "leading space" in facts.lens_result_html(model, "The capital of Poland is", "Warsaw")
    assert "Type a prompt" in facts.lens_result_html(model, "  ", " Warsaw")
    explorer = facts.lens_explorer(model)
    explorer.inputs[1].value = " Paris"
    assert "&#x27; Paris&#x27; ends at rank" in explorer.result.value
