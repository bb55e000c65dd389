"""A release for a graded class: learner notebooks and the course package without any answer.

The open course ships its solutions (solution notebooks, ``course_utils/solutions``, hidden checks);
a class that grades needs a copy in which learners find none of them. ``course-build --release DIR``
writes one:

* ``chapters/NN_slug.ipynb``: the learner notebooks, with the cells that use an exercise's answer
  tagged so that the chapter still runs to the end when the answer is missing (see
  :func:`course_utils.authoring.notebooks.release_cells`);
* ``course_utils/``: the package without ``solutions/``, so ``check()`` says that the reference is
  withheld instead of handing one out;
* what installs and launches it: ``pyproject.toml``, ``Makefile``, ``binder/`` and a short README.

Chapter sources, solution notebooks and ``instructor/`` (the hidden checks) stay behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from course_utils.authoring.notebooks import REPO_ROOT, build_text, find_chapters

MARK = ".course-release"
PACKAGE_EXCLUDES = ("solutions", "__pycache__", "*.pyc")
COPIED = ("pyproject.toml", "Makefile", "binder")
README = """# {title} (release for a graded class)

This folder holds the learner notebooks of the course and the package they use. It holds no reference
solutions: when an exercise does not pass yet, `check()` says so, and cells that need its answer stop
with a one-line message until it does. Your instructor grades your notebooks with `course-grade`.

- `make lab` installs what is missing, prepares the offline model and opens JupyterLab on `chapters/`.
- The chapters are numbered; start with `chapters/00_start_here.ipynb`.
"""


class ReleaseError(ValueError):
    """The release folder cannot be written (the message says why)."""


def _prepare(dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        if not (dest / MARK).exists():
            raise ReleaseError(f"{dest} exists and is not an earlier release; choose an empty or new folder")
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MARK).write_text("written by course-build --release; the next release replaces this folder\n")


def copy_package(dest: Path, root: Path = REPO_ROOT) -> Path:
    """Copy ``course_utils`` without its reference solutions into ``dest/course_utils``."""
    target = dest / "course_utils"
    shutil.copytree(root / "course_utils", target, ignore=shutil.ignore_patterns(*PACKAGE_EXCLUDES))
    return target


def build_release(dest: Path, root: Path = REPO_ROOT) -> list[Path]:
    """Write a release into ``dest``; returns the notebooks written."""
    dest = dest.resolve()
    if root.resolve() in (dest, *dest.parents):
        raise ReleaseError(f"{dest} is inside the course repository; write the release somewhere else")
    _prepare(dest)
    copy_package(dest, root)
    for name in COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, dest / name)
        elif source.exists():
            shutil.copy2(source, dest / name)
    (dest / "README.md").write_text(README.format(title="Inside a language model"), encoding="utf-8")
    notebooks = []
    for chapter in find_chapters(root):
        built = build_text(chapter.source.read_text(encoding="utf-8"), chapter.number, chapter.source.name)
        path = dest / "chapters" / f"{chapter.stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(built.release, encoding="utf-8")
        notebooks.append(path)
    return notebooks
