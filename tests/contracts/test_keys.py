"""Key rotation, recovery by an accreditation body, and compromise declarations."""

from __future__ import annotations

from conftest import KEY_COMPROMISED, REVOKED, VALID, block_time, digest, events, expect_error
from eth_utils import keccak

ZERO = "0x0000000000000000000000000000000000000000"
META = b"\x00" * 32


def test_rotate_key(chain, registry, issuer, spare_keys, anchored):
    root, values, proofs, _ = anchored
    new = spare_keys[0]
    receipt = registry.rotateKey(new, sender=issuer)
    now = block_time(chain, receipt)
    assert events(receipt, registry.KeyRotated) == [
        {
            "issuerId": 1,
            "previousKey": issuer.address,
            "newKey": new.address,
            "newKeyId": 3,
            "by": issuer.address,
        }
    ]
    assert registry.issuer(1)[5] == new.address
    assert registry.keyInfo(issuer)[3] == now  # retiredAt
    assert tuple(registry.keyInfo(new)) == (1, 3, now, 0, 0, False)
    assert registry.keyAddress(3) == new.address
    # History is kept: the old batch stays valid, the old key can no longer anchor.
    assert registry.checkCredential(root, values[1], proofs[1]) == VALID
    with expect_error(registry.KeyRetired, key=issuer):
        registry.anchor(keccak(text="late"), 1, META, sender=issuer)
    with expect_error(registry.KeyRetired, key=issuer):
        registry.rotateKey(spare_keys[1], sender=issuer)
    receipt = registry.anchor(keccak(text="fresh"), 1, META, sender=new)
    assert events(receipt, registry.BatchAnchored)[0]["keyId"] == 3
    # A retired key of the issuer may still revoke, in its issuer's namespace (key id recorded),
    # and so may the new key, including credentials of batches anchored by the old one.
    receipt = registry.revokeCredential(values[0], 1, sender=issuer)
    assert events(receipt, registry.CredentialRevoked) == [{"issuerId": 1, "digest": values[0]}]
    assert registry.credentialRevocation(1, values[0])[2] == 1
    assert registry.checkCredential(root, values[0], proofs[0]) == REVOKED
    registry.revokeCredential(values[1], 2, sender=new)
    assert registry.credentialRevocation(1, values[1])[1:] == (2, 3)
    assert registry.checkCredential(root, values[1], proofs[1]) == REVOKED
    with expect_error(registry.CredentialAlreadyRevoked, issuerId=1, digest=values[0]):
        registry.revokeCredential(values[0], 1, sender=new)
    registry.revokeCredentials([digest("x"), values[2]], 1, sender=issuer)
    assert registry.checkCredential(root, values[2], proofs[2]) == REVOKED


def test_rotate_key_errors(registry, issuer, other_issuer, stranger, spare_keys):
    with expect_error(registry.UnknownKey, key=stranger):
        registry.rotateKey(spare_keys[0], sender=stranger)
    with expect_error(registry.InvalidKey, key=ZERO):
        registry.rotateKey(ZERO, sender=issuer)
    with expect_error(registry.KeyAlreadyRegistered, key=other_issuer):
        registry.rotateKey(other_issuer, sender=issuer)
    with expect_error(registry.KeyAlreadyRegistered, key=issuer):
        registry.rotateKey(issuer, sender=issuer)


def test_retired_key_can_never_come_back(registry, issuer, spare_keys):
    registry.rotateKey(spare_keys[0], sender=issuer)
    with expect_error(registry.KeyAlreadyRegistered, key=issuer):
        registry.rotateKey(issuer, sender=spare_keys[0])


def test_rotation_while_suspended_keeps_suspension(registry, accreditor, issuer, spare_keys):
    registry.suspendIssuer(1, sender=accreditor)
    registry.rotateKey(spare_keys[0], sender=issuer)
    assert registry.keyInfo(spare_keys[0])[5] is True
    with expect_error(registry.SuspendedIssuer, issuerId=1):
        registry.anchor(keccak(text="r"), 1, META, sender=spare_keys[0])
    registry.reinstateIssuer(1, sender=accreditor)
    registry.anchor(keccak(text="r"), 1, META, sender=spare_keys[0])


def test_assign_key_by_accreditor(chain, registry, accreditor, issuer, spare_keys):
    new = spare_keys[0]
    receipt = registry.assignKey(1, new, sender=accreditor)
    assert events(receipt, registry.KeyRotated) == [
        {
            "issuerId": 1,
            "previousKey": issuer.address,
            "newKey": new.address,
            "newKeyId": 3,
            "by": accreditor.address,
        }
    ]
    assert registry.keyInfo(issuer)[3] == block_time(chain, receipt)
    assert registry.issuer(1)[5] == new.address
    registry.anchor(keccak(text="after-assign"), 1, META, sender=new)


def test_assign_key_errors(registry, accreditor, issuer, stranger, spare_keys):
    role = registry.ACCREDITOR_ROLE()
    for caller in (issuer, stranger):
        with expect_error(registry.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            registry.assignKey(1, spare_keys[0], sender=caller)
    with expect_error(registry.UnknownIssuer, issuerId=9):
        registry.assignKey(9, spare_keys[0], sender=accreditor)
    with expect_error(registry.KeyAlreadyRegistered, key=issuer):
        registry.assignKey(1, issuer, sender=accreditor)
    with expect_error(registry.InvalidKey, key=ZERO):
        registry.assignKey(1, ZERO, sender=accreditor)


def test_compromise_invalidates_batches_from_since(chain, registry, accreditor, issuer, spare_keys, make_tree):
    before, after = [digest("before")], [digest("after")]
    tree_before, tree_after = make_tree(before), make_tree(after)
    registry.anchor(tree_before["root"], 1, META, sender=issuer)
    chain.pending_timestamp += 3600
    receipt = registry.anchor(tree_after["root"], 1, META, sender=issuer)
    since = block_time(chain, receipt)

    receipt = registry.declareKeyCompromised(issuer, since, sender=accreditor)
    assert events(receipt, registry.KeyCompromised) == [
        {"key": issuer.address, "issuerId": 1, "since": since, "by": accreditor.address}
    ]
    assert registry.keyInfo(issuer)[4] == since
    assert registry.checkCredential(tree_before["root"], before[0], []) == VALID
    assert registry.checkCredential(tree_after["root"], after[0], []) == KEY_COMPROMISED

    # The compromised key can neither anchor nor revoke, nor rotate itself away.
    with expect_error(registry.CompromisedKey, key=issuer):
        registry.anchor(keccak(text="thief"), 1, META, sender=issuer)
    with expect_error(registry.CompromisedKey, key=issuer):
        registry.revokeCredential(before[0], 1, sender=issuer)
    with expect_error(registry.CompromisedKey, key=issuer):
        registry.revokeCredentials(before, 1, sender=issuer)
    with expect_error(registry.CompromisedKey, key=issuer):
        registry.revokeBatch(tree_before["root"], 1, sender=issuer)
    with expect_error(registry.CompromisedKey, key=issuer):
        registry.rotateKey(spare_keys[0], sender=issuer)

    # Recovery: the accreditation body assigns a new key, which anchors and revokes.
    registry.assignKey(1, spare_keys[0], sender=accreditor)
    tree_new = make_tree([digest("new")])
    registry.anchor(tree_new["root"], 1, META, sender=spare_keys[0])
    assert registry.checkCredential(tree_new["root"], digest("new"), []) == VALID
    registry.revokeCredential(after[0], 3, sender=spare_keys[0])
    assert registry.credentialRevocation(1, after[0])[1:] == (3, 3)
    # The old, compromised key stays compromised after being retired.
    assert registry.keyInfo(issuer)[4] == since


def test_since_can_move_earlier_only(chain, registry, accreditor, issuer):
    chain.pending_timestamp += 100
    chain.mine()
    now = chain.blocks.head.timestamp
    registry.declareKeyCompromised(issuer, now - 10, sender=accreditor)
    with expect_error(registry.KeyAlreadyCompromised, key=issuer, compromisedAt=now - 10):
        registry.declareKeyCompromised(issuer, now - 10, sender=accreditor)
    with expect_error(registry.KeyAlreadyCompromised, key=issuer, compromisedAt=now - 10):
        registry.declareKeyCompromised(issuer, now - 5, sender=accreditor)
    registry.declareKeyCompromised(issuer, now - 50, sender=accreditor)
    assert registry.keyInfo(issuer)[4] == now - 50


def test_invalid_compromise_time(chain, registry, accreditor, issuer):
    with expect_error(registry.InvalidCompromiseTime, since=0):
        registry.declareKeyCompromised(issuer, 0, sender=accreditor)
    future = chain.pending_timestamp + 10_000
    with expect_error(registry.InvalidCompromiseTime, since=future):
        registry.declareKeyCompromised(issuer, future, sender=accreditor)


def test_issuer_active_key_declares_retired_key(chain, registry, issuer, spare_keys):
    registry.rotateKey(spare_keys[0], sender=issuer)
    now = chain.blocks.head.timestamp
    receipt = registry.declareKeyCompromised(issuer, now, sender=spare_keys[0])
    assert events(receipt, registry.KeyCompromised)[0]["by"] == spare_keys[0].address


def test_who_may_declare_compromise(chain, registry, issuer, other_issuer, stranger, spare_keys):
    now = chain.blocks.head.timestamp
    with expect_error(registry.UnknownKey, key=stranger):
        registry.declareKeyCompromised(stranger, now, sender=issuer)
    for caller in (issuer, other_issuer, stranger):  # itself, another issuer, nobody
        with expect_error(registry.UnauthorizedCompromiseDeclaration, sender=caller, key=issuer):
            registry.declareKeyCompromised(issuer, now, sender=caller)
    # A retired key of the same issuer may not declare either.
    registry.rotateKey(spare_keys[0], sender=issuer)
    with expect_error(registry.UnauthorizedCompromiseDeclaration, sender=issuer, key=spare_keys[0]):
        registry.declareKeyCompromised(spare_keys[0], now, sender=issuer)


def test_compromised_active_key_cannot_declare_others(chain, registry, accreditor, issuer, spare_keys):
    registry.rotateKey(spare_keys[0], sender=issuer)
    now = chain.blocks.head.timestamp
    registry.declareKeyCompromised(spare_keys[0], now, sender=accreditor)
    with expect_error(registry.UnauthorizedCompromiseDeclaration, sender=spare_keys[0], key=issuer):
        registry.declareKeyCompromised(issuer, now, sender=spare_keys[0])
