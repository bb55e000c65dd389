"""How `make test` shares the suite between its two workers (the root ``conftest.py``)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest", REPO / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conftest = _root_conftest()


def test_work_units_are_files_and_browser_chapters():
    assert conftest.work_unit("chapters/solutions/02_attention.ipynb::Cell 7") == "chapters/solutions/02_attention.ipynb"
    assert conftest.work_unit("tests/test_ioi.py::test_logit_diff[batch]") == "tests/test_ioi.py"
    chapter = conftest.work_unit("tests/test_browser.py::test_chapter_renders_in_jupyterlab[03_mlp_facts]")
    assert chapter == "tests/test_browser.py::03_mlp_facts"
    assert conftest.work_unit("tests/test_browser.py::test_canary_shows_what_the_test_checks") == "tests/test_browser.py"


def test_long_units_rank_before_the_rest():
    ranks = [conftest._rank(u) for u in ("tests/test_grading.py", "tests/test_browser.py::05_theory_of_mind",
                                         "tests/test_plain.py")]
    assert ranks == sorted(ranks) and ranks[-1] == len(conftest.LONGEST_FIRST)


def test_two_workers_keep_each_notebook_in_one_kernel():
    """Each unit runs on one worker: a notebook's cells would fail if they were split between kernels."""
    files = ["tests/test_plain.py", "tests/test_compare.py", "chapters/solutions/00_start_here.ipynb"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder", "--nbval-lax",
         "-v", *files],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    workers = defaultdict(set)
    # Verbose lines name a notebook's cells "chapters/solutions/00_start_here::ipynb::Cell 3".
    for worker, shown in re.findall(r"^\[(gw\d)\] \[\s*\d+%\] PASSED (\S+)", done.stdout, re.M):
        workers[next(f for f in files if shown.startswith(f.removesuffix(".ipynb")))].add(worker)
    assert set(workers) == set(files), done.stdout[-3000:]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), dict(workers)
