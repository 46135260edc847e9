"""Keccak-256 (the Ethereum variant, pre-FIPS padding) via safe-pysha3's C implementation.

The one place the package gets Keccak from: :func:`keccak256` for single values, and the hasher
constructor :data:`keccak_256` for hot loops that chain ``digest()`` calls in C.
"""

from __future__ import annotations

import sha3

__all__ = ["keccak256", "keccak256_hex", "keccak_256"]

keccak_256 = sha3.keccak_256
_keccak = keccak_256


def keccak256(data: bytes) -> bytes:
    """Return the 32-byte Keccak-256 digest of ``data`` (as Solidity's ``keccak256``)."""
    return _keccak(data).digest()  # type: ignore[no-any-return]


def keccak256_hex(data: bytes) -> str:
    """Return ``keccak256(data)`` as 0x-prefixed lower-case hex."""
    return "0x" + _keccak(data).hexdigest()  # type: ignore[no-any-return]
