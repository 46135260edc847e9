"""Batch preparation: fresh salts, salted digests (``jcs-keccak256-salted-fields-v1``) and the
OpenZeppelin StandardMerkleTree of a batch, plus a generator of realistic synthetic cohorts.

Large batches are split over worker processes (``fork``: the documents are inherited, not
pickled); salts come back as compact bytes (16 per field) and are expanded into ``{pointer: salt}``
dictionaries only when a credential's salts are read, which keeps a million-credential batch in
bounded memory.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt

from registry.credential import Achievement, IssuerProfile, build_credential
from registry.disclosure import SALT_BYTES, _fresh_digest
from registry.merkle import MerkleTree, _hash_leaves

__all__ = ["PreparedBatch", "SaltTable", "prepare_batch", "synthetic_cohort"]

_PARALLEL_MIN: Final = 4_000
_CHUNK: Final = 25_000

Rng = Callable[[int], bytes]


class SaltTable(Sequence[dict[str, str]]):
    """Read-only sequence of per-credential ``{pointer: salt}`` dictionaries, stored compactly."""

    __slots__ = ("_chunk", "_layout_of", "_layouts", "_offsets", "_raws")

    def __init__(
        self,
        layouts: list[tuple[str, ...]],
        layout_of: npt.NDArray[np.int32],
        offsets: npt.NDArray[np.int64],
        raws: list[bytes],
        chunk: int,
    ) -> None:
        """``raws[c]`` holds the salts of credentials ``c*chunk ..``; ``offsets`` are per chunk."""
        self._layouts = layouts
        self._layout_of = layout_of
        self._offsets = offsets
        self._raws = raws
        self._chunk = chunk

    def __len__(self) -> int:
        return int(self._layout_of.shape[0])

    @overload
    def __getitem__(self, index: int) -> dict[str, str]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, str]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, str] | list[dict[str, str]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        pointers = self._layouts[int(self._layout_of[index])]
        start = int(self._offsets[index])
        raw = self._raws[index // self._chunk]
        hx = raw[start : start + SALT_BYTES * len(pointers)].hex()
        return {p: "0x" + hx[32 * i : 32 * i + 32] for i, p in enumerate(pointers)}


@dataclass(frozen=True)
class PreparedBatch:
    """Salts, digests (input order) and the Merkle tree of a batch."""

    salts: Sequence[dict[str, str]]
    digests: list[bytes]
    tree: MerkleTree


_Chunk = tuple[list[tuple[str, ...]], bytes, bytes, bytes, bytes]
_DOCS: Sequence[Mapping[str, Any]] = ()
_RNG: Rng = os.urandom


def _prepare_range(bounds: tuple[int, int]) -> _Chunk:
    """Digest documents ``[start, end)``; returns local layouts, layout ids, salts, digests."""
    start, end = bounds
    docs, rng = _DOCS, _RNG
    layouts: dict[tuple[str, ...], int] = {}
    ids = np.empty(end - start, dtype=np.int32)
    raws: list[bytes] = []
    digests: list[bytes] = []
    for j in range(start, end):
        pointers, raw, digest = _fresh_digest(docs[j], rng)
        lid = layouts.get(pointers)
        if lid is None:
            lid = layouts[pointers] = len(layouts)
        ids[j - start] = lid
        raws.append(raw)
        digests.append(digest)
    digest_blob = b"".join(digests)
    return list(layouts), ids.tobytes(), b"".join(raws), digest_blob, _hash_leaves(digest_blob)


def _worker_init() -> None:
    gc.freeze()  # inherited documents are long-lived: keep them out of collections


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
    global _DOCS, _RNG
    n = len(docs)
    if n == 0:
        raise ValueError("a batch needs at least one credential")
    if workers is None:
        workers = 1 if n < _PARALLEL_MIN else min(2, os.cpu_count() or 1)
    if rng is not os.urandom:
        workers = 1  # a seeded generator copied into forked workers would repeat salts
    fork = "fork" in multiprocessing.get_all_start_methods()
    chunk = _CHUNK
    ranges = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    _DOCS, _RNG = docs, rng
    try:
        if workers > 1 and fork and len(ranges) > 1:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers, initializer=_worker_init) as pool:
                chunks = pool.map(_prepare_range, ranges, chunksize=1)
        else:
            chunks = [_prepare_range(r) for r in ranges]
    finally:
        _DOCS, _RNG = (), os.urandom
    layout_index: dict[tuple[str, ...], int] = {}
    layout_of = np.empty(n, dtype=np.int32)
    field_counts = np.empty(n, dtype=np.int64)
    pos = 0
    for local_layouts, ids_blob, _, _, _ in chunks:
        remap = np.array(
            [layout_index.setdefault(lay, len(layout_index)) for lay in local_layouts],
            dtype=np.int32,
        )
        counts = np.array([len(lay) for lay in local_layouts], dtype=np.int64)
        ids = np.frombuffer(ids_blob, dtype=np.int32)
        layout_of[pos : pos + ids.shape[0]] = remap[ids]
        field_counts[pos : pos + ids.shape[0]] = counts[ids]
        pos += ids.shape[0]
    offsets = np.zeros(n, dtype=np.int64)
    for start, end in ranges:  # offsets restart at every chunk (one salt blob per chunk)
        np.cumsum(field_counts[start : end - 1] * SALT_BYTES, out=offsets[start + 1 : end])
    raws = [c[2] for c in chunks]
    digest_blob = b"".join([c[3] for c in chunks])
    leaves_blob = b"".join([c[4] for c in chunks])
    del chunks
    digests = [digest_blob[i : i + 32] for i in range(0, len(digest_blob), 32)]
    tree = MerkleTree._build(digest_blob, leaves_blob, workers)
    salts = SaltTable(list(layout_index), layout_of, offsets, raws, chunk)
    return PreparedBatch(salts=salts, digests=digests, tree=tree)


_GIVEN: Final = (
    "Ada",
    "Alan",
    "Amira",
    "Ben",
    "Chiara",
    "Chen",
    "Dario",
    "Elena",
    "Emre",
    "Fatima",
    "Femi",
    "Giulia",
    "Hana",
    "Ines",
    "Jakub",
    "Jonas",
    "Julia",
    "Kai",
    "Lea",
    "Lena",
    "Luca",
    "Maja",
    "Marta",
    "Mateo",
    "Mia",
    "Nadia",
    "Nils",
    "Noah",
    "Olga",
    "Omar",
    "Paula",
    "Pedro",
    "Rosa",
    "Sara",
    "Sofia",
    "Tariq",
    "Tomas",
    "Una",
    "Vera",
    "Yusuf",
    "Zoe",
)
_FAMILY: Final = (
    "Andersen",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lambert",
    "Moreau",
    "Novak",
    "Olsen",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Silva",
    "Takahashi",
    "Umar",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zeller",
)
_DOMAINS: Final = ("example.org", "example.net", "mail.example", "uni.example", "learner.example")
_GRADES: Final = ("A", "A-", "B+", "B", "B-", "C+", "C", "pass", "pass with distinction")


def synthetic_cohort(
    n: int,
    issuer: IssuerProfile | Mapping[str, Any],
    achievement: Achievement | Mapping[str, Any],
    seed: int,
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` realistic, reproducible credentials of one cohort (same ``seed``, same output).

    Every credential has its own recipient, identity salt, UUID, dates and grade.
    """
    r = random.Random(seed)
    base = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    iss = issuer if isinstance(issuer, IssuerProfile) else IssuerProfile.model_validate(issuer)
    ach = achievement if isinstance(achievement, Achievement) else Achievement.model_validate(achievement)
    for i in range(n):
        given, family = r.choice(_GIVEN), r.choice(_FAMILY)
        email = f"{given}.{family}{i}@{r.choice(_DOMAINS)}".lower()
        start = base + timedelta(days=r.randrange(0, 365), seconds=r.randrange(0, 86_400))
        yield build_credential(
            achievement=ach,
            issuer=iss,
            recipient_email=email,
            recipient_name=f"{given} {family}",
            valid_from=start,
            valid_until=start + timedelta(days=5 * 365),
            result=r.choice(_GRADES),
            rng=r.randbytes,
        )
