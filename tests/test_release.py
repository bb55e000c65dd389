"""course-build --release: a copy for a graded class with no solution, answer key or hidden check in it,
whose learner notebooks still run to the end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import authoring
from course_utils.authoring.markers import MARKER

REPO = authoring.REPO_ROOT


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "course"
    assert authoring.main(["--release", str(dest)]) == 0
    return dest


def solution_blocks() -> list[list[str]]:
    """The lines of every solution block of every chapter source (comments and short lines left out)."""
    blocks: list[list[str]] = []
    for chapter in authoring.find_chapters(REPO):
        inside = False
        for line in chapter.source.read_text(encoding="utf-8").splitlines():
            if (m := MARKER.match(line)) and m["what"] == "SOLUTION":
                inside = m["edge"] == "BEGIN"
                if inside:
                    blocks.append([])
            elif inside and len(line.strip()) >= 12 and not line.strip().startswith("#"):
                blocks[-1].append(line.strip())
    return [b for b in blocks if b]


def release_text(release: Path) -> str:
    """Everything a learner reads beside the package's own experiments.

    Some of the package's functions compute what an exercise asks for (the README says so under
    Grading): ``ioi`` normalises patching results with the same one-line formula. What must hold is
    that the notebooks, their hints and the checks' messages give no answer away.
    """
    library = {p for p in (release / "course_utils").glob("*.py") if p.name != "__init__.py"}
    parts = []
    for path in release.rglob("*"):
        if path in library:
            continue
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md", ".txt", ".toml", ".json", ".cfg", ""):
            text = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix == ".ipynb":  # compare cell sources as written, not JSON-escaped
                text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
            parts.append(text)
    return "\n".join(parts)


def test_release_holds_learner_notebooks_and_the_package_only(release):
    assert sorted(p.name for p in (release / "chapters").iterdir()) == \
        sorted(f"{c.stem}.ipynb" for c in authoring.find_chapters(REPO))
    assert not (release / "instructor").exists() and not (release / "chapters" / "src").exists()
    assert not (release / "chapters" / "solutions").exists()
    assert not (release / "course_utils" / "solutions").exists()
    assert (release / "pyproject.toml").exists() and (release / "binder").is_dir()


def test_no_solution_and_no_answer_can_be_found_in_the_release(release):
    text = release_text(release)
    # A check may share a line with a solution (unit = direction / direction.norm() in a known mistake),
    # but no solution may be there whole.
    found = [block for block in solution_blocks() if all(line in text for line in block)]
    assert not found, f"solutions in the release: {found[:3]}"
    choice_answers = re.compile(r'^\s*q_\w+ = "[a-z]"', re.M)
    assert not choice_answers.search(text)
    from course_utils.exercises import exercises_for_chapter
    from course_utils.grading.verdict import load_hidden

    hidden_names = []
    for chapter in authoring.find_chapters(REPO):
        load_hidden(chapter.number, REPO / "instructor" / "hidden_checks")
        hidden_names += [c.name for ex in exercises_for_chapter(chapter.number) for c in ex.checks if c.hidden]
    assert hidden_names and not [name for name in hidden_names if name in text]


def test_the_release_package_has_no_reference_to_hand_out(release):
    code = ("from course_utils.exercises import exercises_for_chapter\n"
            "from course_utils.exercises.spec import known_chapters\n"
            "print(sum(ex.has_reference for c in known_chapters() for ex in exercises_for_chapter(c)))\n"
            "import course_utils; print(course_utils.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(release)), cwd=release)
    count, location = proc.stdout.split()
    assert count == "0" and location.startswith(str(release)), proc.stderr


@pytest.mark.slow
def test_release_learner_notebooks_run_to_the_end_under_nbval(release):
    # Chapter 00 proves the layout (the package from the release, no solutions module); every learner
    # chapter runs in the browser test, against the same package code.
    notebooks = [str(release / "chapters" / "00_start_here.ipynb")]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--rootdir", str(release),
         "-o", "addopts=", *notebooks],
        capture_output=True, text=True, timeout=900, cwd=release / "chapters",
        env=dict(os.environ, PYTHONPATH=str(release), HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert re.search(r"\d+ passed", proc.stdout)


def test_release_refuses_to_overwrite_a_folder_that_is_not_a_release(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert authoring.main(["--release", str(tmp_path)]) == 2
    assert "is not an earlier release" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"
