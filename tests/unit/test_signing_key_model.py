"""Signing keys in the chain adapter, without a chain: the record's validity rule (format v2 §4),
the call encoding, the revert members and how a quorum names a disagreement about a key."""

from __future__ import annotations

import pytest
from eth_abi import encode

from registry.chain import calls
from registry.chain.abi import Revert, registry_abi
from registry.chain.model import SigningKeyInfo, Snapshot
from registry.chain.quorum import snapshot_difference
from registry.core.keccak import keccak256

PK = bytes(range(32))
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def test_a_current_key_is_valid_from_since_on() -> None:
    key = SigningKeyInfo(PK, 1, T0, 0, 0)
    assert key.valid_at(T0) is None
    assert key.valid_at(T0 + 10**6) is None
    assert key.valid_at(T0 - 1) == (
        "the signing key became the issuer's signing key at 2026-01-01T00:00:00Z, after the batch was anchored "
        "at 2025-12-31T23:59:59Z"
    )


def test_a_retired_key_is_valid_until_it_was_replaced() -> None:
    key = SigningKeyInfo(PK, 1, T0, T0 + 100, 0)
    assert key.valid_at(T0 + 99) is None
    # An anchor in the very second of the replacement (blocks can share a timestamp) still counts.
    assert key.valid_at(T0 + 100) is None
    problem = key.valid_at(T0 + 101)
    assert problem is not None and problem.startswith("the signing key was retired at 2026-01-01T00:01:40Z")
    assert "before the batch was anchored at 2026-01-01T00:01:41Z" in problem


def test_a_compromised_key_is_valid_only_before_the_declared_time() -> None:
    key = SigningKeyInfo(PK, 1, T0, 0, T0 + 50)
    assert key.valid_at(T0 + 49) is None
    for t in (T0 + 50, T0 + 51):
        problem = key.valid_at(t)
        assert problem is not None
        assert problem.startswith("the signing key was declared compromised from 2026-01-01T00:00:50Z")
    # retired and compromised: the retirement is named first when both apply
    both = SigningKeyInfo(PK, 1, T0, T0 + 10, T0 + 5)
    assert both.valid_at(T0 + 4) is None
    assert "compromised" in (both.valid_at(T0 + 7) or "")
    assert "retired" in (both.valid_at(T0 + 20) or "")


def test_an_unknown_key_is_never_valid() -> None:
    unknown = SigningKeyInfo(PK, 0, 0, 0, 0)
    assert not unknown.known
    assert unknown.valid_at(T0) == "the signing key is not registered by any issuer of the registry"


def test_calls_encode_the_solidity_signatures() -> None:
    call = calls.set_signing_key(PK)
    assert call.function == "setSigningKey" and call.action == "set signing key"
    assert call.data == keccak256(b"setSigningKey(bytes32)")[:4] + PK
    assert calls.set_signing_key("0x" + PK.hex()).data == call.data
    call = calls.declare_signing_key_compromised(PK, T0)
    assert call.data == keccak256(b"declareSigningKeyCompromised(bytes32,uint40)")[:4] + encode(
        ["bytes32", "uint40"], [PK, T0]
    )
    with pytest.raises(ValueError, match="32"):
        calls.set_signing_key(PK[:31])


def test_signing_key_reverts_decode_to_their_members() -> None:
    data = keccak256(b"SigningKeyAlreadyRegistered(bytes32,uint32)")[:4] + encode(["bytes32", "uint32"], [PK, 7])
    assert registry_abi().decode_revert(data) == (
        Revert.SIGNING_KEY_ALREADY_REGISTERED,
        f"SigningKeyAlreadyRegistered(0x{PK.hex()}, 7)",
    )
    for name in (
        "InvalidSigningKey",
        "UnknownSigningKey",
        "SigningKeyAlreadyCompromised",
        "UnauthorizedSigningKeyCompromise",
    ):
        assert Revert(name).value in registry_abi().error_names()


def test_the_views_and_events_are_in_the_abi() -> None:
    abi = registry_abi()
    assert {"setSigningKey", "declareSigningKeyCompromised", "signingKey", "signingPublicKeyFor"} <= set(abi.functions)
    assert abi.topic("SigningKeySet") == "0x" + keccak256(b"SigningKeySet(uint32,bytes32,bytes32)").hex()
    assert (
        abi.topic("SigningKeyCompromised")
        == "0x" + keccak256(b"SigningKeyCompromised(bytes32,uint32,uint40,address)").hex()
    )


def _snap(**signing_keys: SigningKeyInfo) -> Snapshot:
    return Snapshot(
        chain_id=31337, has_code=True, head=10, signing_keys={bytes.fromhex(k): v for k, v in signing_keys.items()}
    )


def test_a_quorum_names_the_signing_key_it_disagrees_on() -> None:
    hexkey = PK.hex()
    registered = SigningKeyInfo(PK, 1, T0, 0, 0)
    assert snapshot_difference(_snap(**{hexkey: registered}), _snap(**{hexkey: registered})) is None
    assert snapshot_difference(_snap(**{hexkey: registered}), _snap(**{hexkey: SigningKeyInfo(PK, 0, 0, 0, 0)})) == (
        f"signing key 0x{hexkey}",
        "registered (issuer_id 1, since 1767225600)",
        "not registered",
    )
    compromised = SigningKeyInfo(PK, 1, T0, 0, T0 + 5)
    assert snapshot_difference(_snap(**{hexkey: registered}), _snap(**{hexkey: compromised})) == (
        f"signing key 0x{hexkey}",
        "registered (compromised_since 0)",
        f"registered (compromised_since {T0 + 5})",
    )
