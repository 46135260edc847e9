"""What the chain adapter hands out: small frozen records of the registry's state and of
transactions, the revocation reason codes and the contract's role ids.

Hex values (roots, digests, hashes, role ids) are 0x-prefixed lower case; addresses are
checksummed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from registry.core.identity import issuer_did
from registry.core.keccak import keccak256_hex

__all__ = [
    "ACCREDITOR_ROLE",
    "DEFAULT_ADMIN_ROLE",
    "REVOCATION_REASONS",
    "SUPERSEDED_REASON",
    "SUPERSESSION_KINDS",
    "AccreditorInfo",
    "BatchInfo",
    "BlockHeader",
    "Call",
    "ChainLog",
    "CredentialRevocation",
    "IssuerInfo",
    "KeyInfo",
    "LogPage",
    "Receipt",
    "SignedTx",
    "SigningKeyInfo",
    "Snapshot",
    "Supersession",
    "TxResult",
    "as_bytes32",
    "as_hex",
]

DEFAULT_ADMIN_ROLE: Final = "0x" + "00" * 32
"""OpenZeppelin AccessControl's admin role id (bytes32 zero), as hex."""
ACCREDITOR_ROLE: Final = keccak256_hex(b"ACCREDITOR_ROLE")
"""The accreditation body's role id, ``keccak256("ACCREDITOR_ROLE")``, as hex."""

REVOCATION_REASONS: dict[int, str] = {
    0: "unspecified",
    1: "issued in error",
    2: "superseded by a new credential",
    3: "academic or professional misconduct",
    4: "issuer key compromised",
    5: "withdrawn at the holder's request",
    6: "achievement requirements no longer met",
}

SUPERSEDED_REASON: Final = 2
"""The revocation reason a supersession writes (``supersedeCredential``): "superseded by a new
credential". A plain revocation may carry it too, without a supersession record."""
SUPERSESSION_KINDS: dict[int, str] = {1: "correction", 2: "renewal"}
"""The contract's supersession kinds (``uint8 kind``); it refuses any other."""


def as_hex(value: bytes | str) -> str:
    """``value`` as 0x-prefixed lower-case hex (strings are taken to be hex already)."""
    if isinstance(value, str):
        return value.lower()
    return "0x" + value.hex()


def as_bytes32(value: bytes | str) -> bytes:
    """A 32-byte value from bytes or 0x-hex; raises ValueError on any other length."""
    if isinstance(value, bytes):
        if len(value) != 32:
            raise ValueError("expected 32 bytes")
        return value
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"expected a 32-byte hex value, got {value!r}")
    return raw


@dataclass(frozen=True)
class BatchInfo:
    """A batch as recorded on chain (one storage slot)."""

    root: str
    issuer_id: int
    key_id: int
    anchored_at: int
    block_number: int
    count: int
    revoked_at: int
    revocation_reason: int

    @property
    def revoked(self) -> bool:
        return self.revoked_at != 0


@dataclass(frozen=True)
class KeyInfo:
    """An anchoring key of an issuer."""

    address: str
    issuer_id: int
    key_id: int
    activated_at: int
    retired_at: int
    compromised_at: int

    def compromised_for(self, anchored_at: int) -> bool:
        """True when a batch anchored at ``anchored_at`` falls after the declared compromise."""
        return self.compromised_at != 0 and anchored_at >= self.compromised_at


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SigningKeyInfo:
    """An Ed25519 signing key of the directory (``signingKey(bytes32)`` on chain, format v2 §4).

    ``issuer_id`` 0: no issuer ever registered the key. ``since``: when it became its issuer's
    signing key; ``until``: when a newer one replaced it (0 while current);
    ``compromised_since``: the declared compromise time (0 if none).
    """

    public_key: bytes
    issuer_id: int
    since: int
    until: int
    compromised_since: int

    @property
    def known(self) -> bool:
        return self.issuer_id != 0

    def valid_at(self, timestamp: int) -> str | None:
        """None when the key was its issuer's signing key, and not compromised, at ``timestamp``
        (a batch's anchoring time); otherwise why not, in words."""
        at = _utc(timestamp)
        if not self.known:
            return "the signing key is not registered by any issuer of the registry"
        if timestamp < self.since:
            return (
                f"the signing key became the issuer's signing key at {_utc(self.since)}, after the batch was "
                f"anchored at {at}"
            )
        # Retirement is not compromise: an anchor in the very second its key was replaced (blocks
        # can share a timestamp) was made while the key was still of record, so only later fails.
        if self.until != 0 and timestamp > self.until:
            return (
                f"the signing key was retired at {_utc(self.until)} (replaced by a newer one), before the batch "
                f"was anchored at {at}"
            )
        if self.compromised_since != 0 and timestamp >= self.compromised_since:
            return (
                f"the signing key was declared compromised from {_utc(self.compromised_since)}, at or before the "
                f"batch was anchored at {at}"
            )
        return None


@dataclass(frozen=True)
class IssuerInfo:
    """A directory entry."""

    issuer_id: int
    name: str
    uri: str
    admitted_by: str
    admitted_at: int
    suspended_at: int
    active_key: str

    @property
    def did(self) -> str:
        return issuer_did(self.uri)

    @property
    def suspended(self) -> bool:
        return self.suspended_at != 0


@dataclass(frozen=True)
class AccreditorInfo:
    """An accreditation body's directory entry (``accreditor(address)`` on chain).

    Unnamed (empty ``name`` and ``uri``) for a body granted the role with plain ``grantRole``,
    and for every body of a registry deployed before bodies had entries (no such view): such a
    body is shown by its address.
    """

    address: str
    name: str = ""
    uri: str = ""
    appointed_at: int = 0

    @property
    def named(self) -> bool:
        return bool(self.name)

    @property
    def label(self) -> str:
        """How a report names the body: ``NAME (URI)``, or its address when unnamed."""
        return f"{self.name} ({self.uri})" if self.named else self.address

    def as_json(self) -> dict[str, str | None]:
        """``{"address", "name", "uri"}``, name and uri null when unnamed (the verify report's
        ``accreditor``)."""
        return {
            "address": self.address,
            "name": self.name if self.named else None,
            "uri": self.uri if self.named else None,
        }


@dataclass(frozen=True)
class CredentialRevocation:
    revoked_at: int
    reason: int
    key_id: int


@dataclass(frozen=True)
class Supersession:
    """Credential ``digest`` of issuer ``issuer_id`` superseded by ``new_digest`` (the contract's
    ``supersession`` view, with ``new_root`` and ``new_id`` from its ``CredentialSuperseded``
    event, in block ``block`` at ``superseded_at``)."""

    issuer_id: int
    digest: str
    new_digest: str
    new_root: str
    new_id: str
    kind: int
    superseded_at: int
    block: int

    @property
    def kind_name(self) -> str:
        """ "correction" or "renewal" (``kind N`` for a kind this code does not know)."""
        return SUPERSESSION_KINDS.get(self.kind, f"kind {self.kind}")


@dataclass
class Snapshot:
    """The chain's view of a set of credentials, read at one head."""

    chain_id: int
    has_code: bool
    head: int
    batches: dict[str, BatchInfo | None] = field(default_factory=dict)
    revocations: dict[tuple[int, str], CredentialRevocation | None] = field(default_factory=dict)
    keys: dict[int, KeyInfo] = field(default_factory=dict)
    issuers: dict[int, IssuerInfo] = field(default_factory=dict)
    owners: dict[str, int] = field(default_factory=dict)
    """Issuer identifier -> id of the directory entry admitted with exactly it (0: none)."""
    accreditors: dict[str, AccreditorInfo] = field(default_factory=dict)
    """Accreditation body address (``admitted_by`` of the issuers above) -> its entry."""
    signing_keys: dict[bytes, SigningKeyInfo] = field(default_factory=dict)
    """Every Ed25519 public key asked about (32 raw bytes) -> its record; a key no issuer
    registered maps to a record with ``issuer_id`` 0 (never absent, never None)."""
    supersessions: dict[tuple[int, str], Supersession | None] = field(default_factory=dict)
    """(issuer id, old digest) -> its supersession, None when the registry records none: for every
    revocation above with reason :data:`SUPERSEDED_REASON` and every ``successors`` pair asked
    about (in the namespace of the issuer that anchored the pair's root)."""


@dataclass(frozen=True)
class Call:
    """One encoded call of a registry function (see :mod:`registry.chain.calls`).

    ``action`` names it in errors ("anchor batch failed: RootAlreadyAnchored(0x..)").
    """

    function: str
    data: bytes
    action: str


@dataclass(frozen=True)
class ChainLog:
    """One decoded registry event; ``timestamp`` is None when the node did not include it."""

    block: int
    log_index: int
    tx: str
    block_hash: str
    timestamp: int | None
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class TxResult:
    """A mined transaction, with the registry events it emitted."""

    tx_hash: str
    block_number: int
    gas_used: int
    status: int
    logs: list[ChainLog]
    contract_address: str | None = None

    def events(self, name: str) -> list[dict[str, Any]]:
        """Arguments of each ``name`` event the transaction emitted, in log order."""
        return [log.args for log in self.logs if log.name == name]


@dataclass(frozen=True)
class SignedTx:
    """A transaction signed but not (yet) broadcast: everything needed to send it again."""

    tx_hash: str
    raw: bytes
    sender: str
    nonce: int
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True)
class Receipt:
    """The parts of a receipt the anchoring worker needs."""

    tx_hash: str
    block_number: int
    block_hash: str
    status: int
    gas_used: int


@dataclass(frozen=True)
class LogPage:
    """The logs of one ``eth_getLogs`` page covering blocks ``[from_block, to_block]``."""

    from_block: int
    to_block: int
    logs: list[dict[str, Any]]


@dataclass(frozen=True)
class BlockHeader:
    number: int
    hash: str
    timestamp: int
