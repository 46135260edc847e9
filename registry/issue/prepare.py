"""Batch preparation: fresh salts, salted digests and the OpenZeppelin tree of a batch, in parallel.

The pure pieces live in :mod:`registry.core.batch` and :mod:`registry.core.merkle`; this module
fans them out. Large batches are split into chunks handled by worker processes (``fork``). A
worker obtains the documents of its chunk itself, from a :data:`DocSource` (``source(start,
end)``), so documents are never pickled and a batch need not be materialised in the parent at all
(:func:`prepare_batch_from`); :func:`prepare_batch` is the same over an in-memory sequence.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.pool
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from registry.core.batch import BatchCaches, DigestChunk, DigestTable, PreparedBatch, digest_chunk
from registry.core.batch import assemble as assemble_chunks
from registry.core.merkle import MerkleTree, serial_map

__all__ = ["DocSource", "PoolMap", "build_tree", "prepare_batch", "prepare_batch_from"]

_PARALLEL_MIN: Final = 4_000
_TREE_PARALLEL_MIN: Final = 200_000
_PARALLEL_PART_MIN: Final = 32_768
_CHUNK: Final = 25_000
_RANDOM_POOL: Final = 65_536

Rng = Callable[[int], bytes]
DocSource = Callable[[int, int], Iterable[Mapping[str, Any]]]
"""``source(start, end)`` returns (or yields) the documents ``start .. end - 1`` of a batch, in order.

It is called inside worker processes (forked: it is inherited, never pickled), once per chunk."""


class _UrandomPool:
    """``os.urandom`` drawn 64 KiB at a time: one system call per ~100 credentials, not one each.

    Every byte is handed out once. A pool is created inside the process that uses it (after any
    fork), so no two processes ever hold the same bytes.
    """

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0

    def __call__(self, size: int) -> bytes:
        pos = self._pos
        end = pos + size
        if end > len(self._buf):
            self._buf = os.urandom(max(_RANDOM_POOL, size))
            pos, end = 0, size
        self._pos = end
        return self._buf[pos:end]


@dataclass
class _Job:
    """What a worker process digests from: set once in each forked child by :func:`_child_init`."""

    source: DocSource
    rng: Rng
    caches: BatchCaches


_child_job: _Job | None = None  # only ever set inside a forked worker process


def _child_init(source: DocSource, rng: Rng) -> None:
    """Worker start-up (fork: the arguments are inherited, never pickled)."""
    global _child_job
    gc.freeze()  # inherited objects are long-lived: keep them out of collections
    _child_job = _Job(source, _UrandomPool() if rng is os.urandom else rng, BatchCaches())


def _child_chunk(bounds: tuple[int, int]) -> DigestChunk:
    job = _child_job
    assert job is not None, "a worker process was started without _child_init"
    start, end = bounds
    return digest_chunk(job.source(start, end), end - start, job.rng, job.caches)


class PoolMap:
    """A :data:`registry.core.merkle.ChunkMap` over a process pool: one part here, the rest there."""

    def __init__(self, pool: multiprocessing.pool.Pool, processes: int) -> None:
        self._pool = pool
        self._parts = processes + 1

    def __call__(self, fn: Callable[[bytes], bytes], blob: bytes, unit: int) -> bytes:
        count = len(blob) // unit
        if count < _PARALLEL_PART_MIN:
            return fn(blob)
        step = -(-count // self._parts) * unit
        parts = [blob[i : i + step] for i in range(0, len(blob), step)]
        pending = self._pool.map_async(fn, parts[1:])
        first = fn(parts[0])
        return b"".join([first, *pending.get()])


def _fork_context() -> multiprocessing.context.BaseContext | None:
    return multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None


def build_tree(digest_blob: bytes, leaves_blob: bytes | None = None, *, workers: int | None = None) -> MerkleTree:
    """The tree of concatenated digests, hashed in ``workers`` processes (default: 1 below
    200,000 leaves, else up to 2)."""
    n = len(digest_blob) // 32
    if workers is None:
        workers = 1 if n < _TREE_PARALLEL_MIN else min(2, os.cpu_count() or 1)
    ctx = _fork_context()
    if workers <= 1 or n < 2 * _PARALLEL_PART_MIN or ctx is None:
        return MerkleTree.from_blob(digest_blob, leaves_blob)
    with ctx.Pool(workers - 1) as pool:
        return MerkleTree.from_blob(digest_blob, leaves_blob, chunk_map=PoolMap(pool, workers - 1))


def _sequence_source(docs: Sequence[Mapping[str, Any]]) -> DocSource:
    def source(start: int, end: int) -> Iterable[Mapping[str, Any]]:
        return map(docs.__getitem__, range(start, end))

    return source


def prepare_batch(
    docs: Sequence[Mapping[str, Any]],
    workers: int | None = None,
    *,
    rng: Rng = os.urandom,
) -> PreparedBatch:
    """Salt and digest every credential of ``docs`` and build the batch tree.

    ``workers``: processes (default: 1 below 4,000 credentials, else up to 2 on Linux).
    Any ``rng`` other than ``os.urandom`` (e.g. a seeded generator for tests) forces one process,
    since forked copies of a generator would hand out the same salts twice.
    """
    return prepare_batch_from(len(docs), _sequence_source(docs), workers, rng=rng)


def prepare_batch_from(
    n: int,
    source: DocSource,
    workers: int | None = None,
    *,
    rng: Rng = os.urandom,
) -> PreparedBatch:
    """Like :func:`prepare_batch` for ``n`` documents read from ``source`` chunk by chunk.

    With worker processes, each worker calls ``source(start, end)`` itself, so the documents of a
    batch never have to exist all at once (nor in the parent): memory stays bounded by one chunk
    per worker plus the compact results (salts, digests, tree).
    """
    if n <= 0:
        raise ValueError("a batch needs at least one credential")
    if workers is None:
        workers = 1 if n < _PARALLEL_MIN else min(2, os.cpu_count() or 1)
    if rng is not os.urandom:
        workers = 1  # a seeded generator copied into forked workers would repeat salts
    chunk = _CHUNK
    ranges = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    ctx = _fork_context()
    if workers > 1 and ctx is not None and len(ranges) > 1:
        with ctx.Pool(workers, initializer=_child_init, initargs=(source, rng)) as pool:
            chunks = pool.map(_child_chunk, ranges, chunksize=1)
            salts, digest_blob, leaves_blob = assemble_chunks(chunks, chunk)
            del chunks
            # The same (small, early-forked) workers hash the tree's nodes: no second fork of a
            # parent that now holds the whole batch.
            chunk_map = PoolMap(pool, workers - 1) if n >= _TREE_PARALLEL_MIN else serial_map
            tree = MerkleTree.from_blob(digest_blob, leaves_blob, chunk_map=chunk_map)
    else:
        local_rng = _UrandomPool() if rng is os.urandom else rng
        caches = BatchCaches()
        chunks = [digest_chunk(source(s, e), e - s, local_rng, caches) for s, e in ranges]
        salts, digest_blob, leaves_blob = assemble_chunks(chunks, chunk)
        del chunks
        tree = build_tree(digest_blob, leaves_blob, workers=workers)
    return PreparedBatch(salts=salts, digests=DigestTable(digest_blob), tree=tree)
