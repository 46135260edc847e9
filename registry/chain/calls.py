"""Typed calls of the CredentialRegistry's state-changing functions, encoded from its ABI.

Each builder returns a :class:`~registry.chain.model.Call` that
:meth:`ChainWriter.transact <registry.chain.writes.ChainWriter.transact>` sends, or
:meth:`TxSender.sign <registry.chain.sender.TxSender.sign>` signs without sending (the anchoring
worker records a transaction before broadcasting it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils import to_checksum_address

from registry.chain.abi import registry_abi
from registry.chain.model import Call, as_bytes32

__all__ = [
    "admit_issuer",
    "anchor",
    "appoint_accreditor",
    "assign_key",
    "declare_key_compromised",
    "declare_signing_key_compromised",
    "grant_role",
    "reinstate_issuer",
    "renounce_role",
    "revoke_batch",
    "revoke_credential",
    "revoke_credentials",
    "revoke_role",
    "rotate_key",
    "set_signing_key",
    "supersede_credential",
    "suspend_issuer",
]


def _call(function: str, action: str, *args: Any) -> Call:
    return Call(function, registry_abi().encode_call(function, *args), action)


def grant_role(role: str, account: str) -> Call:
    return _call("grantRole", "grant role", as_bytes32(role), to_checksum_address(account))


def revoke_role(role: str, account: str) -> Call:
    return _call("revokeRole", "revoke role", as_bytes32(role), to_checksum_address(account))


def renounce_role(role: str, caller_confirmation: str) -> Call:
    return _call("renounceRole", "renounce role", as_bytes32(role), to_checksum_address(caller_confirmation))


def appoint_accreditor(account: str, name: str, uri: str) -> Call:
    """Appoint (or rename) accreditation body ``account`` with its directory entry: the
    contract's ``onboardAccreditor(name, uri, account)``, which also grants the role."""
    return _call("onboardAccreditor", "appoint accreditation body", name, uri, to_checksum_address(account))


def admit_issuer(name: str, uri: str, key: str) -> Call:
    return _call("admitIssuer", "admit issuer", name, uri, to_checksum_address(key))


def suspend_issuer(issuer_id: int) -> Call:
    return _call("suspendIssuer", "suspend issuer", issuer_id)


def reinstate_issuer(issuer_id: int) -> Call:
    return _call("reinstateIssuer", "reinstate issuer", issuer_id)


def assign_key(issuer_id: int, new_key: str) -> Call:
    return _call("assignKey", "assign key", issuer_id, to_checksum_address(new_key))


def rotate_key(new_key: str) -> Call:
    return _call("rotateKey", "rotate key", to_checksum_address(new_key))


def declare_key_compromised(key: str, since: int) -> Call:
    return _call("declareKeyCompromised", "declare key compromised", to_checksum_address(key), since)


def set_signing_key(public_key: bytes | str) -> Call:
    """Make ``public_key`` (a raw 32-byte Ed25519 public key) the sender's issuer's signing key."""
    return _call("setSigningKey", "set signing key", as_bytes32(public_key))


def declare_signing_key_compromised(public_key: bytes | str, since: int) -> Call:
    return _call("declareSigningKeyCompromised", "declare signing key compromised", as_bytes32(public_key), since)


def anchor(root: bytes | str, count: int, metadata_hash: bytes | str) -> Call:
    """Anchor a batch root; ``metadata_hash`` is the Keccak-256 of the batch metadata."""
    return _call("anchor", "anchor batch", as_bytes32(root), count, as_bytes32(metadata_hash))


def revoke_credential(digest: bytes | str, reason: int) -> Call:
    return _call("revokeCredential", "revoke credential", as_bytes32(digest), reason)


def revoke_credentials(digests: Sequence[bytes | str], reason: int) -> Call:
    return _call("revokeCredentials", "revoke credentials", [as_bytes32(d) for d in digests], reason)


def revoke_batch(root: bytes | str, reason: int) -> Call:
    return _call("revokeBatch", "revoke batch", as_bytes32(root), reason)


def supersede_credential(
    digest: bytes | str,
    new_root: bytes | str,
    new_digest: bytes | str,
    proof: Sequence[bytes | str],
    kind: int,
    new_id: str,
) -> Call:
    """Supersede credential ``digest`` with ``new_digest``, proved by ``proof`` under the sender's
    issuer's anchored ``new_root``; ``kind`` 1 = correction, 2 = renewal (``SUPERSESSION_KINDS``)."""
    return _call(
        "supersedeCredential",
        "supersede credential",
        as_bytes32(digest),
        as_bytes32(new_root),
        as_bytes32(new_digest),
        [as_bytes32(p) for p in proof],
        kind,
        new_id,
    )
