"""Bulk Merkle proof checking in parallel, for tests and benchmarks only (the verifier checks one
proof per file with :func:`registry.core.merkle.verify_proof`)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from typing import Final

from registry.core.keccak import keccak256_bytes as _k
from registry.core.merkle import MAX_PROOF_LENGTH
from registry.errors import InvalidProof

__all__ = ["verify_proofs"]

_VERIFY_PARALLEL_MIN: Final = 20_000
_VERIFY_ITEMS: Sequence[tuple[bytes, Sequence[bytes]]] = ()
_VERIFY_ROOT = b""


def _failures(root: bytes, items: Sequence[tuple[bytes, Sequence[bytes]]], start: int, end: int) -> list[int]:
    """Positions in ``[start, end)`` whose proof does not hold (the loop of :func:`verify_proof`)."""
    k = _k
    bad: list[int] = []
    for i in range(start, end):
        digest, proof = items[i]
        try:
            if not isinstance(digest, bytes) or len(digest) != 32 or len(proof) > MAX_PROOF_LENGTH:
                bad.append(i)
                continue
            h = k(k(digest))
            for p in proof:
                if len(p) != 32:
                    break
                h = k(h + p if h < p else p + h)
            else:
                if h == root:
                    continue
        except TypeError:
            pass
        bad.append(i)
    return bad


def _failures_in(bounds: tuple[int, int]) -> list[int]:
    return _failures(_VERIFY_ROOT, _VERIFY_ITEMS, *bounds)


def verify_proofs(
    root: bytes, items: Sequence[tuple[bytes, Sequence[bytes]]], *, workers: int | None = None
) -> list[int]:
    """Check many ``(digest, proof)`` pairs against ``root``; return the positions that fail.

    The same acceptance rule as :func:`verify_proof` (32-byte values only, at most
    :data:`MAX_PROOF_LENGTH` elements of 32 bytes each), so an empty list means every proof holds.
    ``workers``: processes (default: 1 below 20,000 items, else up to 2; ``fork`` only): the items
    are inherited by the forked workers, never pickled.
    """
    global _VERIFY_ITEMS, _VERIFY_ROOT
    if not isinstance(root, bytes) or len(root) != 32:
        raise InvalidProof("the root must be exactly 32 bytes")
    n = len(items)
    if workers is None:
        workers = 1 if n < _VERIFY_PARALLEL_MIN else min(2, os.cpu_count() or 1)
    if workers <= 1 or n < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return _failures(root, items, 0, n)
    step = -(-n // workers)
    bounds = [(s, min(s + step, n)) for s in range(0, n, step)]
    _VERIFY_ITEMS, _VERIFY_ROOT = items, root
    try:
        with multiprocessing.get_context("fork").Pool(len(bounds) - 1) as pool:
            pending = pool.map_async(_failures_in, bounds[1:])
            first = _failures(root, items, *bounds[0])
            rest = pending.get()
    finally:
        _VERIFY_ITEMS, _VERIFY_ROOT = (), b""
    return [i for part in (first, *rest) for i in part]
