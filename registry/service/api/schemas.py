"""Request and response bodies of the REST API (they make the published OpenAPI schema)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from registry.core.csvimport import IssueRequest
from registry.service.lineage import Lineage, kind_name
from registry.service.store import AchievementRow, ApiKey, Batch, CredentialRow, KeyChange, Revocation, Supersession
from registry.verify import Report

__all__ = [
    "AchievementIn",
    "AchievementOut",
    "ApiKeyOut",
    "BatchOut",
    "BulkIssue",
    "CredentialOut",
    "IssuedOut",
    "ReissueIn",
    "RenewIn",
    "ReplacementOut",
    "RevocationOut",
    "RevokeIn",
    "SupersessionOut",
    "VerifyBatchOut",
    "VerifyBatchRow",
]


class AchievementIn(BaseModel):
    """An achievement (OB 3.0 Achievement + EU micro-credential elements)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="URI; generated under the issuer when omitted")
    name: str
    description: str
    criteria_narrative: str
    learning_outcomes: list[str]
    workload_ects: float
    eqf_level: int
    assessment_type: str
    participation_form: Literal["online", "onsite", "blended"]
    quality_assurance: str
    image: str | None = None


class AchievementOut(BaseModel):
    id: int
    uri: str
    name: str
    created_at: datetime
    definition: dict[str, Any]

    @classmethod
    def of(cls, row: AchievementRow) -> AchievementOut:
        assert row.id is not None
        return cls(id=row.id, uri=row.uri, name=row.name, created_at=row.created_at, definition=json.loads(row.data))


class CredentialOut(BaseModel):
    id: str = Field(description="public id; the share page is /c/{id}")
    credential_id: str = Field(description="the credential's own id (urn:uuid:...)")
    achievement_id: int
    recipient_name: str | None
    state: str = Field(description="queued, batched, released or revoked")
    batch_id: int | None
    digest: str | None
    created_at: datetime
    share_url: str
    file_url: str
    supersedes: str | None = Field(default=None, description="public id of the credential this one replaces")
    superseded_by: str | None = Field(
        default=None, description="public id of the credential replacing this one (from the request on)"
    )

    @classmethod
    def of(cls, row: CredentialRow, base_url: str, lineage: Lineage | None = None) -> CredentialOut:
        return cls(
            id=row.id,
            credential_id=row.credential_uri,
            achievement_id=row.achievement_id,
            recipient_name=row.recipient_name,
            state=row.state,
            batch_id=row.batch_id,
            digest=row.digest,
            created_at=row.created_at,
            share_url=f"{base_url.rstrip('/')}/c/{row.id}",
            file_url=f"/v1/credentials/{row.id}/file",
            supersedes=lineage.supersedes if lineage else None,
            superseded_by=lineage.superseded_by if lineage else None,
        )


class BulkIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credentials: list[IssueRequest] = Field(min_length=1)


class IssuedOut(BaseModel):
    count: int
    ids: list[str]


class BatchOut(BaseModel):
    id: int
    state: str = Field(description="pending, signed, submitted, confirmed, revoked or failed")
    root: str
    count: int
    sealed_at: datetime
    chain_id: int | None
    registry: str | None
    anchor_tx: str | None
    anchor_block: int | None
    anchored_at: datetime | None
    confirmed_at: datetime | None
    confirmations_required: int | None
    attempts: int
    last_error: str | None
    revoked_at: datetime | None
    revocation_reason: int | None
    tx_url: str | None = None

    @classmethod
    def of(cls, row: Batch, explorer: str | None = None) -> BatchOut:
        assert row.id is not None
        tx_url = explorer.format(tx=row.anchor_tx) if explorer and row.anchor_tx else None
        return cls(
            id=row.id,
            state=row.state,
            root=row.root,
            count=row.count,
            sealed_at=row.sealed_at,
            chain_id=row.chain_id,
            registry=row.registry_address,
            anchor_tx=row.anchor_tx,
            anchor_block=row.anchor_block,
            anchored_at=row.anchored_at,
            confirmed_at=row.confirmed_at,
            confirmations_required=row.confirmations_required,
            attempts=row.attempts,
            last_error=row.last_error,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            tx_url=tx_url,
        )


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: int = Field(default=0, ge=0, le=255, description="reason code, see /v1/revocation-reasons")
    note: str = Field(default="", max_length=1000, description="kept in the service, never on chain")


class KeyChangeOut(BaseModel):
    """A registration of the issuer's Ed25519 signing key on chain (``setSigningKey``)."""

    id: int
    public_key: str = Field(description="0x-hex raw 32-byte Ed25519 public key")
    state: str = Field(
        description="pending (the worker sends it), signed (recorded), submitted (sent), done (of record) or failed"
    )
    tx_hash: str | None
    error: str | None = Field(description="why it failed (or the last setback of an open one)")
    created_at: datetime
    done_at: datetime | None

    @classmethod
    def of(cls, row: KeyChange) -> KeyChangeOut:
        assert row.id is not None
        return cls(
            id=row.id,
            public_key=row.public_key,
            state=row.state,
            tx_hash=row.tx_hash,
            error=row.last_error,
            created_at=row.created_at,
            done_at=row.done_at,
        )


class IssuerOut(BaseModel):
    """The calling issuer as the service knows it."""

    id: int
    name: str
    did: str
    url: str | None
    anchoring_key: str
    linkedin_organization_id: str | None
    key_changes: list[KeyChangeOut] = Field(description="signing-key registrations, newest first")


class IssuerPatch(BaseModel):
    """Fields of the calling issuer it may change; an absent field is left as it is."""

    model_config = ConfigDict(extra="forbid")

    linkedin_organization_id: str | None = Field(
        default=None,
        description="LinkedIn organisation id (digits; null clears it): share pages' add-to-profile links name it",
    )


class RevocationOut(BaseModel):
    id: int
    state: str = Field(
        description="pending (the worker sends it), signed (recorded), submitted (sent), done (confirmed) or failed"
    )
    batch_id: int | None
    credential_id: str | None
    reason: int
    tx_hash: str | None

    @classmethod
    def of(cls, row: Revocation) -> RevocationOut:
        assert row.id is not None
        return cls(
            id=row.id,
            state=row.state,
            batch_id=row.batch_id,
            credential_id=row.credential_id,
            reason=row.reason,
            tx_hash=row.tx_hash,
        )


class ReissueIn(BaseModel):
    """A correction: the stored credential with the values at some JSON pointers changed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    changes: dict[str, Any] = Field(
        alias="set",
        min_length=1,
        description="{RFC 6901 pointer: new JSON value}; never /id, /issuer, /proof, /@context or /type",
        examples=[{"/credentialSubject/name": "Ana García López"}],
    )
    reason: Literal["correction"] = "correction"
    note: str = Field(default="", max_length=1000, description="kept in the service, never on chain")


class RenewIn(BaseModel):
    """A renewal: the stored credential with a new validity period."""

    model_config = ConfigDict(extra="forbid")

    validUntil: datetime = Field(description="the new end of validity (a date means its midnight, UTC)")
    validFrom: datetime | None = Field(default=None, description="the new start (default: now)")
    note: str = Field(default="", max_length=1000, description="kept in the service, never on chain")


class SupersessionOut(BaseModel):
    id: int
    state: str = Field(
        description="pending (waits for the new credential's batch, then the worker sends it), signed (recorded), "
        "submitted (sent), done (confirmed: old revoked, new released) or failed"
    )
    kind: str = Field(description="correction or renewal")
    credential_id: str = Field(description="public id of the credential replaced")
    new_credential_id: str = Field(description="public id of the credential replacing it")
    tx_hash: str | None
    last_error: str | None

    @classmethod
    def of(cls, row: Supersession) -> SupersessionOut:
        assert row.id is not None
        return cls(
            id=row.id,
            state=row.state,
            kind=kind_name(row.kind),
            credential_id=row.old_credential_id,
            new_credential_id=row.new_credential_id,
            tx_hash=row.tx_hash,
            last_error=row.last_error,
        )


class ReplacementOut(BaseModel):
    """The answer to a reissue or a renewal: the new credential (queued) and the supersession."""

    id: str = Field(description="public id of the new credential")
    credential: CredentialOut
    supersession: SupersessionOut


class ApiKeyOut(BaseModel):
    """An API key as the API shows it: never the token, never its hash."""

    id: int
    prefix: str = Field(description="the token's first characters, to tell keys apart")
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        assert row.id is not None
        return cls(id=row.id, prefix=row.prefix, label=row.label, created_at=row.created_at, revoked_at=row.revoked_at)


class VerifyBatchRow(BaseModel):
    """One file of a bulk verification (the columns of :mod:`registry.verify.tabular`; empty
    text where a file does not say or the chain was not read)."""

    file: str = Field(description="the file name (zip entries: ARCHIVE/ENTRY; JSON arrays: [index])")
    credential_id: str
    learner_name: str = Field(description="credentialSubject.name when disclosed")
    achievement: str
    issuer_name: str = Field(description="from the chain's issuer directory (else as the file names it)")
    issuer_did: str
    accreditation_body: str = Field(description="the body that admitted the issuer: NAME (URI), or its address")
    verdict: Literal["VALID", "INVALID", "INDETERMINATE"]
    failed_checks: str = Field(description="the failing checks (INVALID) or open ones (INDETERMINATE), comma-separated")
    reason: str = Field(description="CHECK: REASON of each, separated by '; '")
    anchored_at: str
    valid_until: str


class VerifyBatchOut(BaseModel):
    """The result of ``POST /v1/verify/batch``: one row per file, in the order sent."""

    count: int
    verdicts: dict[str, int] = Field(description="how many files got each verdict")
    rows: list[VerifyBatchRow]
    reports: list[Report] | None = Field(default=None, description="full reports, with ?reports=true")
