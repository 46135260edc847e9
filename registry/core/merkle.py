"""OpenZeppelin ``StandardMerkleTree`` over ``bytes32`` values (@openzeppelin/merkle-tree 1.x).

Implements exactly the tree of ``StandardMerkleTree.of(values.map(v => [v]), ['bytes32'])``:

* leaf  = keccak256(keccak256(abi.encode(bytes32))) = keccak256(keccak256(digest));
* node  = keccak256 of the two children sorted bytewise (``commutativeKeccak256``);
* layout of ``makeMerkleTree``: leaves sorted ascending by hash and stored in reverse at the end
  of a ``2n - 1`` array, ``tree[i] = node(tree[2i + 1], tree[2i + 2])``; odd nodes are never
  duplicated;
* a proof lists sibling hashes from the leaf up to (not including) the root, so it verifies with
  OpenZeppelin's ``MerkleProof.verify`` on chain.

Nodes live in one contiguous ``bytes`` buffer (viewed as a ``numpy`` ``(2n - 1, 32)`` array for
index math); proofs are O(log n) each and :meth:`MerkleTree.iter_proofs` streams all of them in
bounded memory. Checking a proof needs none of this: :mod:`registry.core.merkleproof` (re-exported
here) folds one without ``numpy``, so verification never loads it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from registry.core.keccak import keccak256_bytes
from registry.core.merkleproof import MAX_PROOF_LENGTH, leaf_hash, node_hash, process_proof, verify_proof
from registry.errors import InvalidInput

__all__ = [
    "MAX_PROOF_LENGTH",
    "ChunkMap",
    "MerkleTree",
    "hash_leaves",
    "hash_pairs",
    "leaf_hash",
    "node_hash",
    "process_proof",
    "serial_map",
    "verify_proof",
]

_GATHER_ROWS: Final = 16_384
_kb = keccak256_bytes
_U8 = npt.NDArray[np.uint8]
_I64 = npt.NDArray[np.int64]


def _pieces(buf: bytes, size: int) -> Iterator[bytes]:
    """Consecutive ``size``-byte pieces of ``buf``, cut in C (``map`` over slices)."""
    return map(buf.__getitem__, map(slice, range(0, len(buf), size), range(size, len(buf) + size, size)))


def hash_leaves(blob: bytes) -> bytes:
    """Leaf hashes of a buffer of concatenated 32-byte values."""
    return b"".join(map(_kb, map(_kb, _pieces(blob, 32))))


def hash_pairs(buf: bytes) -> bytes:
    """Hash consecutive 64-byte (already ordered) pairs."""
    return b"".join(map(_kb, _pieces(buf, 64)))


ChunkMap = Callable[[Callable[[bytes], bytes], bytes, int], bytes]
"""``chunk_map(fn, blob, unit)`` returns ``fn(blob)``, possibly computed as ``fn`` over pieces of
``blob`` cut at multiples of ``unit`` and joined in order (for example in worker processes:
:mod:`registry.issue.prepare` supplies one)."""


def serial_map(fn: Callable[[bytes], bytes], blob: bytes, unit: int) -> bytes:
    """The :data:`ChunkMap` that runs ``fn`` over the whole of ``blob`` here."""
    return fn(blob)


def _lexsort_rows(rows: _U8) -> _I64:
    """Indices that sort 32-byte rows ascending bytewise (big-endian integer order)."""
    words = rows.view(">u8").astype(np.uint64)
    order: _I64 = np.argsort(words[:, 0], kind="stable").astype(np.int64)
    head = words[order, 0]
    if bool(np.any(head[1:] == head[:-1])):  # equal leading 8 bytes: sort on all 32
        order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0])).astype(np.int64)
    return order


def _less(left: _U8, right: _U8) -> npt.NDArray[np.bool_]:
    """Row-wise ``left < right`` for two ``(m, 32)`` arrays compared bytewise."""
    lw = left.view(">u8")
    rw = right.view(">u8")
    result = lw[:, 3] < rw[:, 3]
    for c in (2, 1, 0):
        result = (lw[:, c] < rw[:, c]) | ((lw[:, c] == rw[:, c]) & result)
    return result


class MerkleTree:
    """An immutable OpenZeppelin StandardMerkleTree over distinct ``bytes32`` values.

    Indices are positions in the input sequence (OpenZeppelin's "value index"), not tree
    positions.
    """

    __slots__ = ("_digests", "_n", "_nodes", "_tree_index", "_value_index")

    def __init__(self, digests: bytes, nodes: bytes, tree_index: _I64, value_index: _I64) -> None:
        """Use :meth:`build`; the constructor takes already consistent internals."""
        self._n = len(digests) // 32
        self._digests = digests
        self._nodes = nodes
        self._tree_index = tree_index
        self._value_index = value_index

    @classmethod
    def build(cls, digests: Sequence[bytes], *, chunk_map: ChunkMap = serial_map) -> MerkleTree:
        """Build the tree of ``digests`` (distinct 32-byte values, at least one).

        Raises :class:`InvalidInput` for an empty input, a value that is not 32 bytes, or a
        duplicate value.
        """
        n = len(digests)
        if n == 0:
            raise InvalidInput("digests", "a Merkle tree needs at least one value")
        for i, d in enumerate(digests):
            if not isinstance(d, bytes) or len(d) != 32:
                raise InvalidInput(f"digests[{i}]", "must be exactly 32 bytes")
        return cls.from_blob(b"".join(digests), chunk_map=chunk_map)

    @classmethod
    def from_blob(
        cls, blob: bytes, leaves_blob: bytes | None = None, *, chunk_map: ChunkMap = serial_map
    ) -> MerkleTree:
        """Build from concatenated 32-byte values (and optionally their leaf hashes, as
        :func:`hash_leaves` computes them); ``chunk_map`` spreads the hashing."""
        n = len(blob) // 32
        if n == 0 or len(blob) % 32:
            raise InvalidInput("digests", "a Merkle tree needs one or more 32-byte values")
        if leaves_blob is None:
            leaves_blob = chunk_map(hash_leaves, blob, 32)
        leaves = np.frombuffer(leaves_blob, dtype=np.uint8).reshape(n, 32)
        order = _lexsort_rows(leaves)
        sorted_leaves = leaves[order]
        if n > 1:
            dup = np.flatnonzero(np.all(sorted_leaves[1:] == sorted_leaves[:-1], axis=1))
            if dup.size:
                first = int(order[int(dup[0])])
                value = blob[32 * first : 32 * first + 32].hex()
                raise InvalidInput(f"digests[{first}]", f"duplicate value 0x{value}")
        del leaves, leaves_blob
        size = 2 * n - 1
        nodes = np.empty((size, 32), dtype=np.uint8)
        nodes[n - 1 :] = sorted_leaves[::-1]
        del sorted_leaves
        _fill_internal_nodes(nodes, n, chunk_map)
        tree_index = np.empty(n, dtype=np.int64)
        tree_index[order] = size - 1 - np.arange(n, dtype=np.int64)
        value_index = order[::-1].copy()  # value_index[t - (n - 1)] for leaf tree position t
        return cls(blob, nodes.tobytes(), tree_index, value_index)

    @property
    def root(self) -> bytes:
        """The 32-byte root (what the registry contract stores)."""
        return self._nodes[:32]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._n

    def __len__(self) -> int:
        return self._n

    def digest(self, index: int) -> bytes:
        """The value at input position ``index``."""
        i = self._check_index(index)
        return self._digests[32 * i : 32 * i + 32]

    def index_of(self, digest: bytes) -> int:
        """Input position of ``digest`` (binary search over the sorted leaves, O(log n))."""
        h = leaf_hash(digest)
        nodes = self._nodes
        n = self._n
        # Leaf tree positions n-1 .. 2n-2 hold the leaf hashes in DESCENDING order.
        lo, hi = n - 1, 2 * n - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if nodes[32 * mid : 32 * mid + 32] > h:
                lo = mid + 1
            else:
                hi = mid
        if lo < 2 * n - 1 and nodes[32 * lo : 32 * lo + 32] == h:
            return int(self._value_index[lo - (n - 1)])
        raise InvalidInput("digest", f"0x{digest.hex()} is not a leaf of this tree")

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from the leaf of input position ``index`` up to the root."""
        t = int(self._tree_index[self._check_index(index)])
        nodes = self._nodes
        out: list[bytes] = []
        while t > 0:
            s = t + 1 if t & 1 else t - 1
            out.append(nodes[32 * s : 32 * s + 32])
            t = (t - 1) >> 1
        return out

    def iter_proofs(self, chunk: int = 65536) -> Iterator[tuple[int, bytes, list[bytes]]]:
        """Yield ``(index, digest, proof)`` for every leaf in input order, ``chunk`` at a time.

        Memory stays bounded by ``chunk`` proofs plus the tree itself.
        """
        if chunk < 1:
            raise InvalidInput("chunk", "must be positive")
        n = self._n
        size = 2 * n - 1
        depth = size.bit_length() - 1  # depth of the deepest leaf
        view = np.frombuffer(self._nodes, dtype=np.uint8).reshape(size, 32)
        digests = self._digests
        if depth == 0:
            yield 0, digests, []
            return
        row = struct.Struct("32s" * depth)
        step = min(chunk, _GATHER_ROWS)
        for start in range(0, n, step):
            t = self._tree_index[start : start + step].copy()
            m = t.shape[0]
            sib = np.zeros((m, depth), dtype=np.int64)
            lengths = np.zeros(m, dtype=np.int64)
            for level in range(depth):
                live = t > 0
                sib[:, level] = np.where(live, np.where(t & 1, t + 1, t - 1), 0)
                lengths += live
                t = np.where(live, (t - 1) >> 1, 0)
            gathered = view[sib].tobytes()
            full = lengths == depth
            if bool(full.all()):
                for j, elems in enumerate(row.iter_unpack(gathered)):
                    i = start + j
                    yield i, digests[32 * i : 32 * i + 32], list(elems)
            else:
                lens = lengths.tolist()
                for j, elems in enumerate(row.iter_unpack(gathered)):
                    i = start + j
                    yield i, digests[32 * i : 32 * i + 32], list(elems[: lens[j]])

    def _check_index(self, index: int) -> int:
        if not 0 <= index < self._n:
            raise InvalidInput("index", f"{index} out of range for a tree of {self._n} leaves")
        return index


def _fill_internal_nodes(nodes: _U8, n: int, chunk_map: ChunkMap) -> None:
    """Compute ``nodes[0 : n-1]`` level by level; children of a heap level are contiguous."""
    last_internal = n - 2
    if last_internal < 0:
        return
    level = (last_internal + 1).bit_length() - 1
    while level >= 0:
        a = (1 << level) - 1
        b = min((1 << (level + 1)) - 2, last_internal)
        m = b - a + 1
        pairs = nodes[2 * a + 1 : 2 * b + 3].reshape(m, 64)
        left = pairs[:, :32]
        right = pairs[:, 32:]
        ordered = np.where(_less(left, right)[:, None], pairs, np.hstack((right, left)))
        hashed = chunk_map(hash_pairs, ordered.tobytes(), 64)
        nodes[a : b + 1] = np.frombuffer(hashed, dtype=np.uint8).reshape(m, 32)
        level -= 1
