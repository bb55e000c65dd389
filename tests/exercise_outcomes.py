"""What the visible checks say about a submission: shared by the per-chapter exercise tests."""

from __future__ import annotations

from course_utils.checks import run_checks
from course_utils.exercises import get_exercise


def outcome(exercise_id: str, submission) -> tuple[list[str], str]:
    """(statuses, first failure message) of the visible checks on ``submission``."""
    ex = get_exercise(exercise_id)
    results = run_checks(ex, submission, ex.visible_checks, seconds=None)
    failed = [r for r in results if not r.passed]
    return [r.status for r in results], (failed[0].message if failed else "")
