"""What the grader prints and writes: one block per submission ending in ``score: X/Y``, JSON and CSV.

Text that comes from a submission (error messages, cell text, answers quoted in a diagnosis) is
escaped and indented, so that no submission can add a line that looks like the grader's own.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass
class Submission:
    """The outcome of grading one file."""

    file: str
    chapter: str = ""
    exercises: list[dict[str, Any]] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""  # set when the file could not be graded at all
    sandboxed: bool = True
    seconds: float = 0.0

    @property
    def score(self) -> int:
        return sum(e["points"] for e in self.exercises)

    @property
    def max_score(self) -> int:
        return sum(e["max_points"] for e in self.exercises)


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line: control characters (newlines included) shown as escapes, then cut."""
    escaped = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


def _message_lines(text: str, indent: str, most: int = 8) -> list[str]:
    return [indent + one_line(line) for line in str(text).splitlines()[:most]]


def _first_failure(exercise: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in exercise["checks"] if c["status"] != "pass"), None)


def format_submission(sub: Submission) -> str:
    """The text printed for one submission; only its first and last lines start at the margin."""
    lines = [f"== {one_line(sub.file)}" + (f" (chapter {sub.chapter})" if sub.chapter else "")]
    if sub.error:
        return "\n".join(lines + [f"  cannot grade: {one_line(sub.error)}"])
    if not sub.sandboxed:
        lines.append("  note: graded WITHOUT a sandbox (--no-sandbox): the notebook's code ran unisolated")
    for err in sub.cell_errors[:10]:
        lines.append(f"  error in {one_line(err)}")
    if len(sub.cell_errors) > 10:
        lines.append(f"  ... and {len(sub.cell_errors) - 10} more cells with errors")
    for ex in sub.exercises:
        mark = "✓" if ex["points"] == ex["max_points"] else "✗"
        lines.append(f"  {mark} {ex['number']} {ex['id']} {ex['points']}/{ex['max_points']}")
        failed = _first_failure(ex)
        if failed is not None:
            label = ("[hidden] " if failed.get("hidden") else "") + failed["name"]
            lines.append(f"      {one_line(label)}:")
            lines += _message_lines(failed["message"], "        ")
    lines += [f"  note: {one_line(note, 500)}" for note in sub.notes]
    lines.append(f"score: {sub.score}/{sub.max_score}")
    return "\n".join(lines)


def write_json(subs: Sequence[Submission], path: Path) -> None:
    rows = [dict(asdict(s), score=s.score, max_score=s.max_score) for s in subs]
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_csv(subs: Sequence[Submission], path: Path) -> None:
    """One row per submission and exercise (one row with the error for an ungradeable file)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "chapter", "exercise", "number", "points", "max_points", "first_failure", "error"])
        for s in subs:
            if s.error:
                w.writerow([s.file, s.chapter, "", "", 0, 0, "", s.error])
            for ex in s.exercises:
                failed = _first_failure(ex)
                first = f"{failed['name']}: {failed['message']}" if failed else ""
                w.writerow([s.file, s.chapter, ex["id"], ex["number"], ex["points"], ex["max_points"], first, ""])
