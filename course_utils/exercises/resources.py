"""The resources every chapter can name in a case: the course model, its tokenizer, GloVe.

A chapter module registers its own with ``@resource("name")`` (keyword parameters allowed).
"""

from __future__ import annotations

from typing import Any

from course_utils.exercises.spec import resource


@resource("model")
def _model() -> Any:
    from course_utils.models import load_model

    return load_model()


@resource("compat_model")
def _compat_model() -> Any:
    from course_utils.models import load_model

    return load_model(compat=True)


@resource("tokenizer")
def _tokenizer() -> Any:
    return _model().tokenizer


@resource("glove")
def _glove() -> Any:
    from course_utils.vectors import load_glove

    return load_glove()
