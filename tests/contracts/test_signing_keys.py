"""Ed25519 signing keys bound to the issuer directory (format v2 §4 "Key binding"):
setSigningKey, declareSigningKeyCompromised and their views."""

from __future__ import annotations

import pytest
from conftest import block_time, events, expect_error
from eth_utils import keccak

ZERO_KEY = b"\x00" * 32
META = b"\x00" * 32
EIP170_MAX_RUNTIME = 24_576
"""Largest runtime bytecode a chain accepts (EIP-170)."""


def pk(label: str) -> bytes:
    """A 32-byte stand-in for an Ed25519 public key (the contract stores it opaquely)."""
    return keccak(text=f"ed25519-{label}")


def test_first_signing_key(chain, registry, issuer):
    assert registry.signingPublicKeyFor(1) == ZERO_KEY
    receipt = registry.setSigningKey(pk("a"), sender=issuer)
    now = block_time(chain, receipt)
    assert events(receipt, registry.SigningKeySet) == [{"issuerId": 1, "publicKey": pk("a"), "previous": ZERO_KEY}]
    assert tuple(registry.signingKey(pk("a"))) == (1, now, 0, 0)
    assert registry.signingPublicKeyFor(1) == pk("a")
    assert registry.signingPublicKeyFor(2) == ZERO_KEY  # another issuer's is its own


def test_a_new_key_retires_the_previous_one(chain, registry, issuer):
    first = registry.setSigningKey(pk("a"), sender=issuer)
    chain.pending_timestamp += 60
    second = registry.setSigningKey(pk("b"), sender=issuer)
    t1, t2 = block_time(chain, first), block_time(chain, second)
    assert t2 > t1
    assert events(second, registry.SigningKeySet) == [{"issuerId": 1, "publicKey": pk("b"), "previous": pk("a")}]
    assert tuple(registry.signingKey(pk("a"))) == (1, t1, t2, 0)
    assert tuple(registry.signingKey(pk("b"))) == (1, t2, 0, 0)
    assert registry.signingPublicKeyFor(1) == pk("b")
    third = registry.setSigningKey(pk("c"), sender=issuer)
    t3 = block_time(chain, third)
    assert tuple(registry.signingKey(pk("a"))) == (1, t1, t2, 0)  # retired once, never again
    assert tuple(registry.signingKey(pk("b"))) == (1, t2, t3, 0)


def test_issuers_keep_their_own_keys(registry, issuer, other_issuer):
    registry.setSigningKey(pk("a"), sender=issuer)
    receipt = registry.setSigningKey(pk("b"), sender=other_issuer)
    assert events(receipt, registry.SigningKeySet)[0]["previous"] == ZERO_KEY
    assert registry.signingKey(pk("a"))[0] == 1
    assert registry.signingKey(pk("b"))[0] == 2
    assert (registry.signingPublicKeyFor(1), registry.signingPublicKeyFor(2)) == (pk("a"), pk("b"))


def test_keys_are_never_reused(registry, issuer, other_issuer):
    registry.setSigningKey(pk("a"), sender=issuer)
    with expect_error(registry.SigningKeyAlreadyRegistered, publicKey=pk("a"), issuerId=1):
        registry.setSigningKey(pk("a"), sender=issuer)  # the current key again
    with expect_error(registry.SigningKeyAlreadyRegistered, publicKey=pk("a"), issuerId=1):
        registry.setSigningKey(pk("a"), sender=other_issuer)  # another issuer's key
    registry.setSigningKey(pk("b"), sender=issuer)
    with expect_error(registry.SigningKeyAlreadyRegistered, publicKey=pk("a"), issuerId=1):
        registry.setSigningKey(pk("a"), sender=issuer)  # a retired key cannot come back
    with expect_error(registry.InvalidSigningKey, publicKey=ZERO_KEY):
        registry.setSigningKey(ZERO_KEY, sender=issuer)
    assert registry.signingPublicKeyFor(1) == pk("b")


def test_only_a_key_that_may_anchor_sets_it(chain, registry, accreditor, admin, issuer, stranger, spare_keys):
    """The same rule, and the same errors in the same order, as anchor."""
    for caller in (stranger, accreditor, admin):
        with expect_error(registry.UnknownKey, key=caller):
            registry.setSigningKey(pk("x"), sender=caller)
    with expect_error(registry.UnknownKey, key=stranger):  # the sender is checked before the key
        registry.setSigningKey(ZERO_KEY, sender=stranger)
    registry.suspendIssuer(1, sender=accreditor)
    with expect_error(registry.SuspendedIssuer, issuerId=1):
        registry.setSigningKey(pk("x"), sender=issuer)
    with expect_error(registry.SuspendedIssuer, issuerId=1):
        registry.anchor(keccak(text="r"), 1, META, sender=issuer)
    registry.reinstateIssuer(1, sender=accreditor)
    registry.setSigningKey(pk("x"), sender=issuer)
    registry.rotateKey(spare_keys[0], sender=issuer)
    with expect_error(registry.KeyRetired, key=issuer):
        registry.setSigningKey(pk("y"), sender=issuer)
    receipt = registry.setSigningKey(pk("y"), sender=spare_keys[0])  # the new anchoring key may
    assert events(receipt, registry.SigningKeySet)[0]["previous"] == pk("x")
    registry.declareKeyCompromised(spare_keys[0], chain.blocks.head.timestamp, sender=accreditor)
    with expect_error(registry.CompromisedKey, key=spare_keys[0]):
        registry.setSigningKey(pk("z"), sender=spare_keys[0])
    # Recovery: the accreditation body assigns a fresh anchoring key, which sets a fresh signing key.
    registry.assignKey(1, spare_keys[1], sender=accreditor)
    registry.setSigningKey(pk("z"), sender=spare_keys[1])
    assert registry.signingPublicKeyFor(1) == pk("z")


def test_declare_signing_key_compromised(chain, registry, accreditor, issuer):
    registry.setSigningKey(pk("a"), sender=issuer)
    since = registry.signingKey(pk("a"))[1]
    receipt = registry.declareSigningKeyCompromised(pk("a"), since, sender=accreditor)
    assert events(receipt, registry.SigningKeyCompromised) == [
        {"publicKey": pk("a"), "issuerId": 1, "since": since, "by": accreditor.address}
    ]
    assert tuple(registry.signingKey(pk("a"))) == (1, since, 0, since)
    # It stays the current key until replaced, which a compromise does not prevent.
    assert registry.signingPublicKeyFor(1) == pk("a")
    receipt = registry.setSigningKey(pk("b"), sender=issuer)
    assert tuple(registry.signingKey(pk("a")))[2:] == (block_time(chain, receipt), since)


def test_issuer_declares_its_own_signing_keys(chain, registry, issuer, spare_keys):
    registry.setSigningKey(pk("a"), sender=issuer)
    registry.setSigningKey(pk("b"), sender=issuer)
    now = chain.blocks.head.timestamp
    receipt = registry.declareSigningKeyCompromised(pk("a"), now, sender=issuer)  # a retired one
    assert events(receipt, registry.SigningKeyCompromised)[0]["by"] == issuer.address
    registry.rotateKey(spare_keys[0], sender=issuer)
    registry.declareSigningKeyCompromised(pk("b"), now, sender=spare_keys[0])  # the new anchoring key
    assert registry.signingKey(pk("b"))[3] == now


def test_who_may_declare_a_signing_key_compromised(
    chain, registry, accreditor, issuer, other_issuer, stranger, spare_keys
):
    registry.setSigningKey(pk("a"), sender=issuer)
    now = chain.blocks.head.timestamp
    with expect_error(registry.UnknownSigningKey, publicKey=pk("nobody")):
        registry.declareSigningKeyCompromised(pk("nobody"), now, sender=accreditor)
    for caller in (other_issuer, stranger):
        with expect_error(registry.UnauthorizedSigningKeyCompromise, sender=caller, publicKey=pk("a")):
            registry.declareSigningKeyCompromised(pk("a"), now, sender=caller)
    # A suspended issuer's active key may still declare (as for anchoring keys).
    registry.suspendIssuer(1, sender=accreditor)
    registry.declareSigningKeyCompromised(pk("a"), now, sender=issuer)
    registry.reinstateIssuer(1, sender=accreditor)
    # A retired anchoring key may not; nor may a compromised one.
    registry.rotateKey(spare_keys[0], sender=issuer)
    with expect_error(registry.UnauthorizedSigningKeyCompromise, sender=issuer, publicKey=pk("a")):
        registry.declareSigningKeyCompromised(pk("a"), now - 1, sender=issuer)
    registry.declareKeyCompromised(spare_keys[0], now, sender=accreditor)
    with expect_error(registry.UnauthorizedSigningKeyCompromise, sender=spare_keys[0], publicKey=pk("a")):
        registry.declareSigningKeyCompromised(pk("a"), now - 1, sender=spare_keys[0])
    registry.declareSigningKeyCompromised(pk("a"), now - 1, sender=accreditor)
    assert registry.signingKey(pk("a"))[3] == now - 1


def test_compromise_time_rules(chain, registry, accreditor, issuer):
    registry.setSigningKey(pk("a"), sender=issuer)
    chain.pending_timestamp += 100
    chain.mine()
    now = chain.blocks.head.timestamp
    with expect_error(registry.InvalidCompromiseTime, since=0):
        registry.declareSigningKeyCompromised(pk("a"), 0, sender=accreditor)
    future = chain.pending_timestamp + 10_000
    with expect_error(registry.InvalidCompromiseTime, since=future):
        registry.declareSigningKeyCompromised(pk("a"), future, sender=accreditor)
    registry.declareSigningKeyCompromised(pk("a"), now - 10, sender=accreditor)
    for later in (now - 10, now - 5):  # the same time or later: refused
        with expect_error(registry.SigningKeyAlreadyCompromised, publicKey=pk("a"), compromisedSince=now - 10):
            registry.declareSigningKeyCompromised(pk("a"), later, sender=issuer)
    registry.declareSigningKeyCompromised(pk("a"), now - 50, sender=issuer)  # earlier: accepted
    assert registry.signingKey(pk("a"))[3] == now - 50


def test_unknown_signing_keys_read_as_zero(registry):
    assert tuple(registry.signingKey(pk("never"))) == (0, 0, 0, 0)
    assert tuple(registry.signingKey(ZERO_KEY)) == (0, 0, 0, 0)
    assert registry.signingPublicKeyFor(0) == ZERO_KEY
    assert registry.signingPublicKeyFor(99) == ZERO_KEY


def test_signing_keys_do_not_touch_anchoring(registry, issuer, anchored):
    """Signing keys live beside the anchoring keys: the key record, anchoring and the on-chain
    check are unchanged by them."""
    root, values, proofs, _ = anchored
    before = tuple(registry.keyInfo(issuer))
    registry.setSigningKey(pk("a"), sender=issuer)
    registry.declareSigningKeyCompromised(pk("a"), registry.signingKey(pk("a"))[1], sender=issuer)
    assert tuple(registry.keyInfo(issuer)) == before
    assert registry.checkCredential(root, values[0], proofs[0]) == 0  # Valid
    registry.anchor(keccak(text="after"), 1, META, sender=issuer)


def test_view_selector_sorts_below_revoke_credential():
    """`signingPublicKeyFor` was named for its selector (`currentSigningKey(uint32)` is
    0x4957afbf): with the four signing-key functions, exactly one more selector below
    revokeCredential's keeps revokeCredential (48,000-gas budget) at the head of its dispatch
    group (the gas test measures it)."""
    view = keccak(text="signingPublicKeyFor(uint32)")[:4]
    revoke = keccak(text="revokeCredential(bytes32,uint8)")[:4]
    assert view.hex() == "03fd3b1e"
    assert view < revoke
    for other in ("setSigningKey(bytes32)", "declareSigningKeyCompromised(bytes32,uint40)", "signingKey(bytes32)"):
        assert keccak(text=other)[:4] > revoke


def test_runtime_code_fits_eip170(chain, registry):
    size = len(chain.provider.get_code(registry.address))
    assert 0 < size <= EIP170_MAX_RUNTIME, size


@pytest.fixture
def signing_gas(registry, issuer):
    first = registry.setSigningKey(keccak(text="first"), sender=issuer)
    replacement = registry.setSigningKey(keccak(text="second"), sender=issuer)
    return first.gas_used, replacement.gas_used


def test_set_signing_key_gas(signing_gas):
    """Receipt gasUsed (21,000 included) with random-looking keys: three cold slots and two
    fresh SSTOREs the first time (measured 70,489); a replacement writes the current-key slot
    non-zero to non-zero and retires the previous key's record (58,509). The margins cover
    calldata (a key without zero bytes costs at most ~50 more)."""
    first, replacement = signing_gas
    print(f"setSigningKey gas: first {first}, replacement {replacement}")
    assert first <= 71_000
    assert replacement <= 59_000
