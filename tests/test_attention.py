"""course_utils.attention on the course model: repeated tokens, head scores, loss, views and the explorer."""

from __future__ import annotations

import pytest
import torch

from course_utils import attention as att
from course_utils.attention import AttentionInputError

SENTENCE = "John wants his bank to cash the"


@pytest.fixture(scope="module")
def tokens(model):
    return att.repeated_tokens(model, seq_len=30, batch=3, seed=0)


@pytest.fixture(scope="module")
def scores(model, tokens):
    return att.head_pattern_scores(model, tokens)


def test_repeated_tokens_are_bos_then_a_seeded_random_half_twice(model, tokens):
    assert tokens.shape == (3, 61) and tokens.dtype == torch.long
    assert (tokens[:, 0] == model.to_tokens("")[0, 0]).all()
    assert torch.equal(tokens[:, 1:31], tokens[:, 31:])
    assert not torch.equal(tokens[0, 1:31], tokens[1, 1:31])
    assert torch.equal(att.repeated_tokens(model, seq_len=30, batch=3, seed=0), tokens)
    assert not torch.equal(att.repeated_tokens(model, seq_len=30, batch=3, seed=1), tokens)
    special = set(model.tokenizer.all_special_ids)
    assert not special & set(tokens[:, 1:].flatten().tolist())


def test_every_head_gets_three_scores_and_some_heads_have_each_job(model, scores):
    for name in ("previous", "duplicate", "induction"):
        table = scores[name]
        assert table.shape == (model.cfg.n_layers, model.cfg.n_heads)
        assert table.min() >= 0 and table.max() <= 1
    assert scores["previous"].max() > 0.6 and scores["induction"].max() > 0.5
    # Induction needs a previous-token head before it: the best induction head is not in the first layers.
    best = int(scores["induction"].flatten().argmax()) // model.cfg.n_heads
    assert best >= 4
    assert scores["induction"].median() < 0.1  # most heads do not do it


def test_scores_are_the_bands_of_the_patterns(model, tokens, scores):
    _, cache = model.run_with_cache(tokens, names_filter="blocks.17.attn.hook_pattern")
    pattern = cache["blocks.17.attn.hook_pattern"]  # [batch, head, q, k]
    seq_len = 30
    second_half = torch.arange(seq_len + 1, 2 * seq_len + 1)
    induction = pattern[:, :, second_half, second_half - seq_len + 1].mean((0, 2))
    duplicate = pattern[:, :, second_half, second_half - seq_len].mean((0, 2))
    previous = pattern[:, :, torch.arange(1, 61), torch.arange(0, 60)].mean((0, 2))
    assert torch.allclose(scores["induction"][17], induction, atol=1e-5)
    assert torch.allclose(scores["duplicate"][17], duplicate, atol=1e-5)
    assert torch.allclose(scores["previous"][17], previous, atol=1e-5)


def test_loss_drops_on_the_repeated_half(model, tokens):
    loss = att.repeated_loss(model, tokens)
    assert loss["per_position"].shape == (60,)
    assert loss["first"] > 8 and loss["second"] < loss["first"] - 5


def test_bad_tokens_get_one_line_errors(model, tokens):
    with pytest.raises(AttentionInputError, match="halves"):
        att.head_pattern_scores(model, torch.cat([tokens[:, :31], tokens[:, 1:31].flip(1)], dim=1))
    with pytest.raises(AttentionInputError, match="1 \\+ 2 \\* seq_len"):
        att.repeated_loss(model, tokens[:, :10])
    with pytest.raises(AttentionInputError, match="seq_len"):
        att.repeated_tokens(model, seq_len=1)


def test_circuitsvis_view_is_the_offline_form(model):
    view = att.show_attention(model, SENTENCE, layer=3, heads=[0, 4])
    page = view.data
    assert "CircuitsVis.render" in page and "unpkg.com" not in page and len(page) > 500_000
    assert "L3H4" in page and " bank" in page


def test_views_reject_wrong_layers_heads_and_shapes(model):
    with pytest.raises(AttentionInputError, match="layer 30 does not exist"):
        att.show_attention(model, SENTENCE, layer=30)
    with pytest.raises(AttentionInputError, match="head 9 does not exist"):
        att.show_attention(model, SENTENCE, layer=0, heads=[9])
    with pytest.raises(AttentionInputError, match="3 tokens"):
        att.attention_view(["a", "b", "c"], torch.rand(2, 4, 4))
    with pytest.raises(AttentionInputError, match="empty"):
        att.show_attention(model, "  ", layer=0)


def test_pattern_html_draws_one_row_per_token_and_shades_the_query_row(model):
    pattern = att.patterns_of(model, SENTENCE, [5])[0, 2]
    tokens = att.str_tokens(model, model.to_tokens(SENTENCE)[0])
    page = att.pattern_html(tokens, pattern, query=3, title="layer 5, head 2")
    assert page.count("<tr>") == len(tokens) + 1 and "layer 5, head 2" in page
    assert torch.allclose(pattern.sum(-1), torch.ones(len(tokens)), atol=1e-5)
    with pytest.raises(AttentionInputError, match="query position"):
        att.pattern_html(tokens, pattern, query=len(tokens))


def test_explorer_runs_the_model_only_when_the_text_changes(model):
    explorer = att.attention_explorer(model, SENTENCE, layer=2, head=1)
    assert explorer.cache.runs == 1 and "layer 2, head 1" in explorer.result.value
    explorer.layer.value, explorer.head.value, explorer.query.value = 17, 4, 3
    assert explorer.cache.runs == 1 and "layer 17, head 4" in explorer.result.value
    explorer.text.value = "When Mary and John went to the store, John gave a drink to"
    assert explorer.cache.runs == 2 and explorer.query.value == explorer.query.max == 14
    explorer.text.value = ""
    assert "empty" in explorer.result.value and explorer.cache.runs == 2
    explorer.text.value = "word " * 60
    assert "at most" in explorer.result.value


def test_layer_head_heatmap_has_one_cell_per_head(scores):
    fig = att.layer_head_heatmap(scores["induction"], title="induction")
    assert len(fig.data[0].z) == 30 and len(fig.data[0].z[0]) == 9
    with pytest.raises(AttentionInputError, match="layer, head"):
        att.layer_head_heatmap(torch.zeros(3))


def test_knocking_out_induction_heads_hurts_copying_more_than_random_heads(model, tokens, scores):
    top = [(int(i) // 9, int(i) % 9) for i in scores["induction"].flatten().argsort(descending=True)[:4]]
    plain = att.repeated_loss(model, tokens[:1])
    without = att.repeated_loss(model, tokens[:1], knock_out=top)
    control = att.repeated_loss(model, tokens[:1], knock_out=[(3, 0), (9, 2), (12, 5), (25, 1)])
    assert without["second"] > plain["second"] + 1 and without["second"] > control["second"] + 1
    assert abs(without["first"] - plain["first"]) < abs(without["second"] - plain["second"])
    after = att.repeated_loss(model, tokens[:1])  # the hooks are gone
    assert torch.equal(after["per_position"], plain["per_position"])
    with pytest.raises(AttentionInputError, match="head 9 does not exist"):
        att.repeated_loss(model, tokens[:1], knock_out=[(0, 9)])


def test_show_heads_draws_chosen_heads_from_several_layers(model):
    page = att.show_heads(model, SENTENCE, [(13, 8), (1, 8)]).data
    assert "L13H8" in page and "L1H8" in page and "unpkg.com" not in page
    with pytest.raises(AttentionInputError, match="pairs"):
        att.show_heads(model, SENTENCE, [])
    with pytest.raises(AttentionInputError, match="layer 31 does not exist"):
        att.show_heads(model, SENTENCE, [(31, 0)])
