"""Reading a submitted file: is it a notebook, which chapter is it, and what code does it hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from course_utils.exercises.spec import known_chapters

_CHAPTER_PREFIX = re.compile(r"^(\d\d)_")
MAX_NOTEBOOK_BYTES = 50_000_000


class Ungradeable(Exception):
    """A file that cannot be graded at all; the message is the one-line reason."""


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` as nbformat 4 (older formats converted), or :class:`Ungradeable`."""
    import nbformat

    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise Ungradeable(f"the file is over {MAX_NOTEBOOK_BYTES // 1_000_000} MB")
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise Ungradeable(f"cannot read the file ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise Ungradeable("not a notebook: the file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise Ungradeable(f"not a notebook: the file is not valid JSON ({err})") from None
    if not isinstance(data, dict) or "nbformat" not in data or not ({"cells", "worksheets"} & set(data)):
        raise Ungradeable("not a notebook: valid JSON, but without the 'nbformat' and 'cells' of a Jupyter notebook")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as err:
        raise Ungradeable(f"not a readable Jupyter notebook ({type(err).__name__}: {err})") from None


def chapter_of(nb: Any, path: Path) -> tuple[str, list[str]]:
    """The chapter and notes: metadata ``course.chapter`` first, else the ``NN_`` prefix of the file name.

    When both are there and disagree, the metadata wins (it travels with the notebook) and a note says so.
    """
    course = nb.metadata.get("course")
    from_metadata = str(course.get("chapter", "")) if isinstance(course, dict) else ""
    m = _CHAPTER_PREFIX.match(path.name)
    from_name = m.group(1) if m else ""
    chapter = from_metadata or from_name
    if not chapter:
        raise Ungradeable("unknown chapter: no course.chapter in the notebook metadata and no NN_ prefix in the name")
    if chapter not in known_chapters():
        raise Ungradeable(f"unknown chapter {chapter!r}: the course has no exercises for it")
    notes = []
    if from_metadata and from_name and from_metadata != from_name:
        notes.append(f"the file name says chapter {from_name} but the notebook's metadata says chapter "
                     f"{from_metadata}; graded as chapter {from_metadata}")
    return chapter, notes


def code_cells(nb: Any) -> list[str]:
    """The source of every code cell, in order (markdown and raw cells are not run)."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]
