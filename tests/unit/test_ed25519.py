"""Ed25519 verification (registry.core.signing._ed25519_verifies, libsodium through PyNaCl) against
OpenSSL's (``cryptography``), which signs: the same answer on honest signatures and on every
corruption of them, and a refusal where OpenSSL's check lets a small-order key verify anything."""

from __future__ import annotations

import random

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.core.signing import _ed25519_verifies

L = 2**252 + 27742317777372353535851937790883648493
"""The order of the Ed25519 base point."""


def openssl_verifies(public: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_honest_signatures_and_their_corruptions_get_openssls_answer() -> None:
    rng = random.Random(25519)
    checked = {True: 0, False: 0}
    for _ in range(60):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        public, data = _raw(key), rng.randbytes(rng.choice([0, 1, 64, 200]))
        signature = key.sign(data)
        cases = [(public, signature, data)]
        for _ in range(4):  # one flipped bit in the signature, the message or the key
            bit = rng.randrange(8 * 64)
            flipped = bytearray(signature)
            flipped[bit // 8] ^= 1 << bit % 8
            cases.append((public, bytes(flipped), data))
            cases.append((public, signature, data + b"\x00"))
            cases.append((bytes(b ^ (i == 5) for i, b in enumerate(public)), signature, data))
        for case in cases:
            ours = _ed25519_verifies(*case)
            assert ours == openssl_verifies(*case), case
            checked[ours] += 1
    assert checked[True] == 60 and checked[False] == 60 * 12


def test_a_non_canonical_s_is_refused_by_both() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signature = key.sign(b"message")
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + L).to_bytes(32, "little")  # the same S mod L
    assert not openssl_verifies(_raw(key), malleated, b"message")
    assert not _ed25519_verifies(_raw(key), malleated, b"message")


@pytest.mark.parametrize("data", [b"", b"any message", b"\xff" * 100])
def test_a_small_order_key_verifies_nothing(data: bytes) -> None:
    """The identity point as the key, the identity as R and S = 0 satisfy OpenSSL's (cofactorless)
    equation for every message: a key that verifies any forgery. libsodium refuses such keys."""
    identity = bytes([1]) + bytes(31)
    forged = identity + bytes(32)
    assert openssl_verifies(identity, forged, data)  # what the check used to accept
    assert not _ed25519_verifies(identity, forged, data)
