"""Garbage-collector settings for the processes that verify and issue in bulk.

Verifying a file allocates a few thousand short-lived containers (the parsed JSON, the fields,
the checks), nearly all freed by reference counting. With CPython's default threshold the cyclic
collector runs every 700 allocations, and its full collections walk everything alive, including
the tens of thousands of objects every import left behind (modules, classes, compiled schemas).
Measured on a 1,000-file batch (``scripts/bench_bulk.py``), that cost 13-15 % of the time.

:func:`tune` (once per process, after the imports) moves what is alive into the permanent
generation with :func:`gc.freeze` (never garbage: modules and singletons) and collects the young
generation every 20,000 allocations. Cycles are still collected, only in larger steps; memory
grows by at most that many young objects. The CLI, each service process and each verification
pool worker call it.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["YOUNG_THRESHOLD", "tune"]

YOUNG_THRESHOLD = 20_000
"""Allocations (net) between two collections of the young generation (CPython's default: 700)."""

_done = False
_lock = threading.Lock()


def tune() -> None:
    """Freeze what is alive now and raise the young generation's threshold; later calls in the
    same process do nothing (the first freeze, after start-up, is the one that pays)."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
        gc.freeze()
        young, middle, old = gc.get_threshold()
        if young and young < YOUNG_THRESHOLD:  # 0: collection switched off by the embedder; leave it
            gc.set_threshold(YOUNG_THRESHOLD, middle, old)
