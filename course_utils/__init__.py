"""Helpers shared by every chapter of the course: models, word vectors, plots, widgets, checks."""

from course_utils.env import pick_device
from course_utils.models import (
    ModelUnavailableError,
    UnknownModelError,
    list_models,
    load_model,
)
from course_utils.env_report import report

__all__ = [
    "ModelUnavailableError",
    "UnknownModelError",
    "list_models",
    "load_model",
    "pick_device",
    "report",
]
