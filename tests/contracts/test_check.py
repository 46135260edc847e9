"""checkCredential: cross-implementation proofs, tampering, precedence, calls from contracts."""

from __future__ import annotations

import pytest
from conftest import (
    BAD_PROOF,
    ISSUER_SUSPENDED,
    KEY_COMPROMISED,
    REVOKED,
    UNKNOWN_ROOT,
    VALID,
    digest,
    root_with_depth,
    std_leaf,
)
from eth_utils import keccak

META = b"\x00" * 32


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 101])
def test_openzeppelin_js_proofs_accepted(registry, issuer, make_tree, size):
    values = [digest(f"{size}-{i}") for i in range(size)]
    tree = make_tree(values)
    registry.anchor(tree["root"], size, META, sender=issuer)
    for value, proof in zip(values, tree["proofs"], strict=True):
        assert registry.checkCredential(tree["root"], value, proof) == VALID


def test_tampered_proofs_rejected(registry, issuer, make_tree):
    values = [digest(i) for i in range(9)]
    tree = make_tree(values)
    root, proof = tree["root"], tree["proofs"][4]
    registry.anchor(root, 9, META, sender=issuer)
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    assert registry.checkCredential(root, values[4], flipped) == BAD_PROOF
    assert registry.checkCredential(root, values[4], proof[:-1]) == BAD_PROOF  # truncated
    assert registry.checkCredential(root, values[4], [*proof, proof[-1]]) == BAD_PROOF  # extra
    assert registry.checkCredential(root, values[4], list(reversed(proof))) == BAD_PROOF
    assert registry.checkCredential(root, values[5], proof) == BAD_PROOF  # other digest
    assert registry.checkCredential(root, digest("stranger"), proof) == BAD_PROOF
    assert registry.checkCredential(root, values[4], tree["proofs"][3]) == BAD_PROOF


def test_inner_node_is_not_a_leaf(registry, issuer, make_tree):
    values = [digest(i) for i in range(4)]
    tree = make_tree(values)
    registry.anchor(tree["root"], 4, META, sender=issuer)
    # The parent of leaves 0 and 1, presented as a digest with the remaining proof, must fail:
    # leaves are double-hashed, so no inner node (a 64-byte preimage) is ever taken for a leaf.
    a, b = sorted((std_leaf(values[0]), std_leaf(values[1])))
    parent = keccak(a + b)
    assert registry.checkCredential(tree["root"], parent, tree["proofs"][0][1:]) == BAD_PROOF


def test_unknown_root(registry):
    assert registry.checkCredential(keccak(text="nope"), digest(0), []) == UNKNOWN_ROOT
    assert registry.checkCredential(b"\x00" * 32, b"\x00" * 32, []) == UNKNOWN_ROOT


def test_single_leaf_tree_has_empty_proof(registry, issuer, make_tree):
    tree = make_tree([digest("only")])
    assert tree["proofs"] == [[]]
    assert tree["root"] == std_leaf(digest("only"))
    registry.anchor(tree["root"], 1, META, sender=issuer)
    assert registry.checkCredential(tree["root"], digest("only"), []) == VALID


def test_precedence(chain, registry, accreditor, issuer, spare_keys, anchored):
    root, values, proofs, receipt = anchored
    since = chain.blocks[receipt.block_number].timestamp
    registry.suspendIssuer(1, sender=accreditor)
    assert registry.checkCredential(root, values[0], proofs[0]) == ISSUER_SUSPENDED
    registry.declareKeyCompromised(issuer, since, sender=accreditor)
    assert registry.checkCredential(root, values[0], proofs[0]) == KEY_COMPROMISED
    registry.reinstateIssuer(1, sender=accreditor)
    assert registry.checkCredential(root, values[0], proofs[0]) == KEY_COMPROMISED
    # Revocation ranks above compromise: revoke with a fresh key of the issuer.
    registry.assignKey(1, spare_keys[0], sender=accreditor)
    registry.revokeCredential(values[0], 1, sender=spare_keys[0])
    assert registry.checkCredential(root, values[0], proofs[0]) == REVOKED
    assert registry.checkCredential(root, values[0], proofs[1]) == BAD_PROOF
    assert registry.checkCredential(keccak(text="x"), values[0], proofs[0]) == UNKNOWN_ROOT


def test_compromise_before_anchoring_time_only(chain, registry, accreditor, issuer, anchored):
    root, values, proofs, receipt = anchored
    anchored_at = chain.blocks[receipt.block_number].timestamp
    chain.pending_timestamp += 60
    chain.mine()
    registry.declareKeyCompromised(issuer, anchored_at + 1, sender=accreditor)
    assert registry.checkCredential(root, values[0], proofs[0]) == VALID
    registry.declareKeyCompromised(issuer, anchored_at, sender=accreditor)
    assert registry.checkCredential(root, values[0], proofs[0]) == KEY_COMPROMISED


def test_callable_from_contract(registry, gas_probe, issuer):
    value = digest("deep")
    root, proof = root_with_depth(value, 20)
    registry.anchor(root, 1_000_000, META, sender=issuer)
    gas, status = gas_probe.measureCheck(registry, root, value, proof)
    assert status == VALID
    assert 0 < gas <= 20_000
    bad = [proof[0], *proof[1:-1], keccak(text="tampered")]
    assert gas_probe.measureCheck(registry, root, value, bad)[1] == BAD_PROOF
