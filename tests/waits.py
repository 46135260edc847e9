"""Waiting in tests: on a condition, with a generous deadline, never a fixed number of tries (a
shared 2-core machine can be slow; a fast one should not wait longer than it must)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

__all__ = ["wait_until"]


def wait_until(done: Callable[[], bool], *, what: str, timeout: float = 120.0, interval: float = 0.05) -> None:
    """Call ``done`` until it returns True; fail the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
