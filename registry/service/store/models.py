"""Database tables of the issuer service (sqlmodel / SQLAlchemy 2).

What each table holds, and what it never holds: API keys only as SHA-256 hashes; anchoring keys
never (an issuer row names where its key lives: an encrypted keystore path or, on development
chains only, a development key role). ``event`` is append-only: the ORM refuses updates and
deletes of its rows. Schema changes go through Alembic (``registry/service/migrations``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

__all__ = [
    "AchievementRow",
    "AnchorTx",
    "ApiKey",
    "Batch",
    "BatchState",
    "CredentialRow",
    "CredentialState",
    "Event",
    "Issuer",
    "PathwayRow",
    "Revocation",
    "RevocationState",
    "ServiceSecret",
    "Supersession",
    "TxState",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookState",
    "utcnow",
]


def utcnow() -> datetime:
    """Now (timezone-aware UTC, whole seconds: equal on SQLite and PostgreSQL)."""
    return datetime.now(UTC).replace(microsecond=0)


class BatchState(StrEnum):
    """pending -> signed -> submitted -> confirmed (-> revoked); a reorg goes back to pending."""

    PENDING = "pending"
    SIGNED = "signed"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    REVOKED = "revoked"
    FAILED = "failed"

    @classmethod
    def open_states(cls) -> tuple[BatchState, ...]:
        """The states the worker still has to move (anchor not yet confirmed)."""
        return (cls.PENDING, cls.SIGNED, cls.SUBMITTED)


class CredentialState(StrEnum):
    """queued (no batch yet) -> batched -> released (file available) -> revoked."""

    QUEUED = "queued"
    BATCHED = "batched"
    RELEASED = "released"
    REVOKED = "revoked"


class TxState(StrEnum):
    """signed -> broadcast -> mined -> confirmed; ``replaced`` by a higher-fee transaction with
    the same nonce (either may still be mined), ``dropped`` (reorg, nonce reused), ``reverted``."""

    SIGNED = "signed"
    BROADCAST = "broadcast"
    MINED = "mined"
    CONFIRMED = "confirmed"
    REPLACED = "replaced"
    DROPPED = "dropped"
    REVERTED = "reverted"


class RevocationState(StrEnum):
    """pending -> signed (transaction recorded) -> submitted (broadcast) -> done (N confirmations),
    like a batch's anchor; a reorg or a dropped transaction goes back to pending; failed: refused
    on chain (the error is kept)."""

    PENDING = "pending"
    SIGNED = "signed"
    SUBMITTED = "submitted"
    DONE = "done"
    FAILED = "failed"

    @classmethod
    def open_states(cls) -> tuple[RevocationState, ...]:
        """The states the worker still has to move (a request in them blocks a second one)."""
        return (cls.PENDING, cls.SIGNED, cls.SUBMITTED)


class Issuer(SQLModel, table=True):
    """An organisation that issues through this service."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=500)
    did: str = Field(max_length=2048, unique=True, description="issuer.id inside credentials")
    url: str | None = Field(default=None, max_length=2048)
    key_source: str = Field(max_length=2048, description="keystore:PATH or dev:ROLE")
    key_address: str = Field(max_length=42, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    linkedin_organization_id: str | None = Field(
        default=None, max_length=32, description="LinkedIn organisation id (digits), for add-to-profile links"
    )


class IssuerFormerKey(SQLModel, table=True):
    """An anchoring key the issuer rotated away from (``registry issuer rotate-key``): the files of
    the batches it anchored are still assembled with it (their proof names it, and format v2
    files are signed with the signing key derived from it), and DID documents keep listing that
    signing key for standard verifiers of those files."""

    __tablename__ = "issuer_former_key"

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    key_address: str = Field(max_length=42, index=True)
    key_source: str = Field(max_length=2048, description="keystore:PATH or dev:ROLE")
    retired_at: datetime = Field(default_factory=utcnow)
    tx_hash: str | None = Field(default=None, max_length=66, description="the rotateKey transaction")


class ApiKey(SQLModel, table=True):
    """An API key of one issuer, stored as the SHA-256 of the token (never the token)."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class AchievementRow(SQLModel, table=True):
    """An achievement (micro-credential definition) of one issuer; ``data`` is its JSON."""

    __tablename__ = "achievement"
    __table_args__ = (sa.UniqueConstraint("issuer_id", "uri"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    uri: str = Field(max_length=2048)
    name: str = Field(max_length=500)
    data: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)


class Batch(SQLModel, table=True):
    """A sealed set of credentials with one Merkle root, and where it stands on chain."""

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    state: str = Field(default=BatchState.PENDING, max_length=16, index=True)
    root: str = Field(max_length=66, unique=True)
    count: int
    metadata_hash: str = Field(max_length=66)
    sealed_at: datetime = Field(default_factory=utcnow)
    chain_id: int | None = None
    registry_address: str | None = Field(default=None, max_length=42)
    anchor_tx: str | None = Field(default=None, max_length=66)
    anchor_block: int | None = None
    anchored_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmations_required: int | None = None
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    revoked_at: datetime | None = None
    revocation_reason: int | None = None


ANCHOR_TX_ONE_SUBJECT = (
    "(CASE WHEN batch_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN revocation_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN supersession_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN key_change_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN directory_change_id IS NULL THEN 0 ELSE 1 END) = 1"
)
"""``anchor_tx`` rows belong to exactly one subject (CASE: PostgreSQL does not add booleans)."""


class AnchorTx(SQLModel, table=True):
    """A signed transaction of an issuer's key, recorded before it is broadcast: the anchor of
    ``batch_id``, the on-chain revocation ``revocation_id``, the on-chain supersession
    ``supersession_id``, the signing-key registration ``key_change_id`` or the operator's
    directory change ``directory_change_id`` (exactly one of them). One table for every chain
    write of a key, so in-flight nonces are read in one place."""

    __tablename__ = "anchor_tx"
    __table_args__ = (sa.CheckConstraint(ANCHOR_TX_ONE_SUBJECT, name="ck_anchor_tx_one_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    revocation_id: int | None = Field(default=None, foreign_key="revocation.id", index=True)
    supersession_id: int | None = Field(default=None, foreign_key="supersession.id", index=True)
    key_change_id: int | None = Field(default=None, foreign_key="key_change.id", index=True)
    directory_change_id: int | None = Field(default=None, foreign_key="directory_change.id", index=True)
    sender: str = Field(max_length=42, index=True)
    nonce: int
    tx_hash: str = Field(max_length=66, unique=True)
    raw_tx: str = Field(sa_type=sa.Text)
    gas_limit: int
    max_fee_per_gas: int = Field(sa_type=sa.BigInteger)
    max_priority_fee_per_gas: int = Field(sa_type=sa.BigInteger)
    state: str = Field(default=TxState.SIGNED, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    broadcast_at: datetime | None = None
    block_number: int | None = None
    block_hash: str | None = Field(default=None, max_length=66)
    gas_used: int | None = None


class CredentialRow(SQLModel, table=True):
    """One issued credential: its document (no proof), salts, digest and Merkle path."""

    __tablename__ = "credential"
    __table_args__ = (
        sa.Index("ix_credential_issuer_state", "issuer_id", "state"),
        # the credential.expiring scan: an issuer's released, not yet notified rows by validUntil
        sa.Index("ix_credential_expiring_scan", "issuer_id", "state", "expiring_notified_at", "valid_until"),
    )

    id: str = Field(primary_key=True, max_length=32, description="public share id")
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    achievement_id: int = Field(foreign_key="achievement.id", index=True)
    batch_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    seq: int = Field(sa_type=sa.BigInteger, index=True, description="issuance order")
    credential_uri: str = Field(max_length=100, unique=True)
    recipient_name: str | None = Field(default=None, max_length=500)
    learner_ref: str | None = Field(
        default=None, max_length=64, index=True, description="HMAC of the learner's e-mail (ServiceSecret key)"
    )
    state: str = Field(default=CredentialState.QUEUED, max_length=16, index=True)
    doc: str = Field(sa_type=sa.Text)
    salts: str | None = Field(default=None, sa_type=sa.Text)
    digest: str | None = Field(default=None, max_length=66, index=True)
    merkle_path: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    expiring_notified_at: datetime | None = Field(
        default=None, description="when credential.expiring went to the outbox (once per credential)"
    )
    valid_until: datetime | None = Field(
        default=None, description="the document's validUntil (UTC), for the credential.expiring scan"
    )


def doc_valid_until(doc: Mapping[str, Any]) -> datetime | None:
    """A credential document's ``validUntil`` as an aware datetime (UTC when it names no offset);
    None when absent or unreadable (such a credential never expires, as the verifier sees it)."""
    value = doc.get("validUntil")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class RequestColumns(SQLModel):
    """The columns of every chain write other than an anchor (revocation, supersession, key
    change, directory change): its place in the pipeline (:class:`RevocationState`), its current
    transaction (``anchor_tx``), mined reverts, the last error, when it was asked and done."""

    state: str = Field(default=RevocationState.PENDING, max_length=16, index=True)
    tx_hash: str | None = Field(default=None, max_length=66, description="the current transaction (anchor_tx)")
    attempts: int = Field(default=0, description="transactions mined reverted")
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class Revocation(RequestColumns, table=True):
    """A revocation request (one credential, or a whole batch when ``credential_id`` is null)."""

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    batch_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    credential_id: str | None = Field(default=None, foreign_key="credential.id", index=True)
    reason: int = 0
    note: str = Field(default="", max_length=1000)


class Supersession(RequestColumns, table=True):
    """A correction or renewal: ``new_credential_id`` (queued with a ``supersedes`` claim)
    replaces ``old_credential_id``. The worker sends ``supersedeCredential`` once the new
    credential's batch is confirmed, through the revocations' pipeline and states
    (:class:`RevocationState`); done, the old credential is revoked (reason 2 on chain).
    A credential has at most one live (not failed) supersession: the database refuses a second
    one, so two concurrent reissues cannot both be queued."""

    __table_args__ = (
        sa.Index(
            "uq_supersession_live_old",
            "old_credential_id",
            unique=True,
            sqlite_where=sa.text("state <> 'failed'"),
            postgresql_where=sa.text("state <> 'failed'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    old_credential_id: str = Field(foreign_key="credential.id", index=True)
    new_credential_id: str = Field(foreign_key="credential.id", unique=True)
    kind: int = Field(description="1 correction, 2 renewal (the contract's codes)")
    note: str = Field(default="", max_length=1000, description="kept in the service, never on chain")


class KeyChange(RequestColumns, table=True):
    """The registration of an issuer's Ed25519 signing key (``setSigningKey``, credential format
    v2) as its current one: queued by the worker when a batch is about to be anchored while the
    chain records another key (or none), sent through the revocations' pipeline and states
    (:class:`RevocationState`). The batch's anchor waits until it is done."""

    __tablename__ = "key_change"

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    public_key: str = Field(max_length=66, description="0x-hex raw 32-byte Ed25519 public key")


class DirectoryChange(RequestColumns, table=True):
    """A change of the directory on chain by the registry's operators (appoint an accreditation
    body, grant its role, admit an issuer), asked for with the CLI and signed with the operator's
    own key in that process (the service never holds it). Recorded before it is sent and moved
    through the revocations' pipeline and states (:class:`RevocationState`), so a crash or a
    second run of the same command never sends it twice.

    ``call_data`` is the encoded call: with ``sender``, ``chain_id`` and ``registry_address`` it names the
    request (an open one with the same four is resumed, not asked again); ``args`` is what the
    command was given (JSON), to check the chain shows the change; ``outcome`` what it made
    (JSON: the admitted issuer's id)."""

    __tablename__ = "directory_change"

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=64, description="admit_issuer, appoint_accreditor, grant_accreditor")
    sender: str = Field(max_length=42, index=True, description="the operator's address (checksummed)")
    chain_id: int = Field(sa_type=sa.BigInteger)
    registry_address: str = Field(max_length=42)
    call_data: str = Field(sa_type=sa.Text, description="0x-hex encoded call")
    args: str = Field(default="{}", sa_type=sa.Text)
    outcome: str | None = Field(default=None, sa_type=sa.Text)

    @property
    def issuer_id(self) -> None:
        """No service issuer: the operator's changes concern the whole directory."""
        return None


REQUEST_MODELS = (Revocation, Supersession, KeyChange)
"""The tables of the worker's chain writes other than anchors (the same states, the same pipeline;
the operators' :class:`DirectoryChange` rows are driven by the CLI instead)."""


class Event(SQLModel, table=True):
    """Append-only log of what the service did (never updated, never deleted)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    issuer_id: int | None = Field(default=None, foreign_key="issuer.id", index=True)
    kind: str = Field(max_length=64, index=True)
    subject: str = Field(default="", max_length=200)
    data: str = Field(default="{}", sa_type=sa.Text)


def _append_only(mapper: Mapper[Event], connection: sa.Connection, target: Event) -> None:
    raise PermissionError(f"the event log is append-only: event {target.id} cannot change")


sa_event.listen(Event, "before_update", _append_only)
sa_event.listen(Event, "before_delete", _append_only)


class WebhookState(StrEnum):
    """pending (waiting for its next attempt) -> delivered | failed (attempts used up)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpoint(SQLModel, table=True):
    """A receiver URL of one issuer and the events it subscribes to (comma-separated)."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    url: str = Field(max_length=2048)
    events: str = Field(max_length=1000)
    secret: str = Field(max_length=200, description="HMAC key (needed in clear to sign)")
    created_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = None


class WebhookDelivery(SQLModel, table=True):
    """The outbox: one event for one endpoint, written in the transaction of the change."""

    __tablename__ = "webhook_delivery"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, index=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    event: str = Field(max_length=64)
    payload: str = Field(sa_type=sa.Text)
    state: str = Field(default=WebhookState.PENDING, max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    claimed_until: datetime | None = None
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class PathwayRow(SQLModel, table=True):
    """One version of a pathway definition owned by an issuer of this service. A version never
    changes once published: ``document`` is its RFC 8785 text and ``digest`` what goes on chain;
    publishing is an anchored batch of its own (``batch_id``), sent by the worker like any other."""

    __tablename__ = "pathway"
    __table_args__ = (sa.UniqueConstraint("uri", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer_id: int = Field(foreign_key="issuer.id", index=True)
    uri: str = Field(max_length=2048, description="the definition's id")
    version: int
    name: str = Field(max_length=500)
    document: str = Field(sa_type=sa.Text)
    digest: str = Field(max_length=66, unique=True)
    batch_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class ServiceSecret(SQLModel, table=True):
    """Random keys the service makes for itself on first use (never shown, never logged)."""

    __tablename__ = "service_secret"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=128)
