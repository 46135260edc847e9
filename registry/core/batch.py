"""A batch's salts, digests and tree, computed chunk by chunk (``jcs-keccak256-salted-fields-v1``).

Pure building blocks of batch preparation: :func:`digest_chunk` salts and digests the documents of
one chunk, :func:`assemble` joins chunks into compact tables. Salts are kept as bytes (16 per
field) and expanded into ``{pointer: salt}`` dictionaries only when a credential's salts are read,
which keeps a million-credential batch in bounded memory. Documents of a chunk that share a shape
are digested column by column (see the comment above ``_BLOCK``), byte for byte the per-document
definition (``tests/unit/test_pipeline_fast_equivalence.py``). Running chunks in parallel is the
caller's business (:mod:`registry.issue.prepare`).
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice, repeat
from typing import Any, Final, NamedTuple, overload

import numpy as np
import numpy.typing as npt
import rfc8785

from registry.core.disclosure import (
    SALT_BYTES,
    FieldTails,
    _Leaf,
    digest_version,
    escape_pointer_token,
    fresh_digest,
    pointer_hash,
)
from registry.core.keccak import keccak256_bytes
from registry.core.merkle import MerkleTree, hash_leaves
from registry.errors import CredentialFormatError

__all__ = [
    "BATCH_METADATA_FORMAT",
    "BatchCaches",
    "DigestChunk",
    "DigestTable",
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


class DigestTable(Sequence[bytes]):
    """Read-only sequence of the 32-byte digests in a buffer of concatenated digests (no object
    per credential until one is read)."""

    __slots__ = ("_blob",)

    def __init__(self, blob: bytes) -> None:
        self._blob = blob

    def __len__(self) -> int:
        return len(self._blob) // 32

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return self._blob[32 * index : 32 * index + 32]


@dataclass(frozen=True)
class PreparedBatch:
    """Salts, digests (input order) and the Merkle tree of a batch."""

    salts: Sequence[dict[str, str]]
    digests: Sequence[bytes]
    tree: MerkleTree


class DigestChunk(NamedTuple):
    """One chunk's results: its field layouts, a layout id per credential (int32 bytes), the
    salts (16 bytes per field, concatenated), the digests and their leaf hashes (32 bytes each)."""

    layouts: list[tuple[str, ...]]
    layout_ids: bytes
    salts: bytes
    digests: bytes
    leaves: bytes


class BatchCaches:
    """What the chunks of one batch share in one process: canonical tails and document shapes."""

    __slots__ = ("last", "shapes", "tails")

    def __init__(self) -> None:
        self.tails = FieldTails()
        self.shapes: list[_Shape] = []
        self.last: _Shape | None = None  # the shape of the previous document


def digest_chunk(
    docs: Iterable[Mapping[str, Any]], expected: int, rng: Rng, caches: BatchCaches | None = None
) -> DigestChunk:
    """Salt and digest ``docs`` (exactly ``expected`` of them) with fresh salts from ``rng``;
    ``caches`` keeps canonical pieces and document shapes across calls for the same batch.

    Byte for byte what :func:`registry.core.disclosure.fresh_digest` gives document by document,
    including the order in which salts are drawn from ``rng`` (one call per document).
    """
    caches = BatchCaches() if caches is None else caches
    layouts: dict[tuple[str, ...], int] = {}
    ids: list[int] = []
    raws: list[bytes] = []
    digests: list[bytes] = []  # concatenated digests, one buffer per block
    gc_was_enabled = gc.isenabled()
    gc.disable()  # digesting creates no reference cycles; skip collections of short-lived garbage
    try:
        it = iter(docs)
        while block := list(islice(it, _BLOCK)):
            pointers, block_raws, block_digests = _digest_block(block, rng, caches)
            if pointers.count(pointers[0]) == len(pointers):  # one layout (the usual block)
                ids += repeat(layouts.setdefault(pointers[0], len(layouts)), len(pointers))
            else:
                for ptrs in pointers:
                    lid = layouts.get(ptrs)
                    if lid is None:
                        lid = layouts[ptrs] = len(layouts)
                    ids.append(lid)
            raws += block_raws
            digests.append(block_digests)
    finally:
        if gc_was_enabled:
            gc.enable()
    digest_blob = b"".join(digests)
    if len(digest_blob) != 32 * expected:
        raise ValueError(f"the document source returned {len(digest_blob) // 32} documents, expected {expected}")
    id_blob = np.array(ids, dtype=np.int32).tobytes()
    return DigestChunk(list(layouts), id_blob, b"".join(raws), digest_blob, hash_leaves(digest_blob))


# --- columns: the documents of a block that share a shape are digested field by field -----------
#
# A shape is the exact nesting of a document (member names in order, array lengths, which members
# are leaves), compiled into a function that checks a document against it and returns its leaves
# in document order, or None. Documents of one shape are then handled a column (one pointer) at a
# time, so caching, encoding, concatenation and hashing run in C over whole lists. A document that
# fits no shape, or whose leaves are not plain JSON scalars or empty containers, takes the
# per-document path (fresh_digest), which also reports every error; salts are drawn per document
# in document order either way, so a seeded ``rng`` gives the same salts as fresh_digest.

_BLOCK: Final = 2_048
_MAX_SHAPES: Final = 16
_MAX_SHAPE_LEAVES: Final = 128
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_HEAD: Final = b'["0x'
_SEP: Final = b':["0x'
_kb = keccak256_bytes


class _Shape:
    """A compiled document shape: its pointers, one tail cache per pointer and its extractor."""

    __slots__ = ("extract", "leaves", "order", "pointer_table", "pointers", "v2")

    def __init__(
        self, pointers: tuple[str, ...], leaves: list[_Leaf], extract: Callable[[Any], Any], v2: bool = False
    ) -> None:
        self.pointers = pointers
        self.leaves = leaves
        self.extract = extract
        self.v2 = v2
        """Digest version 2 (docs/format.md v2 §2): the shape pins its ``@context``, which decides."""
        ranked = sorted(range(len(pointers)), key=pointers.__getitem__)
        self.order = (ranked, [pointer_hash(pointers[i]) for i in ranked])
        """Version 2: field positions in pointer order, and the pointer hashes in that order."""
        self.pointer_table = np.frombuffer(b"".join(self.order[1]), dtype=np.uint8).reshape(len(ranked), 32)
        """The same pointer hashes as an ``(n, 32)`` array."""


def _compile_shape(doc: dict[str, Any], tails: FieldTails) -> _Shape | None:
    """The shape of ``doc`` (a dict without ``proof``), or None if it is not worth one.

    The generated code refers to member names only through a tuple of constants, never by
    spelling them in source text.
    """
    names: list[tuple[str, ...]] = []
    lines = ["def extract(d):", " try:"]
    pointers: list[str] = []
    leaf_vars: list[str] = []
    count = 0

    def visit(var: str, value: Any, prefix: str) -> bool:
        nonlocal count
        if type(value) is dict:
            keys = tuple(value)
            if any(type(k) is not str for k in keys):
                return False
            names.append(keys)
            lines.append(f"  if type({var}) is not dict or tuple({var}) != K[{len(names) - 1}]: return None")
            tokens = [escape_pointer_token(k) for k in keys]
        else:
            lines.append(f"  if type({var}) is not list: return None")
            tokens = [str(i) for i in range(len(value))]
        kids = [f"v{count + i}" for i in range(len(tokens))]
        count += len(tokens)
        lines.append(f"  {', '.join(kids)}, = {var}{'.values()' if type(value) is dict else ''}")
        children = value.values() if type(value) is dict else value
        for kid, token, child in zip(kids, tokens, children, strict=True):
            pointer = prefix + "/" + token
            if (type(child) is dict or type(child) is list) and child:
                if not visit(kid, child, pointer):
                    return False
            else:
                pointers.append(pointer)
                leaf_vars.append(kid)
        return len(pointers) <= _MAX_SHAPE_LEAVES

    if not doc or not visit("d", doc, ""):
        return None
    contexts = doc.get("@context")
    lines.insert(3, "  if d.get('@context') != CTX: return None")  # the contexts decide the digest version
    lines += [f"  return ({', '.join(leaf_vars)},)", " except ValueError:", "  return None"]
    namespace: dict[str, Any] = {"K": tuple(names), "CTX": copy.deepcopy(contexts)}
    exec(compile("\n".join(lines), "<credential shape>", "exec"), namespace)
    v2 = digest_version(doc) == 2
    return _Shape(tuple(pointers), [tails.leaf(p) for p in pointers], namespace["extract"], v2)


def _match(doc: Any, caches: BatchCaches) -> tuple[_Shape, tuple[Any, ...]] | None:
    """The shape of ``doc`` (learnt if new) and its leaves, or None for the per-document path."""
    if type(doc) is not dict:
        return None
    if "proof" in doc:
        doc = {k: v for k, v in doc.items() if k != "proof"}
    for shape in caches.shapes:
        row = shape.extract(doc)
        if row is not None:
            return shape, row
    if len(caches.shapes) >= _MAX_SHAPES:
        return None
    learnt = _compile_shape(doc, caches.tails)
    if learnt is None:
        return None
    caches.shapes.append(learnt)
    row = learnt.extract(doc)
    return None if row is None else (learnt, row)


def _no_shape(doc: Any) -> None:
    return None


def _column_tails(
    shape: _Shape, rows: list[tuple[Any, ...]], positions: list[int], demote: set[int]
) -> list[list[bytes]]:
    """Preimage tails of ``rows`` (one shape), one list per column (pointer of the shape); adds to
    ``demote`` the positions whose leaves are not JSON scalars or empty containers (their shape
    was a coincidence)."""
    columns: list[list[bytes]] = []
    for leaf, column in zip(shape.leaves, zip(*rows, strict=True), strict=True):
        types = set(map(type, column))
        if types == {str}:
            columns.append(leaf.str_tails(column))
            continue
        if not types <= _SCALARS:
            for pos, value in zip(positions, column, strict=True):
                t = type(value)
                if t not in _SCALARS and not ((t is dict or t is list) and not value):
                    demote.add(pos)
        columns.append([b"" if pos in demote else leaf.tail(v) for pos, v in zip(positions, column, strict=True)])
    return columns


def _digest_block(block: list[Any], rng: Rng, caches: BatchCaches) -> tuple[list[tuple[str, ...]], list[bytes], bytes]:
    """Pointers, raw salts and concatenated digests of the documents of ``block``, in order."""
    n = len(block)
    groups: dict[_Shape, tuple[list[int], list[tuple[Any, ...]]]] = {}
    shape = caches.last
    extract: Callable[[Any], Any] = _no_shape
    positions: list[int] = []
    rows: list[tuple[Any, ...]] = []
    if shape is not None:
        extract = shape.extract
        positions, rows = groups[shape] = ([], [])
    for pos, doc in enumerate(block):
        row = extract(doc)
        if row is None:
            found = _match(doc, caches)
            if found is None:
                continue
            shape, row = found
            extract = shape.extract
            group = groups.get(shape)
            if group is None:
                group = groups[shape] = ([], [])
            positions, rows = group
        positions.append(pos)
        rows.append(row)
    caches.last = shape
    columns_of: dict[_Shape, list[list[bytes]]] = {}
    shape_of: list[_Shape | None] = [None] * n
    for shape, (positions, rows) in groups.items():
        if not positions:
            continue
        demote: set[int] = set()
        try:
            columns = _column_tails(shape, rows, positions, demote)
        except (CredentialFormatError, ValueError, TypeError):
            continue  # the per-document path reports the error at its document
        if demote:
            keep = [j for j, pos in enumerate(positions) if pos not in demote]
            columns = [[column[j] for j in keep] for column in columns]
            positions = [positions[j] for j in keep]
        for pos in positions:
            shape_of[pos] = shape
        columns_of[shape] = columns
    if len(columns_of) == 1 and None not in shape_of:  # the usual block: one shape, nothing else
        ((shape, columns),) = columns_of.items()
        size = SALT_BYTES * len(shape.pointers)
        raws = list(map(rng, repeat(size, n)))  # one call per document, as fresh_digest
        if sum(map(len, raws)) != size * n:
            raise ValueError("rng returned the wrong number of bytes")
        return [shape.pointers] * n, raws, b"".join(_shape_digests(shape, b"".join(raws), columns))
    pointers: list[tuple[str, ...]] = []
    raws = []
    digests: list[bytes] = []
    salts_of: dict[_Shape, list[bytes]] = {s: [] for s in columns_of}
    for pos in range(n):  # salts in document order, one rng call per document as fresh_digest
        found_shape = shape_of[pos]
        if found_shape is None:
            ptrs, raw, digest = fresh_digest(block[pos], rng, caches.tails)
            pointers.append(ptrs)
            raws.append(raw)
            digests.append(digest)
            continue
        size = SALT_BYTES * len(found_shape.pointers)
        raw = rng(size)
        if len(raw) != size:
            raise ValueError("rng returned the wrong number of bytes")
        pointers.append(found_shape.pointers)
        raws.append(raw)
        digests.append(b"")
        salts_of[found_shape].append(raw)
    for shape, columns in columns_of.items():
        shape_digests = iter(_shape_digests(shape, b"".join(salts_of[shape]), columns))
        for pos in range(n):
            if shape_of[pos] is shape:
                digests[pos] = next(shape_digests)
    return pointers, raws, b"".join(digests)


def _shape_digests(shape: _Shape, salts: bytes, columns: list[list[bytes]]) -> list[bytes]:
    """Digests of ``m`` documents of one shape from their salts (concatenated, document-major) and
    preimage tails (one list per column).

    Column-major, so no per-document Python objects: the salts are transposed to column order,
    every field hash of the block comes out of one ``map`` chain into one buffer, and the buffer is
    rearranged (numpy) into each document's step 4 preimage (v1: its field hashes sorted; v2:
    ``p_i ‖ h_i`` in pointer order), which is hashed slice by slice.
    """
    nf = len(shape.pointers)
    m = len(salts) // (SALT_BYTES * nf)
    if m == 0:
        return []
    ranked, _ = shape.order
    order = ranked if shape.v2 else list(range(nf))  # v2 hashes the columns in pointer order
    by_column = np.frombuffer(salts, dtype=np.uint8).reshape(m, nf, SALT_BYTES)[:, order].transpose(1, 0, 2)
    heads = (_HEAD + by_column.tobytes().hex(":", SALT_BYTES).encode("ascii").replace(b":", _SEP)).split(b":")
    tails = chain.from_iterable([columns[j] for j in order])
    hashes = b"".join(map(_kb, map(bytes.__add__, heads, tails)))
    del heads
    table = np.frombuffer(hashes, dtype=np.uint8).reshape(nf, m, 32).transpose(1, 0, 2)  # (m, nf, 32)
    if shape.v2:
        preimages = np.empty((m, nf, 64), dtype=np.uint8)
        preimages[:, :, :32] = shape.pointer_table
        preimages[:, :, 32:] = table
    else:
        words = np.ascontiguousarray(table).view(">u8")  # (m, nf, 4): bytewise order = word order
        rank = np.lexsort((words[:, :, 3], words[:, :, 2], words[:, :, 1], words[:, :, 0]), axis=-1)
        preimages = np.take_along_axis(table, rank[:, :, None], axis=1)
    blob = preimages.tobytes()
    step = len(blob) // m
    cuts = map(slice, range(0, len(blob), step), range(step, len(blob) + step, step))
    return list(map(_kb, map(blob.__getitem__, cuts)))


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
