"""Errors a learner can act on. In a notebook they show as one line, not as a traceback.

IPython calls ``_render_traceback_`` instead of printing the traceback when an exception has one;
for these errors the message is the whole story (what went wrong and what to do), and the frames
inside ``course_utils``, TransformerLens or PyTorch would only bury it.
"""

from __future__ import annotations


class OneLineError(Exception):
    """Mixin for course errors whose message says everything: shown as ``Name: message``."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]
