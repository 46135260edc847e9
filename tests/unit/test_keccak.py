"""The one Keccak-256 of the package (tiny-keccak) against published vectors and against two other
implementations: safe-pysha3 (XKCP, which the package used before) and pycryptodome."""

from __future__ import annotations

import random

import pytest
import sha3
from Crypto.Hash import keccak as pycryptodome_keccak

from registry.core.keccak import keccak256, keccak256_bytes, keccak256_hex

# Keccak-256 with the original (pre-FIPS 202) padding, as Ethereum and Solidity's keccak256 use.
VECTORS = {
    b"": "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    b"abc": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
    b"The quick brown fox jumps over the lazy dog": "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15",
}


@pytest.mark.parametrize(("message", "expected"), VECTORS.items())
def test_published_vectors(message: bytes, expected: str) -> None:
    assert keccak256_bytes(message).hex() == expected
    assert keccak256(message).hex() == expected
    assert keccak256_hex(message) == "0x" + expected


def test_not_the_fips_sha3() -> None:
    """SHA3-256 pads differently: the same empty message gives another digest."""
    import hashlib

    assert keccak256(b"") != hashlib.sha3_256(b"").digest()


def _others(message: bytes) -> tuple[bytes, bytes]:
    reference = pycryptodome_keccak.new(digest_bits=256)
    reference.update(message)
    return sha3.keccak_256(message).digest(), reference.digest()


def test_every_length_across_two_blocks_matches_two_other_implementations() -> None:
    """Every length from 0 to 400 bytes (the 136-byte rate: one, two and three blocks, and the
    padding byte landing at the end of a block), random content."""
    rng = random.Random(20261206)
    for length in range(401):
        message = rng.randbytes(length)
        pysha3_digest, pycryptodome_digest = _others(message)
        assert keccak256_bytes(message) == pysha3_digest == pycryptodome_digest, length


def test_the_package_preimages_match_two_other_implementations() -> None:
    """The sizes the package hashes by the million: 32-byte leaves, 64-byte node pairs, ~81-byte
    field preimages, ~800-byte document preimages."""
    rng = random.Random(7)
    for size in (32, 64, 81, 135, 136, 137, 272, 800, 1216, 4096):
        for _ in range(50):
            message = rng.randbytes(size)
            pysha3_digest, pycryptodome_digest = _others(message)
            assert keccak256_bytes(message) == pysha3_digest == pycryptodome_digest, size


def test_bytes_like_values() -> None:
    """keccak256 takes any bytes-like value; the hot-loop keccak256_bytes only bytes."""
    data = b"credential registry"
    expected = keccak256(data)
    assert keccak256(bytearray(data)) == expected
    assert keccak256(memoryview(b"xx" + data)[2:]) == expected
    with pytest.raises(TypeError):
        keccak256_bytes(memoryview(data))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keccak256_bytes("text")  # type: ignore[arg-type]
