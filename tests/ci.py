"""What a test does when a real part it needs is missing: skip locally, fail under ``CI=true``
(CI must run every test, so a missing install step shows as a failure, never as a skip)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(message: str, ci_message: str) -> NoReturn:
    """Skip the test saying ``message``, or fail it with ``ci_message`` under ``CI=true``."""
    if under_ci():
        pytest.fail(ci_message, pytrace=False)
    pytest.skip(message)
