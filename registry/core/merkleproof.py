"""Checking an OpenZeppelin ``StandardMerkleTree`` proof (see :mod:`registry.core.merkle`).

The leaf and node hashes and the proof fold, apart from the tree builder so that verification
(the CLI, the verify API, the audit) loads neither ``numpy`` nor the builder: the start-up of
``registry verify`` is shorter by the ~70 ms ``numpy`` takes to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from registry.core.keccak import keccak256, keccak256_bytes
from registry.errors import InvalidInput, InvalidProof

__all__ = ["MAX_PROOF_LENGTH", "leaf_hash", "node_hash", "process_proof", "verify_proof"]

MAX_PROOF_LENGTH: Final = 64
"""Longest proof accepted: a tree of 2**64 leaves is far beyond anything that can be built."""

_kb = keccak256_bytes


def leaf_hash(digest: bytes) -> bytes:
    """Return the StandardMerkleTree leaf of a ``bytes32`` value: keccak256(keccak256(value))."""
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise InvalidInput("digest", "a leaf value must be exactly 32 bytes")
    return _kb(_kb(digest))


def node_hash(a: bytes, b: bytes) -> bytes:
    """Return keccak256 of the sorted pair ``(a, b)`` (OpenZeppelin ``standardNodeHash``)."""
    return keccak256(a + b if a < b else b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Fold ``proof`` onto ``leaf`` (a leaf HASH, 32 bytes) and return the resulting root."""
    if not isinstance(leaf, bytes) or len(leaf) != 32:
        raise InvalidProof("the leaf must be exactly 32 bytes")
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidProof(f"proof has {len(proof)} elements, more than {MAX_PROOF_LENGTH}")
    h = leaf
    for pos, p in enumerate(proof):
        if not isinstance(p, bytes) or len(p) != 32:
            raise InvalidProof(f"proof element {pos} is not exactly 32 bytes")
        h = _kb(h + p if h < p else p + h)
    return h


def verify_proof(root: bytes, digest: bytes, proof: Sequence[bytes]) -> None:
    """Check that ``proof`` leads from the leaf of value ``digest`` to ``root``.

    Raises :class:`InvalidProof` naming the reason; returns ``None`` when the proof holds. Only
    32-byte values are accepted as leaves, so an internal node (64-byte preimage) never passes.
    """
    if not isinstance(root, bytes) or len(root) != 32:
        raise InvalidProof("the root must be exactly 32 bytes")
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise InvalidProof("the leaf value must be exactly 32 bytes")
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidProof(f"proof has {len(proof)} elements, more than {MAX_PROOF_LENGTH}")
    if proof:
        try:
            lengths = set(map(len, proof))
        except TypeError:
            raise InvalidProof("proof elements must be bytes") from None
        if lengths != {32}:
            pos = next(i for i, p in enumerate(proof) if len(p) != 32)
            raise InvalidProof(f"proof element {pos} is not exactly 32 bytes")
    k = _kb
    h = k(k(digest))
    try:
        for p in proof:
            h = k(h + p if h < p else p + h)
    except TypeError:
        raise InvalidProof("proof elements must be bytes") from None
    if h != root:
        raise InvalidProof("the path does not lead to the Merkle root")
