"""Reference solutions and visible checks, one module per chapter (``chNN.py``).

Importing this package imports every chapter module, so the exercise registry in
:mod:`course_utils.checks` is complete. A chapter module that fails to import is recorded (and named
when an exercise id cannot be found) instead of breaking the other chapters.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings

from course_utils import checks


def chapter_modules() -> list[str]:
    """Names of the chapter modules in this package, e.g. ``["ch00", "ch01"]``."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch"))


def _import_all() -> None:
    for name in chapter_modules():
        try:
            importlib.import_module(f"{__name__}.{name}")
        except Exception as err:  # one broken chapter must not take the others down
            checks._LOAD_ERRORS[name] = f"{type(err).__name__}: {err}"
            warnings.warn(f"course_utils.exercises.{name} failed to import: {err}", stacklevel=2)


_import_all()
