"""Every chapter's exercises: the generated reference passes every check, visible and hidden; a stub is
reported as not attempted; and every check that compares values fails on a wrong answer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils.checks import run_checks
from course_utils.exercises import PROPERTY, exercises_for_chapter, load_errors
from course_utils.exercises.spec import known_chapters
from course_utils.grading.verdict import load_hidden

HIDDEN = Path(__file__).resolve().parents[1] / "instructor" / "hidden_checks"
EXERCISES = [ex for chapter in known_chapters() for ex in exercises_for_chapter(chapter)]


@pytest.fixture(scope="module", autouse=True)
def hidden_checks():
    notes = [load_hidden(chapter, HIDDEN) for chapter in known_chapters()]
    assert not any("failed" in n for n in notes), notes
    assert load_errors() == {}


def answer_like_reference(ex):
    """The reference as a learner's answer (a function of the learner's own, or a copied value)."""
    if ex.kind == "function":
        reference = ex.reference_function()
        return lambda *args, **kwargs: reference(*args, **kwargs)
    value = ex.reference_value()
    return value.clone() if isinstance(value, torch.Tensor) else value


def perturbed(value):
    """A plain value changed enough that a check comparing values must notice."""
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool:
            return ~value
        return value * 1.5 + 1 if value.is_floating_point() else value + 1
    if isinstance(value, np.ndarray):
        return ~value if value.dtype == bool else value * 2 + 1
    if type(value) is bool:
        return not value
    if type(value) in (int, float):
        return value * 2 + 1
    if type(value) is str:
        return value + " (changed)"
    if type(value) in (list, tuple):
        return type(value)(perturbed(v) for v in value)
    if type(value) is dict:
        return {k: perturbed(v) for k, v in value.items()}
    return value


def wrong_answer(ex):
    if ex.kind == "choice":
        right = str(ex.reference_value()).strip().lower()
        return next(letter for letter in ex.options if letter.lower() != right) if ex.options else right + "?"
    if ex.kind == "function":
        reference = ex.reference_function()
        return lambda *args, **kwargs: perturbed(reference(*args, **kwargs))
    return perturbed(ex.reference_value())


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: f"{ex.number}-{ex.id}")
def test_reference_passes_every_check(ex):
    results = run_checks(ex, answer_like_reference(ex), ex.checks, seconds=None)
    failed = [f"{r.name}: {r.message}" for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    assert any(c.hidden for c in ex.checks) or ex.kind == "choice" or ex.chapter in ("00",), \
        f"{ex.id} has no hidden check"


@pytest.mark.parametrize("ex", [ex for ex in EXERCISES if ex.kind == "function"], ids=lambda ex: ex.id)
def test_stub_is_reported_as_not_attempted(ex):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    results = run_checks(ex, stub, ex.checks, seconds=None)
    assert {r.status for r in results} == {"unanswered"}
    assert "not attempted" in results[0].message


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: f"{ex.number}-{ex.id}")
def test_every_check_that_compares_values_can_fail(ex):
    results = run_checks(ex, wrong_answer(ex), ex.checks, seconds=None)
    for chk, result in zip(ex.checks, results):
        if all(case.expected is PROPERTY for case in chk.cases()):
            continue  # a property (such as "is a whole number") may hold for a wrong value too
        assert not result.passed, f"{ex.id}: check {chk.name!r} passed a wrong answer"


# What chapters 01-05 ask for: graded functions and values, and multiple-choice questions.
CHAPTER_EXERCISES = {
    "01": {"function": 8, "choice": 3},
    "02": {"function": 10, "choice": 3},
    "03": {"function": 10, "choice": 3},
    "04": {"function": 7, "value": 1, "choice": 5},
    "05": {"function": 4, "value": 1, "choice": 3},
}


@pytest.mark.parametrize("chapter", sorted(CHAPTER_EXERCISES))
def test_each_chapter_has_its_exercises_numbered_in_order(chapter):
    exercises = exercises_for_chapter(chapter)
    assert Counter(ex.kind for ex in exercises) == CHAPTER_EXERCISES[chapter]
    assert [ex.number for ex in exercises] == [f"{int(chapter)}.{i}" for i in range(1, len(exercises) + 1)]
    assert all(len(ex.visible_checks) >= 1 for ex in exercises)


def test_ids_numbers_and_titles():
    ids = [ex.id for ex in EXERCISES]
    assert len(ids) == len(set(ids))
    for chapter in known_chapters():
        numbers = [ex.number for ex in exercises_for_chapter(chapter)]
        assert len(numbers) == len(set(numbers)) and all(n.startswith(f"{int(chapter)}.") for n in numbers)
