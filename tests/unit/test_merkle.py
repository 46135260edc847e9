"""OpenZeppelin StandardMerkleTree over bytes32: properties and cross-checks with OZ's JS."""

from __future__ import annotations

import os
import random

import pytest
from _core_fixtures import node_available, oz
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.keccak import keccak256
from registry.core.merkle import (
    MAX_PROOF_LENGTH,
    MerkleTree,
    leaf_hash,
    node_hash,
    process_proof,
    verify_proof,
)
from registry.errors import InvalidInput, InvalidProof
from registry.issue import prepare
from registry.issue.prepare import build_tree

digest_lists = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def test_keccak_known_vectors() -> None:
    assert keccak256(b"").hex() == ("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    assert keccak256(b"abc").hex() == ("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")


def test_single_leaf_tree_root_is_the_leaf() -> None:
    d = b"\x07" * 32
    tree = MerkleTree.build([d])
    assert tree.root == leaf_hash(d) == keccak256(keccak256(d))
    assert tree.proof(0) == []
    verify_proof(tree.root, d, [])


@given(digest_lists)
@settings(max_examples=60, deadline=None)
def test_every_proof_verifies_and_is_logarithmic(digests: list[bytes]) -> None:
    tree = MerkleTree.build(digests)
    n = len(digests)
    assert tree.size == n == len(tree)
    streamed = list(tree.iter_proofs(chunk=7))
    assert [i for i, _, _ in streamed] == list(range(n))
    for i, d, proof in streamed:
        assert d == digests[i] == tree.digest(i)
        assert proof == tree.proof(i)
        assert len(proof) <= n.bit_length()
        assert tree.index_of(d) == i
        verify_proof(tree.root, d, proof)
        assert process_proof(leaf_hash(d), proof) == tree.root


@given(digest_lists.filter(lambda ds: len(ds) >= 2), st.data())
@settings(max_examples=60, deadline=None)
def test_proof_of_one_leaf_never_verifies_another(digests: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree.build(digests)
    i = data.draw(st.integers(0, len(digests) - 1))
    j = data.draw(st.integers(0, len(digests) - 1).filter(lambda x: x != i))
    with pytest.raises(InvalidProof, match=r"does not lead to the Merkle root"):
        verify_proof(tree.root, digests[j], tree.proof(i))


@given(digest_lists.filter(lambda ds: len(ds) >= 2), st.data())
@settings(max_examples=60, deadline=None)
def test_flipped_path_element_fails(digests: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree.build(digests)
    i = data.draw(st.integers(0, len(digests) - 1))
    proof = tree.proof(i)
    k = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    bad = bytearray(proof[k])
    bad[bit // 8] ^= 1 << (bit % 8)
    tampered = [*proof[:k], bytes(bad), *proof[k + 1 :]]
    with pytest.raises(InvalidProof, match=r"does not lead"):
        verify_proof(tree.root, digests[i], tampered)
    with pytest.raises(InvalidProof, match=r"does not lead"):
        verify_proof(tree.root, digests[i], [*proof, proof[0]])  # unused extra element
    with pytest.raises(InvalidProof, match=r"does not lead"):
        verify_proof(tree.root, digests[i], proof[:-1])  # missing element


def test_internal_node_is_never_accepted_as_a_leaf() -> None:
    digests = [bytes([i]) * 32 for i in range(1, 9)]
    tree = MerkleTree.build(digests)
    proof = tree.proof(0)
    leaf = leaf_hash(digests[0])
    parent = node_hash(leaf, proof[0])
    # As a 64-byte value (the preimage of an internal node): refused outright.
    with pytest.raises(InvalidProof, match=r"exactly 32 bytes"):
        verify_proof(tree.root, leaf + proof[0], proof[1:])
    # As a 32-byte value (the internal node itself): it gets double-hashed, so it fails.
    with pytest.raises(InvalidProof, match=r"does not lead"):
        verify_proof(tree.root, parent, proof[1:])
    # Even a leaf hash presented as a value fails (values are hashed twice).
    with pytest.raises(InvalidProof, match=r"does not lead"):
        verify_proof(tree.root, leaf, proof)


def test_verify_proof_rejects_malformed_input() -> None:
    tree = MerkleTree.build([b"\x01" * 32, b"\x02" * 32, b"\x03" * 32])
    d = b"\x01" * 32
    proof = tree.proof(0)
    with pytest.raises(InvalidProof, match=r"element 0 is not exactly 32 bytes"):
        verify_proof(tree.root, d, [proof[0][:31], *proof[1:]])
    with pytest.raises(InvalidProof, match=r"element 1 is not exactly 32 bytes"):
        verify_proof(tree.root, d, [proof[0], b""])
    with pytest.raises(InvalidProof, match=r"more than 64"):
        verify_proof(tree.root, d, [b"\x00" * 32] * (MAX_PROOF_LENGTH + 1))
    with pytest.raises(InvalidProof, match=r"root must be exactly 32 bytes"):
        verify_proof(tree.root[:31], d, proof)
    with pytest.raises(InvalidProof, match=r"leaf value must be exactly 32 bytes"):
        verify_proof(tree.root, d + d, proof)
    with pytest.raises(InvalidProof, match=r"must be bytes"):
        verify_proof(tree.root, d, ["x" * 32])  # type: ignore[list-item]
    with pytest.raises(InvalidProof, match=r"leaf must be exactly 32 bytes"):
        process_proof(b"\x00" * 64, [])


def test_build_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput, match=r"at least one value"):
        MerkleTree.build([])
    with pytest.raises(InvalidInput, match=r"digests\[1\]: must be exactly 32 bytes"):
        MerkleTree.build([b"\x01" * 32, b"\x02" * 64])
    with pytest.raises(InvalidInput, match=r"digests\[0\]: must be exactly 32 bytes"):
        MerkleTree.build(["0x" + "01" * 32])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match=r"duplicate value 0x0101"):
        MerkleTree.build([b"\x01" * 32, b"\x02" * 32, b"\x01" * 32])
    tree = MerkleTree.build([b"\x01" * 32])
    with pytest.raises(InvalidInput, match=r"out of range"):
        tree.proof(1)
    with pytest.raises(InvalidInput, match=r"not a leaf of this tree"):
        tree.index_of(b"\x02" * 32)


def test_parallel_leaf_hashing_gives_the_same_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepare, "_PARALLEL_PART_MIN", 100)  # small parts, so the pool really runs
    digests = [os.urandom(32) for _ in range(1001)]
    parallel = build_tree(b"".join(digests), workers=2)
    serial = MerkleTree.build(digests)
    assert parallel.root == serial.root
    assert [parallel.proof(i) for i in range(0, 1001, 97)] == [serial.proof(i) for i in range(0, 1001, 97)]


SIZES = [1, 2, 3] + [n for k in range(2, 7) for n in (2**k - 1, 2**k, 2**k + 1)] + [1000]


@pytest.mark.skipif(not node_available(), reason="node or @openzeppelin/merkle-tree missing")
@pytest.mark.parametrize("n", sorted(set(SIZES)))
def test_same_tree_as_openzeppelin(n: int) -> None:
    rnd = random.Random(n)
    digests = [rnd.randbytes(32) for _ in range(n)]
    tree = MerkleTree.build(digests)
    theirs = oz("build", [_hex(d) for d in digests])
    assert theirs["root"] == _hex(tree.root)
    ours = {i: [_hex(p) for p in proof] for i, _, proof in tree.iter_proofs()}
    assert [ours[i] for i in range(n)] == theirs["proofs"]
    # OZ's proofs verify in Python ...
    for i, d in enumerate(digests):
        verify_proof(tree.root, d, [bytes.fromhex(p[2:]) for p in theirs["proofs"][i]])
    # ... and ours in OZ, while a wrong leaf is refused by OZ too.
    items = [{"digest": _hex(d), "proof": ours[i]} for i, d in enumerate(digests)]
    if n > 1:
        items.append({"digest": _hex(digests[1]), "proof": ours[0]})
    results = oz("verify", {"root": _hex(tree.root), "items": items})["results"]
    assert results[:n] == [True] * n
    assert results[n:] == [False] * (len(results) - n)
