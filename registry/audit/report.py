"""The audit report (format ``credreg-audit-v1``) and the records it is made of.

One model per thing: the replay (:mod:`registry.audit.replay`) builds the very
:class:`KeyRecord`, :class:`BatchRecord` and :class:`IssuerTimeline` objects the report
carries, so the state the checks read and what the report shows cannot drift apart. The JSON
field names are the report format: renderers, the service's API and stored reports rely on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, Field, computed_field

__all__ = [
    "CHECKS",
    "REPORT_FORMAT",
    "AccreditationBody",
    "AuditReport",
    "BatchRecord",
    "Finding",
    "IssuerTimeline",
    "KeyRecord",
    "Lineage",
    "RoleChange",
    "Severity",
    "SigningKeyRecord",
    "SupersessionRecord",
    "TimelineEntry",
    "iso_time",
    "short_hex",
]

REPORT_FORMAT: Final = "credreg-audit-v1"

CHECKS: Final = {
    "history": "events read from the deployment block and replayed",
    "keys": "anchors with a key at or after its declared compromise time, or with a retired key; signing keys "
    "registered once, by an issuer that could anchor",
    "suspension": "anchors by a suspended issuer",
    "revocations": "revocations of roots that were never anchored; supersessions (corrections, renewals) whose "
    "successor was revoked before or after, successors named for several credentials, supersessions with a "
    "retired key or at or after the key's declared compromise",
    "governance": "role and directory changes only by accounts holding the authority",
    "metadata": "batch counts agree with the batch metadata document, where it is known",
    "lookalikes": "no two directory entries look alike (UTS #39 confusables, equal names, case) or mix scripts",
    "database": "the issuer's records and the chain agree both ways (batches and revocations)",
    "code": "the deployed runtime bytecode equals the pinned compiler's output for contracts/",
    "sample": "a sample of credential files verifies",
}


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


def iso_time(ts: int | None) -> str | None:
    """A block timestamp as ISO 8601 UTC (``None`` for none or zero)."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def short_hex(value: str, n: int = 10) -> str:
    """A long hex value shortened for a sentence (``0x12345678…abcd``)."""
    return value if len(value) <= n + 4 else f"{value[:n]}…{value[-4:]}"


class Finding(BaseModel):
    """One problem found, in words a person can act on."""

    code: str
    severity: Severity
    check: str
    title: str
    message: str
    issuer_id: int | None = None
    issuer: str | None = None
    root: str | None = None
    tx: str | None = None
    block: int | None = None
    at: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class TimelineEntry(BaseModel):
    at: str | None
    timestamp: int
    block: int
    log_index: int
    tx: str
    kind: str
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)


class BatchRecord(BaseModel):
    """A batch anchored on chain, and its revocation if the whole batch was revoked."""

    root: str
    issuer_id: int
    key_id: int
    key: str | None
    count: int
    metadata_hash: str
    block: int
    timestamp: int
    tx: str
    revoked_at: int | None = None
    revocation_reason: int | None = None
    pathway: str | None = None
    """Set when the batch publishes a pathway (its root is the definition's digest), as the
    issuer's records or the pathway files given to the audit say."""


class KeyRecord(BaseModel):
    """An issuer key: when it started anchoring, when it was retired or declared compromised."""

    address: str
    key_id: int
    activated_at: int
    retired_at: int | None = None
    compromised_since: int | None = None
    compromise_declared_at: int | None = None
    compromise_declared_by: str | None = None
    issuer_id: int = Field(default=0, exclude=True)
    """The issuer holding the key (replay state; the report lists keys under their issuer)."""


class SigningKeyRecord(BaseModel):
    """An issuer's Ed25519 signing key (format v2 §4): when it became the issuer's signing key,
    when a newer one retired it, and the compromise declared for it. A signature counts for a
    batch anchored at ``t`` when ``since <= t``, ``until`` is None or ``t <= until`` (blocks can share a second), and
    ``compromised_since`` is None or ``t < compromised_since``."""

    public_key: str
    """The raw 32-byte public key as 0x-hex (``bytes32`` on chain)."""
    multikey: str
    """Its ``publicKeyMultibase`` (``z6Mk…``), as in a credential's ``verificationMethod``."""
    since: int
    until: int | None = None
    compromised_since: int | None = None
    compromise_declared_at: int | None = None
    compromise_declared_by: str | None = None
    issuer_id: int = Field(default=0, exclude=True)
    """The issuer that registered the key (replay state; the report lists keys under their issuer)."""


class AccreditationBody(BaseModel):
    """An account that held the accreditation-body role, with its directory entry if the admin
    appointed it with one (``AccreditorAppointed``); ``name`` and ``uri`` are None for a body
    granted the bare role, which reports show by address."""

    address: str
    name: str | None = None
    uri: str | None = None
    appointed_at: int | None = None
    """Time of the latest appointment with an entry (a rename included)."""
    holds_role: bool = False
    """Whether it holds the role at the end of the history (a revoked body keeps its name)."""
    issuers: list[int] = Field(default_factory=list)
    """Ids of the issuers it admitted."""

    @property
    def label(self) -> str:
        """``NAME (URI)``, or the address of an unnamed body."""
        return f"{self.name} ({self.uri})" if self.name else self.address


class IssuerTimeline(BaseModel):
    """An issuer of the directory with its keys, totals and events in order."""

    issuer_id: int
    name: str
    uri: str
    did: str
    admitted_by: str
    admitted_by_name: str | None = None
    """Name of the accreditation body ``admitted_by`` at the end of the history (None: unnamed)."""
    admitted_by_uri: str | None = None
    admitted_at: int
    suspended_at: int | None = None
    active_key: str
    keys: list[KeyRecord] = Field(default_factory=list)
    signing_key: str | None = None
    """The current Ed25519 signing key (0x-hex), None before the issuer set one."""
    signing_keys: list[SigningKeyRecord] = Field(default_factory=list)
    """Every signing key the issuer registered, oldest first."""
    batches: int = 0
    credentials: int = 0
    pathways: int = 0
    revoked_batches: int = 0
    revoked_credentials: int = 0
    """Credentials revoked on their own, without a successor (supersessions are counted apart)."""
    superseded_credentials: int = 0
    """Credentials superseded by a corrected or renewed one (each also revoked with reason 2)."""
    lineages: list[Lineage] = Field(default_factory=list)
    """The issuer's supersessions joined into lines (A -> B -> C), oldest line first."""
    timeline: list[TimelineEntry] = Field(default_factory=list)


class SupersessionRecord(BaseModel):
    """One supersession (``CredentialSuperseded``): credential ``digest`` of issuer ``issuer_id``
    revoked and replaced by ``new_digest`` (anchored under ``new_root``, published as ``new_id``).

    The event does not carry the key that sent it; ``key_id`` and ``key`` come from the revocation
    slot the supersession wrote (``credentialRevocation``), read when the report is made.
    """

    issuer_id: int
    digest: str
    new_digest: str
    new_root: str
    new_id: str
    kind: int
    kind_name: str
    """``correction``, ``renewal`` or ``kind <n>``."""
    timestamp: int
    at: str | None
    block: int
    log_index: int
    tx: str
    key_id: int | None = None
    key: str | None = None


class Lineage(BaseModel):
    """Credentials that replaced one another, oldest first: ``digests[0]`` was superseded by
    ``digests[1]`` (``steps[0]``), and so on; the last digest is the current credential.

    ``current_revoked`` says whether that last credential (or its whole batch) is revoked
    without being superseded: then the line ends in no valid credential at all.
    """

    issuer_id: int
    digests: list[str]
    steps: list[SupersessionRecord]
    current_revoked: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def path(self) -> str:
        """``0x1234…abcd -> urn:uuid:… (correction) -> …``: the first digest, then each successor's id."""
        return " -> ".join([short_hex(self.digests[0]), *(f"{s.new_id} ({s.kind_name})" for s in self.steps)])


class RoleChange(BaseModel):
    role: str
    role_name: str
    account: str
    by: str
    granted: bool
    timestamp: int
    block: int
    tx: str


class AuditReport(BaseModel):
    """Everything one audit found; rendered as table, JSON, CSV or HTML."""

    format: str = REPORT_FORMAT
    generated_at: str
    rpc: str
    chain_id: int
    registry: str
    from_block: int
    to_block: int
    events: int
    new_events: int
    pages: int
    resumed: bool
    issuer_filter: str | None = None
    checks_run: list[str]
    checks_skipped: dict[str, str] = Field(default_factory=dict)
    issuers: list[IssuerTimeline]
    batches: list[BatchRecord] = Field(default_factory=list)
    credential_revocations: list[dict[str, Any]] = Field(default_factory=list)
    """Credentials revoked on their own; a superseded credential is in ``supersessions`` instead."""
    supersessions: list[SupersessionRecord] = Field(default_factory=list)
    roles: list[RoleChange] = Field(default_factory=list)
    accreditors: list[AccreditationBody] = Field(default_factory=list)
    code: dict[str, Any] | None = None
    database: dict[str, Any] | None = None
    sample: dict[str, Any] | None = None
    findings: list[Finding]

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def critical(self) -> bool:
        return self.count(Severity.CRITICAL) > 0

    @property
    def summary(self) -> str:
        c, w, i = (self.count(s) for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO))
        if not self.findings:
            return "no findings"
        return f"{c} critical, {w} warning, {i} info"
