"""A batch's salts, digests and tree, computed chunk by chunk (``jcs-keccak256-salted-fields-v1``).

Pure building blocks of batch preparation: :func:`digest_chunk` salts and digests the documents of
one chunk, :func:`assemble` joins chunks into compact tables. Salts are kept as bytes (16 per
field) and expanded into ``{pointer: salt}`` dictionaries only when a credential's salts are read,
which keeps a million-credential batch in bounded memory. Running chunks in parallel is the
caller's business (:mod:`registry.issue.prepare`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt
import rfc8785

from registry.core.disclosure import SALT_BYTES, FieldTails, fresh_digest
from registry.core.merkle import MerkleTree, hash_leaves

__all__ = [
    "BATCH_METADATA_FORMAT",
    "DigestChunk",
    "PreparedBatch",
    "SaltTable",
    "assemble",
    "batch_metadata",
    "digest_chunk",
]

BATCH_METADATA_FORMAT = "credreg-batch-metadata-v1"

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


class DigestChunk(NamedTuple):
    """One chunk's results: its field layouts, a layout id per credential (int32 bytes), the
    salts (16 bytes per field, concatenated), the digests and their leaf hashes (32 bytes each)."""

    layouts: list[tuple[str, ...]]
    layout_ids: bytes
    salts: bytes
    digests: bytes
    leaves: bytes


def digest_chunk(
    docs: Iterable[Mapping[str, Any]], expected: int, rng: Rng, tails: FieldTails | None = None
) -> DigestChunk:
    """Salt and digest ``docs`` (exactly ``expected`` of them) with fresh salts from ``rng``;
    ``tails`` caches canonical pieces across calls for the same batch."""
    tails = FieldTails() if tails is None else tails
    layouts: dict[tuple[str, ...], int] = {}
    ids: list[int] = []
    raws: list[bytes] = []
    digests: list[bytes] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # digesting creates no reference cycles; skip collections of short-lived garbage
    try:
        for doc in docs:
            pointers, raw, digest = fresh_digest(doc, rng, tails)
            lid = layouts.get(pointers)
            if lid is None:
                lid = layouts[pointers] = len(layouts)
            ids.append(lid)
            raws.append(raw)
            digests.append(digest)
    finally:
        if gc_was_enabled:
            gc.enable()
    if len(digests) != expected:
        raise ValueError(f"the document source returned {len(digests)} documents, expected {expected}")
    digest_blob = b"".join(digests)
    id_blob = np.array(ids, dtype=np.int32).tobytes()
    return DigestChunk(list(layouts), id_blob, b"".join(raws), digest_blob, hash_leaves(digest_blob))


def assemble(chunks: Sequence[DigestChunk], chunk: int) -> tuple[SaltTable, bytes, bytes]:
    """Join consecutive chunks of ``chunk`` credentials (the last may be shorter) into the salt
    table, the concatenated digests and the concatenated leaf hashes."""
    n = sum(len(c.layout_ids) // 4 for c in chunks)
    layout_index: dict[tuple[str, ...], int] = {}
    layout_of = np.empty(n, dtype=np.int32)
    field_counts = np.empty(n, dtype=np.int64)
    pos = 0
    for c in chunks:
        remap = np.array(
            [layout_index.setdefault(lay, len(layout_index)) for lay in c.layouts],
            dtype=np.int32,
        )
        counts = np.array([len(lay) for lay in c.layouts], dtype=np.int64)
        ids = np.frombuffer(c.layout_ids, dtype=np.int32)
        layout_of[pos : pos + ids.shape[0]] = remap[ids]
        field_counts[pos : pos + ids.shape[0]] = counts[ids]
        pos += ids.shape[0]
    offsets = np.zeros(n, dtype=np.int64)
    for start in range(0, n, chunk):  # offsets restart at every chunk (one salt blob per chunk)
        end = min(start + chunk, n)
        np.cumsum(field_counts[start : end - 1] * SALT_BYTES, out=offsets[start + 1 : end])
    salts = SaltTable(list(layout_index), layout_of, offsets, [c.salts for c in chunks], chunk)
    return salts, b"".join([c.digests for c in chunks]), b"".join([c.leaves for c in chunks])


def batch_metadata(docs: Sequence[Mapping[str, Any]], issuer_address: str) -> bytes:
    """Canonical (RFC 8785) batch metadata whose keccak goes on chain: no personal data."""
    achievements = sorted({d["credentialSubject"]["achievement"]["id"] for d in docs})
    meta: Any = {
        "format": BATCH_METADATA_FORMAT,
        "count": len(docs),
        "issuer": issuer_address.lower(),
        "achievements": achievements,
    }
    return bytes(rfc8785.dumps(meta))
