"""Event replay: the registry's state rebuilt from its events, flagging what should have been impossible.

Pure: takes :class:`~registry.audit.state.AuditEvent` values (from the auditor's cache, or
scripted in tests) and returns a :class:`~registry.audit.state.History`, one handler per event;
no chain, no database, no clock. The histories it flags are impossible on the real contract (it
refuses them), which is exactly why the auditor checks them: a different contract at the
address, or a forged history, shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from registry.audit.lineage import is_superseding_revocation, superseded
from registry.audit.report import (
    BatchRecord,
    Finding,
    IssuerTimeline,
    KeyRecord,
    RoleChange,
    Severity,
    SigningKeyRecord,
    iso_time,
    short_hex,
)
from registry.audit.state import AuditEvent, History, event_finding, timeline_entry, unknown_issuer
from registry.chain.model import ACCREDITOR_ROLE, DEFAULT_ADMIN_ROLE, REVOCATION_REASONS
from registry.core.identity import issuer_did
from registry.core.signing import public_key_multibase

__all__ = ["ACCREDITOR_ROLE", "DEFAULT_ADMIN_ROLE", "ROLE_NAMES", "replay"]

ROLE_NAMES: Final = {DEFAULT_ADMIN_ROLE: "registry admin", ACCREDITOR_ROLE: "accreditation body"}
_NO_KEY: Final = "0x" + "00" * 32
"""``previous`` of an issuer's first SigningKeySet."""


def replay(events: Iterable[AuditEvent]) -> History:
    """Rebuild the registry from its events in order, flagging what should have been impossible."""
    h = History()
    for ev in sorted(events, key=lambda e: (e.block, e.log_index)):
        h.events += 1
        handler = _HANDLERS.get(ev.name)
        if handler is not None:
            handler(h, ev)
    return h


# -- governance: roles and the issuer directory -------------------------------------------------


def _role_changed(h: History, ev: AuditEvent) -> None:
    a = ev.args
    role, account, sender = str(a["role"]).lower(), a["account"], a["sender"]
    granted = ev.name == "RoleGranted"
    allowed = h.holds(DEFAULT_ADMIN_ROLE, sender)
    if granted and role == DEFAULT_ADMIN_ROLE and not h.bootstrapped:
        allowed = True  # the constructor's grant to the first admin
    if not granted and sender == account:
        allowed = True  # renounceRole
    role_name = ROLE_NAMES.get(role, f"role {short_hex(role)}")
    if not allowed:
        verb = "granted" if granted else "revoked"
        h.findings.append(
            event_finding(
                ev,
                "role-change-unauthorized",
                Severity.CRITICAL,
                "governance",
                f"{role_name} {verb} by an account without authority",
                f"{sender} {verb} the {role_name} role {'to' if granted else 'from'} {account} "
                "without holding the registry admin role at the time. Only the admin may "
                "change roles; the contract should have refused this.",
                details={"role": role, "account": account, "sender": sender},
            )
        )
    if role not in ROLE_NAMES:
        h.findings.append(
            event_finding(
                ev,
                "unknown-role",
                Severity.WARNING,
                "governance",
                "a role the registry does not use was changed",
                f"{sender} {'granted' if granted else 'revoked'} role {role} "
                f"{'to' if granted else 'from'} {account}; the registry only uses the admin "
                "and accreditation-body roles, so this has no effect but is unexpected.",
                details={"role": role, "account": account},
            )
        )
    members = h.roles.setdefault(role, set())
    if granted:
        members.add(account)
        if role == DEFAULT_ADMIN_ROLE:
            h.bootstrapped = True
    else:
        members.discard(account)
    if role == ACCREDITOR_ROLE:
        h.body(account).holds_role = granted
    h.role_changes.append(
        RoleChange(
            role=role,
            role_name=role_name,
            account=account,
            by=sender,
            granted=granted,
            timestamp=ev.timestamp,
            block=ev.block,
            tx=ev.tx,
        )
    )


def _role_admin_changed(h: History, ev: AuditEvent) -> None:
    a = ev.args
    h.findings.append(
        event_finding(
            ev,
            "role-admin-changed",
            Severity.CRITICAL,
            "governance",
            "the admin of a role was changed",
            f"the admin role of {a.get('role')} changed to {a.get('newAdminRole')}; the "
            "registry never does this, so the contract at this address is not this source.",
            details=dict(a),
        )
    )


def _accreditor_appointed(h: History, ev: AuditEvent) -> None:
    """AccreditorAppointed(account, name, uri): a body's directory entry, set or renamed by the
    admin (the contract grants the role first, in the same transaction)."""
    a = ev.args
    body = h.body(str(a["account"]))
    body.name, body.uri, body.appointed_at = str(a["name"]), str(a["uri"]), ev.timestamp


def _issuer_admitted(h: History, ev: AuditEvent) -> None:
    a = ev.args
    iid, key, by = int(a["issuerId"]), a["key"], a["admittedBy"]
    _require_accreditor(h, ev, by, f"admitted issuer {iid} ({a['name']})")
    h.body(by).issuers.append(iid)
    record = KeyRecord(address=key, key_id=int(a["keyId"]), activated_at=ev.timestamp, issuer_id=iid)
    uri = str(a["uri"])
    issuer = IssuerTimeline(
        issuer_id=iid,
        name=str(a["name"]),
        uri=uri,
        did=issuer_did(uri),
        admitted_by=by,
        admitted_at=ev.timestamp,
        active_key=key,
        keys=[record],
    )
    h.issuers[iid] = issuer
    h.keys[key] = record
    h.key_by_id[int(a["keyId"])] = key
    issuer.timeline.append(
        timeline_entry(
            ev,
            "admitted",
            f"admitted as “{a['name']}” ({a['uri']}) by accreditation body {h.body_label(by)}, first key {key}",
            admitted_by=by,
            key=key,
            uri=a["uri"],
        )
    )


def _issuer_suspended_or_reinstated(h: History, ev: AuditEvent) -> None:
    a = ev.args
    iid, by = int(a["issuerId"]), a["by"]
    suspended = ev.name == "IssuerSuspended"
    verb = "suspended" if suspended else "reinstated"
    _require_accreditor(h, ev, by, f"{verb} issuer {iid}")
    target = h.issuers.get(iid)
    if target is None:
        h.findings.append(unknown_issuer(ev, iid, verb))
        return
    target.suspended_at = ev.timestamp if suspended else None
    target.timeline.append(timeline_entry(ev, verb, f"{verb} by accreditation body {h.body_label(by)}", by=by))


def _key_rotated(h: History, ev: AuditEvent) -> None:
    a = ev.args
    iid, prev, new, by = int(a["issuerId"]), a["previousKey"], a["newKey"], a["by"]
    target = h.issuers.get(iid)
    if target is None:
        h.findings.append(unknown_issuer(ev, iid, "rotated a key of"))
        return
    if by != prev:
        _require_accreditor(h, ev, by, f"assigned key {new} to issuer {iid}")
    if prev in h.keys:
        h.keys[prev].retired_at = ev.timestamp
    record = KeyRecord(address=new, key_id=int(a["newKeyId"]), activated_at=ev.timestamp, issuer_id=iid)
    h.keys[new] = record
    h.key_by_id[int(a["newKeyId"])] = new
    target.active_key = new
    target.keys.append(record)
    how = "rotated by the issuer" if by == prev else f"assigned by accreditation body {h.body_label(by)}"
    target.timeline.append(
        timeline_entry(
            ev,
            "key_rotated",
            f"key {prev} retired, new key {new} ({how})",
            previous=prev,
            new=new,
            by=by,
        )
    )


def _key_compromised(h: History, ev: AuditEvent) -> None:
    a = ev.args
    key, iid, since, by = a["key"], int(a["issuerId"]), int(a["since"]), a["by"]
    record = h.keys.get(key)
    if not _may_declare(h, by, iid, key):
        _require_accreditor(h, ev, by, f"declared key {key} compromised")
    if record is not None:
        record.compromised_since = since if record.compromised_since is None else min(since, record.compromised_since)
        record.compromise_declared_at, record.compromise_declared_by = ev.timestamp, by
    target = h.issuers.get(iid)
    if target is not None:
        target.timeline.append(
            timeline_entry(
                ev,
                "key_compromised",
                f"key {key} declared compromised from {iso_time(since)} by {h.body_label(by)}",
                key=key,
                since=since,
                by=by,
            )
        )


def _may_declare(h: History, by: str, issuer_id: int, key: str | None = None) -> bool:
    """An accreditation body, or the issuer's active, non-compromised anchoring key (not ``key``)."""
    if h.holds(ACCREDITOR_ROLE, by):
        return True
    own = h.keys.get(by)
    return bool(
        own and own.issuer_id == issuer_id and by != key and own.retired_at is None and own.compromised_since is None
    )


def _signing_key_set(h: History, ev: AuditEvent) -> None:
    """SigningKeySet(issuerId, publicKey, previous): the issuer's new Ed25519 signing key, retiring
    the previous one; the contract takes it only from an anchoring key that may anchor, once."""
    a = ev.args
    iid, key, previous = int(a["issuerId"]), str(a["publicKey"]).lower(), str(a["previous"]).lower()
    issuer = h.issuers.get(iid)
    if issuer is None:
        h.findings.append(unknown_issuer(ev, iid, "set a signing key of"))
        return
    problems = []
    if issuer.suspended_at is not None:
        problems.append(f"while suspended since {iso_time(issuer.suspended_at)}")
    if key in h.signing_keys:
        problems.append("although it was registered before (signing keys are never reused)")
    if previous != (issuer.signing_key or _NO_KEY):
        problems.append(f"naming {previous} as the previous key")
    if problems:
        h.findings.append(
            event_finding(
                ev,
                "signing-key-set-impossibly",
                Severity.CRITICAL,
                "keys",
                "signing key set in a way the contract refuses",
                f"{h.issuer_name(iid)} set signing key {key} {'; '.join(problems)}; its current key was "
                f"{issuer.signing_key}. The contract should have refused this.",
                issuer_id=iid,
                issuer=issuer.name,
                details={"public_key": key, "previous": previous},
            )
        )
    if issuer.signing_key in h.signing_keys:
        h.signing_keys[issuer.signing_key].until = ev.timestamp
    multikey = public_key_multibase(bytes.fromhex(key.removeprefix("0x")))
    h.signing_keys[key] = record = SigningKeyRecord(
        public_key=key, multikey=multikey, since=ev.timestamp, issuer_id=iid
    )
    issuer.signing_keys.append(record)
    retired = f", retiring {short_hex(issuer.signing_key)}" if issuer.signing_key else ""
    issuer.signing_key = key
    summary = f"signing key {multikey} ({short_hex(key)}) set{retired}"
    issuer.timeline.append(timeline_entry(ev, "signing_key_set", summary, public_key=key, previous=previous))


def _signing_key_compromised(h: History, ev: AuditEvent) -> None:
    """SigningKeyCompromised(publicKey, issuerId, since, by): as KeyCompromised, for a signing key."""
    a = ev.args
    key, iid, since, by = str(a["publicKey"]).lower(), int(a["issuerId"]), int(a["since"]), a["by"]
    record = h.signing_keys.get(key)
    if record is None or record.issuer_id != iid:
        h.findings.append(
            event_finding(
                ev,
                "unknown-signing-key",
                Severity.CRITICAL,
                "keys",
                "compromise declared for a signing key the issuer never set",
                f"signing key {key} was declared compromised for issuer {iid}, which never set it in this "
                "registry's history. The contract must refuse this.",
                issuer_id=iid,
                details={"public_key": key},
            )
        )
        record = None
    if not _may_declare(h, by, iid):
        _require_accreditor(h, ev, by, f"declared signing key {key} compromised")
    if record is not None:
        record.compromised_since = since if record.compromised_since is None else min(since, record.compromised_since)
        record.compromise_declared_at, record.compromise_declared_by = ev.timestamp, by
    if (target := h.issuers.get(iid)) is not None:
        what = f"signing key {record.multikey if record else key} declared compromised from {iso_time(since)}"
        target.timeline.append(
            timeline_entry(
                ev, "signing_key_compromised", f"{what} by {h.body_label(by)}", public_key=key, since=since, by=by
            )
        )


def _require_accreditor(h: History, ev: AuditEvent, by: str, what: str) -> None:
    if not h.holds(ACCREDITOR_ROLE, by):
        h.findings.append(
            event_finding(
                ev,
                "directory-change-unauthorized",
                Severity.CRITICAL,
                "governance",
                "directory change by an account that is not an accreditation body",
                f"{by} {what} without holding the accreditation-body role at the time. Only "
                "accreditation bodies may change the issuer directory; the contract should have "
                "refused this.",
                details={"by": by},
            )
        )


# -- batches and revocations (supersessions: registry.audit.lineage) ---------------------------


def _anchored(h: History, ev: AuditEvent) -> None:
    a = ev.args
    root, iid, key_id, count = str(a["root"]).lower(), int(a["issuerId"]), int(a["keyId"]), int(a["count"])
    issuer = h.issuers.get(iid)
    key = h.key_by_id.get(key_id)
    label = h.issuer_name(iid)
    if issuer is None:
        h.findings.append(unknown_issuer(ev, iid, "anchored a batch for"))
    elif issuer.suspended_at is not None:
        h.findings.append(
            event_finding(
                ev,
                "anchor-while-suspended",
                Severity.CRITICAL,
                "suspension",
                "batch anchored by a suspended issuer",
                f"{label} anchored batch {root} ({count} credentials) on {iso_time(ev.timestamp)} while "
                f"suspended since {iso_time(issuer.suspended_at)}. The contract must refuse this; "
                "treat these credentials as not issued and investigate the contract.",
                issuer_id=iid,
                issuer=issuer.name,
                root=root,
            )
        )
    record = h.keys.get(key) if key else None
    if record is not None and record.retired_at is not None:
        h.findings.append(
            event_finding(
                ev,
                "anchor-with-retired-key",
                Severity.CRITICAL,
                "keys",
                "batch anchored with a retired key",
                f"batch {root} of {label} was anchored with key {key}, retired on "
                f"{iso_time(record.retired_at)}. Retired keys cannot anchor; the contract should have "
                "refused this.",
                issuer_id=iid,
                root=root,
                details={"key": key},
            )
        )
    if root in h.batches:
        h.findings.append(
            event_finding(
                ev,
                "root-anchored-twice",
                Severity.CRITICAL,
                "history",
                "root anchored twice",
                f"root {root} was anchored again; the contract must reject a known root.",
                issuer_id=iid,
                root=root,
            )
        )
        return
    h.batches[root] = BatchRecord(
        root=root,
        issuer_id=iid,
        key_id=key_id,
        key=key,
        count=count,
        metadata_hash=str(a["metadataHash"]).lower(),
        block=ev.block,
        timestamp=ev.timestamp,
        tx=ev.tx,
    )
    if issuer is not None:
        issuer.timeline.append(
            timeline_entry(
                ev,
                "batch_anchored",
                f"batch {short_hex(root)} anchored: {count} credentials, key {key}",
                root=root,
                count=count,
                key=key,
                key_id=key_id,
                metadata_hash=a["metadataHash"],
            )
        )


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
            h.findings.append(unknown_issuer(ev, iid, "revoked a credential of"))
            return
        if is_superseding_revocation(h, iid, digest, ev.tx):
            return  # its supersession, replayed first, already stands for it
        h.revocations[(iid, digest)] = (ev.timestamp, reason, ev.tx)
        why = f": {REVOCATION_REASONS.get(reason, f'code {reason}')}" if reason is not None else ""
        issuer.timeline.append(
            timeline_entry(ev, "credential_revoked", f"credential {short_hex(digest)} revoked{why}", digest=digest)
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
            f"batch {short_hex(root)} revoked ({batch.count} credentials): "
            f"{REVOCATION_REASONS.get(reason, f'code {reason}')}"
        )
        issuer.timeline.append(
            timeline_entry(ev, "batch_revoked", summary, root=root, reason=reason, key_id=a.get("keyId"))
        )


def _unknown_root(ev: AuditEvent, root: str, what: str) -> Finding:
    return event_finding(
        ev,
        "revocation-unknown-root",
        Severity.CRITICAL,
        "revocations",
        "revocation of a root that was never anchored",
        f"{what} of root {root} was revoked, but that root was never anchored in this registry. "
        "The contract must refuse this; the history or the contract is not what it should be.",
        root=root,
    )


_HANDLERS: Final[dict[str, Callable[[History, AuditEvent], None]]] = {
    "AccreditorAppointed": _accreditor_appointed,
    "RoleGranted": _role_changed,
    "RoleRevoked": _role_changed,
    "RoleAdminChanged": _role_admin_changed,
    "IssuerAdmitted": _issuer_admitted,
    "IssuerSuspended": _issuer_suspended_or_reinstated,
    "IssuerReinstated": _issuer_suspended_or_reinstated,
    "KeyRotated": _key_rotated,
    "KeyCompromised": _key_compromised,
    "SigningKeySet": _signing_key_set,
    "SigningKeyCompromised": _signing_key_compromised,
    "BatchAnchored": _anchored,
    "CredentialRevoked": _revoked,
    "BatchRevoked": _revoked,
    "CredentialSuperseded": superseded,
}
