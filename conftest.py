"""Which chapter notebooks pytest collects for nbval, and how ``make test`` shares the work.

nbval runs the solution versions (``chapters/solutions/``). The learner versions are run by
``tests/test_browser.py``, every cell in a real JupyterLab, which fails on any error output or
traceback (what nbval's lax mode checks) and also on anything the page does not draw; running them
under nbval as well would add about ten minutes to the suite. A learner notebook named on the
command line, or ``COURSE_NBVAL_LEARNER=1``, runs under nbval too:

    .venv/bin/python -m pytest --nbval-lax chapters/02_attention.ipynb
    COURSE_NBVAL_LEARNER=1 make test

``make test`` runs two workers (``--dist loadgroup --no-loadscope-reorder``, with the scheduler
below). Each test file is one unit of work, so a notebook's cells share one kernel and a module's fixtures are built once; the
browser test is one unit per chapter, so both workers can run chapters in the browser. The units
are handed out longest first (the order in ``LONGEST_FIRST``), so that no long one is left to run
alone at the end.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LEARNER_CHAPTERS = Path(__file__).resolve().parent / "chapters"
BROWSER_CHAPTER_TEST = "tests/test_browser.py::test_chapter_renders_in_jupyterlab"

# The units that take a minute or more in `make test` on 2 cores, longest first (from --durations=0); every
# other unit follows in collection order. A stale entry only changes the order, never what runs.
LONGEST_FIRST = [
    "tests/test_grading.py",  # 338 s
    "chapters/solutions/05",  # 227 s
    "tests/test_browser.py::05",  # 206 s
    "tests/test_binder.py",  # 200 s
    "tests/test_browser.py::02",  # 191 s
    "tests/test_browser.py::03",  # 150 s
    "tests/test_browser.py::04",  # 130 s
    "chapters/solutions/02",  # 122 s
    "chapters/solutions/03",  # 118 s
    "chapters/solutions/04",  # 103 s
    "tests/test_models.py",  # 88 s
    "tests/test_browser.py::01",  # 60 s
]


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix != ".ipynb" or collection_path.parent != LEARNER_CHAPTERS:
        return None
    if os.environ.get("COURSE_NBVAL_LEARNER") == "1":
        return None
    named = {Path(arg.split("::")[0]).resolve() for arg in config.args}
    return None if collection_path in named else True


def work_unit(nodeid: str) -> str:
    """The test file, or for the browser test of a chapter, the file and the chapter."""
    file = nodeid.split("::", 1)[0]
    if nodeid.startswith(BROWSER_CHAPTER_TEST + "["):
        return f"{file}::{nodeid.split('[', 1)[1].rstrip(']')}"
    return file


def _rank(unit: str) -> int:
    for rank, prefix in enumerate(LONGEST_FIRST):
        if unit.startswith(prefix):
            return rank
    return len(LONGEST_FIRST)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: _rank(work_unit(item.nodeid)))  # stable: cells keep their order


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own choice
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup`` hands out ``work_unit``s, in collection order (``--no-loadscope-reorder``).

    pytest-xdist's own ``loadgroup`` reads ``xdist_group`` marks by renaming node ids, which pytest
    9.2 no longer allows (every test would become a unit of its own, and a notebook's cells would be
    split between kernels); the unit is computed from the node id here instead.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)
