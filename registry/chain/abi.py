"""The CredentialRegistry ABI: call encoding, output and event decoding, and reverts as an enum.

Selectors and topics are Keccak-256 of the canonical signatures (Solidity ABI specification),
computed with :mod:`registry.core.keccak`; values are encoded and decoded with eth-abi.
A revert's custom error is decoded into :class:`Revert` (compare ``exc.revert is
Revert.ROOT_ALREADY_ANCHORED``, never the message text) and into the human-readable message
``Name(arg, ...)`` that errors show.
"""

from __future__ import annotations

import enum
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address

from registry.chain.artifacts import load_artifact
from registry.chain.model import ChainLog
from registry.core.keccak import keccak256, keccak256_hex

__all__ = ["RegistryAbi", "Revert", "registry_abi"]

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string), what require(cond, "text") reverts with


class Revert(enum.Enum):
    """Why a registry call reverted: one member per custom error of the contract's ABI."""

    ACCESS_CONTROL_BAD_CONFIRMATION = "AccessControlBadConfirmation"
    ACCESS_CONTROL_UNAUTHORIZED_ACCOUNT = "AccessControlUnauthorizedAccount"
    BATCH_ALREADY_REVOKED = "BatchAlreadyRevoked"
    COMPROMISED_KEY = "CompromisedKey"
    CREDENTIAL_ALREADY_REVOKED = "CredentialAlreadyRevoked"
    EMPTY_NAME = "EmptyName"
    EMPTY_URI = "EmptyUri"
    INVALID_ACCREDITOR = "InvalidAccreditor"
    INVALID_BATCH = "InvalidBatch"
    INVALID_COMPROMISE_TIME = "InvalidCompromiseTime"
    INVALID_KEY = "InvalidKey"
    INVALID_SIGNING_KEY = "InvalidSigningKey"
    INVALID_SUPERSESSION = "InvalidSupersession"
    ISSUER_NOT_SUSPENDED = "IssuerNotSuspended"
    KEY_ALREADY_COMPROMISED = "KeyAlreadyCompromised"
    KEY_ALREADY_REGISTERED = "KeyAlreadyRegistered"
    KEY_RETIRED = "KeyRetired"
    NO_DIGESTS = "NoDigests"
    NON_CANONICAL_URI = "NonCanonicalUri"
    NOT_BATCH_ISSUER = "NotBatchIssuer"
    ROOT_ALREADY_ANCHORED = "RootAlreadyAnchored"
    SIGNING_KEY_ALREADY_COMPROMISED = "SigningKeyAlreadyCompromised"
    SIGNING_KEY_ALREADY_REGISTERED = "SigningKeyAlreadyRegistered"
    SUCCESSOR_NOT_ANCHORED = "SuccessorNotAnchored"
    SUCCESSOR_REVOKED = "SuccessorRevoked"
    SUSPENDED_ISSUER = "SuspendedIssuer"
    UNAUTHORIZED_COMPROMISE_DECLARATION = "UnauthorizedCompromiseDeclaration"
    UNAUTHORIZED_SIGNING_KEY_COMPROMISE = "UnauthorizedSigningKeyCompromise"
    UNKNOWN_ISSUER = "UnknownIssuer"
    UNKNOWN_KEY = "UnknownKey"
    UNKNOWN_ROOT = "UnknownRoot"
    UNKNOWN_SIGNING_KEY = "UnknownSigningKey"
    URI_ALREADY_REGISTERED = "UriAlreadyRegistered"
    ERROR_STRING = "Error"
    """A ``require(condition, "text")`` revert (no custom error)."""
    NO_REASON = "NoReason"
    """A revert without data."""
    UNRECOGNISED = "Unrecognised"
    """Revert data that matches no error of the ABI."""


def _canonical(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical(c) for c in param.get("components", []))
        return f"({inner}){kind.removeprefix('tuple')}"
    return kind


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_canonical(i) for i in item.get('inputs', []))})"


def _plain(value: Any) -> Any:
    """ABI-decoded values as JSON-friendly ones: 0x-hex for bytes, checksummed addresses."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return to_checksum_address(value)
    return value


class RegistryAbi:
    """Encoder and decoder for one contract ABI (by default the CredentialRegistry's)."""

    def __init__(self, abi: list[dict[str, Any]]) -> None:
        self.abi = abi
        self.functions = {i["name"]: i for i in abi if i.get("type") == "function"}
        self._selectors = {name: keccak256(_signature(i).encode())[:4] for name, i in self.functions.items()}
        ctor: dict[str, Any] = next((i for i in abi if i.get("type") == "constructor"), {"inputs": []})
        self._constructor_types = [_canonical(i) for i in ctor.get("inputs", [])]
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        self._events: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        for item in abi:
            if item.get("type") == "error":
                types = [_canonical(i) for i in item.get("inputs", [])]
                self._errors[keccak256(_signature(item).encode())[:4]] = (item["name"], types)
            elif item.get("type") == "event":
                self._events[keccak256_hex(_signature(item).encode())] = (item["name"], list(item.get("inputs", [])))

    def mutating_functions(self) -> set[str]:
        """Names of the state-changing functions."""
        return {n for n, i in self.functions.items() if i.get("stateMutability") not in ("view", "pure")}

    def error_names(self) -> set[str]:
        return {name for name, _ in self._errors.values()}

    def topic(self, event: str) -> str:
        """topic0 of an event, by name."""
        for topic, (name, _) in self._events.items():
            if name == event:
                return topic
        raise KeyError(event)

    def encode_call(self, name: str, *args: Any) -> bytes:
        """Calldata of ``name(args)``: selector and ABI-encoded arguments."""
        fn = self.functions[name]
        return self._selectors[name] + abi_encode([_canonical(i) for i in fn.get("inputs", [])], args)

    def encode_constructor(self, *args: Any) -> bytes:
        return abi_encode(self._constructor_types, args)

    def decode_output(self, name: str, raw: bytes) -> tuple[Any, ...]:
        """The return values of ``name`` (raises on data that does not decode)."""
        types = [_canonical(o) for o in self.functions[name].get("outputs", [])]
        return tuple(abi_decode(types, raw))

    def decode_revert(self, data: str | bytes | None) -> tuple[Revert, str]:
        """The custom error in revert data, and its message, e.g. ``UnknownRoot(0x..)``."""
        if not data:
            return Revert.NO_REASON, "reverted without reason"
        raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
        entry = self._errors.get(raw[:4])
        if entry is None:
            if raw[:4] == _ERROR_STRING:
                return Revert.ERROR_STRING, str(abi_decode(["string"], raw[4:])[0])
            return Revert.UNRECOGNISED, f"reverted with data 0x{raw.hex()}"
        name, types = entry
        try:
            revert = Revert(name)
        except ValueError:
            revert = Revert.UNRECOGNISED
        try:
            args = abi_decode(types, raw[4:])
        except Exception:
            return revert, name
        shown = [("0x" + a.hex()) if isinstance(a, bytes) else str(a) for a in args]
        return revert, f"{name}({', '.join(shown)})"

    def decode_log(self, log: dict[str, Any]) -> ChainLog:
        """A raw JSON-RPC log of the contract as a typed record (event name and arguments)."""
        topics = [str(t).lower() for t in log.get("topics", [])]
        entry = self._events.get(topics[0]) if topics else None
        block = int(log["blockNumber"], 16)
        index = int(log["logIndex"], 16)
        tx = str(log["transactionHash"]).lower()
        ts_raw = log.get("blockTimestamp")
        timestamp = int(ts_raw, 16) if isinstance(ts_raw, str) else None
        block_hash = str(log.get("blockHash", "")).lower()
        if entry is None:
            return ChainLog(block, index, tx, block_hash, timestamp, "Unknown", {"topics": topics})
        name, inputs = entry
        args: dict[str, Any] = {}
        indexed = [i for i in inputs if i.get("indexed")]
        plain = [i for i in inputs if not i.get("indexed")]
        for spec, topic in zip(indexed, topics[1:], strict=False):
            (value,) = abi_decode([spec["type"]], bytes.fromhex(topic[2:]))
            args[spec["name"]] = _plain(value)
        data = bytes.fromhex(str(log.get("data", "0x"))[2:])
        values = abi_decode([_canonical(i) for i in plain], data) if plain else ()
        for spec, value in zip(plain, values, strict=True):
            args[spec["name"]] = _plain(value)
        return ChainLog(block, index, tx, block_hash, timestamp, name, args)


@cache
def registry_abi() -> RegistryAbi:
    """The CredentialRegistry's ABI, from the compiled artifact (loaded once)."""
    return RegistryAbi(load_artifact("CredentialRegistry").abi)
