"""Theory-of-mind evaluations: tasks as data, answers scored by log-probability, results with intervals.

A **task** is one prompt and a few candidate continuations, written as one line of a JSON Lines
file::

    {"id": "uc01.false_belief", "scenario": "uc01", "family": "unexpected_contents",
     "variant": "false_belief", "prompt": "... She believes that the bag is full of",
     "answers": [" popcorn", " chocolate"], "expected": " chocolate"}

:func:`load_tasks` reads and checks such files (a broken line is reported with its file, line and
field, and nothing is loaded). :func:`evaluate` asks a model how likely each candidate is after the
prompt and returns one row per prompt; :func:`summarise` turns those rows into accuracies with
bootstrap intervals, per family and variant, and adds the stricter scenario-level score of
Kosinski (2024): a scenario counts only when every one of its core prompts is right.
:func:`generate_answers` lets the model answer in its own words instead, and :func:`parse_answer`
reads those words back as one of the candidates (or ``"unclear"``).

>>> parse_answer(" chocolate, of course.", [" popcorn", " chocolate"])
' chocolate'
>>> parse_answer(" not popcorn but chocolate", [" popcorn", " chocolate"])
' chocolate'
>>> parse_answer(" candy", [" popcorn", " chocolate"])
'unclear'
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int

from course_utils.errors import OneLineError

__all__ = [
    "FAMILIES",
    "KOSINSKI_2024_VARIANTS",
    "POOLED",
    "SCENARIO_SCORE",
    "TASK_DIR",
    "UNCLEAR",
    "ChatTemplateError",
    "TaskFileError",
    "chat_text",
    "compare_scoring",
    "evaluate",
    "generate_answers",
    "load_tasks",
    "parse_answer",
    "plot_margins",
    "plot_summary",
    "summarise",
    "tasks_frame",
    "validate_task",
    "wilson_interval",
]

FAMILIES = ("unexpected_contents", "unexpected_transfer")
# The prompts of one scenario that must all be right for the scenario to count, as in Kosinski's
# 2024 scoring: the false-belief story, its true-belief control, and both again with the two answer
# words swapped. (Kosinski's own tasks had three controls each, so eight prompts; ours have one.)
KOSINSKI_2024_VARIANTS = ("false_belief", "true_belief_control", "label_swap", "control_label_swap")
SCENARIO_SCORE = "scenario (2024 scoring)"  # the variant name summarise() gives the scenario-level rows
POOLED = "both"  # the family name summarise() gives the rows that pool every family
TASK_DIR = Path(__file__).resolve().parent / "data" / "tom"  # the course's own task files
UNCLEAR = "unclear"  # what parse_answer returns when the text names no candidate

FIELDS = ("id", "scenario", "family", "variant", "prompt", "answers", "expected")
_VARIANT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CHAT_INSTRUCTION = "Read the story and finish its last sentence.\n\n"


# ---------------------------------------------------------------------------------------------
# Tasks: reading and checking


class TaskFileError(OneLineError, ValueError):
    """A task that breaks the format; the message names the file, the line and the field."""

    def __init__(self, source: str, line: int | None, field: str | None, problem: str) -> None:
        self.source, self.line, self.field, self.problem = source, line, field, problem
        where = source + (f", line {line}" if line else "") + (f", field {field!r}" if field else "")
        super().__init__(f"{where}: {problem}")


class ChatTemplateError(OneLineError, ValueError):
    """``chat=True`` for a model whose tokenizer has no chat template."""


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def validate_task(record: Any, *, source: str = "<task>", line: int = 1,
                  families: Sequence[str] | None = FAMILIES) -> dict[str, Any]:
    """Check one task and return it with ``answers`` as a tuple; :class:`TaskFileError` otherwise.

    The rules: every field of :data:`FIELDS` present and no other; text fields are non-empty
    strings; ``family`` is one of ``families`` (by default the course's two, :data:`FAMILIES`;
    ``None`` accepts any lower-case name, for tasks of your own); ``variant`` is a lower-case name such as
    ``false_belief``; ``answers`` holds two or more different strings, each starting with one
    space (the space belongs to the answer's token, not to the prompt, which must not end with
    one); no answer's words begin another's (a summed log-probability would always favour the
    shorter); ``expected`` is one of the answers.

    >>> validate_task({"id": "t1", "scenario": "s", "family": "unexpected_contents",
    ...     "variant": "false_belief", "prompt": "It is full of", "answers": [" a", " b"],
    ...     "expected": " c"})
    Traceback (most recent call last):
    ...
    course_utils.evals.TaskFileError: <task>, line 1, field 'expected': ' c' is not one of the answers [' a', ' b']
    """

    def fail(field: str | None, problem: str) -> TaskFileError:
        return TaskFileError(source, line, field, problem)

    if not isinstance(record, Mapping):
        raise fail(None, f"expected a JSON object {{...}}, got {type(record).__name__}")
    for field in FIELDS:
        if field not in record:
            raise fail(field, "is missing")
    for field in record:
        if field not in FIELDS:
            close = difflib.get_close_matches(str(field), FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; the fields are {', '.join(FIELDS)}"
            raise fail(str(field), f"is not a task field{hint}")
    for field in ("id", "scenario", "family", "variant", "prompt", "expected"):
        value = record[field]
        if not isinstance(value, str):
            raise fail(field, f"must be a string, got {type(value).__name__} {_short(value)}")
        if not value.strip():
            raise fail(field, "is empty")
    if families is not None and record["family"] not in families:
        raise fail("family", f"{record['family']!r} is not a task family; use one of {', '.join(families)} "
                             "(or load_tasks(..., families=None) for tasks of your own)")
    if families is None and not _VARIANT_NAME.match(record["family"]):
        raise fail("family", f"{record['family']!r} must be lower-case letters, digits and underscores")
    if not _VARIANT_NAME.match(record["variant"]):
        raise fail("variant", f"{record['variant']!r} must be lower-case letters, digits and underscores")
    prompt = record["prompt"]
    if prompt != prompt.rstrip():
        raise fail("prompt", "ends with white space; the answers carry the space (\" popcorn\")")
    answers = record["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise fail("answers", f"must be a list of strings, got {_short(answers)}")
    if len(answers) < 2:
        raise fail("answers", f"needs at least two candidates, got {len(answers)}")
    for answer in answers:
        if not re.match(r"^ \S", answer):
            raise fail("answers", f"{answer!r} must start with exactly one space, as in ' {answer.strip()}'")
        if answer != answer.rstrip():
            raise fail("answers", f"{answer!r} ends with white space")
    if len(set(answers)) < len(answers):
        twice = next(a for a in answers if answers.count(a) > 1)
        raise fail("answers", f"{twice!r} is listed twice")
    for a in answers:
        for b in answers:
            wa, wb = _words(a), _words(b)
            if a != b and wa and wa == wb[: len(wa)]:
                raise fail("answers", f"{a!r} is the start of {b!r}; a summed log-probability always favours "
                                      f"the shorter one: end both differently")
    if record["expected"] not in answers:
        raise fail("expected", f"{record['expected']!r} is not one of the answers {list(answers)}")
    task = {field: record[field] for field in FIELDS}
    task["answers"] = tuple(answers)
    return task


def tasks_frame(records: Iterable[Mapping[str, Any]], *, source: str = "<tasks>",
                families: Sequence[str] | None = FAMILIES) -> pd.DataFrame:
    """Check a list of task dicts (line numbers count from 1) and return them as a DataFrame."""
    rows, seen, scenario_family = [], {}, {}
    for line, record in enumerate(records, start=1):
        rows.append(_checked(record, source, line, seen, scenario_family, families))
    return _frame(rows, source)


def _checked(record: Any, source: str, line: int, seen: dict[str, tuple[str, int]],
             scenario_family: dict[str, str], families: Sequence[str] | None) -> dict:
    """:func:`validate_task`, plus the checks across lines: unique ids, one family per scenario."""
    task = validate_task(record, source=source, line=line, families=families)
    if task["id"] in seen:
        file, first = seen[task["id"]]
        where = f"line {first}" + ("" if file == source else f" of {file}")
        raise TaskFileError(source, line, "id", f"{task['id']!r} is already used on {where}")
    seen[task["id"]] = (source, line)
    family = scenario_family.setdefault(task["scenario"], task["family"])
    if family != task["family"]:
        raise TaskFileError(source, line, "family",
                            f"scenario {task['scenario']!r} is {family} elsewhere, not {task['family']}")
    return task


def _frame(rows: list[dict], source: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(FIELDS))
    frame.attrs["source"] = source
    return frame


def _task_files(path: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(path, (str, Path)):
        path = Path(path)
        if path.is_dir():
            files = sorted(path.glob("*.jsonl"))
            if not files:
                raise TaskFileError(str(path), None, None, "this folder holds no .jsonl task files")
            return files
        return [path]
    return [Path(p) for p in path]


def load_tasks(path: str | Path | Iterable[str | Path] = TASK_DIR, *,
               families: Sequence[str] | None = FAMILIES) -> pd.DataFrame:
    """Read and check JSON Lines task files: one file, a folder of ``*.jsonl``, or a list of files.

    Every line is checked (:func:`validate_task`, ids unique across all the files, one family per
    scenario) before anything is returned: a broken file raises :class:`TaskFileError` naming the
    file, the line and the field, and nothing is loaded. Blank lines are skipped. With no argument,
    the course's own tasks (:data:`TASK_DIR`) are loaded. ``families=None`` accepts families of
    your own (any lower-case name), for a claim that is not about theory of mind.

    Returns:
        a DataFrame with the columns of :data:`FIELDS`, one row per prompt, in file order.
    """
    files = _task_files(path)
    rows, seen, scenario_family = [], {}, {}
    for file in files:
        name = file.name
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TaskFileError(str(file), None, None, "no such file") from None
        except UnicodeDecodeError as err:
            raise TaskFileError(name, None, None, f"is not UTF-8 text ({err.reason})") from None
        lines = text.split("\n")  # not splitlines(): a JSON string may hold U+2028 and friends
        if not any(line.strip() for line in lines):
            raise TaskFileError(name, None, None, "holds no tasks")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise TaskFileError(name, number, None, f"is not valid JSON ({err.msg} at column {err.colno})") from None
            task = _checked(record, name, number, seen, scenario_family, families)
            rows.append(task)
    return _frame(rows, ", ".join(f.name for f in files))


def _as_tasks(tasks: pd.DataFrame | Iterable[Mapping[str, Any]] | str | Path) -> pd.DataFrame:
    """Tasks in any accepted form, checked again (any family name: load_tasks checks families)."""
    if isinstance(tasks, (str, Path)):
        return load_tasks(tasks, families=None)
    if isinstance(tasks, pd.DataFrame):
        missing = [f for f in FIELDS if f not in tasks.columns]
        if missing:
            raise TaskFileError("<DataFrame>", None, missing[0], "is missing: pass the output of load_tasks()")
        records = tasks[list(FIELDS)].to_dict("records")
        for r in records:
            r["answers"] = list(r["answers"])
        return tasks_frame(records, source=tasks.attrs.get("source", "<DataFrame>"), families=None)
    return tasks_frame(list(tasks), families=None)


# ---------------------------------------------------------------------------------------------
# Turning prompts into tokens


def _model_name(model: Any) -> str:
    """The course's name for ``model`` (``"smollm2-135m"``), marked when it runs in compatibility mode."""
    from course_utils.models import model_name

    return model_name(model) + (" (compat)" if getattr(model, "compatibility_mode", False) is True else "")


def _last_sentence_start(prompt: str) -> int:
    """Where the unfinished last sentence of a prompt begins (0 if it is the only sentence)."""
    ends = list(re.finditer(r"[.!?][\"'”’)]*\s+", prompt))
    return ends[-1].end() if ends else 0


def chat_text(tokenizer: Any, prompt: str) -> str:
    """The prompt inside the model's chat template, with the unfinished sentence begun for it.

    The user's turn holds the whole story and a request to finish it; the assistant's turn is
    started with the story's last, unfinished sentence, so that the candidates continue it
    exactly as they do in a plain prompt.
    """
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "this model")
        raise ChatTemplateError(f"the tokenizer of {name} has no chat template; evaluate it with chat=False")
    messages = [{"role": "user", "content": _CHAT_INSTRUCTION + prompt}]
    head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return head + prompt[_last_sentence_start(prompt):]


def _context_ids(model: Any, prompt: str, chat: bool) -> list[int]:
    if chat:  # the template writes its own start marker
        text = chat_text(model.tokenizer, prompt)
        return model.tokenizer(text, add_special_tokens=False)["input_ids"]
    return model.to_tokens(prompt, prepend_bos=True)[0].tolist()


def _answer_ids(tokenizer: Any, answer: str) -> list[int]:
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if not ids:
        raise TaskFileError("<answers>", None, "answers", f"{answer!r} has no tokens")
    return ids


# ---------------------------------------------------------------------------------------------
# Scoring candidates


@dataclass
class _Row:
    """One sequence to run: a prompt, followed by all but the last token of one candidate."""

    tokens: list[int]
    reads: list[tuple[int, int, int, int]]  # (task, answer, position, target token), one per answer token


def _plan_rows(contexts: list[list[int]], answers: list[list[list[int]]]) -> list[_Row]:
    """The fewest sequences that give every answer token its log-probability.

    The last prompt position predicts the first token of every answer, so one sequence per prompt
    is enough when all answers are one token; each longer answer needs its own sequence (the
    prompt followed by that answer), which also serves the one-token answers.
    """
    rows = []
    for t, (ctx, cands) in enumerate(zip(contexts, answers)):
        last = len(ctx) - 1
        long = [a for a, ids in enumerate(cands) if len(ids) > 1]
        task_rows = [_Row(ctx + cands[a][:-1], []) for a in long] or [_Row(list(ctx), [])]
        for a, ids in enumerate(cands):
            row = task_rows[long.index(a)] if a in long else task_rows[0]
            row.reads += [(t, a, last + k, tok) for k, tok in enumerate(ids)]
        rows += task_rows
    return rows


def _batches(rows: list[_Row], max_tokens: int, max_rows: int) -> list[list[_Row]]:
    """Rows sorted by length and cut into batches of at most ``max_rows`` rows and ``max_tokens``
    padded tokens (sorting keeps the padding small)."""
    batches: list[list[_Row]] = []
    current: list[_Row] = []
    for row in sorted(rows, key=lambda r: len(r.tokens)):
        if current and (len(current) >= max_rows or len(row.tokens) * (len(current) + 1) > max_tokens):
            batches.append(current)
            current = []
        current.append(row)
    return batches + ([current] if current else [])


def _logits_at(
    model: Any, tokens: Int[torch.Tensor, "batch pos"], positions: list[int]
) -> Float[torch.Tensor, "batch n_positions d_vocab"]:
    """Logits at the given positions only. Most Hugging Face models can skip the unembedding
    elsewhere (``logits_to_keep``): less time, and far less memory with a large vocabulary."""
    keep = torch.tensor(positions, device=tokens.device)
    try:
        logits = model(tokens, logits_to_keep=keep)
        if logits.shape[1] == len(positions):
            return logits
    except TypeError:
        pass
    return model(tokens)[:, keep]


def _padded(seqs: list[list[int]], pad: int, *, left: bool = False
            ) -> tuple[Int[torch.Tensor, "batch pos"], Int[torch.Tensor, "batch pos"]]:
    """Sequences padded to the same length, and the mask of their real tokens."""
    width = max(len(s) for s in seqs)
    tokens = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        where = slice(width - len(s), width) if left else slice(0, len(s))
        tokens[i, where] = torch.tensor(s, dtype=torch.long)
        mask[i, where] = 1
    return tokens, mask


def _pad_id(model: Any) -> int:
    pad = model.tokenizer.pad_token_id
    return 0 if pad is None else int(pad)


def _score_rows(model: Any, rows: list[_Row], n_tasks: int, n_answers: list[int], *, max_tokens: int,
                max_rows: int, progress: bool, desc: str) -> list[list[list[float]]]:
    """The log-probability of every answer token: ``[task][answer] -> [per-token log-probs]``."""
    from tqdm.auto import tqdm

    token_logprobs: list[list[list[float]]] = [[[] for _ in range(n)] for n in n_answers]
    device = getattr(model.cfg, "device", "cpu")
    remaining = [0] * n_tasks  # answer tokens still to score, per task: the bar counts finished tasks
    for row in rows:
        for t, *_ in row.reads:
            remaining[t] += 1
    with torch.no_grad(), tqdm(total=n_tasks, desc=desc, disable=not progress, leave=True) as bar:
        for batch in _batches(rows, max_tokens, max_rows):
            # Padding goes on the right, where a causal model's real positions never see it.
            tokens, _ = _padded([r.tokens for r in batch], _pad_id(model))
            positions = sorted({pos for row in batch for _, _, pos, _ in row.reads})
            column = {pos: j for j, pos in enumerate(positions)}
            logprobs = _logits_at(model, tokens.to(device), positions).float().log_softmax(dim=-1)
            finished = 0
            for i, row in enumerate(batch):
                for t, a, pos, target in row.reads:
                    token_logprobs[t][a].append(float(logprobs[i, column[pos], target]))
                    remaining[t] -= 1
                    finished += remaining[t] == 0
            bar.update(finished)
    return token_logprobs


def evaluate(
    model: Any,
    tasks: pd.DataFrame | Iterable[Mapping[str, Any]] | str | Path,
    chat: bool = False,
    *,
    max_tokens: int = 1024,
    max_rows: int = 16,
    progress: bool = True,
    model_name: str | None = None,
) -> pd.DataFrame:
    """Score every candidate answer of every task by its log-probability after the prompt.

    A candidate of several tokens gets the sum of their log-probabilities, each token given the
    prompt and the candidate's earlier tokens (``logprob_sum``), and that sum divided by its number
    of tokens (``logprob_mean``, which does not punish longer answers). The model's choice is the
    candidate with the highest sum (``chosen``, ``correct``) and, for comparison, the one with the
    highest mean (``chosen_normalised``, ``correct_normalised``). ``margin`` is the expected
    answer's sum minus the best other candidate's: positive when the model is right, and the
    larger, the surer.

    Prompts are batched by length; a prompt whose candidates are all one token needs one sequence
    for all of them, and each longer candidate adds one.

    Args:
        model: a TransformerBridge from :func:`course_utils.load_model` (any course model).
        tasks: the output of :func:`load_tasks`, a list of task dicts, or a path to task files.
        chat: put each prompt inside the model's chat template (:func:`chat_text`).
        max_tokens: at most this many (padded) tokens per batch; smaller saves memory.
        max_rows: at most this many sequences per batch.
        progress: show a progress bar.
        model_name: the name in the ``model`` column (default: the name it was loaded under).

    Returns:
        one row per task: ``model``, ``chat``, the task's fields, ``chosen``, ``correct``,
        ``chosen_normalised``, ``correct_normalised``, ``margin``, and per answer (in the order of
        ``answers``) ``logprob_sum``, ``logprob_mean`` and ``n_tokens``.
    """
    frame = _as_tasks(tasks)
    if chat:
        chat_text(model.tokenizer, "x")  # fail at once, before any work, if there is no template
    contexts = [_context_ids(model, p, chat) for p in frame["prompt"]]
    answer_ids = [[_answer_ids(model.tokenizer, a) for a in answers] for answers in frame["answers"]]
    rows = _plan_rows(contexts, answer_ids)
    token_logprobs = _score_rows(model, rows, len(frame), [len(a) for a in answer_ids], max_tokens=max_tokens,
                                 max_rows=max_rows, progress=progress, desc="chat prompts" if chat else "prompts")
    sums = [tuple(sum(lp) for lp in task) for task in token_logprobs]
    counts = [tuple(len(lp) for lp in task) for task in token_logprobs]
    means = [tuple(s / n for s, n in zip(ss, nn)) for ss, nn in zip(sums, counts)]

    out = frame.copy()
    out.insert(0, "chat", bool(chat))
    out.insert(0, "model", model_name or _model_name(model))
    out["chosen"] = [answers[int(np.argmax(s))] for answers, s in zip(frame["answers"], sums)]
    out["correct"] = out["chosen"] == out["expected"]
    out["chosen_normalised"] = [answers[int(np.argmax(m))] for answers, m in zip(frame["answers"], means)]
    out["correct_normalised"] = out["chosen_normalised"] == out["expected"]
    expected_index = [answers.index(e) for answers, e in zip(frame["answers"], frame["expected"])]
    out["margin"] = [s[i] - max(v for j, v in enumerate(s) if j != i) for s, i in zip(sums, expected_index)]
    out["logprob_sum"] = sums
    out["logprob_mean"] = means
    out["n_tokens"] = counts
    out.attrs = dict(frame.attrs)
    return out


# ---------------------------------------------------------------------------------------------
# Summaries with bootstrap intervals


def _bootstrap_groups(values: Sequence[np.ndarray], *, n_resamples: int, confidence: float,
                      seed: int) -> list[tuple[float, float]]:
    """Percentile bootstrap interval of the mean of each array (each drawn with its own seeded
    generator, so a group's interval does not depend on which other groups are present)."""
    alpha = (1 - confidence) / 2
    intervals = []
    for v in values:
        v = np.asarray(v, dtype=float)
        rng = np.random.default_rng(seed)
        means = v[rng.integers(0, len(v), size=(n_resamples, len(v)))].mean(axis=1)
        lo, hi = np.quantile(means, [alpha, 1 - alpha])
        intervals.append((float(lo), float(hi)))
    return intervals


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials.

    Unlike the percentile bootstrap, it stays honest at the edges: 0 right out of 40 does not
    mean that the true rate is exactly 0, only that it is probably below about 9%.

    >>> [round(x, 3) for x in wilson_interval(0, 40)]
    [0.0, 0.088]
    >>> [round(x, 3) for x in wilson_interval(13, 20)]
    [0.433, 0.819]
    """
    from statistics import NormalDist

    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exact at the edges, where rounding would leave 1e-17
    high = 1.0 if k == n else min(1.0, centre + half)
    return float(low), float(high)


def _labelled(results: pd.DataFrame) -> pd.DataFrame:
    """A copy whose ``model`` column tells chat-template runs apart: ``"smollm2-135m (chat)"``."""
    data = results.copy()
    if "model" not in data.columns:
        data["model"] = "model"
    if "chat" in data.columns:
        chat = data["chat"].astype(bool)
        data["model"] = data["model"].astype(str).where(~chat, data["model"].astype(str) + " (chat)")
    return data


def _family_order(families: Iterable[str]) -> list[str]:
    """The course's families first, then any others in order of appearance (``"both"`` left out)."""
    present = [f for f in dict.fromkeys(families) if f != POOLED]
    return [f for f in FAMILIES if f in present] + [f for f in present if f not in FAMILIES]


def _variant_order(variants: Iterable[str]) -> list[str]:
    variants = list(dict.fromkeys(variants))
    core = [v for v in KOSINSKI_2024_VARIANTS if v in variants]
    rest = sorted(v for v in variants if v not in KOSINSKI_2024_VARIANTS and v != SCENARIO_SCORE)
    return core + rest + ([SCENARIO_SCORE] if SCENARIO_SCORE in variants else [])


def summarise(
    results: pd.DataFrame,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    scenario_variants: Iterable[str] | None = KOSINSKI_2024_VARIANTS,
    correct: str = "correct",
) -> pd.DataFrame:
    """Accuracy per model, family and variant with bootstrap intervals, and the 2024 scenario score.

    For every (model, family, variant) group (runs with ``chat=True`` count as a model of their
    own, named with ``" (chat)"``): the number of prompts ``n``, the fraction answered
    correctly, and a percentile bootstrap interval (``confidence``, ``n_resamples`` resamples,
    seeded). The family ``"both"`` pools the families (when there are two or more). The rows whose variant is
    :data:`SCENARIO_SCORE` count scenarios instead of prompts: a scenario is solved only if every
    one of its prompts whose variant is in ``scenario_variants`` is correct (Kosinski 2024:
    the false-belief story, its control, and both with the answers swapped); ``None`` uses all of
    a scenario's variants, perturbations included.

    Args:
        results: the output of :func:`evaluate` (or of :func:`generate_answers`), several models
            concatenated if you like.
        correct: the boolean column to score (``"correct_normalised"`` for the length-normalised choice).
    """
    if correct not in results.columns:
        raise KeyError(f"results have no column {correct!r}; pass the output of evaluate()")
    data = _labelled(results).assign(_ok=results[correct].astype(bool).to_numpy())
    families = _family_order(data["family"])
    if len(families) > 1:
        data = pd.concat([data, data.assign(family=POOLED)], ignore_index=True)

    groups = {key: g["_ok"].to_numpy() for key, g in data.groupby(["model", "family", "variant"], sort=False)}
    scenario_data = data if scenario_variants is None else data[data["variant"].isin(list(scenario_variants))]
    solved = scenario_data.groupby(["model", "family", "scenario"], sort=False)["_ok"].all()
    for (model, family), g in solved.groupby(level=["model", "family"], sort=False):
        groups[(model, family, SCENARIO_SCORE)] = g.to_numpy()

    keys = list(groups)
    intervals = _bootstrap_groups([groups[k] for k in keys], n_resamples=n_resamples,
                                  confidence=confidence, seed=seed)
    table = pd.DataFrame(
        [(m, f, v, len(groups[(m, f, v)]), float(groups[(m, f, v)].mean()), lo, hi)
         for (m, f, v), (lo, hi) in zip(keys, intervals)],
        columns=["model", "family", "variant", "n", "accuracy", "ci_low", "ci_high"],
    )
    family_rank = {f: i for i, f in enumerate([*families, POOLED])}
    variant_rank = {v: i for i, v in enumerate(_variant_order(table["variant"]))}
    model_rank = {m: i for i, m in enumerate(dict.fromkeys(data["model"]))}
    table = table.sort_values(
        ["model", "family", "variant"],
        key=lambda col: col.map({"model": model_rank, "family": family_rank, "variant": variant_rank}[col.name]),
    )
    return table.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Free generation and its parser


def _same_word(word: str, target: str) -> bool:
    """Equal, or equal up to a plural ending: "chocolates" ~ "chocolate", "pen" ~ "pens" (for
    words of three letters or more, so that "as" is not the plural of "a")."""
    if word == target:
        return True
    short, long = sorted((word, target), key=len)
    return len(short) >= 3 and long in (short + "s", short + "es")


def parse_answer(text: str, answers: Sequence[str]) -> str:
    """The candidate that ``text`` names first, or :data:`UNCLEAR` if it names none.

    Words are compared in lower case, punctuation ignored, and the last word may differ by a
    plural ending (``"chocolates"`` names ``" chocolate"``, ``"a pen"`` names ``" pens"``). A
    mention right after ``not`` does not count (``"not popcorn but chocolate"`` names chocolate).
    When two candidates start at the same word, the longer match wins.
    """
    words = _words(text)
    best: tuple[int, int, str] | None = None  # (start, -length, answer)
    for answer in answers:
        target = _words(answer)
        if not target:
            continue
        n = len(target)
        for start in range(len(words) - n + 1):
            window = words[start:start + n]
            same_last = _same_word(window[-1], target[-1])
            if window[:-1] == target[:-1] and same_last and not (start > 0 and words[start - 1] == "not"):
                key = (start, -n, answer)
                best = key if best is None or key[:2] < best[:2] else best
                break
    return best[2] if best else UNCLEAR


def _last_logits(model: Any, tokens: Int[torch.Tensor, "batch pos"], mask: Int[torch.Tensor, "batch all_pos"],
                 cache: Any) -> tuple[Float[torch.Tensor, "batch d_vocab"], Any]:
    """Logits at the last position, and the key-value cache extended by ``tokens``."""
    kwargs = dict(attention_mask=mask, return_type="logits_and_cache", use_cache=True)
    if cache is not None:
        kwargs["past_key_values"] = cache
    try:
        logits, cache = model(tokens, logits_to_keep=1, **kwargs)
    except TypeError:  # a model that cannot skip the other positions
        logits, cache = model(tokens, **kwargs)
    return logits[:, -1], cache


def _greedy(model: Any, tokens: Int[torch.Tensor, "batch pos"], mask: Int[torch.Tensor, "batch pos"],
            max_new_tokens: int) -> Int[torch.Tensor, "batch new"]:
    """Greedy decoding of left-padded prompts: each step feeds one token and reuses the cache.

    ``model.generate`` does the same, but computes the logits at every prompt position first
    (hundreds of megabytes for a batch); here only the last position's are made.
    """
    logits, cache = _last_logits(model, tokens, mask, None)
    new = []
    for step in range(max_new_tokens):
        next_token = logits.argmax(dim=-1)  # [batch]
        new.append(next_token)
        if step + 1 < max_new_tokens:
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            logits, cache = _last_logits(model, next_token[:, None], mask, cache)
    return torch.stack(new, dim=1)


def _decode_until_special(tokenizer: Any, ids: list[int]) -> str:
    """The text of ``ids`` up to the first special token (end of text, end of turn)."""
    special = set(tokenizer.all_special_ids)
    end = next((k for k, i in enumerate(ids) if i in special), len(ids))
    return tokenizer.decode(ids[:end])


def generate_answers(
    model: Any,
    tasks: pd.DataFrame | Iterable[Mapping[str, Any]] | str | Path,
    chat: bool = False,
    *,
    max_new_tokens: int = 4,
    max_rows: int = 16,
    progress: bool = True,
    model_name: str | None = None,
) -> pd.DataFrame:
    """Let the model finish each prompt in its own words (greedy), then read the words back.

    Each prompt (in the chat template with ``chat=True``) gets ``max_new_tokens`` new tokens, the
    most likely one at every step; the text stops at the first special token.

    Returns one row per task: ``model``, ``chat``, the task's fields, ``generated`` (the new
    text), ``parsed`` (the candidate it names, by :func:`parse_answer`, or ``"unclear"``) and
    ``correct`` (parsed is the expected answer; ``"unclear"`` counts as wrong), so that
    :func:`summarise` works on it as on the output of :func:`evaluate`.
    """
    from tqdm.auto import tqdm

    frame = _as_tasks(tasks)
    if chat:
        chat_text(model.tokenizer, "x")
    tokenizer = model.tokenizer
    device = getattr(model.cfg, "device", "cpu")
    contexts = [_context_ids(model, p, chat) for p in frame["prompt"]]
    order = sorted(range(len(contexts)), key=lambda i: len(contexts[i]))
    generated = [""] * len(contexts)
    with torch.no_grad(), tqdm(total=len(contexts), desc="generating", disable=not progress, leave=True) as bar:
        for start in range(0, len(order), max_rows):
            batch = order[start:start + max_rows]
            # Generation pads on the left, so that every prompt ends where the new tokens begin;
            # the mask tells the model which positions are padding.
            tokens, mask = _padded([contexts[i] for i in batch], _pad_id(model), left=True)
            new_tokens = _greedy(model, tokens.to(device), mask.to(device), max_new_tokens)
            for row, i in enumerate(batch):
                generated[i] = _decode_until_special(tokenizer, new_tokens[row].tolist())
            bar.update(len(batch))
    out_frame = frame.copy()
    out_frame.insert(0, "chat", bool(chat))
    out_frame.insert(0, "model", model_name or _model_name(model))
    out_frame["generated"] = generated
    out_frame["parsed"] = [parse_answer(text, answers) for text, answers in zip(generated, frame["answers"])]
    out_frame["correct"] = out_frame["parsed"] == out_frame["expected"]
    return out_frame


def compare_scoring(results: pd.DataFrame, generations: pd.DataFrame) -> pd.DataFrame:
    """Put log-probability choices next to free answers, one row per task found in both.

    Columns: ``model``, ``chat``, ``id``, ``family``, ``variant``, ``expected``, ``chosen`` and
    ``margin`` (log-probability), ``generated``, ``parsed``, and ``agree`` (parsed equals chosen; an
    unclear answer never agrees).
    """
    keep = ["model", "chat", "id"]
    left = results[keep + ["family", "variant", "expected", "chosen", "margin"]]
    right = generations[keep + ["generated", "parsed"]]
    merged = left.merge(right, on=keep, how="inner")
    merged["agree"] = merged["parsed"] == merged["chosen"]
    return merged


# ---------------------------------------------------------------------------------------------
# Plots


def plot_summary(summary: pd.DataFrame, *, title: str = "", chance: float | None = 0.5,
                 families: Sequence[str] | None = None, height: int = 430) -> Any:
    """Accuracy with its interval for every variant, one panel per family, one colour per model.

    ``chance`` draws a dashed line (0.5 for two candidates); the scenario-level score is the last
    group of bars. ``families``: the panels, by default every family in ``summary`` but the pooled one.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from course_utils.plotting import COLOURS, TEMPLATE

    families = _family_order(summary["family"]) if families is None else list(families)
    fig = make_subplots(rows=1, cols=len(families), shared_yaxes=True,
                        subplot_titles=[f.replace("_", " ") for f in families], horizontal_spacing=0.04)
    models = list(dict.fromkeys(summary["model"]))
    for col, family in enumerate(families, start=1):
        part = summary[summary["family"] == family]
        order = _variant_order(part["variant"])
        for k, model in enumerate(models):
            rows = part[part["model"] == model].set_index("variant").reindex(order).dropna(subset=["accuracy"])
            fig.add_trace(go.Bar(
                x=[v.replace("_", " ") for v in rows.index], y=rows["accuracy"], name=model,
                marker_color=COLOURS[k % len(COLOURS)], showlegend=col == 1,
                error_y=dict(type="data", symmetric=False, array=rows["ci_high"] - rows["accuracy"],
                             arrayminus=rows["accuracy"] - rows["ci_low"]),
                customdata=np.stack([rows["n"], rows["ci_low"], rows["ci_high"]], axis=-1),
                hovertemplate="%{x}: %{y:.0%} [%{customdata[1]:.0%}, %{customdata[2]:.0%}], n=%{customdata[0]}"
                              "<extra>" + model + "</extra>",
            ), row=1, col=col)
        if chance is not None:
            fig.add_hline(y=chance, line_dash="dash", line_color="grey", row=1, col=col)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text="accuracy (95% bootstrap interval)", col=1)
    fig.update_layout(title=title, barmode="group", template=TEMPLATE, height=height,
                      legend=dict(orientation="h", y=-0.35))
    return fig


def plot_margins(results: pd.DataFrame, *, title: str = "", height: int = 430) -> Any:
    """Every prompt's margin (expected answer's log-probability minus the best other's), by variant.

    A point above zero is a prompt the model gets right. A model that follows a surface cue shows
    up as one variant far above zero and its control far below.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from course_utils.plotting import COLOURS, TEMPLATE

    results = _labelled(results)
    families = _family_order(results["family"])
    fig = make_subplots(rows=1, cols=len(families), shared_yaxes=True,
                        subplot_titles=[f.replace("_", " ") for f in families], horizontal_spacing=0.04)
    models = list(dict.fromkeys(results["model"]))
    for col, family in enumerate(families, start=1):
        part = results[results["family"] == family]
        order = _variant_order(part["variant"])
        for k, model in enumerate(models):
            rows = part[part["model"] == model]
            fig.add_trace(go.Box(
                x=[v.replace("_", " ") for v in rows["variant"]], y=rows["margin"], name=model,
                boxpoints="all", jitter=0.4, pointpos=0, marker=dict(size=4, color=COLOURS[k % len(COLOURS)]),
                line=dict(width=1), fillcolor="rgba(0,0,0,0)", text=rows["id"], showlegend=col == 1,
                hovertemplate="%{text}: %{y:.2f}<extra>" + model + "</extra>",
            ), row=1, col=col)
        fig.update_xaxes(categoryorder="array", categoryarray=[v.replace("_", " ") for v in order], row=1, col=col)
        fig.add_hline(y=0, line_color="grey", row=1, col=col)
    fig.update_yaxes(title_text="log P(expected) - log P(best other)", col=1)
    fig.update_layout(title=title, boxmode="group", template=TEMPLATE, height=height,
                      legend=dict(orientation="h", y=-0.35))
    return fig
