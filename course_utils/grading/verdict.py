"""The grader's side of grading: what to ask a submission, and the verdict on what it answered.

Both run in the grader's own process, which holds the reference solutions and the hidden checks and
never runs learner code. :func:`plan` builds every case of a chapter (visible and hidden checks);
:func:`request_text` turns their inputs into the plain-data request the sandbox reads;
:func:`judge` reads the answers file (plain data only) and compares each answer with the reference,
deciding points and maximum points itself.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from course_utils import plain
from course_utils.exercises.judge import CheckResult, judge_check
from course_utils.exercises.run import Outcome
from course_utils.exercises.spec import (
    PLAIN_EXTENSIONS,
    REFERENCE,
    Case,
    Check,
    Exercise,
    exercises_for_chapter,
    load_errors,
)


@dataclass
class PlannedCheck:
    check: Check
    cases: list[Case]
    error: str = ""  # the check could not build its cases (a bug in the course, reported, 0 points)


@dataclass
class Plan:
    """Every graded exercise of a chapter with the cases of each of its checks."""

    chapter: str
    exercises: list[tuple[Exercise, list[PlannedCheck]]]
    notes: list[str]


def hidden_checks_file(chapter: str, hidden_dir: Path) -> Path | None:
    """``hidden_dir/NN_slug.py`` for this chapter, or None when there is none."""
    found = sorted(hidden_dir.glob(f"{chapter}_*.py")) if hidden_dir.is_dir() else []
    return found[0] if found else None


def load_hidden(chapter: str, hidden_dir: Path) -> str:
    """Register the chapter's hidden checks (idempotent); returns a note, '' when all went well."""
    path = hidden_checks_file(chapter, hidden_dir)
    if path is None:
        return f"no hidden checks for chapter {chapter} in {hidden_dir}: visible checks only"
    spec = importlib.util.spec_from_file_location(f"_course_hidden_{chapter}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        return f"hidden checks in {path} failed to load ({type(err).__name__}: {err}); visible checks only"
    return ""


_PLANS = threading.Lock()


def plan(chapter: str, hidden_dir: Path) -> Plan:
    """The chapter's cases, built once per grader process (they are deterministic) and shared by its jobs."""
    with _PLANS:
        return _plan(chapter, hidden_dir)


@functools.cache
def _plan(chapter: str, hidden_dir: Path) -> Plan:
    notes = [n for n in [load_hidden(chapter, hidden_dir)] if n]
    notes += [f"chapter module {m} failed to import: {e}" for m, e in load_errors().items()]
    exercises = []
    for ex in exercises_for_chapter(chapter):
        checks = []
        for chk in ex.checks:
            try:
                checks.append(PlannedCheck(chk, chk.cases()))
            except Exception as err:
                checks.append(PlannedCheck(chk, [], f"the check could not build its cases ({type(err).__name__}: {err})"))
        exercises.append((ex, checks))
    return Plan(chapter, exercises, notes)


def compute_references(p: Plan) -> None:
    """Compute (and keep) the reference output of every case: run while the sandbox runs the notebook."""
    for ex, checks in p.exercises:
        for pc in checks:
            for case in pc.cases:
                if case.expected is REFERENCE:
                    try:
                        ex.expected_output(case)
                    except Exception:  # judge() reports it where it matters
                        pass


def request_text(p: Plan, check_timeout: float) -> str:
    """The plain-data request for the sandbox: per exercise, per check, the inputs of each case."""
    return plain.dumps({"exercises": [
        {"id": ex.id, "kind": ex.kind,
         "checks": [{"time_limit": pc.check.time_limit or check_timeout,
                     "cases": [c.inputs() for c in pc.cases]} for pc in checks]}
        for ex, checks in p.exercises]})


def read_outcomes(text: str | None) -> tuple[dict[tuple[str, int, int], Outcome], list[str]]:
    """Parse the answers file: {(exercise, check, case): Outcome} and notes on lines that were not valid."""
    found: dict[tuple[str, int, int], Outcome] = {}
    bad = 0
    for line in (text or "").splitlines():
        try:
            record = plain.loads(line, extensions=PLAIN_EXTENSIONS)
            key = record["key"]
            if not (type(key) is list and len(key) == 3 and type(key[0]) is str
                    and type(key[1]) is int and type(key[2]) is int):
                raise plain.BadPlainData("bad key")
            outcome = Outcome.from_plain(record["outcome"])
        except (plain.BadPlainData, KeyError, TypeError):
            bad += 1
            continue
        found.setdefault((key[0], key[1], key[2]), outcome)  # the first answer to a case counts
    return found, [f"{bad} line(s) of the answers file were not valid and were ignored"] if bad else []


def judge(p: Plan, outcomes: dict[tuple[str, int, int], Outcome]) -> list[dict[str, Any]]:
    """Points per exercise: one per check that passes, judged here against the grader's references."""
    graded = []
    for ex, checks in p.exercises:
        results = []
        for index, pc in enumerate(checks):
            if pc.error:
                results.append(CheckResult(pc.check.name, "internal", pc.error, pc.check.hidden))
                continue
            answers = [outcomes.get((ex.id, index, j)) for j in range(len(pc.cases))]
            result = judge_check(ex, pc.check, pc.cases, answers)
            if result.status == "withheld":  # the grader must hold every reference
                result = CheckResult(result.name, "internal", "the grader has no reference for this exercise",
                                     result.hidden)
            results.append(result)
        graded.append({"id": ex.id, "number": ex.number, "title": ex.title, "kind": ex.kind,
                       "points": sum(r.passed for r in results), "max_points": len(results),
                       "checks": [asdict(r) for r in results]})
    return graded


def zero(p: Plan, why: str) -> list[dict[str, Any]]:
    """Every exercise at 0 points, each check saying ``why``."""
    return [{"id": ex.id, "number": ex.number, "title": ex.title, "kind": ex.kind, "points": 0,
             "max_points": len(checks),
             "checks": [{"name": pc.check.name, "status": "skipped", "message": why, "hidden": pc.check.hidden}
                        for pc in checks]}
            for ex, checks in p.exercises]
