"""The offline checks of a large batch spread over processes (both cores of a small server).

The checks of one file need nothing from the others, so a batch's files are split into chunks in
order; a pool of worker processes checks all chunks but the first while the caller checks the
first, and the items come back in the order of the files. The chain part stays with the caller
(one snapshot per registry, pinned to one block). Results are identical to the serial path: the
same function, :func:`~registry.verify.checks.offline_checks`, runs on the same bytes; a pool that
breaks (a worker killed) only costs speed, the missing chunks are checked in the caller.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from typing import Any

from registry import gctuning
from registry.core.signing import Canonicalizer
from registry.verify.checks import Item, offline_checks
from registry.verify.policy import VerificationPolicy

__all__ = ["MIN_PARALLEL_FILES", "offline_items", "process_pool", "shared_pool"]

MIN_PARALLEL_FILES = 64
"""Below this many files a batch is checked in the calling thread (a pool round trip costs more)."""

Files = Sequence[tuple[str, bytes | str | dict[str, Any]]]


@cache
def _worker_canonicalizer() -> Canonicalizer:
    """One canonicalizer per worker process: its shape templates serve every chunk it checks."""
    return Canonicalizer()


def _check_chunk(chunk: Files, policy: VerificationPolicy) -> list[Item]:
    canonicalizer = _worker_canonicalizer()
    return [offline_checks(source, data, policy, canonicalizer) for source, data in chunk]


def offline_items(
    files: Files, policy: VerificationPolicy, canonicalizer: Canonicalizer, pool: Executor | None = None
) -> list[Item]:
    """:func:`offline_checks` of every file, in order: with ``pool`` and at least
    :data:`MIN_PARALLEL_FILES` files, chunks go to the pool's workers and the first is checked here."""
    workers = _WORKERS.get(pool, 1) if pool is not None else 0
    if pool is None or len(files) < MIN_PARALLEL_FILES or workers < 1:
        return [offline_checks(source, data, policy, canonicalizer) for source, data in files]
    parts = workers + 1
    size = -(-len(files) // parts)
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    futures: list[Future[list[Item]] | None] = []
    for chunk in chunks[1:]:
        try:
            futures.append(pool.submit(_check_chunk, chunk, policy))
        except (BrokenProcessPool, RuntimeError):  # a broken or shut-down pool: check it here
            futures.append(None)
    items = [offline_checks(source, data, policy, canonicalizer) for source, data in chunks[0]]
    for chunk, future in zip(chunks[1:], futures, strict=True):
        try:
            if future is None:
                raise BrokenProcessPool("not submitted")
            items.extend(future.result())
        except BrokenProcessPool:
            items.extend(offline_checks(source, data, policy, canonicalizer) for source, data in chunk)
    return items


_WORKERS: weakref.WeakKeyDictionary[Executor, int] = weakref.WeakKeyDictionary()
"""How many worker processes each pool made here has (how many chunks it takes at once); a pool
made elsewhere counts as one."""


def _pool(count: int, context: Any) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=gctuning.tune)
    _WORKERS[pool] = count
    return pool


def process_pool(workers: int | None = None) -> ProcessPoolExecutor | None:
    """A pool for one command (the CLI): ``workers`` processes (default: the cores but one, the
    caller being the other), forked where the platform forks safely; None on one core."""
    count = workers if workers is not None else (os.cpu_count() or 1) - 1
    if count < 1:
        return None
    method = "fork" if sys.platform == "linux" else "spawn"
    return _pool(count, multiprocessing.get_context(method))


_shared: ProcessPoolExecutor | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ProcessPoolExecutor | None:
    """The pool of a long-running, multi-threaded process (the service), made on first use and kept:
    its workers come from a fork server (never forked from a process with threads running), so
    only the first batch pays for their start. None on one core."""
    global _shared
    with _shared_lock:
        if _shared is None:
            count = (os.cpu_count() or 1) - 1
            if count < 1:
                return None
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            if "forkserver" in methods:
                context.set_forkserver_preload(["registry.verify.parallel"])
            _shared = _pool(count, context)
        return _shared
