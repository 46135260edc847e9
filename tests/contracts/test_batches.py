"""Anchoring and revocation: authorisation, duplicates, storage and events."""

from __future__ import annotations

import pytest
from conftest import REVOKED, VALID, block_time, digest, events, expect_error
from eth_utils import keccak

META = keccak(text="batch metadata")


def test_anchor_records_batch_and_emits(chain, registry, issuer):
    root = keccak(text="root")
    receipt = registry.anchor(root, 1_000_000, META, sender=issuer)
    assert events(receipt, registry.BatchAnchored) == [
        {"root": root, "issuerId": 1, "keyId": 1, "count": 1_000_000, "metadataHash": META}
    ]
    assert tuple(registry.batch(root)) == (
        1,
        1,
        block_time(chain, receipt),
        receipt.block_number,
        1_000_000,
        0,
        0,
    )


def test_anchor_max_count(registry, issuer):
    root = keccak(text="big")
    registry.anchor(root, 2**64 - 1, META, sender=issuer)
    assert registry.batch(root)[4] == 2**64 - 1


def test_unknown_batch_reads_as_zero(registry):
    assert tuple(registry.batch(keccak(text="nothing"))) == (0, 0, 0, 0, 0, 0, 0)
    assert tuple(registry.credentialRevocation(1, digest(1))) == (0, 0, 0)
    assert tuple(registry.credentialRevocation(0, digest(1))) == (0, 0, 0)


def test_anchor_rejects_zero_root_and_count(registry, issuer):
    with expect_error(registry.InvalidBatch, root=b"\x00" * 32, count=5):
        registry.anchor(b"\x00" * 32, 5, META, sender=issuer)
    with expect_error(registry.InvalidBatch, root=keccak(text="r"), count=0):
        registry.anchor(keccak(text="r"), 0, META, sender=issuer)


def test_duplicate_root_rejected_for_everyone(registry, issuer, other_issuer, anchored):
    root = anchored[0]
    for key in (issuer, other_issuer):
        with expect_error(registry.RootAlreadyAnchored, root=root):
            registry.anchor(root, 5, META, sender=key)


@pytest.mark.parametrize("who", ["stranger", "admin", "accreditor"])
def test_only_issuer_keys_anchor(request, registry, who):
    caller = request.getfixturevalue(who)
    with expect_error(registry.UnknownKey, key=caller):
        registry.anchor(keccak(text="r"), 1, META, sender=caller)


def test_issuer_anchors_only_for_itself(registry, other_issuer):
    receipt = registry.anchor(keccak(text="theirs"), 2, META, sender=other_issuer)
    assert events(receipt, registry.BatchAnchored)[0]["issuerId"] == 2
    assert registry.batch(keccak(text="theirs"))[0] == 2


def test_revoke_credential(chain, registry, issuer, anchored):
    root, values, proofs, _ = anchored
    receipt = registry.revokeCredential(values[2], 7, sender=issuer)
    assert events(receipt, registry.CredentialRevoked) == [{"issuerId": 1, "digest": values[2]}]
    # One log, two topics (signature, issuerId), the digest as its only data word.
    (log,) = receipt.logs
    assert len(log["topics"]) == 2 and bytes(log["data"]) == values[2]
    assert tuple(registry.credentialRevocation(1, values[2])) == (
        block_time(chain, receipt),
        7,
        1,
    )
    assert registry.checkCredential(root, values[2], proofs[2]) == REVOKED
    assert registry.checkCredential(root, values[3], proofs[3]) == VALID
    with expect_error(registry.CredentialAlreadyRevoked, issuerId=1, digest=values[2]):
        registry.revokeCredential(values[2], 1, sender=issuer)
    with expect_error(registry.CredentialAlreadyRevoked, issuerId=1, digest=values[2]):
        registry.revokeCredentials([values[2]], 1, sender=issuer)


def test_revoke_credential_max_reason(registry, issuer, anchored):
    root, values, proofs, _ = anchored
    registry.revokeCredential(values[0], 255, sender=issuer)
    assert registry.credentialRevocation(1, values[0])[1:] == (255, 1)
    assert registry.checkCredential(root, values[0], proofs[0]) == REVOKED


@pytest.mark.parametrize("who", ["stranger", "admin", "accreditor"])
def test_only_issuer_keys_revoke(request, registry, anchored, who):
    caller = request.getfixturevalue(who)
    root, values, proofs, _ = anchored
    with expect_error(registry.UnknownKey, key=caller):
        registry.revokeCredential(values[0], 1, sender=caller)
    with expect_error(registry.UnknownKey, key=caller):
        registry.revokeCredentials(values, 1, sender=caller)
    with expect_error(registry.NotBatchIssuer, sender=caller, root=root):
        registry.revokeBatch(root, 1, sender=caller)
    assert registry.checkCredential(root, values[0], proofs[0]) == VALID


def test_other_issuer_cannot_revoke_anothers_credential(chain, registry, issuer, other_issuer, anchored):
    root, values, proofs, _ = anchored
    # Issuer 2 "revokes" issuer 1's digests: accepted, but written in issuer 2's own namespace.
    receipt = registry.revokeCredential(values[0], 5, sender=other_issuer)
    assert events(receipt, registry.CredentialRevoked) == [{"issuerId": 2, "digest": values[0]}]
    registry.revokeCredentials(values[1:3], 5, sender=other_issuer)
    for i, v in enumerate(values):
        assert registry.checkCredential(root, v, proofs[i]) == VALID
        assert tuple(registry.credentialRevocation(1, v)) == (0, 0, 0)
    assert tuple(registry.credentialRevocation(2, values[0])) == (block_time(chain, receipt), 5, 2)
    # Nor does it block issuer 1, whose namespace is untouched.
    registry.revokeCredential(values[0], 1, sender=issuer)
    assert registry.checkCredential(root, values[0], proofs[0]) == REVOKED
    # The batch itself is still guarded by its issuer.
    with expect_error(registry.NotBatchIssuer, sender=other_issuer, root=root):
        registry.revokeBatch(root, 1, sender=other_issuer)


def test_revoke_unknown_root(registry, issuer):
    root = keccak(text="unknown")
    with expect_error(registry.UnknownRoot, root=root):
        registry.revokeBatch(root, 1, sender=issuer)


def test_revoking_a_digest_never_anchored_is_harmless(chain, registry, issuer, anchored):
    root, values, proofs, _ = anchored
    stray = digest("never anchored")
    receipt = registry.revokeCredential(stray, 3, sender=issuer)
    assert tuple(registry.credentialRevocation(1, stray)) == (block_time(chain, receipt), 3, 1)
    for i, v in enumerate(values):
        assert registry.checkCredential(root, v, proofs[i]) == VALID


def test_revoke_credentials_bulk(chain, registry, issuer, anchored):
    root, values, proofs, _ = anchored
    receipt = registry.revokeCredentials(values[:3], 4, sender=issuer)
    assert events(receipt, registry.CredentialRevoked) == [{"issuerId": 1, "digest": v} for v in values[:3]]
    now = block_time(chain, receipt)
    for i, v in enumerate(values):
        expected = (now, 4, 1) if i < 3 else (0, 0, 0)
        assert tuple(registry.credentialRevocation(1, v)) == expected
        assert registry.checkCredential(root, v, proofs[i]) == (REVOKED if i < 3 else VALID)


def test_revoke_credentials_is_all_or_nothing(registry, issuer, anchored):
    values = anchored[1]
    with expect_error(registry.CredentialAlreadyRevoked, issuerId=1, digest=values[1]):
        registry.revokeCredentials([values[0], values[1], values[1]], 1, sender=issuer)
    assert registry.credentialRevocation(1, values[0])[0] == 0
    registry.revokeCredential(values[3], 1, sender=issuer)
    with expect_error(registry.CredentialAlreadyRevoked, issuerId=1, digest=values[3]):
        registry.revokeCredentials([values[2], values[3]], 1, sender=issuer)
    assert registry.credentialRevocation(1, values[2])[0] == 0


def test_revoke_credentials_rejects_empty_list(registry, issuer, stranger):
    with expect_error(registry.NoDigests):
        registry.revokeCredentials([], 1, sender=issuer)
    with expect_error(registry.NoDigests):
        registry.revokeCredentials([], 1, sender=stranger)


def test_revocations_are_scoped_to_the_issuer(registry, issuer, other_issuer, anchored, make_tree):
    root, values, proofs, _ = anchored
    # The same digest in another batch of the same issuer is revoked with it (a digest names one
    # credential); in a batch of another issuer it is not.
    tree2 = make_tree([*values, digest("extra")])
    registry.anchor(tree2["root"], 6, META, sender=issuer)
    tree3 = make_tree([values[0], digest("theirs")])
    registry.anchor(tree3["root"], 2, META, sender=other_issuer)
    registry.revokeCredential(values[0], 1, sender=issuer)
    assert registry.checkCredential(root, values[0], proofs[0]) == REVOKED
    assert registry.checkCredential(tree2["root"], values[0], tree2["proofs"][0]) == REVOKED
    assert registry.checkCredential(tree3["root"], values[0], tree3["proofs"][0]) == VALID


def test_revoke_batch(chain, registry, issuer, anchored):
    root, values, proofs, _ = anchored
    receipt = registry.revokeBatch(root, 9, sender=issuer)
    assert events(receipt, registry.BatchRevoked) == [{"root": root, "keyId": 1, "reason": 9}]
    batch = registry.batch(root)
    assert (batch[5], batch[6]) == (block_time(chain, receipt), 9)
    assert batch[:5] == (1, 1, batch[2], batch[3], 5)
    for v, p in zip(values, proofs, strict=True):
        assert registry.checkCredential(root, v, p) == REVOKED
    with expect_error(registry.BatchAlreadyRevoked, root=root):
        registry.revokeBatch(root, 1, sender=issuer)
    # A credential of a revoked batch can still be revoked individually (its own record).
    registry.revokeCredential(values[0], 2, sender=issuer)
    assert registry.credentialRevocation(1, values[0])[1:] == (2, 1)
