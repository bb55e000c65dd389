"""Exercises: the format chapters use to declare them, and one module per chapter (``chNN.py``).

What a chapter module imports::

    from course_utils.exercises import Case, Mistake, Resource, choice, exercise, expect, expect_close

* :mod:`~course_utils.exercises.spec`: :class:`Exercise`, :class:`Case`, :class:`Resource`, the registry.
* :mod:`~course_utils.exercises.run`: running a learner's answer on a case (the only step that runs
  learner code).
* :mod:`~course_utils.exercises.judge`: comparing what came back with the reference.
* :mod:`~course_utils.exercises.resources`: the model, tokenizer and GloVe as case inputs.

Chapter modules are imported on first use of the registry (:func:`get_exercise`), not on import of
this package, so a broken chapter is reported by name instead of breaking the others.
"""

from course_utils.compare import Mistake, expect, expect_close, expect_equal, expect_whole_number
from course_utils.exercises import resources as _resources  # noqa: F401  (registers the shared resources)
from course_utils.exercises.spec import (
    PROPERTY,
    REFERENCE,
    Case,
    Check,
    Exercise,
    ReferenceWithheld,
    Resource,
    UnknownExercise,
    choice,
    exercise,
    exercises_for_chapter,
    get_exercise,
    hidden_check,
    load_errors,
    normalise_answer,
    resource,
)

__all__ = [
    "PROPERTY", "REFERENCE", "Case", "Check", "Exercise", "Mistake", "ReferenceWithheld", "Resource",
    "UnknownExercise", "choice", "exercise", "exercises_for_chapter", "expect", "expect_close", "expect_equal",
    "expect_whole_number", "get_exercise", "hidden_check", "load_errors", "normalise_answer", "resource",
]
