"""Authoring: one source per chapter, and everything generated from it (console script ``course-build``).

* :mod:`~course_utils.authoring.markers`: the solution and hidden-check markers, and the learner's stubs.
* :mod:`~course_utils.authoring.solutions`: the reference-solutions module generated from the blocks.
* :mod:`~course_utils.authoring.notebooks`: learner, solution and release notebooks; ``--check``.
* :mod:`~course_utils.authoring.release`: a release for a graded class, without any answer.
"""

from course_utils.authoring.cli import main
from course_utils.authoring.markers import SourceError, assigned_names, hidden_body, transform_code, validate_markers
from course_utils.authoring.notebooks import (
    REPO_ROOT,
    Built,
    Chapter,
    build_all,
    build_chapter,
    build_text,
    expected_files,
    find_chapters,
    release_cells,
    stale_files,
)
from course_utils.authoring.release import ReleaseError, build_release
from course_utils.authoring.solutions import solution_module

__all__ = [
    "REPO_ROOT", "Built", "Chapter", "ReleaseError", "SourceError", "assigned_names", "build_all", "build_chapter",
    "build_release", "build_text", "expected_files", "find_chapters", "hidden_body", "main", "release_cells",
    "solution_module", "stale_files", "transform_code", "validate_markers",
]
