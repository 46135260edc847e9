"""Lineages: corrections and renewals (``CredentialSuperseded``, issue 14) replayed, joined and checked.

A supersession revokes a credential (its ``CredentialRevoked``, reason 2, comes first in the
same transaction) and names the successor: digest, root, public id and kind. :func:`superseded`
is the replay's handler: it records the supersession and turns the revocation's timeline entry
into a "credential superseded" one, so a supersession is never counted as a plain revocation.
:func:`lineages` joins an issuer's supersessions into lines (A -> B -> C), and
:func:`lineage_checks` flags what the contract lets happen but a reader should look at: a
successor revoked (before or after it was named), a successor's whole batch revoked later, one
successor named for several credentials, and supersessions sent with a retired key or at or after
the key's declared compromise. The contract refuses a second supersession of a digest, so the
replay keeps the first and checks nothing there. Pure: no chain, no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from registry.audit.report import Finding, Lineage, Severity, SupersessionRecord, iso_time, short_hex
from registry.audit.state import AuditEvent, History, timeline_entry, unknown_issuer
from registry.chain.model import SUPERSEDED_REASON, SUPERSESSION_KINDS

__all__ = ["attach_keys", "is_superseding_revocation", "lineage_checks", "lineages", "superseded"]

_CHECK: Final = "revocations"
"""The check lineage findings belong to: a supersession is a revocation that names a successor."""


def superseded(h: History, ev: AuditEvent) -> None:
    """CredentialSuperseded(issuerId, digest, newDigest, newRoot, kind, newId)."""
    a = ev.args
    iid, digest = int(a["issuerId"]), str(a["digest"]).lower()
    issuer = h.issuers.get(iid)
    if issuer is None:
        h.findings.append(unknown_issuer(ev, iid, "superseded a credential of"))
        return
    if (iid, digest) in h.supersessions:
        return  # the contract refuses a second supersession of a digest: the first one stands
    kind = int(a["kind"])
    record = SupersessionRecord(
        issuer_id=iid,
        digest=digest,
        new_digest=str(a["newDigest"]).lower(),
        new_root=str(a["newRoot"]).lower(),
        new_id=str(a["newId"]),
        kind=kind,
        kind_name=SUPERSESSION_KINDS.get(kind, f"kind {kind}"),
        timestamp=ev.timestamp,
        at=iso_time(ev.timestamp),
        block=ev.block,
        log_index=ev.log_index,
        tx=ev.tx,
    )
    h.supersessions[(iid, digest)] = record
    revocation = h.revocations.get((iid, digest))
    if revocation is None or revocation[2] == ev.tx:
        h.revocations[(iid, digest)] = (ev.timestamp, SUPERSEDED_REASON, ev.tx)
    summary = f"credential superseded: {short_hex(digest)} -> {record.new_id} ({record.kind_name})"
    entry = timeline_entry(
        ev,
        "credential_superseded",
        summary,
        digest=digest,
        new_digest=record.new_digest,
        new_root=record.new_root,
        new_id=record.new_id,
        supersession_kind=record.kind_name,
    )
    for i in range(len(issuer.timeline) - 1, -1, -1):
        earlier = issuer.timeline[i]
        if earlier.tx != ev.tx:
            break
        if earlier.kind == "credential_revoked" and earlier.details.get("digest") == digest:
            issuer.timeline[i] = entry  # the same transaction's revocation: one entry, not two
            return
    issuer.timeline.append(entry)


def is_superseding_revocation(h: History, issuer_id: int, digest: str, tx: str) -> bool:
    """Whether a CredentialRevoked is the one of a supersession already replayed (same transaction)."""
    record = h.supersessions.get((issuer_id, digest))
    return record is not None and record.tx == tx


def attach_keys(h: History, key_ids: Mapping[tuple[int, str], int]) -> None:
    """Name the key of each supersession from the key ids of the revocation slots it wrote.

    The events do not carry the key; the contract keeps it in the slot (``credentialRevocation``),
    which a supersession writes once and nothing overwrites.
    """
    for pair, record in h.supersessions.items():
        key_id = key_ids.get(pair)
        if key_id:
            record.key_id, record.key = key_id, h.key_by_id.get(key_id)


def lineages(h: History, issuer_id: int) -> list[Lineage]:
    """The issuer's supersessions joined into lines, each from a credential that replaced nothing.

    A successor named for several credentials appears in each of their lines; a loop (a successor
    that had itself been superseded before) ends its line where it comes back.
    """
    steps = {d: s for (i, d), s in h.supersessions.items() if i == issuer_id}
    successors = {s.new_digest for s in steps.values()}
    starts = [s for d, s in steps.items() if d not in successors]
    out: list[Lineage] = []
    covered: set[str] = set()
    for first in [*starts, *steps.values()]:
        if first.digest in covered:
            continue
        line = _follow(steps, first)
        covered.update(s.digest for s in line)
        out.append(_lineage(h, issuer_id, line))
    return out


def _follow(steps: Mapping[str, SupersessionRecord], first: SupersessionRecord) -> list[SupersessionRecord]:
    line, seen = [first], {first.digest}
    while (step := steps.get(line[-1].new_digest)) is not None and step.digest not in seen:
        line.append(step)
        seen.add(step.digest)
    return line


def _lineage(h: History, issuer_id: int, line: list[SupersessionRecord]) -> Lineage:
    last = line[-1]
    batch = h.batches.get(last.new_root)
    revoked = (issuer_id, last.new_digest) in h.revocations or (batch is not None and batch.revoked_at is not None)
    return Lineage(
        issuer_id=issuer_id,
        digests=[line[0].digest, *(s.new_digest for s in line)],
        steps=line,
        current_revoked=revoked,
    )


def lineage_checks(h: History) -> list[Finding]:
    """What the chain lets happen around supersessions but a reader should look at (part of check
    ``revocations``)."""
    return _revoked_successors(h) + _shared_successors(h) + _key_findings(h)


def _revoked_successors(h: History) -> list[Finding]:
    """Successors revoked on their own (before or after they were named), or their whole batch later."""
    revoked_at = {
        (issuer.issuer_id, str(e.details.get("digest"))): (e.block, e.log_index, e.timestamp)
        for issuer in h.issuers.values()
        for e in issuer.timeline
        if e.kind == "credential_revoked"
    }
    findings: list[Finding] = []
    for (iid, _digest), step in h.supersessions.items():
        successor = (iid, step.new_digest)
        later = h.supersessions.get(successor)
        revocation = revoked_at.get(successor)
        if later is not None and (later.block, later.log_index) < (step.block, step.log_index):
            findings.append(_already_revoked(h, step, f"superseded by {later.new_id} on {later.at}"))
        elif revocation is not None and revocation[:2] < (step.block, step.log_index):
            findings.append(_already_revoked(h, step, f"revoked on {iso_time(revocation[2])}"))
        elif revocation is not None:
            title = "the successor of a superseded credential was revoked"
            findings.append(_successor_finding(h, step, "successor-revoked", title, "that successor", revocation[2]))
        batch = h.batches.get(step.new_root)
        if later is None and batch is not None and batch.revoked_at is not None:  # else the line goes on
            title = "the batch of a superseded credential's successor was revoked"
            what = f"the successor's whole batch {step.new_root}"
            findings.append(_successor_finding(h, step, "successor-batch-revoked", title, what, batch.revoked_at))
    return findings


def _already_revoked(h: History, step: SupersessionRecord, what: str) -> Finding:
    return _finding(
        h,
        step,
        "successor-already-revoked",
        Severity.CRITICAL,
        "credential superseded by one that was already revoked",
        f"{h.issuer_name(step.issuer_id)} superseded credential {step.digest} ({step.kind_name}) on {step.at} "
        f"with {step.new_id} ({step.new_digest}), which had been {what}: the holder lost a valid credential "
        "for one that was not valid either (registries deployed before SuccessorRevoked allowed this). Issue "
        "the holder a valid credential and find out why the service named this successor.",
    )


def _successor_finding(h: History, step: SupersessionRecord, code: str, title: str, what: str, when: int) -> Finding:
    """A successor (``what``: it, or its whole batch) revoked after the supersession named it."""
    return _finding(
        h,
        step,
        code,
        Severity.WARNING,
        title,
        f"{h.issuer_name(step.issuer_id)} superseded credential {step.digest} ({step.kind_name}) on {step.at} "
        f"with {step.new_id} ({step.new_digest}); {what} was revoked on {iso_time(when)}, so the line ends "
        "in no valid credential. If the holder should still hold one, issue it.",
        revoked_at=iso_time(when),
    )


def _shared_successors(h: History) -> list[Finding]:
    """One credential named as the successor of several: two holders' credentials merged into one."""
    by_successor: dict[tuple[int, str], list[SupersessionRecord]] = {}
    for (iid, _digest), step in h.supersessions.items():
        by_successor.setdefault((iid, step.new_digest), []).append(step)
    findings: list[Finding] = []
    for steps in by_successor.values():
        if len(steps) < 2:
            continue
        last = steps[-1]
        olds = ", ".join(s.digest for s in steps)
        findings.append(
            _finding(
                h,
                last,
                "successor-shared",
                Severity.WARNING,
                "one credential named as the successor of several",
                f"{h.issuer_name(last.issuer_id)} named {last.new_id} ({last.new_digest}) as the successor of "
                f"{len(steps)} credentials ({olds}), the latest on {last.at}. A correction or renewal replaces "
                "one credential with one; check that these credentials belonged to the same holder.",
                superseded=[s.digest for s in steps],
            )
        )
    return findings


def _key_findings(h: History) -> list[Finding]:
    """Supersessions at or after the key's declared compromise time, or sent with a retired key."""
    findings: list[Finding] = []
    for step in h.supersessions.values():
        record = h.keys.get(step.key) if step.key else None
        if record is None:
            continue
        if record.compromised_since is not None and step.timestamp >= record.compromised_since:
            findings.append(
                _finding(
                    h,
                    step,
                    "supersession-after-compromise",
                    Severity.CRITICAL,
                    "credential superseded with a key after its declared compromise",
                    f"{h.issuer_name(step.issuer_id)}'s key {step.key} superseded credential {step.digest} with "
                    f"{step.new_id} on {step.at}, at or after the time it was declared compromised from "
                    f"({iso_time(record.compromised_since)}). The revocation and the successor may be an "
                    "attacker's: confirm both with the issuer, and issue the holder a credential again if not.",
                    key=step.key,
                )
            )
        elif _retired_before(h, step):
            findings.append(
                _finding(
                    h,
                    step,
                    "supersession-by-retired-key",
                    Severity.WARNING,
                    "credential superseded with a retired key",
                    f"{h.issuer_name(step.issuer_id)} superseded credential {step.digest} with {step.new_id} on "
                    f"{step.at} using key {step.key}, retired on {iso_time(record.retired_at)}. The contract "
                    "allows a retired key to revoke and supersede, but the issuer's service uses its active key: "
                    "confirm the issuer did this.",
                    key=step.key,
                )
            )
    return findings


def _retired_before(h: History, step: SupersessionRecord) -> bool:
    """Whether the step's key was rotated out before the step (blocks can share a second: by position)."""
    issuer = h.issuers.get(step.issuer_id)
    if issuer is None:
        return False
    at = (step.block, step.log_index)
    return any(
        e.kind == "key_rotated" and e.details.get("previous") == step.key and (e.block, e.log_index) < at
        for e in issuer.timeline
    )


def _finding(
    h: History, step: SupersessionRecord, code: str, severity: Severity, title: str, message: str, **details: object
) -> Finding:
    """A lineage finding located at the supersession it concerns."""
    issuer = h.issuers.get(step.issuer_id)
    return Finding(
        code=code,
        severity=severity,
        check=_CHECK,
        title=title,
        message=message,
        issuer_id=step.issuer_id,
        issuer=issuer.name if issuer else None,
        root=step.new_root,
        tx=step.tx,
        block=step.block,
        at=step.at,
        details={
            "digest": step.digest,
            "new_digest": step.new_digest,
            "new_id": step.new_id,
            "kind": step.kind_name,
            **details,
        },
    )
