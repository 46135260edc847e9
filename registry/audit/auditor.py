"""The auditor: what each issuer anchored and revoked, when, with which key, and does it add up.

Reads every event of a CredentialRegistry from its deployment block through the chain adapter
(paged ``eth_getLogs`` whose page adapts to the node, block timestamps in JSON-RPC batches),
keeps them in the auditor's own cache database so a second run only reads new blocks, replays
them into per-issuer timelines, and runs the checks of ``docs/audit.md``:

* chain only: anchors with a key at or after its declared compromise time, anchors by a
  suspended issuer or with a retired key, revocations of unknown roots, role and directory
  changes by accounts without the authority to make them, counts that disagree with the
  batch metadata (when the metadata document is known);
* with the issuer's records (:mod:`registry.audit.records`): batches recorded as anchored but not on
  chain (or with another count or issuer), roots anchored with the issuer's keys that its
  database does not know (lost records versus a key used outside the service), revocations
  that do not agree both ways;
* code: the runtime bytecode at the registry address against the pinned compiler's output
  for ``contracts/`` (:func:`registry.chain.artifacts.compile_sources`);
* credential sample: a sample of credential files verified with :class:`registry.verify.verifier.Verifier`.

Each finding has a severity (critical, warning, info) and a plain-language message. The cache
is derived data: when its schema version changes it is dropped and rebuilt from the chain.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from eth_utils import keccak, to_checksum_address
from pydantic import BaseModel, Field

from registry.audit.records import IssuerRecords, RecordedBatch
from registry.chain.client import REVOCATION_REASONS, ChainClient, issuer_did
from registry.errors import ChainUnavailable, ConfigError, NotFound, RegistryError

__all__ = [
    "ACCREDITOR_ROLE",
    "CHECKS",
    "DEFAULT_ADMIN_ROLE",
    "AuditCache",
    "AuditEvent",
    "AuditReport",
    "Auditor",
    "BatchRecord",
    "Finding",
    "History",
    "IssuerTimeline",
    "Severity",
    "SyncStats",
    "TimelineEntry",
    "check_code",
    "reconcile",
    "replay",
]

CACHE_SCHEMA_VERSION: Final = 1
REPORT_FORMAT: Final = "credreg-audit-v1"
REORG_DEPTH: Final = 128
DEFAULT_ADMIN_ROLE: Final = "0x" + "00" * 32
ACCREDITOR_ROLE: Final = "0x" + keccak(text="ACCREDITOR_ROLE").hex()
ROLE_NAMES: Final = {DEFAULT_ADMIN_ROLE: "registry admin", ACCREDITOR_ROLE: "accreditation body"}
CONTRACT_SOURCE: Final = "contracts/CredentialRegistry.sol"
CONTRACT_NAME: Final = "CredentialRegistry"

CHECKS: Final = {
    "history": "events read from the deployment block and replayed",
    "keys": "anchors with a key at or after its declared compromise time, or with a retired key",
    "suspension": "anchors by a suspended issuer",
    "revocations": "revocations of roots that were never anchored",
    "governance": "role and directory changes only by accounts holding the authority",
    "metadata": "batch counts agree with the batch metadata document, where it is known",
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


def _iso(ts: int | None) -> str | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _short(value: str, n: int = 10) -> str:
    return value if len(value) <= n + 4 else f"{value[:n]}…{value[-4:]}"


# -- report model -------------------------------------------------------------------------------


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


class KeyRecord(BaseModel):
    address: str
    key_id: int
    activated_at: int
    retired_at: int | None = None
    compromised_since: int | None = None
    compromise_declared_at: int | None = None
    compromise_declared_by: str | None = None


class IssuerTimeline(BaseModel):
    issuer_id: int
    name: str
    uri: str
    did: str
    admitted_by: str
    admitted_at: int
    suspended_at: int | None = None
    active_key: str
    keys: list[KeyRecord] = Field(default_factory=list)
    batches: int = 0
    credentials: int = 0
    revoked_batches: int = 0
    revoked_credentials: int = 0
    timeline: list[TimelineEntry] = Field(default_factory=list)


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
    roles: list[RoleChange] = Field(default_factory=list)
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


# -- events and their replay --------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEvent:
    """A registry event with the time of its block."""

    block: int
    log_index: int
    tx: str
    timestamp: int
    name: str
    args: Mapping[str, Any]


@dataclass
class _Key:
    address: str
    issuer_id: int
    key_id: int
    activated_at: int
    retired_at: int | None = None
    compromised_since: int | None = None
    declared_at: int | None = None
    declared_by: str | None = None


@dataclass
class _Issuer:
    issuer_id: int
    name: str
    uri: str
    admitted_by: str
    admitted_at: int
    active_key: str
    suspended_at: int | None = None
    keys: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)


@dataclass
class _Batch:
    root: str
    issuer_id: int
    key_id: int
    count: int
    metadata_hash: str
    block: int
    timestamp: int
    tx: str
    revoked_at: int | None = None
    revocation_reason: int | None = None


@dataclass
class History:
    """The registry's state rebuilt from its events, plus what replaying them revealed."""

    issuers: dict[int, _Issuer] = field(default_factory=dict)
    keys: dict[str, _Key] = field(default_factory=dict)
    key_by_id: dict[int, str] = field(default_factory=dict)
    batches: dict[str, _Batch] = field(default_factory=dict)
    revocations: dict[tuple[int, str], tuple[int, int | None, str]] = field(default_factory=dict)
    """Credential revocations by (issuer id, digest): (time, reason if emitted, transaction)."""
    roles: dict[str, set[str]] = field(default_factory=dict)
    role_changes: list[RoleChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    events: int = 0

    def issuer_name(self, issuer_id: int) -> str:
        issuer = self.issuers.get(issuer_id)
        return f"{issuer.name} (issuer {issuer_id})" if issuer else f"unknown issuer {issuer_id}"

    def holds(self, role: str, account: str) -> bool:
        return account in self.roles.get(role, set())


def _entry(ev: AuditEvent, kind: str, summary: str, **details: Any) -> TimelineEntry:
    return TimelineEntry(
        at=_iso(ev.timestamp), timestamp=ev.timestamp, block=ev.block, log_index=ev.log_index,
        tx=ev.tx, kind=kind, summary=summary, details=details,
    )  # fmt: skip


def _finding(ev: AuditEvent, code: str, severity: Severity, check: str, title: str, message: str, **kw: Any) -> Finding:
    return Finding(
        code=code, severity=severity, check=check, title=title, message=message, tx=ev.tx,
        block=ev.block, at=_iso(ev.timestamp), **kw,
    )  # fmt: skip


def replay(events: Iterable[AuditEvent]) -> History:
    """Rebuild the registry from its events in order, flagging what should have been impossible."""
    h = History()
    bootstrapped = False
    for ev in sorted(events, key=lambda e: (e.block, e.log_index)):
        h.events += 1
        a = ev.args
        name = ev.name
        if name in ("RoleGranted", "RoleRevoked"):
            role, account, sender = str(a["role"]).lower(), a["account"], a["sender"]
            granted = name == "RoleGranted"
            allowed = h.holds(DEFAULT_ADMIN_ROLE, sender)
            if granted and role == DEFAULT_ADMIN_ROLE and not bootstrapped:
                allowed = True  # the constructor's grant to the first admin
            if not granted and sender == account:
                allowed = True  # renounceRole
            role_name = ROLE_NAMES.get(role, f"role {_short(role)}")
            if not allowed:
                verb = "granted" if granted else "revoked"
                h.findings.append(_finding(
                    ev, "role-change-unauthorized", Severity.CRITICAL, "governance",
                    f"{role_name} {verb} by an account without authority",
                    f"{sender} {verb} the {role_name} role {'to' if granted else 'from'} {account} "
                    "without holding the registry admin role at the time. Only the admin may "
                    "change roles; the contract should have refused this.",
                    details={"role": role, "account": account, "sender": sender},
                ))  # fmt: skip
            if role not in ROLE_NAMES:
                h.findings.append(_finding(
                    ev, "unknown-role", Severity.WARNING, "governance",
                    "a role the registry does not use was changed",
                    f"{sender} {'granted' if granted else 'revoked'} role {role} "
                    f"{'to' if granted else 'from'} {account}; the registry only uses the admin "
                    "and accreditation-body roles, so this has no effect but is unexpected.",
                    details={"role": role, "account": account},
                ))  # fmt: skip
            members = h.roles.setdefault(role, set())
            if granted:
                members.add(account)
                if role == DEFAULT_ADMIN_ROLE:
                    bootstrapped = True
            else:
                members.discard(account)
            h.role_changes.append(RoleChange(
                role=role, role_name=role_name, account=account, by=sender, granted=granted,
                timestamp=ev.timestamp, block=ev.block, tx=ev.tx,
            ))  # fmt: skip
        elif name == "RoleAdminChanged":
            h.findings.append(_finding(
                ev, "role-admin-changed", Severity.CRITICAL, "governance",
                "the admin of a role was changed",
                f"the admin role of {a.get('role')} changed to {a.get('newAdminRole')}; the "
                "registry never does this, so the contract at this address is not this source.",
                details=dict(a),
            ))  # fmt: skip
        elif name == "IssuerAdmitted":
            iid, key, by = int(a["issuerId"]), a["key"], a["admittedBy"]
            _require_accreditor(h, ev, by, f"admitted issuer {iid} ({a['name']})")
            issuer = _Issuer(iid, str(a["name"]), str(a["uri"]), by, ev.timestamp, key, keys=[key])
            h.issuers[iid] = issuer
            h.keys[key] = _Key(key, iid, int(a["keyId"]), ev.timestamp)
            h.key_by_id[int(a["keyId"])] = key
            issuer.timeline.append(_entry(
                ev, "admitted", f"admitted as “{a['name']}” ({a['uri']}) by accreditation body "
                f"{by}, first key {key}", admitted_by=by, key=key, uri=a["uri"],
            ))  # fmt: skip
        elif name in ("IssuerSuspended", "IssuerReinstated"):
            iid, by = int(a["issuerId"]), a["by"]
            suspended = name == "IssuerSuspended"
            verb = "suspended" if suspended else "reinstated"
            _require_accreditor(h, ev, by, f"{verb} issuer {iid}")
            target = h.issuers.get(iid)
            if target is None:
                h.findings.append(_unknown_issuer(ev, iid, verb))
                continue
            target.suspended_at = ev.timestamp if suspended else None
            target.timeline.append(_entry(ev, verb, f"{verb} by accreditation body {by}", by=by))
        elif name == "KeyRotated":
            iid, prev, new, by = int(a["issuerId"]), a["previousKey"], a["newKey"], a["by"]
            target = h.issuers.get(iid)
            if target is None:
                h.findings.append(_unknown_issuer(ev, iid, "rotated a key of"))
                continue
            if by != prev:
                _require_accreditor(h, ev, by, f"assigned key {new} to issuer {iid}")
            if prev in h.keys:
                h.keys[prev].retired_at = ev.timestamp
            h.keys[new] = _Key(new, iid, int(a["newKeyId"]), ev.timestamp)
            h.key_by_id[int(a["newKeyId"])] = new
            target.active_key = new
            target.keys.append(new)
            how = "rotated by the issuer" if by == prev else f"assigned by accreditation body {by}"
            target.timeline.append(_entry(
                ev, "key_rotated", f"key {prev} retired, new key {new} ({how})",
                previous=prev, new=new, by=by,
            ))  # fmt: skip
        elif name == "KeyCompromised":
            key, iid, since, by = a["key"], int(a["issuerId"]), int(a["since"]), a["by"]
            record = h.keys.get(key)
            if not h.holds(ACCREDITOR_ROLE, by):
                declarer = h.keys.get(by)
                if not (
                    declarer and declarer.issuer_id == iid and by != key
                    and declarer.retired_at is None and declarer.compromised_since is None
                ):  # fmt: skip
                    _require_accreditor(h, ev, by, f"declared key {key} compromised")
            if record is not None:
                record.compromised_since = (
                    since if record.compromised_since is None else min(since, record.compromised_since)
                )
                record.declared_at, record.declared_by = ev.timestamp, by
            target = h.issuers.get(iid)
            if target is not None:
                target.timeline.append(_entry(
                    ev, "key_compromised",
                    f"key {key} declared compromised from {_iso(since)} by {by}",
                    key=key, since=since, by=by,
                ))  # fmt: skip
        elif name == "BatchAnchored":
            _anchored(h, ev)
        elif name in ("CredentialRevoked", "BatchRevoked"):
            _revoked(h, ev)
    return h


def _require_accreditor(h: History, ev: AuditEvent, by: str, what: str) -> None:
    if not h.holds(ACCREDITOR_ROLE, by):
        h.findings.append(_finding(
            ev, "directory-change-unauthorized", Severity.CRITICAL, "governance",
            "directory change by an account that is not an accreditation body",
            f"{by} {what} without holding the accreditation-body role at the time. Only "
            "accreditation bodies may change the issuer directory; the contract should have "
            "refused this.",
            details={"by": by},
        ))  # fmt: skip


def _unknown_issuer(ev: AuditEvent, iid: int, verb: str) -> Finding:
    return _finding(
        ev, "unknown-issuer", Severity.CRITICAL, "governance", "event for an unknown issuer",
        f"an event {verb} issuer {iid}, which was never admitted in this registry's history.",
        issuer_id=iid,
    )  # fmt: skip


def _anchored(h: History, ev: AuditEvent) -> None:
    a = ev.args
    root, iid, key_id, count = str(a["root"]).lower(), int(a["issuerId"]), int(a["keyId"]), int(a["count"])
    issuer = h.issuers.get(iid)
    key = h.key_by_id.get(key_id)
    label = h.issuer_name(iid)
    if issuer is None:
        h.findings.append(_unknown_issuer(ev, iid, "anchored a batch for"))
    elif issuer.suspended_at is not None:
        h.findings.append(_finding(
            ev, "anchor-while-suspended", Severity.CRITICAL, "suspension",
            "batch anchored by a suspended issuer",
            f"{label} anchored batch {root} ({count} credentials) on {_iso(ev.timestamp)} while "
            f"suspended since {_iso(issuer.suspended_at)}. The contract must refuse this; "
            "treat these credentials as not issued and investigate the contract.",
            issuer_id=iid, issuer=issuer.name, root=root,
        ))  # fmt: skip
    record = h.keys.get(key) if key else None
    if record is not None and record.retired_at is not None:
        h.findings.append(_finding(
            ev, "anchor-with-retired-key", Severity.CRITICAL, "keys",
            "batch anchored with a retired key",
            f"batch {root} of {label} was anchored with key {key}, retired on "
            f"{_iso(record.retired_at)}. Retired keys cannot anchor; the contract should have "
            "refused this.",
            issuer_id=iid, root=root, details={"key": key},
        ))  # fmt: skip
    if root in h.batches:
        h.findings.append(_finding(
            ev, "root-anchored-twice", Severity.CRITICAL, "history", "root anchored twice",
            f"root {root} was anchored again; the contract must reject a known root.",
            issuer_id=iid, root=root,
        ))  # fmt: skip
        return
    h.batches[root] = _Batch(root, iid, key_id, count, str(a["metadataHash"]).lower(), ev.block, ev.timestamp, ev.tx)
    if issuer is not None:
        issuer.timeline.append(_entry(
            ev, "batch_anchored", f"batch {_short(root)} anchored: {count} credentials, key {key}",
            root=root, count=count, key=key, key_id=key_id, metadata_hash=a["metadataHash"],
        ))  # fmt: skip


def _revoked(h: History, ev: AuditEvent) -> None:
    """BatchRevoked(root, keyId, reason); CredentialRevoked(issuerId, digest) — revocations of
    single credentials live in the issuer's namespace, keyed by digest (older deployments
    emitted CredentialRevoked(root, digest, reason): the issuer then follows from the root)."""
    a = ev.args
    if ev.name == "CredentialRevoked":
        digest = str(a["digest"]).lower()
        reason = int(a["reason"]) if "reason" in a else None
        if "issuerId" in a:
            iid = int(a["issuerId"])
        else:
            root = str(a["root"]).lower()
            if root not in h.batches:
                h.findings.append(_unknown_root(ev, root, f"credential {digest}"))
                return
            iid = h.batches[root].issuer_id
        issuer = h.issuers.get(iid)
        if issuer is None:
            h.findings.append(_unknown_issuer(ev, iid, "revoked a credential of"))
            return
        h.revocations[(iid, digest)] = (ev.timestamp, reason, ev.tx)
        why = f": {REVOCATION_REASONS.get(reason, f'code {reason}')}" if reason is not None else ""
        issuer.timeline.append(
            _entry(ev, "credential_revoked", f"credential {_short(digest)} revoked{why}", digest=digest)
        )
        return
    root = str(a["root"]).lower()
    reason = int(a["reason"])
    batch = h.batches.get(root)
    if batch is None:
        h.findings.append(_unknown_root(ev, root, "the whole batch"))
        return
    batch.revoked_at, batch.revocation_reason = ev.timestamp, reason
    issuer = h.issuers.get(batch.issuer_id)
    if issuer is not None:
        summary = (
            f"batch {_short(root)} revoked ({batch.count} credentials): "
            f"{REVOCATION_REASONS.get(reason, f'code {reason}')}"
        )
        issuer.timeline.append(_entry(ev, "batch_revoked", summary, root=root, reason=reason, key_id=a.get("keyId")))


def _unknown_root(ev: AuditEvent, root: str, what: str) -> Finding:
    return _finding(
        ev, "revocation-unknown-root", Severity.CRITICAL, "revocations",
        "revocation of a root that was never anchored",
        f"{what} of root {root} was revoked, but that root was never anchored in this registry. "
        "The contract must refuse this; the history or the contract is not what it should be.",
        root=root,
    )  # fmt: skip


def chain_checks(h: History, metadata: Mapping[str, bytes] | None = None) -> list[Finding]:
    """Checks that need the whole history: compromise declared after the fact, metadata counts."""
    findings: list[Finding] = []
    by_key: dict[str, list[_Batch]] = {}
    for batch in h.batches.values():
        address = h.key_by_id.get(batch.key_id)
        record = h.keys.get(address) if address else None
        if record and record.compromised_since is not None and batch.timestamp >= record.compromised_since:
            by_key.setdefault(record.address, []).append(batch)
    for address, batches in by_key.items():
        record = h.keys[address]
        first = min(batches, key=lambda b: b.timestamp)
        credentials = sum(b.count for b in batches)
        label = h.issuer_name(record.issuer_id)
        findings.append(Finding(
            code="anchor-after-compromise", severity=Severity.CRITICAL, check="keys",
            title="batches anchored with a key after its declared compromise",
            message=(
                f"{label}'s key {address} was declared compromised from "
                f"{_iso(record.compromised_since)} (declared {_iso(record.declared_at)} by "
                f"{record.declared_by}), and {len(batches)} batch(es) with {credentials} "
                f"credential(s) were anchored with it at or after that time. Verifiers reject "
                "these credentials; the issuer should re-issue the genuine ones with its new key."
            ),
            issuer_id=record.issuer_id,
            issuer=h.issuers[record.issuer_id].name if record.issuer_id in h.issuers else None,
            root=first.root, tx=first.tx, block=first.block, at=_iso(first.timestamp),
            details={"key": address, "compromised_since": record.compromised_since,
                     "roots": [b.root for b in batches], "credentials": credentials},
        ))  # fmt: skip
    for batch in h.batches.values():
        doc = (metadata or {}).get(batch.metadata_hash)
        if doc is None:
            continue
        try:
            meta = json.loads(doc)
            claimed = int(meta["count"])
        except (ValueError, KeyError, TypeError):
            findings.append(Finding(
                code="metadata-unreadable", severity=Severity.WARNING, check="metadata",
                title="batch metadata has no readable count",
                message=f"the metadata document of batch {batch.root} has no integer 'count'.",
                issuer_id=batch.issuer_id, root=batch.root, tx=batch.tx, block=batch.block,
            ))  # fmt: skip
            continue
        if claimed != batch.count:
            findings.append(Finding(
                code="count-metadata-mismatch", severity=Severity.WARNING, check="metadata",
                title="batch count disagrees with its metadata",
                message=(
                    f"batch {batch.root} of {h.issuer_name(batch.issuer_id)} was anchored with "
                    f"count {batch.count}, but its metadata document (hash {batch.metadata_hash}) "
                    f"says {claimed} credentials."
                ),
                issuer_id=batch.issuer_id, root=batch.root, tx=batch.tx, block=batch.block,
                at=_iso(batch.timestamp), details={"chain_count": batch.count, "metadata_count": claimed},
            ))  # fmt: skip
    return findings


# -- reconciliation with an issuer's records ----------------------------------------------------


def reconcile(
    h: History, records: IssuerRecords, *, chain_id: int, registry: str
) -> tuple[list[Finding], dict[str, Any]]:
    """The issuer's records against the chain, both ways. Returns findings and a summary."""
    findings: list[Finding] = []
    by_did = {issuer_did(i.uri): i for i in h.issuers.values()}
    db_to_chain: dict[int, int] = {}
    for rec in records.issuers():
        match = by_did.get(rec.did)
        if match is None:
            key = h.keys.get(to_checksum_address(rec.key_address)) if rec.key_address else None
            match = h.issuers.get(key.issuer_id) if key else None
        if match is None:
            findings.append(Finding(
                code="db-issuer-not-on-chain", severity=Severity.WARNING, check="database",
                title="issuer in the database is not in the chain directory",
                message=(
                    f"the database's issuer “{rec.name}” ({rec.did}, key {rec.key_address}) is "
                    "neither a DID nor a key of any issuer admitted in this registry; its "
                    "batches cannot be anchored here."
                ),
                issuer=rec.name, details={"db_id": rec.db_id, "did": rec.did},
            ))  # fmt: skip
            continue
        db_to_chain[rec.db_id] = match.issuer_id
    registry_l = registry.lower()
    relevant: list[RecordedBatch] = []
    other_deployment = 0
    for rb in records.anchored_batches():
        if (rb.chain_id is not None and rb.chain_id != chain_id) or (
            rb.registry is not None and rb.registry.lower() != registry_l
        ):
            other_deployment += 1
            continue
        relevant.append(rb)
    db_roots = {rb.root.lower() for rb in relevant}
    for rb in relevant:
        chain_issuer = db_to_chain.get(rb.issuer_db_id)
        onchain = h.batches.get(rb.root)
        label = h.issuer_name(chain_issuer) if chain_issuer else f"database issuer {rb.issuer_db_id}"
        if onchain is None:
            findings.append(Finding(
                code="db-batch-not-on-chain", severity=Severity.CRITICAL, check="database",
                title="batch recorded as anchored is not on chain",
                message=(
                    f"the database records batch {rb.root} ({rb.count} credentials) of {label} as "
                    f"{rb.state}{f' in transaction {rb.anchor_tx}' if rb.anchor_tx else ''}, but "
                    "that root is not anchored in this registry. Its credential files will "
                    "fail verification; re-anchor the batch."
                ),
                issuer_id=chain_issuer, root=rb.root, tx=rb.anchor_tx, block=rb.anchor_block,
            ))  # fmt: skip
            continue
        if chain_issuer is not None and onchain.issuer_id != chain_issuer:
            findings.append(Finding(
                code="db-batch-other-issuer", severity=Severity.CRITICAL, check="database",
                title="batch anchored by another issuer",
                message=(
                    f"the database attributes batch {rb.root} to {label}, but on chain it was "
                    f"anchored by {h.issuer_name(onchain.issuer_id)}."
                ),
                issuer_id=chain_issuer, root=rb.root, tx=onchain.tx, block=onchain.block,
            ))  # fmt: skip
        if onchain.count != rb.count:
            findings.append(Finding(
                code="db-batch-count-mismatch", severity=Severity.CRITICAL, check="database",
                title="batch count differs between database and chain",
                message=(
                    f"batch {rb.root} of {label} holds {rb.count} credentials according to the "
                    f"database but was anchored with count {onchain.count}."
                ),
                issuer_id=chain_issuer, root=rb.root, tx=onchain.tx, block=onchain.block,
                details={"db_count": rb.count, "chain_count": onchain.count},
            ))  # fmt: skip
        if rb.anchor_tx and rb.anchor_tx != onchain.tx:
            findings.append(Finding(
                code="db-anchor-tx-mismatch", severity=Severity.WARNING, check="database",
                title="anchoring transaction differs",
                message=(
                    f"the database says batch {rb.root} was anchored by transaction {rb.anchor_tx}, "
                    f"the chain shows {onchain.tx} (a replaced transaction the service did not "
                    "record, or a record from another deployment)."
                ),
                issuer_id=chain_issuer, root=rb.root, tx=onchain.tx, block=onchain.block,
            ))  # fmt: skip
    audited = set(db_to_chain.values())
    mentioned = records.mentioned_hashes()
    unknown = [b for b in h.batches.values() if b.issuer_id in audited and b.root not in db_roots]
    for b in sorted(unknown, key=lambda x: (x.block, x.tx)):
        issuer = h.issuers[b.issuer_id]
        key_addr = h.key_by_id.get(b.key_id)
        if b.root in mentioned or b.tx in mentioned:
            code, title = "db-lost-batch", "the database lost a batch"
            message = (
                f"batch {b.root} ({b.count} credentials) of {issuer.name} was anchored on "
                f"{_iso(b.timestamp)} in transaction {b.tx}, and the service's own log "
                "mentions it, but the database has no batch record for it: its credentials "
                "cannot be served or revoked through the service. Restore the record from a "
                "backup."
            )
        else:
            code, title = "rogue-root", "root anchored outside the service"
            message = (
                f"root {b.root} ({b.count} credentials) was anchored with {issuer.name}'s "
                f"key {key_addr} on {_iso(b.timestamp)} in transaction {b.tx}, but the issuer's "
                "database has never heard of it: the key was used outside the service. If "
                "the issuer did not do this, an accreditation body should declare the key "
                "compromised from before that time."
            )
        findings.append(Finding(
            code=code, severity=Severity.CRITICAL, check="database", title=title, message=message,
            issuer_id=b.issuer_id, issuer=issuer.name, root=b.root, tx=b.tx, block=b.block,
            at=_iso(b.timestamp), details={"count": b.count, "key": key_addr},
        ))  # fmt: skip
    # revocations, both ways
    db_cred: set[tuple[int | None, str]] = set()
    db_batch: set[str] = set()
    for r in records.revocations():
        root = r.root.lower()
        chain_iid = db_to_chain.get(r.issuer_db_id)
        onchain_b = h.batches.get(root)
        if r.digest is None:
            db_batch.add(root)
            if onchain_b is None or onchain_b.revoked_at is None:
                findings.append(_db_revocation_missing(h, chain_iid, root, None))
            continue
        digest = r.digest.lower()
        db_cred.add((chain_iid, digest))
        batch_revoked = onchain_b is not None and onchain_b.revoked_at is not None
        if (chain_iid, digest) not in h.revocations and not batch_revoked:
            findings.append(_db_revocation_missing(h, chain_iid, root, digest))
    for b in h.batches.values():
        if b.issuer_id in audited and b.revoked_at is not None and b.root not in db_batch and b.root in db_roots:
            findings.append(_chain_revocation_unknown(h, b.issuer_id, b.revoked_at, b.root, None))
    for (iid, digest), (when, _reason, _tx) in sorted(h.revocations.items(), key=lambda kv: kv[1][0]):
        if iid in audited and (iid, digest) not in db_cred:
            findings.append(_chain_revocation_unknown(h, iid, when, None, digest))
    summary = {
        "issuers": len(db_to_chain),
        "batches_recorded": len(relevant),
        "batches_other_deployment": other_deployment,
        "chain_batches_of_these_issuers": sum(1 for b in h.batches.values() if b.issuer_id in audited),
        "revocations_recorded": len(db_cred) + len(db_batch),
    }
    return findings, summary


def _db_revocation_missing(h: History, issuer_id: int | None, root: str, digest: str | None) -> Finding:
    what = f"credential {digest} of batch {root}" if digest else f"the whole batch {root}"
    return Finding(
        code="db-revocation-not-on-chain", severity=Severity.CRITICAL, check="database",
        title="revocation recorded but not on chain",
        message=(
            f"the database records {what} as revoked, but the chain has no such revocation: "
            "verifiers still see the credential(s) as valid. Send the revocation again."
        ),
        issuer_id=issuer_id, issuer=h.issuers[issuer_id].name if issuer_id in h.issuers else None,
        root=root, details={"digest": digest},
    )  # fmt: skip


def _chain_revocation_unknown(h: History, issuer_id: int, when: int, root: str | None, digest: str | None) -> Finding:
    what = f"credential {digest}" if digest else f"the whole batch {root}"
    return Finding(
        code="chain-revocation-unknown-to-db", severity=Severity.WARNING, check="database",
        title="revocation on chain unknown to the database",
        message=(
            f"{what} of {h.issuer_name(issuer_id)} was revoked on chain on {_iso(when)}, but the "
            "database does not record that revocation: the service still presents it as valid, "
            "and the key was used outside the service."
        ),
        issuer_id=issuer_id, root=root, at=_iso(when), details={"digest": digest},
    )  # fmt: skip


# -- code ---------------------------------------------------------------------------------------


def _strip_metadata(code: bytes) -> bytes:
    """Runtime code without solc's trailing CBOR metadata (its length is in the last 2 bytes)."""
    if len(code) < 2:
        return code
    n = int.from_bytes(code[-2:], "big")
    return code[: -(n + 2)] if 0 < n + 2 <= len(code) else code


def sources_fingerprint(root: Path) -> str:
    """SHA-256 over the Solidity sources under ``root/contracts`` and the compiler settings."""
    from registry.chain.artifacts import COMPILER_SETTINGS, SOLC_VERSION, project_sources

    digest = hashlib.sha256(json.dumps([SOLC_VERSION, COMPILER_SETTINGS], sort_keys=True).encode())
    for path in project_sources(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    remapped = root / "node_modules/@openzeppelin/contracts"
    if remapped.exists():
        for path in sorted(remapped.rglob("*.sol")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def compiled_runtime(root: Path, cache: AuditCache | None = None) -> bytes:
    """Runtime bytecode of CredentialRegistry compiled from ``root/contracts`` (cached)."""
    from registry.chain.artifacts import compile_sources

    fingerprint = sources_fingerprint(root)
    if cache is not None and (hit := cache.compiled(fingerprint)) is not None:
        return hit
    output = compile_sources(root)
    try:
        hexcode = output["contracts"][CONTRACT_SOURCE][CONTRACT_NAME]["evm"]["deployedBytecode"]["object"]
    except KeyError as exc:
        raise ConfigError(f"{CONTRACT_SOURCE} did not produce {CONTRACT_NAME}") from exc
    code = bytes.fromhex(hexcode.removeprefix("0x"))
    if cache is not None:
        cache.store_compiled(fingerprint, code)
    return code


def check_code(
    client: ChainClient, registry: str, sources: Path, cache: AuditCache | None = None
) -> tuple[list[Finding], dict[str, Any]]:
    """Deployed runtime bytecode against the pinned compiler's output for ``sources/contracts``.

    CredentialRegistry has no immutables, so the comparison is byte for byte; when only solc's
    metadata trailer differs the executable code is identical (sources differ in comments or
    whitespace) and the finding is a warning.
    """
    deployed = client.runtime_code(registry)
    info: dict[str, Any] = {
        "address": registry,
        "deployed_size": len(deployed),
        "deployed_keccak": "0x" + keccak(deployed).hex(),
        "sources": str(sources),
    }
    if not deployed:
        info["status"] = "no code"
        return [Finding(
            code="no-contract-code", severity=Severity.CRITICAL, check="code",
            title="no contract at the registry address",
            message=f"there is no contract code at {registry}: nothing to audit there.",
        )], info  # fmt: skip
    try:
        expected = compiled_runtime(sources, cache)
    except (RegistryError, ImportError, OSError) as exc:
        info["status"] = "not checked"
        return [Finding(
            code="code-not-checked", severity=Severity.WARNING, check="code",
            title="bytecode not compared",
            message=f"the contract sources could not be compiled here ({exc}); the deployed code "
            "was not compared with them.",
        )], info  # fmt: skip
    info.update(expected_size=len(expected), expected_keccak="0x" + keccak(expected).hex())
    if deployed == expected:
        info["status"] = "identical"
        return [], info
    if _strip_metadata(deployed) == _strip_metadata(expected):
        info["status"] = "identical except metadata"
        return [Finding(
            code="code-metadata-differs", severity=Severity.WARNING, check="code",
            title="same executable code, different metadata hash",
            message=(
                "the deployed code executes exactly what contracts/ compiles to, but solc's "
                "metadata hash differs: the deployed build came from sources that differ in "
                "comments, whitespace or file names. Behaviour is identical."
            ),
            details={"deployed_keccak": info["deployed_keccak"], "expected_keccak": info["expected_keccak"]},
        )], info  # fmt: skip
    info["status"] = "different"
    return [Finding(
        code="code-mismatch", severity=Severity.CRITICAL, check="code",
        title="deployed bytecode differs from the sources",
        message=(
            f"the runtime bytecode at {registry} ({len(deployed)} bytes, keccak "
            f"{info['deployed_keccak'][:18]}…) is not what the pinned compiler produces from "
            f"contracts/ ({len(expected)} bytes, keccak {info['expected_keccak'][:18]}…). This "
            "source does not describe the deployed contract: do not trust its behaviour."
        ),
        details={k: info[k] for k in ("deployed_keccak", "expected_keccak", "deployed_size", "expected_size")},
    )], info  # fmt: skip


# -- credential sample --------------------------------------------------------------------------


def check_sample(
    client: ChainClient, registry: str, directory: Path, *, size: int = 100, seed: int = 0
) -> tuple[list[Finding], dict[str, Any]]:
    """Verify a sample of the credential files under ``directory`` with the verifier."""
    from registry.verify.verifier import Verdict, Verifier, read_credential_bytes

    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in {".json", ".png", ".svg"})
    chosen = files if len(files) <= size else sorted(random.Random(seed).sample(files, size))
    findings: list[Finding] = []
    chain_id = client.chain_id()
    loaded: list[tuple[str, bytes | str | dict[str, Any]]] = []
    other = 0
    for path in chosen:
        try:
            data = read_credential_bytes(path)
            proof_of = _proof_target(data)
        except RegistryError as exc:
            findings.append(Finding(
                code="credential-unreadable", severity=Severity.WARNING, check="sample",
                title="credential file unreadable", message=f"{path}: {exc}",
                details={"file": str(path)},
            ))  # fmt: skip
            continue
        if proof_of is not None and proof_of != (chain_id, registry.lower()):
            other += 1
            continue
        loaded.append((str(path), data))
    verifier = Verifier(rpc_url=client.rpc_url, trusted={chain_id: {registry.lower()}}, timeout=client.timeout)
    reports = verifier.verify_many(loaded) if loaded else []
    verdicts = {"VALID": 0, "INVALID": 0, "INDETERMINATE": 0}
    withdrawn = 0
    for report in reports:
        verdicts[report.verdict.value] += 1
        if report.verdict is Verdict.VALID:
            continue
        failed = {c.name for c in report.checks if c.status.value == "fail"}
        if report.verdict is Verdict.INVALID and failed <= {"revocation", "validity"}:
            withdrawn += 1  # revoked or expired: the issuer's decision, not a defect
            continue
        invalid = report.verdict is Verdict.INVALID
        findings.append(Finding(
            code="credential-invalid" if invalid else "credential-indeterminate",
            severity=Severity.CRITICAL if invalid else Severity.WARNING, check="sample",
            title="credential file does not verify" if invalid else "credential file could not be verified",
            message=f"{report.source}: {report.verdict.value}: {report.summary}",
            root=report.credential.get("root") or None,
            details={"file": report.source, "checks": {c.name: c.status.value for c in report.checks}},
        ))  # fmt: skip
    info = {
        "directory": str(directory), "files": len(files), "sampled": len(chosen),
        "verified": len(reports), "other_registry": other, "revoked_or_expired": withdrawn, **verdicts,
    }  # fmt: skip
    return findings, info


def _proof_target(data: bytes) -> tuple[int, str] | None:
    try:
        doc = json.loads(data)
        proofs = doc.get("proof")
        proof = proofs[0] if isinstance(proofs, list) and proofs else proofs
        return int(proof["chainId"]), str(proof["registry"]).lower()
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None


# -- the cache ----------------------------------------------------------------------------------

_md = sa.MetaData()
_meta_t = sa.Table(
    "audit_meta", _md,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)  # fmt: skip
_source_t = sa.Table(
    "audit_source", _md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("chain_id", sa.BigInteger, nullable=False),
    sa.Column("registry", sa.String(42), nullable=False),
    sa.Column("from_block", sa.BigInteger, nullable=False),
    sa.Column("scanned_to", sa.BigInteger, nullable=True),
    sa.Column("scanned_hash", sa.String(66), nullable=True),
    sa.UniqueConstraint("chain_id", "registry"),
)  # fmt: skip
_log_t = sa.Table(
    "audit_log", _md,
    sa.Column("source_id", sa.Integer, primary_key=True),
    sa.Column("block", sa.BigInteger, primary_key=True),
    sa.Column("log_index", sa.Integer, primary_key=True),
    sa.Column("tx", sa.String(66), nullable=False),
    sa.Column("block_hash", sa.String(66), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("args", sa.Text, nullable=False),
)  # fmt: skip
_compiled_t = sa.Table(
    "audit_compiled", _md,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("runtime", sa.Text, nullable=False),
)  # fmt: skip


@dataclass(frozen=True)
class _Source:
    id: int
    from_block: int
    scanned_to: int | None
    scanned_hash: str | None


class AuditCache:
    """The auditor's own database of events read so far (SQLite file or any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url)
        self.rebuilt = False
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        inspector = sa.inspect(self.engine)
        names = set(inspector.get_table_names())
        version: str | None = None
        if "audit_meta" in names:
            with self.engine.connect() as conn:
                version = conn.execute(sa.select(_meta_t.c.value).where(_meta_t.c.key == "schema_version")).scalar()
        if version != str(CACHE_SCHEMA_VERSION):
            ours = [t for t in ("audit_log", "audit_source", "audit_compiled", "audit_meta") if t in names]
            if ours:
                self.rebuilt = True
                with self.engine.begin() as conn:
                    for table in ours:
                        conn.execute(sa.text(f'DROP TABLE "{table}"'))
            _md.create_all(self.engine)
            with self.engine.begin() as conn:
                conn.execute(_meta_t.insert().values(key="schema_version", value=str(CACHE_SCHEMA_VERSION)))

    def source(self, chain_id: int, registry: str, from_block: int) -> _Source:
        registry = registry.lower()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(_source_t).where((_source_t.c.chain_id == chain_id) & (_source_t.c.registry == registry))
            ).first()
            if row is not None and int(row.from_block) != from_block:
                conn.execute(_log_t.delete().where(_log_t.c.source_id == row.id))
                conn.execute(_source_t.delete().where(_source_t.c.id == row.id))
                row = None
            if row is None:
                conn.execute(_source_t.insert().values(chain_id=chain_id, registry=registry, from_block=from_block))
                row = conn.execute(
                    sa.select(_source_t).where((_source_t.c.chain_id == chain_id) & (_source_t.c.registry == registry))
                ).one()
        return _Source(int(row.id), int(row.from_block), row.scanned_to, row.scanned_hash)

    def rewind(self, source: _Source, to_block: int | None) -> None:
        """Forget events at and after ``to_block`` (None: forget everything)."""
        with self.engine.begin() as conn:
            query = _log_t.delete().where(_log_t.c.source_id == source.id)
            if to_block is not None:
                query = query.where(_log_t.c.block >= to_block)
            conn.execute(query)
            scanned = None if to_block is None or to_block <= source.from_block else to_block - 1
            conn.execute(
                _source_t.update().where(_source_t.c.id == source.id).values(scanned_to=scanned, scanned_hash=None)
            )

    def last_stored(self, source: _Source) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_log_t.c.block, _log_t.c.block_hash)
                .where(_log_t.c.source_id == source.id)
                .order_by(_log_t.c.block.desc())
                .limit(1)
            ).first()
        return (int(row[0]), str(row[1])) if row else None

    def append(self, source: _Source, rows: list[dict[str, Any]], scanned_to: int, scanned_hash: str) -> None:
        """Store one page of events and move the resume point, in one transaction."""
        with self.engine.begin() as conn:
            if rows:
                conn.execute(_log_t.insert(), [{"source_id": source.id, **r} for r in rows])
            conn.execute(
                _source_t.update()
                .where(_source_t.c.id == source.id)
                .values(scanned_to=scanned_to, scanned_hash=scanned_hash)
            )

    def events(self, source: _Source) -> list[AuditEvent]:
        cols = (_log_t.c.block, _log_t.c.log_index, _log_t.c.tx, _log_t.c.timestamp, _log_t.c.name, _log_t.c.args)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*cols).where(_log_t.c.source_id == source.id).order_by(_log_t.c.block, _log_t.c.log_index)
            ).all()
        return [AuditEvent(int(r[0]), int(r[1]), str(r[2]), int(r[3]), str(r[4]), json.loads(r[5])) for r in rows]

    def compiled(self, fingerprint: str) -> bytes | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(_compiled_t.c.runtime).where(_compiled_t.c.fingerprint == fingerprint)
            ).scalar()
        return bytes.fromhex(value) if value else None

    def store_compiled(self, fingerprint: str, code: bytes) -> None:
        with self.engine.begin() as conn:
            conn.execute(_compiled_t.delete().where(_compiled_t.c.fingerprint == fingerprint))
            conn.execute(_compiled_t.insert().values(fingerprint=fingerprint, runtime=code.hex()))

    def close(self) -> None:
        self.engine.dispose()


# -- the auditor --------------------------------------------------------------------------------


@dataclass
class SyncStats:
    from_block: int
    to_block: int
    new_events: int = 0
    pages: int = 0
    resumed: bool = False
    rewound: bool = False


def default_sources() -> Path | None:
    """A checkout holding ``contracts/``: the working directory or the package's parent."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / CONTRACT_SOURCE).exists():
            return base
    return None


class Auditor:
    """Reads a registry's history into its cache and audits it."""

    def __init__(
        self,
        client: ChainClient,
        cache: AuditCache,
        *,
        from_block: int = 0,
        page_size: int = 10_000,
        max_page_size: int = 100_000,
    ) -> None:
        if client.registry_address is None:
            raise ConfigError("the auditor needs the registry contract address")
        self.client = client
        self.cache = cache
        self.registry = client.registry_address
        self.from_block = from_block
        self.page_size = page_size
        self.max_page_size = max_page_size

    def sync(self) -> SyncStats:
        """Read events from where the last run stopped up to the head, page by page."""
        chain_id = self.client.chain_id()
        source = self.cache.source(chain_id, self.registry, self.from_block)
        head = self.client.head()
        stats = SyncStats(from_block=self.from_block, to_block=head)
        start = self.from_block
        if source.scanned_to is not None:
            stats.resumed = True
            start = source.scanned_to + 1
            current = (
                self.client.block_headers([source.scanned_to]).get(source.scanned_to)
                if source.scanned_to <= head
                else None
            )
            if current is None or current.hash != source.scanned_hash:
                stats.rewound = True
                start = self._rewind(source, head)
        if start > head:
            return stats
        for page in self.client.get_logs(start, head, page_size=self.page_size, max_page_size=self.max_page_size):
            decoded = [self.client.decode_log(raw) for raw in page.logs]
            wanted = {d.block for d in decoded if d.timestamp is None} | {page.to_block}
            headers = self.client.block_headers(wanted)
            rows = [
                {
                    "block": d.block, "log_index": d.log_index, "tx": d.tx,
                    "block_hash": d.block_hash or (headers[d.block].hash if d.block in headers else ""),
                    "timestamp": d.timestamp if d.timestamp is not None else headers[d.block].timestamp,
                    "name": d.name, "args": json.dumps(d.args, sort_keys=True),
                }
                for d in decoded
            ]  # fmt: skip
            self.cache.append(source, rows, page.to_block, headers[page.to_block].hash)
            stats.new_events += len(rows)
            stats.pages += 1
        return stats

    def _rewind(self, source: _Source, head: int) -> int:
        """After a reorg (or a reset chain), forget recent events and say where to read again."""
        assert source.scanned_to is not None
        point = max(source.from_block, min(source.scanned_to, head) - REORG_DEPTH)
        self.cache.rewind(source, point)
        last = self.cache.last_stored(source)
        if last is not None:
            header = self.client.block_headers([last[0]]).get(last[0])
            if header is None or header.hash != last[1]:
                self.cache.rewind(source, None)  # deeper than any reorg: a different chain
                return source.from_block
        return point

    def history(self) -> History:
        source = self.cache.source(self.client.chain_id(), self.registry, self.from_block)
        return replay(self.cache.events(source))

    def run(
        self,
        *,
        issuer: str | None = None,
        records: IssuerRecords | None = None,
        files: Path | None = None,
        sample_size: int = 100,
        sources: Path | None = None,
        check_bytecode: bool = True,
        metadata: Mapping[str, bytes] | None = None,
    ) -> AuditReport:
        """Sync, replay and run every applicable check."""
        stats = self.sync()
        source = self.cache.source(self.client.chain_id(), self.registry, self.from_block)
        events = self.cache.events(source)
        h = replay(events)
        findings = list(h.findings)
        run = ["history", "keys", "suspension", "revocations", "governance", "metadata"]
        skipped: dict[str, str] = {}
        findings += chain_checks(h, metadata)
        db_info: dict[str, Any] | None = None
        if records is not None:
            db_findings, db_info = reconcile(h, records, chain_id=self.client.chain_id(), registry=self.registry)
            findings += db_findings
            run.append("database")
        else:
            skipped["database"] = "no issuer database given (--db)"
        code_info: dict[str, Any] | None = None
        if not check_bytecode:
            skipped["code"] = "disabled"
        else:
            root = sources or default_sources()
            if root is None:
                skipped["code"] = "no contracts/ sources found (--sources DIR)"
            else:
                code_findings, code_info = check_code(self.client, self.registry, root, self.cache)
                findings += code_findings
                run.append("code")
        sample_info: dict[str, Any] | None = None
        if files is not None:
            sample_findings, sample_info = check_sample(self.client, self.registry, files, size=sample_size)
            findings += sample_findings
            run.append("sample")
        else:
            skipped["sample"] = "no credential files given (--files)"
        selected = _select_issuer(h, issuer) if issuer else None
        if selected is not None:
            findings = [f for f in findings if f.issuer_id in (None, selected)]
        findings.sort(key=lambda f: (f.severity.rank, f.block or 0, f.code))
        return AuditReport(
            generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            rpc=self.client.rpc_url,
            chain_id=self.client.chain_id(),
            registry=self.registry,
            from_block=self.from_block,
            to_block=stats.to_block,
            events=len(events),
            new_events=stats.new_events,
            pages=stats.pages,
            resumed=stats.resumed,
            issuer_filter=issuer,
            checks_run=run,
            checks_skipped=skipped,
            issuers=_timelines(h, selected),
            batches=_batch_records(h, selected),
            credential_revocations=_credential_revocations(h, selected),
            roles=h.role_changes,
            code=code_info,
            database=db_info,
            sample=sample_info,
            findings=findings,
        )


def _select_issuer(h: History, wanted: str) -> int:
    """An issuer by id, DID/URI or any of its key addresses."""
    text = wanted.strip()
    if text.isdigit() and int(text) in h.issuers:
        return int(text)
    if text.startswith("0x") and len(text) == 42:
        key = h.keys.get(to_checksum_address(text))
        if key is not None:
            return key.issuer_id
    for issuer in h.issuers.values():
        if text in (issuer.uri, issuer_did(issuer.uri)):
            return issuer.issuer_id
    raise NotFound("issuer", f"{wanted!r} (give an issuer id, DID or key address of this registry)")


def _timelines(h: History, selected: int | None) -> list[IssuerTimeline]:
    out: list[IssuerTimeline] = []
    for iid, issuer in sorted(h.issuers.items()):
        if selected is not None and iid != selected:
            continue
        batches = [b for b in h.batches.values() if b.issuer_id == iid]
        keys = [h.keys[k] for k in issuer.keys if k in h.keys]
        out.append(IssuerTimeline(
            issuer_id=iid, name=issuer.name, uri=issuer.uri, did=issuer_did(issuer.uri),
            admitted_by=issuer.admitted_by, admitted_at=issuer.admitted_at,
            suspended_at=issuer.suspended_at, active_key=issuer.active_key,
            keys=[KeyRecord(
                address=k.address, key_id=k.key_id, activated_at=k.activated_at, retired_at=k.retired_at,
                compromised_since=k.compromised_since, compromise_declared_at=k.declared_at,
                compromise_declared_by=k.declared_by,
            ) for k in keys],
            batches=len(batches), credentials=sum(b.count for b in batches),
            revoked_batches=sum(1 for b in batches if b.revoked_at is not None),
            revoked_credentials=sum(1 for (i, _d) in h.revocations if i == iid),
            timeline=issuer.timeline,
        ))  # fmt: skip
    return out


def _batch_records(h: History, selected: int | None) -> list[BatchRecord]:
    return [
        BatchRecord(
            root=b.root, issuer_id=b.issuer_id, key_id=b.key_id, key=h.key_by_id.get(b.key_id),
            count=b.count, metadata_hash=b.metadata_hash, block=b.block, timestamp=b.timestamp,
            tx=b.tx, revoked_at=b.revoked_at, revocation_reason=b.revocation_reason,
        )
        for b in h.batches.values()
        if selected is None or b.issuer_id == selected
    ]  # fmt: skip


def _credential_revocations(h: History, selected: int | None) -> list[dict[str, Any]]:
    return [
        {"issuer_id": iid, "digest": digest, "timestamp": ts, "reason": reason, "tx": tx}
        for (iid, digest), (ts, reason, tx) in sorted(h.revocations.items(), key=lambda kv: kv[1][0])
        if selected is None or iid == selected
    ]


def audit(
    client: ChainClient,
    cache_url: str,
    *,
    from_block: int = 0,
    **options: Any,
) -> AuditReport:
    """One-call audit: open the cache, sync, check, close."""
    cache = AuditCache(cache_url)
    try:
        return Auditor(client, cache, from_block=from_block).run(**options)
    except ChainUnavailable:
        raise
    finally:
        cache.close()


def batch_metadata_index(docs: Sequence[bytes]) -> dict[str, bytes]:
    """Metadata documents by their keccak (as anchored in BatchAnchored.metadataHash)."""
    return {"0x" + keccak(d).hex(): d for d in docs}
