"""The README's examples run as printed, and what they print means what the README says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


def test_the_own_prompts_section_has_one_example_block():
    assert len(python_blocks("Use the tools on your own prompts")) == 1


@pytest.mark.slow
def test_the_own_prompts_examples_run_and_the_model_is_restored():
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(python_blocks("Use the tools on your own prompts")[0], str(README), "exec"), namespace)
    ioi, model, examples = namespace["ioi"], namespace["model"], namespace["examples"]

    before = ioi.logit_diff(model, examples)
    assert (before > 0).all(), before  # "positive means the right name wins" holds for these prompts
    with ioi.ablate_heads(model, namespace["heads"], examples):
        during = ioi.logit_diff(model, examples)
    assert during.mean() < before.mean()
    assert ioi.logit_diff(model, examples).tolist() == before.tolist()

    heat, prompt, facts = namespace["heat"], namespace["prompt"], namespace["facts"]
    assert tuple(heat.shape) == (model.cfg.n_layers, len(model.to_str_tokens(prompt)))
    assert facts.predict(model, prompt, k=1)[0][0] == " Paris"  # the edit is gone
    assert "(' Rome'," in printed.getvalue()  # and while it was in place, Rome was among the top 3
    history = namespace["history"]
    assert len(history) == 30 and history[-1] < history[0]
    assert set(namespace["results"].columns) >= {"id", "chosen", "correct"}
    assert "false_belief" in printed.getvalue()
