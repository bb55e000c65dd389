"""course_utils.widgets: the HTML behind the explorers, and the widgets driven through .value."""

from __future__ import annotations

import pytest

from course_utils.vectors import load_glove
from course_utils.widgets import (
    analogy_explorer,
    analogy_result,
    render_tokens_html,
    token_label,
    token_pieces,
    tokenizer_explorer,
    tokens_text,
)


@pytest.fixture(scope="module")
def tokenizer(model):
    return model.tokenizer


@pytest.fixture(scope="module")
def glove():
    return load_glove()


def test_token_pieces_have_ids_and_text_without_the_start_marker(tokenizer):
    pieces = token_pieces(tokenizer, "The cat sat.")
    assert [label for _, label in pieces] == ["The", " cat", " sat", "."]
    assert pieces[1][0] == tokenizer(" cat", add_special_tokens=False)["input_ids"][0]
    assert "' cat'(" in tokens_text(pieces)


def test_partial_utf8_tokens_are_shown_as_bytes(tokenizer):
    pieces = token_pieces(tokenizer, "我")
    labels = [label for _, label in pieces]
    assert len(pieces) >= 2 and all(label.startswith("<") and label.endswith(">") for label in labels)
    joined = bytes.fromhex(" ".join(label.strip("<>") for label in labels))
    assert joined.decode("utf-8") == "我"
    assert token_label(tokenizer, 0) == "<|endoftext|>"


def test_render_tokens_html(tokenizer):
    page = render_tokens_html(tokenizer, "I went to the bank.\nThen home.")
    assert page.count("<span title=") == len(token_pieces(tokenizer, "I went to the bank.\nThen home."))
    assert "&middot;bank" in page and "&crarr;" in page
    assert "tokens for" in page
    assert str(tokenizer(" bank", add_special_tokens=False)["input_ids"][0]) in page


def test_byte_labels_keep_their_spaces_while_text_spaces_are_dotted(tokenizer):
    page = render_tokens_html(tokenizer, "我 cat")
    byte_labels = [label for _, label in token_pieces(tokenizer, "我") if " " in label]
    assert byte_labels, "expected at least one token holding two bytes of 我"
    assert all(f">{label.replace('<', '&lt;').replace('>', '&gt;')}<" in page for label in byte_labels)
    assert "&middot;cat" in page


def test_a_space_before_partial_bytes_is_drawn_as_a_dot(tokenizer):
    labels = [label for _, label in token_pieces(tokenizer, "I love 🤗")]
    assert " <F0 9F>" in labels  # the space is text, the rest are bytes of the emoji
    page = render_tokens_html(tokenizer, "I love 🤗")
    assert "&middot;&lt;F0 9F&gt;" in page and "&lt;20" not in page


def test_render_escapes_html(tokenizer):
    page = render_tokens_html(tokenizer, "<script>alert(1)</script>")
    assert "<script>" not in page and "&lt;" in page


def test_render_empty_text_gives_a_message(tokenizer):
    assert "Type some text" in render_tokens_html(tokenizer, "")
    assert "Type some text" in render_tokens_html(tokenizer, None)


def test_render_reports_tokenizer_errors_as_a_message():
    class Broken:
        def __call__(self, *args, **kwargs):
            raise RuntimeError("boom")

    page = render_tokens_html(Broken(), "hello")
    assert "Could not tokenize" in page and "boom" in page and "Traceback" not in page


def test_tokenizer_explorer_updates_when_value_is_set(tokenizer):
    explorer = tokenizer_explorer(tokenizer, "hello")
    assert "1 token" in explorer.result.value
    explorer.text.value = "The capital of Poland is Warsaw."
    assert "&middot;Warsaw" in explorer.result.value
    explorer.text.value = ""
    assert "Type some text" in explorer.result.value
    explorer.text.value = "def f(x):\n    return 2 ** x  # 中文"
    assert "tokens for" in explorer.result.value


def test_analogy_result_finds_queen(glove):
    page = analogy_result(glove, "king", "man", "woman")
    assert "queen" in page and "<table" in page
    assert page.index("queen") < page.index("</table>")


def test_analogy_result_messages(glove):
    assert "Fill in the first word" in analogy_result(glove, "", "man", "woman")
    assert "Fill in the word to subtract and the word to add" in analogy_result(glove, "king", " ", "")
    page = analogy_result(glove, "kingg", "man", "woman")
    assert "not in the vocabulary" in page and "king" in page and "<table" not in page


def test_analogy_explorer_driven_by_values(glove):
    explorer = analogy_explorer(glove)
    assert "queen" in explorer.result.value
    start, minus, plus = explorer.inputs
    start.value, minus.value, plus.value = "Paris", "France", "Germany"
    assert "berlin" in explorer.result.value
    start.value = "zzxqqy"
    assert "not in the vocabulary" in explorer.result.value
    start.value = ""
    assert "Fill in the first word" in explorer.result.value
    assert "Traceback" not in explorer.result.value


# ---------------------------------------------------------------------------------------------
# The plot helpers the explorers' chapter uses: small figures, binned data


def test_angle_histogram_bins_before_plotting():
    import torch

    from course_utils.plotting import angle_histogram

    angles = {"a": torch.full((200_000,), 90.0), "b": torch.linspace(0, 180, 1000)}
    fig = angle_histogram(angles, bins=90)
    assert [len(trace.y) for trace in fig.data] == [90, 90]  # bars, not 200,000 raw values
    assert abs(sum(fig.data[0].y) - 1.0) < 1e-6 and abs(sum(fig.data[1].y) - 1.0) < 1e-6


def test_line_scatter_and_bar_helpers():
    import torch

    from course_utils.plotting import bar_chart, layer_lines, scatter_labeled

    fig = layer_lines({"same": torch.rand(31), "different": [0.5] * 31}, dashed=["different"])
    assert len(fig.data) == 2 and fig.data[1].line.dash == "dash" and len(fig.data[0].x) == 31
    fig = scatter_labeled([0, 1, 2], [1, 2, 3], ["a", "b", "c"], groups=["x", "x", "y"])
    assert [trace.name for trace in fig.data] == ["x", "y"]
    with pytest.raises(ValueError):
        scatter_labeled([0, 1], [1], ["a", "b"])
    fig = bar_chart(["nurse", "captain"], torch.tensor([0.3, -0.4]))
    assert list(fig.data[0].x) == pytest.approx([0.3, -0.4])
