"""Interactive explorers for the notebooks: a tokenizer explorer and a word-analogy explorer.

Each explorer is a thin ipywidgets shell around a pure function that returns HTML, so the logic
can be tested without a browser:

* :func:`render_tokens_html` / :func:`tokenizer_explorer`: type text, see its tokens and ids.
* :func:`analogy_result` / :func:`analogy_explorer`: ``start - minus + plus`` and its nearest words.

Wrong or empty input is answered with a message inside the widget, never with a traceback.

>>> from course_utils.vectors import load_glove
>>> "queen" in analogy_result(load_glove(), "king", "man", "woman")
True
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "analogy_explorer",
    "analogy_result",
    "render_tokens_html",
    "token_label",
    "token_pieces",
    "tokenizer_explorer",
]

# Soft background colours, one per token in turn (readable in light and dark themes).
PALETTE = ("#fde2a7", "#b9e3c6", "#c9d7f8", "#f7c6d9", "#d9c9f2", "#c2ece9", "#f6d0b1")
_BOX = ("font-family: ui-monospace, SFMono-Regular, Menlo, monospace; line-height: 2.4; "
        "color: #111; padding: 4px 0")


# ---------------------------------------------------------------------------------------------
# Tokens: ids and readable labels


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """Byte-level BPE tokenizers store each byte of a token as one printable character (a space is
    ``Ġ``, a newline ``Ċ``); this maps those characters back to bytes (GPT-2's table, from transformers)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {char: byte for byte, char in bytes_to_unicode().items()}


def token_bytes(tokenizer: Any, token_id: int) -> bytes | None:
    """The raw bytes of one token, or None when the tokenizer is not byte-level (or the id special)."""
    piece = tokenizer.convert_ids_to_tokens(int(token_id))
    decoder = _byte_decoder()
    if piece is None or piece in getattr(tokenizer, "all_special_tokens", ()):
        return None
    if not all(ch in decoder for ch in piece):
        return None
    return bytes(decoder[ch] for ch in piece)


def _bytes_label(raw: bytes) -> str:
    return "<" + " ".join(f"{b:02X}" for b in raw) + ">"


def token_label(tokenizer: Any, token_id: int) -> str:
    """A readable label for one token: its text, with any bytes that are part of a character in hex.

    Byte-level tokenizers may split a character such as 我 (three bytes in UTF-8) over several
    tokens. Such a token is not text on its own, so its bytes are shown as ``<E6 88>``; text around
    them stays text (``' <F0 9F>'`` for a space followed by the first bytes of an emoji).
    """
    raw = token_bytes(tokenizer, token_id)
    if raw is None:
        return tokenizer.decode([int(token_id)])
    decoded = raw.decode("utf-8", errors="surrogateescape")  # bytes that are not text become U+DC80..U+DCFF
    parts = re.split(r"([\udc80-\udcff]+)", decoded)
    return "".join(_bytes_label(bytes(ord(c) - 0xDC00 for c in part)) if part and "\udc80" <= part[0] <= "\udcff"
                   else part for part in parts)


def token_pieces(tokenizer: Any, text: str) -> list[tuple[int, str]]:
    """``(id, label)`` for every token of ``text``, without the start-of-text marker."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return [(int(i), token_label(tokenizer, i)) for i in ids]


_BYTES_LABEL = re.compile(r"(<[0-9A-F]{2}(?: [0-9A-F]{2})*>)")  # what token_label gives for part of a character


def _visible(label: str) -> str:
    """HTML for a label with its spaces, tabs and newlines made visible (byte labels kept as they are)."""
    parts = _BYTES_LABEL.split(label)
    return "".join(html.escape(part) if _BYTES_LABEL.fullmatch(part) else
                   html.escape(part).replace(" ", "&middot;").replace("\t", "&rarr;").replace("\n", "&crarr;")
                   for part in parts)


def _message(text: str, colour: str = "#555") -> str:
    return f'<div style="color: {colour}; padding: 4px 0">{html.escape(text)}</div>'


def render_tokens_html(tokenizer: Any, text: str, *, show_ids: bool = True, max_tokens: int = 2000) -> str:
    """HTML showing ``text`` cut into coloured tokens, each with its id underneath.

    Spaces are shown as ``·`` and newlines as ``↵``. Empty text gives a short message instead.
    """
    if not isinstance(text, str) or not text:
        return _message("Type some text above to see its tokens.")
    try:
        pieces = token_pieces(tokenizer, text)
    except Exception as err:  # a tokenizer error must not become a traceback in the widget
        return _message(f"Could not tokenize this text: {type(err).__name__}: {err}", "#b00020")
    shown = pieces[:max_tokens]
    spans = []
    for k, (token_id, label) in enumerate(shown):
        colour = PALETTE[k % len(PALETTE)]
        id_line = (f'<span style="display: block; font-size: 0.7em; line-height: 1.1; color: #444">'
                   f"{token_id}</span>") if show_ids else ""
        spans.append(
            f'<span title="token {k}, id {token_id}" style="display: inline-block; background: {colour}; '
            f'border-radius: 3px; margin: 1px; padding: 0 3px; text-align: center; line-height: 1.4">'
            f"{_visible(label)}{id_line}</span>"
        )
    n_chars = len(text)
    summary = (f"{len(pieces)} token{'s' if len(pieces) != 1 else ''} for {n_chars} character"
               f"{'s' if n_chars != 1 else ''}")
    if pieces:
        summary += f" ({n_chars / len(pieces):.1f} characters per token)"
    if len(pieces) > max_tokens:
        summary += f"; only the first {max_tokens} are shown"
    return (f'<div style="{_BOX}">{"".join(spans)}</div>'
            f'<div style="color: #555; font-size: 0.9em">{html.escape(summary)}</div>')


def tokenizer_explorer(tokenizer: Any, text: str = "The bank of the river Vistula flows through Warsaw.") -> Any:
    """A text box and, under it, the tokens of whatever is typed in it (updated as you type).

    The returned ``VBox`` has two extra attributes for programmatic use: ``text`` (the Textarea)
    and ``result`` (the HTML widget showing the tokens).
    """
    import ipywidgets as widgets

    box_in = widgets.Textarea(value=text, placeholder="Type any text: English, Spanish, 中文, code, numbers...",
                              description="Text", layout=widgets.Layout(width="100%", height="80px"))
    result = widgets.HTML()

    def update(_: Any = None) -> None:
        try:
            result.value = render_tokens_html(tokenizer, box_in.value)
        except Exception as err:  # belt and braces: render_tokens_html already catches errors
            result.value = _message(f"Something went wrong: {type(err).__name__}: {err}", "#b00020")

    box_in.observe(update, names="value")
    update()
    explorer = widgets.VBox([box_in, result])
    explorer.text, explorer.result = box_in, result
    return explorer


# ---------------------------------------------------------------------------------------------
# Analogies


def analogy_result(vectors: Any, start: str, minus: str, plus: str, k: int = 8) -> str:
    """HTML table of the words nearest ``start - minus + plus`` (e.g. king - man + woman).

    Each of the three vectors is scaled to length 1 first, and the three query words are left out
    of the answers. Empty or unknown words give a message (with spelling suggestions) instead.
    """
    words = {"first word": start, "word to subtract": minus, "word to add": plus}
    missing = [name for name, w in words.items() if not isinstance(w, str) or not w.strip()]
    if missing:
        return _message(f"Fill in the {' and the '.join(missing)}.")
    unknown = [w for w in (start, minus, plus) if w not in vectors]
    if unknown:
        lines = []
        for w in dict.fromkeys(unknown):
            close = vectors.suggest(w)
            lines.append(f"'{w.strip()}' is not in the vocabulary"
                         + (f"; did you mean: {', '.join(close)}?" if close else "."))
        return "".join(_message(line, "#b00020") for line in lines)
    try:
        top = vectors.analogy(minus, start, plus, k=k)
    except Exception as err:
        return _message(f"Could not compute this analogy: {type(err).__name__}: {err}", "#b00020")
    import pandas as pd

    norm = vectors.normalise
    table = pd.DataFrame(top, columns=["word", "cosine"], index=pd.RangeIndex(1, len(top) + 1, name="rank"))
    title = f"{html.escape(norm(start))} &minus; {html.escape(norm(minus))} + {html.escape(norm(plus))} &asymp;"
    return f"<div style='padding: 4px 0'>{title}</div>" + table.to_html(float_format="{:.3f}".format)


def analogy_explorer(vectors: Any, start: str = "king", minus: str = "man", plus: str = "woman",
                     k: int = 8) -> Any:
    """Three word boxes, ``start - minus + plus``, and the ``k`` nearest words to the result.

    The table updates when you press Enter or leave a box. The returned ``VBox`` has the extra
    attributes ``inputs`` (the three Text widgets, in order) and ``result`` (the HTML widget).
    """
    import ipywidgets as widgets

    def text_box(value: str, label: str) -> Any:
        return widgets.Text(value=value, placeholder=label, continuous_update=False,
                            layout=widgets.Layout(width="150px"))

    inputs = [text_box(start, "e.g. king"), text_box(minus, "e.g. man"), text_box(plus, "e.g. woman")]
    result = widgets.HTML()

    def update(_: Any = None) -> None:
        try:
            result.value = analogy_result(vectors, *(box.value for box in inputs), k=k)
        except Exception as err:  # analogy_result already reports errors as messages
            result.value = _message(f"Something went wrong: {type(err).__name__}: {err}", "#b00020")

    for box in inputs:
        box.observe(update, names="value")
    update()
    row = widgets.HBox([inputs[0], widgets.Label("−"), inputs[1], widgets.Label("+"), inputs[2]])
    explorer = widgets.VBox([row, result])
    explorer.inputs, explorer.result = inputs, result
    return explorer


def tokens_text(pieces: Sequence[tuple[int, str]]) -> str:
    """A one-line plain-text view of ``token_pieces`` output: ``' bank'(5461) | ...``."""
    return " | ".join(f"{label!r}({token_id})" for token_id, label in pieces)
