"""Which chapter notebooks pytest collects for nbval.

nbval runs the solution versions (``chapters/solutions/``). The learner versions are run by
``tests/test_browser.py``, every cell in a real JupyterLab, which fails on any error output or
traceback (what nbval's lax mode checks) and also on anything the page does not draw; running them
under nbval as well would add about ten minutes to the suite. A learner notebook named on the
command line, or ``COURSE_NBVAL_LEARNER=1``, runs under nbval too:

    .venv/bin/python -m pytest --nbval-lax chapters/02_attention.ipynb
    COURSE_NBVAL_LEARNER=1 make test
"""

from __future__ import annotations

import os
from pathlib import Path

LEARNER_CHAPTERS = Path(__file__).resolve().parent / "chapters"


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix != ".ipynb" or collection_path.parent != LEARNER_CHAPTERS:
        return None
    if os.environ.get("COURSE_NBVAL_LEARNER") == "1":
        return None
    named = {Path(arg.split("::")[0]).resolve() for arg in config.args}
    return None if collection_path in named else True
