"""Supersession in the chain adapter's pure parts: the model, the call encoding, the reverts and
the event as the ABI decodes them, and how a quorum names a disagreement about one."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode

from registry.chain import calls
from registry.chain.abi import Revert, registry_abi
from registry.chain.model import REVOCATION_REASONS, SUPERSEDED_REASON, SUPERSESSION_KINDS, Snapshot, Supersession
from registry.chain.quorum import snapshot_difference
from registry.core.keccak import keccak256, keccak256_hex

OLD, NEW, ROOT = ("0x" + keccak256(label.encode()).hex() for label in ("old", "new", "root"))
NEW_ID = "urn:uuid:7f0c1a52-3b7e-4d4e-9a8e-2f6f0d1c9b10"


def _supersession(kind: int = 1) -> Supersession:
    return Supersession(1, OLD, NEW, ROOT, NEW_ID, kind, 1_760_000_000, 42)


def test_kinds_and_reason() -> None:
    assert SUPERSESSION_KINDS == {1: "correction", 2: "renewal"}
    assert REVOCATION_REASONS[SUPERSEDED_REASON] == "superseded by a new credential"
    assert [_supersession(k).kind_name for k in (1, 2, 7)] == ["correction", "renewal", "kind 7"]


def test_call_encoding_matches_the_solidity_signature() -> None:
    proof = ["0x" + "11" * 32, bytes.fromhex("22" * 32)]
    call = calls.supersede_credential(OLD, ROOT, NEW, proof, 2, NEW_ID)
    assert (call.function, call.action) == ("supersedeCredential", "supersede credential")
    signature = b"supersedeCredential(bytes32,bytes32,bytes32,bytes32[],uint8,string)"
    assert call.data[:4] == keccak256(signature)[:4] == bytes.fromhex("9188ff49")
    types = ["bytes32", "bytes32", "bytes32", "bytes32[]", "uint8", "string"]
    old, root, new, path, kind, new_id = decode(types, call.data[4:])
    assert ("0x" + old.hex(), "0x" + root.hex(), "0x" + new.hex()) == (OLD, ROOT, NEW)
    assert (path, kind, new_id) == ((b"\x11" * 32, b"\x22" * 32), 2, NEW_ID)


def test_bad_digest_is_refused_before_encoding() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        calls.supersede_credential("0x1234", ROOT, NEW, [], 1, NEW_ID)


@pytest.mark.parametrize(
    ("error", "member"),
    [("InvalidSupersession", Revert.INVALID_SUPERSESSION), ("SuccessorNotAnchored", Revert.SUCCESSOR_NOT_ANCHORED)],
)
def test_reverts_decode_to_their_members(error: str, member: Revert) -> None:
    a, b = bytes.fromhex(OLD[2:]), bytes.fromhex(NEW[2:])
    data = keccak256(f"{error}(bytes32,bytes32)".encode())[:4] + encode(["bytes32", "bytes32"], [a, b])
    assert registry_abi().decode_revert(data) == (member, f"{error}({OLD}, {NEW})")


def test_the_event_decodes_like_the_others() -> None:
    abi = registry_abi()
    signature = b"CredentialSuperseded(uint32,bytes32,bytes32,bytes32,uint8,string)"
    assert abi.topic("CredentialSuperseded") == keccak256_hex(signature)
    log = {
        "topics": [keccak256_hex(signature), "0x" + (3).to_bytes(32, "big").hex(), OLD],
        "data": "0x"
        + encode(
            ["bytes32", "bytes32", "uint8", "string"], [bytes.fromhex(NEW[2:]), bytes.fromhex(ROOT[2:]), 1, NEW_ID]
        ).hex(),
        "blockNumber": "0x2a",
        "logIndex": "0x1",
        "transactionHash": "0x" + "ab" * 32,
        "blockHash": "0x" + "cd" * 32,
    }
    event = abi.decode_log(log)
    assert (event.name, event.block, event.log_index) == ("CredentialSuperseded", 42, 1)
    assert event.args == {"issuerId": 3, "digest": OLD, "newDigest": NEW, "newRoot": ROOT, "kind": 1, "newId": NEW_ID}


def test_a_quorum_names_a_disagreement_about_a_supersession() -> None:
    def snap(value: Supersession | None) -> Snapshot:
        return Snapshot(chain_id=1, has_code=True, head=50, supersessions={(1, OLD): value})

    assert snapshot_difference(snap(_supersession()), snap(_supersession())) is None
    what, honest, liar = snapshot_difference(snap(_supersession()), snap(None)) or ("", "", "")
    assert what == f"the supersession of credential {OLD} (issuer #1)"
    assert honest.startswith(f"superseded (issuer_id 1, digest {OLD}, new_digest {NEW}")
    assert liar == "not superseded"
    _, first, second = snapshot_difference(snap(_supersession(1)), snap(_supersession(2))) or ("", "", "")
    assert (first, second) == ("superseded (kind 1)", "superseded (kind 2)")
