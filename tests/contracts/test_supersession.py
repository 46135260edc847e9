"""Supersession (corrections and renewals): `supersedeCredential` and the `supersession` view.

A supersession is a revocation with reason 2 plus an on-chain link from the old digest to a
successor the same issuer anchored; every requirement and error of the spec has a case here.
"""

from __future__ import annotations

import pytest
from conftest import REVOKED, VALID, block_time, digest, events, expect_error
from eth_utils import keccak

META = keccak(text="successor batch")
CORRECTION, RENEWAL = 1, 2
SUPERSEDED = 2  # the revocation reason a supersession writes
NEW_ID = "urn:uuid:7f0c1a52-3b7e-4d4e-9a8e-2f6f0d1c9b10"
ZERO = b"\x00" * 32


@pytest.fixture
def successors(registry, issuer, make_tree):
    """A second batch of `issuer` holding the successors: (root, digests, proofs)."""
    values = [digest(f"successor-{i}") for i in range(3)]
    tree = make_tree(values)
    registry.anchor(tree["root"], len(values), META, sender=issuer)
    return tree["root"], values, tree["proofs"]


def supersede(registry, old, successors, *, index=0, kind=CORRECTION, new_id=NEW_ID, sender):
    """supersedeCredential(old -> successors[index]) with the successor's own proof."""
    root, values, proofs = successors
    return registry.supersedeCredential(old, root, values[index], proofs[index], kind, new_id, sender=sender)


@pytest.mark.parametrize("kind", [CORRECTION, RENEWAL])
def test_supersede_revokes_and_links(chain, registry, issuer, anchored, successors, kind):
    root, values, proofs, _ = anchored
    new_root, new_values, new_proofs = successors
    receipt = supersede(registry, values[1], successors, index=2, kind=kind, sender=issuer)
    now = block_time(chain, receipt)
    assert events(receipt, registry.CredentialRevoked) == [{"issuerId": 1, "digest": values[1]}]
    assert events(receipt, registry.CredentialSuperseded) == [
        {
            "issuerId": 1,
            "digest": values[1],
            "newDigest": new_values[2],
            "newRoot": new_root,
            "kind": kind,
            "newId": NEW_ID,
        }
    ]
    # CredentialRevoked first and byte for byte the log revokeCredential emits, so every
    # revocation reader keeps working; CredentialSuperseded indexes issuer and old digest.
    revoked, superseded = receipt.logs
    assert len(revoked["topics"]) == 2 and bytes(revoked["data"]) == values[1]
    assert [bytes(t) for t in superseded["topics"][1:]] == [(1).to_bytes(32, "big"), values[1]]
    # The revocation slot is exactly a revocation with reason 2 by key 1.
    assert tuple(registry.credentialRevocation(1, values[1])) == (now, SUPERSEDED, 1)
    assert tuple(registry.supersession(1, values[1])) == (new_values[2], now, receipt.block_number, kind)
    assert registry.checkCredential(root, values[1], proofs[1]) == REVOKED
    assert registry.checkCredential(new_root, new_values[2], new_proofs[2]) == VALID
    # Nothing else changed.
    assert registry.checkCredential(root, values[0], proofs[0]) == VALID
    assert tuple(registry.supersession(1, values[0])) == (ZERO, 0, 0, 0)
    assert tuple(registry.supersession(1, new_values[2])) == (ZERO, 0, 0, 0)


def test_unknown_supersession_reads_as_zero(registry):
    assert tuple(registry.supersession(1, digest(1))) == (ZERO, 0, 0, 0)
    assert tuple(registry.supersession(0, digest(1))) == (ZERO, 0, 0, 0)
    assert tuple(registry.supersession(99, ZERO)) == (ZERO, 0, 0, 0)


def test_plain_revocation_with_reason_2_has_no_supersession(registry, issuer, anchored):
    values = anchored[1]
    registry.revokeCredential(values[0], SUPERSEDED, sender=issuer)
    assert registry.credentialRevocation(1, values[0])[1] == SUPERSEDED
    assert tuple(registry.supersession(1, values[0])) == (ZERO, 0, 0, 0)


def test_successor_may_supersede_in_turn(registry, issuer, anchored, successors):
    """A lineage of several steps: A -> B (correction), then B -> C (renewal)."""
    values = anchored[1]
    _, new_values, _ = successors
    supersede(registry, values[0], successors, index=0, sender=issuer)
    supersede(registry, new_values[0], successors, index=1, kind=RENEWAL, sender=issuer)
    assert registry.supersession(1, values[0])[0] == new_values[0]
    assert registry.supersession(1, new_values[0])[0] == new_values[1]
    assert registry.supersession(1, new_values[0])[3] == RENEWAL


def test_one_successor_for_two_old_credentials(registry, issuer, anchored, successors):
    """Merging two records into one corrected credential is allowed: the link is per old digest."""
    values = anchored[1]
    supersede(registry, values[0], successors, sender=issuer)
    supersede(registry, values[1], successors, sender=issuer)
    assert registry.supersession(1, values[0])[0] == registry.supersession(1, values[1])[0]


@pytest.mark.parametrize("kind", [0, 3, 255])
def test_unknown_kind_refused(registry, issuer, anchored, successors, kind):
    old, new = anchored[1][0], successors[1][0]
    with expect_error(registry.InvalidSupersession, digest=old, newDigest=new):
        supersede(registry, old, successors, kind=kind, sender=issuer)
    assert tuple(registry.credentialRevocation(1, old)) == (0, 0, 0)


def test_zero_or_equal_new_digest_refused(registry, issuer, anchored, successors):
    old = anchored[1][0]
    new_root, new_values, new_proofs = successors
    with expect_error(registry.InvalidSupersession, digest=old, newDigest=ZERO):
        registry.supersedeCredential(old, new_root, ZERO, new_proofs[0], CORRECTION, NEW_ID, sender=issuer)
    # A credential cannot supersede itself, even when it is in the successor's batch.
    same = new_values[0]
    with expect_error(registry.InvalidSupersession, digest=same, newDigest=same):
        registry.supersedeCredential(same, new_root, same, new_proofs[0], CORRECTION, NEW_ID, sender=issuer)
    assert registry.credentialRevocation(1, same)[0] == 0


@pytest.mark.parametrize("new_id", ["", "x" * 257])
def test_new_id_length_refused(registry, issuer, anchored, successors, new_id):
    old, new = anchored[1][0], successors[1][0]
    with expect_error(registry.InvalidSupersession, digest=old, newDigest=new):
        supersede(registry, old, successors, new_id=new_id, sender=issuer)


@pytest.mark.parametrize("new_id", ["1", "é" * 128])
def test_new_id_length_bounds_accepted(registry, issuer, anchored, successors, new_id):
    """1 to 256 bytes (UTF-8 bytes, not characters: 128 × "é" is 256 bytes)."""
    receipt = supersede(registry, anchored[1][0], successors, new_id=new_id, sender=issuer)
    assert events(receipt, registry.CredentialSuperseded)[0]["newId"] == new_id


def test_successor_root_unknown(registry, issuer, anchored, successors):
    old = anchored[1][0]
    _, new_values, new_proofs = successors
    unknown = keccak(text="never anchored")
    with expect_error(registry.SuccessorNotAnchored, newRoot=unknown, newDigest=new_values[0]):
        registry.supersedeCredential(old, unknown, new_values[0], new_proofs[0], CORRECTION, NEW_ID, sender=issuer)


def test_successor_anchored_by_another_issuer(registry, issuer, other_issuer, anchored, make_tree):
    old = anchored[1][0]
    new = digest("theirs")
    tree = make_tree([new, digest("theirs-2")])
    registry.anchor(tree["root"], 2, META, sender=other_issuer)
    with expect_error(registry.SuccessorNotAnchored, newRoot=tree["root"], newDigest=new):
        registry.supersedeCredential(old, tree["root"], new, tree["proofs"][0], CORRECTION, NEW_ID, sender=issuer)


def test_successor_batch_revoked(registry, issuer, anchored, successors):
    old = anchored[1][0]
    new_root, new_values, _ = successors
    registry.revokeBatch(new_root, 1, sender=issuer)
    with expect_error(registry.SuccessorNotAnchored, newRoot=new_root, newDigest=new_values[0]):
        supersede(registry, old, successors, sender=issuer)


def test_successor_proof_must_hold(registry, issuer, anchored, successors):
    old = anchored[1][0]
    new_root, new_values, new_proofs = successors
    cases = [
        (new_values[0], new_proofs[1]),  # another leaf's proof
        (new_values[0], []),  # no proof
        (new_values[0], [*new_proofs[0], keccak(text="extra")]),  # extended proof
        (digest("not in the batch"), new_proofs[0]),  # a digest the batch does not hold
        (keccak(keccak(new_values[0])), new_proofs[0]),  # the leaf hash, not the value
    ]
    for new, proof in cases:
        with expect_error(registry.SuccessorNotAnchored, newRoot=new_root, newDigest=new):
            registry.supersedeCredential(old, new_root, new, proof, CORRECTION, NEW_ID, sender=issuer)
    assert tuple(registry.credentialRevocation(1, old)) == (0, 0, 0)
    assert tuple(registry.supersession(1, old)) == (ZERO, 0, 0, 0)


def test_successor_revoked_refused(registry, issuer, anchored, successors):
    """A lineage may not end in a dead credential: a successor the issuer revoked is refused, and
    nothing is written."""
    old = anchored[1][0]
    new = successors[1][0]
    registry.revokeCredential(new, 1, sender=issuer)
    with expect_error(registry.SuccessorRevoked, issuerId=1, newDigest=new):
        supersede(registry, old, successors, sender=issuer)
    assert tuple(registry.credentialRevocation(1, old)) == (0, 0, 0)
    assert tuple(registry.supersession(1, old)) == (ZERO, 0, 0, 0)


def test_superseded_successor_refused(registry, issuer, anchored, successors, make_tree):
    """A → B, then B → C: naming B again as a successor (of A's sibling) is refused, since B is
    superseded; C, the live end of the lineage, is accepted."""
    old, sibling = anchored[1][0], anchored[1][1]
    new_root, new_values, new_proofs = successors
    supersede(registry, old, successors, sender=issuer)
    third = digest("third")
    tree = make_tree([third, digest("third-2")])
    registry.anchor(tree["root"], 2, META, sender=issuer)
    registry.supersedeCredential(
        new_values[0], tree["root"], third, tree["proofs"][0], CORRECTION, NEW_ID, sender=issuer
    )
    with expect_error(registry.SuccessorRevoked, issuerId=1, newDigest=new_values[0]):
        registry.supersedeCredential(sibling, new_root, new_values[0], new_proofs[0], CORRECTION, NEW_ID, sender=issuer)
    registry.supersedeCredential(sibling, tree["root"], third, tree["proofs"][0], CORRECTION, NEW_ID, sender=issuer)
    assert registry.supersession(1, sibling)[0] == third


@pytest.mark.parametrize("who", ["stranger", "admin", "accreditor"])
def test_only_issuer_keys_supersede(request, registry, anchored, successors, who):
    caller = request.getfixturevalue(who)
    with expect_error(registry.UnknownKey, key=caller):
        supersede(registry, anchored[1][0], successors, sender=caller)


def test_compromised_key_cannot_supersede(registry, issuer, accreditor, anchored, successors, chain):
    registry.declareKeyCompromised(issuer, chain.pending_timestamp - 1, sender=accreditor)
    with expect_error(registry.CompromisedKey, key=issuer):
        supersede(registry, anchored[1][0], successors, sender=issuer)


def test_retired_key_supersedes(chain, registry, issuer, spare_keys, anchored, successors):
    """As for revocation: a retired key may still supersede; the revocation names its key id."""
    registry.rotateKey(spare_keys[0], sender=issuer)
    receipt = supersede(registry, anchored[1][0], successors, sender=issuer)
    assert tuple(registry.credentialRevocation(1, anchored[1][0])) == (block_time(chain, receipt), SUPERSEDED, 1)
    # The new active key supersedes too, under its own key id.
    supersede(registry, anchored[1][1], successors, sender=spare_keys[0])
    assert registry.credentialRevocation(1, anchored[1][1])[2] == 3  # keys 1, 2 admitted; 3 rotated in


def test_suspended_issuer_supersedes(registry, issuer, accreditor, anchored, successors):
    registry.suspendIssuer(1, sender=accreditor)
    supersede(registry, anchored[1][0], successors, sender=issuer)
    assert registry.supersession(1, anchored[1][0])[0] == successors[1][0]


def test_already_revoked_refused(registry, issuer, anchored, successors):
    values = anchored[1]
    registry.revokeCredential(values[0], 1, sender=issuer)
    with expect_error(registry.CredentialAlreadyRevoked, issuerId=1, digest=values[0]):
        supersede(registry, values[0], successors, sender=issuer)
    assert tuple(registry.supersession(1, values[0])) == (ZERO, 0, 0, 0)
    # Superseded once: neither a second supersession nor a revocation is accepted.
    supersede(registry, values[1], successors, sender=issuer)
    with expect_error(registry.CredentialAlreadyRevoked, issuerId=1, digest=values[1]):
        supersede(registry, values[1], successors, index=1, sender=issuer)
    with expect_error(registry.CredentialAlreadyRevoked, issuerId=1, digest=values[1]):
        registry.revokeCredential(values[1], 1, sender=issuer)
    assert registry.supersession(1, values[1])[0] == successors[1][0]


def test_error_precedence(registry, issuer, stranger, anchored, successors):
    """UnknownKey / CompromisedKey, then InvalidSupersession, SuccessorNotAnchored, SuccessorRevoked,
    CredentialAlreadyRevoked: each case breaks every later rule too."""
    old = anchored[1][0]
    registry.revokeCredential(old, 1, sender=issuer)
    unknown = keccak(text="unknown root")
    with expect_error(registry.UnknownKey, key=stranger):
        registry.supersedeCredential(old, unknown, ZERO, [], 0, "", sender=stranger)
    with expect_error(registry.InvalidSupersession, digest=old, newDigest=ZERO):
        registry.supersedeCredential(old, unknown, ZERO, [], 0, "", sender=issuer)
    new = successors[1][0]
    with expect_error(registry.SuccessorNotAnchored, newRoot=unknown, newDigest=new):
        registry.supersedeCredential(old, unknown, new, [], CORRECTION, NEW_ID, sender=issuer)
    registry.revokeCredential(new, 1, sender=issuer)
    with expect_error(registry.SuccessorRevoked, issuerId=1, newDigest=new):
        supersede(registry, old, successors, sender=issuer)


def test_supersession_lands_in_the_callers_namespace(registry, issuer, other_issuer, anchored, make_tree):
    """Issuer 2 naming issuer 1's digest writes only to issuer 2's namespace, as for revocation."""
    root, values, proofs, _ = anchored
    new = digest("theirs")
    tree = make_tree([new, digest("theirs-2")])
    registry.anchor(tree["root"], 2, META, sender=other_issuer)
    registry.supersedeCredential(values[0], tree["root"], new, tree["proofs"][0], RENEWAL, NEW_ID, sender=other_issuer)
    assert registry.checkCredential(root, values[0], proofs[0]) == VALID
    assert tuple(registry.supersession(1, values[0])) == (ZERO, 0, 0, 0)
    assert registry.supersession(2, values[0])[0] == new
    # Nor does it block issuer 1's own supersession of the digest.
    registry.revokeCredential(values[0], 1, sender=issuer)
    assert registry.checkCredential(root, values[0], proofs[0]) == REVOKED


def test_selectors_sort_above_revoke_credential():
    """revokeCredential (48,000-gas budget) keeps its dispatch path: both new selectors sort
    above its own, so it stays at the head of the same dispatch group (docs/contract.md)."""
    revoke = keccak(text="revokeCredential(bytes32,uint8)")[:4]
    supersede_ = keccak(text="supersedeCredential(bytes32,bytes32,bytes32,bytes32[],uint8,string)")[:4]
    view = keccak(text="supersession(uint32,bytes32)")[:4]
    assert (supersede_.hex(), view.hex()) == ("9188ff49", "f0e0f122")
    assert revoke < supersede_ and revoke < view
