"""The registry ABI codec: every custom error has a Revert member, and reverts decode to it."""

from __future__ import annotations

from eth_abi import encode

from registry.chain.abi import Revert, registry_abi
from registry.core.keccak import keccak256

_NOT_CUSTOM = {Revert.ERROR_STRING, Revert.NO_REASON, Revert.UNRECOGNISED}


def test_one_revert_member_per_custom_error() -> None:
    assert {r.value for r in Revert if r not in _NOT_CUSTOM} == registry_abi().error_names()


def test_custom_error_decodes_to_its_member_and_message() -> None:
    root = bytes(range(32))
    data = keccak256(b"RootAlreadyAnchored(bytes32)")[:4] + encode(["bytes32"], [root])
    assert registry_abi().decode_revert(data) == (Revert.ROOT_ALREADY_ANCHORED, f"RootAlreadyAnchored(0x{root.hex()})")


def test_other_reverts() -> None:
    abi = registry_abi()
    assert abi.decode_revert(None) == (Revert.NO_REASON, "reverted without reason")
    text = bytes.fromhex("08c379a0") + encode(["string"], ["nope"])
    assert abi.decode_revert("0x" + text.hex()) == (Revert.ERROR_STRING, "nope")
    assert abi.decode_revert(b"\x01\x02\x03\x04") == (Revert.UNRECOGNISED, "reverted with data 0x01020304")


def test_call_encoding_matches_the_solidity_selector() -> None:
    data = registry_abi().encode_call("revokeBatch", bytes(32), 1)
    assert data[:4] == keccak256(b"revokeBatch(bytes32,uint8)")[:4]
    assert data[4:] == encode(["bytes32", "uint8"], [bytes(32), 1])
