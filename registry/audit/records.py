"""What the auditor asks of an issuer's records: the :class:`IssuerRecords` port.

The auditor reconciles the chain with what issuers *claim*: the batches their service recorded
as anchored and the revocations it recorded as done. It sees the small frozen records below
through the :class:`IssuerRecords` protocol, so it can be given the issuer service's database
(:class:`registry.service.audit_records.ServiceDatabase`, ``registry audit --db URL``), a test
double (:class:`StaticRecords`) or an adapter for another issuer system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "ANCHORED_STATES",
    "IssuerRecords",
    "RecordedBatch",
    "RecordedIssuer",
    "RecordedRevocation",
    "StaticRecords",
]

ANCHORED_STATES = frozenset({"confirmed", "revoked"})
"""Batch states in which the service considers a batch anchored (and its files released)."""


@dataclass(frozen=True)
class RecordedIssuer:
    """An issuer as the service knows it: matched to the chain directory by DID or key."""

    db_id: int
    name: str
    did: str
    key_address: str


@dataclass(frozen=True)
class RecordedBatch:
    """A batch the service recorded as anchored."""

    issuer_db_id: int
    root: str
    count: int
    state: str
    anchor_tx: str | None = None
    anchor_block: int | None = None
    chain_id: int | None = None
    registry: str | None = None
    metadata_hash: str | None = None
    pathway: str | None = None
    """Set when the batch is a pathway's publication: "<pathway id> version <n> (<name>)"."""


@dataclass(frozen=True)
class RecordedRevocation:
    """A revocation the service recorded as done: a credential (``digest``) or a whole batch.

    A supersession (correction or renewal) the service recorded as done is one too, of the old
    credential with ``reason`` 2 (``SUPERSEDED_REASON``), as the contract records it; ``root`` is
    the old credential's batch.
    """

    issuer_db_id: int
    root: str
    digest: str | None
    reason: int
    tx_hash: str | None = None


class IssuerRecords(Protocol):
    """What the auditor asks of an issuer's records."""

    def issuers(self) -> list[RecordedIssuer]: ...

    def anchored_batches(self) -> list[RecordedBatch]: ...

    def revocations(self) -> list[RecordedRevocation]: ...

    def mentioned_hashes(self) -> set[str]:
        """Every 32-byte hex value (roots, transaction hashes) the service's own log mentions.

        Tells a batch the database *lost* (its anchoring is in the event log) from a root
        anchored with the issuer's key *outside* the service (never seen by it at all).
        """
        ...


@dataclass
class StaticRecords:
    """Records held in memory (tests, or records exported from another issuer system)."""

    issuer_list: list[RecordedIssuer] = field(default_factory=list)
    batch_list: list[RecordedBatch] = field(default_factory=list)
    revocation_list: list[RecordedRevocation] = field(default_factory=list)
    log_hashes: set[str] = field(default_factory=set)

    def issuers(self) -> list[RecordedIssuer]:
        return list(self.issuer_list)

    def anchored_batches(self) -> list[RecordedBatch]:
        return [b for b in self.batch_list if b.state in ANCHORED_STATES]

    def revocations(self) -> list[RecordedRevocation]:
        return list(self.revocation_list)

    def mentioned_hashes(self) -> set[str]:
        return set(self.log_hashes)
