"""Shared fixtures: the course model is loaded once per test worker."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # prove that nothing in the tests touches the Hub


@pytest.fixture(scope="session")
def model():
    from course_utils import load_model

    return load_model()
