"""Reconciliation of the chain with an issuer's records, both ways (``docs/audit.md``, check
``database``), through the :class:`registry.audit.records.IssuerRecords` port.

Batches the issuer recorded as anchored must be on chain with the same issuer and count; roots
anchored with the issuer's keys must be known to its records (a *lost* record if its own log
mentions them, a key used *outside* the service if not); revocations must agree both ways. A
supersession is a revocation (reason 2) to the records as on chain; its successor must be in a batch
the records hold.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from registry.audit.records import IssuerRecords, RecordedBatch
from registry.audit.report import Finding, Severity, SupersessionRecord, iso_time
from registry.audit.state import History

__all__ = ["reconcile"]


def reconcile(
    h: History, records: IssuerRecords, *, chain_id: int, registry: str
) -> tuple[list[Finding], dict[str, Any]]:
    """The issuer's records against the chain, both ways. Returns findings and a summary."""
    db_to_chain, findings = _match_issuers(h, records)
    relevant, other_deployment = _this_deployment(records, chain_id, registry)
    db_roots = {rb.root.lower() for rb in relevant}
    findings += _recorded_batches(h, relevant, db_to_chain)
    audited = set(db_to_chain.values())
    findings += _unrecorded_batches(h, audited, db_roots, records.mentioned_hashes())
    revocation_findings, revocations_recorded = _revocations(h, records, db_to_chain, audited, db_roots)
    findings += revocation_findings
    findings += _unrecorded_successors(h, audited, db_roots)
    summary = {
        "issuers": len(db_to_chain),
        "batches_recorded": len(relevant),
        "batches_other_deployment": other_deployment,
        "chain_batches_of_these_issuers": sum(1 for b in h.batches.values() if b.issuer_id in audited),
        "revocations_recorded": revocations_recorded,
    }
    return findings, summary


def _match_issuers(h: History, records: IssuerRecords) -> tuple[dict[int, int], list[Finding]]:
    """The records' issuers matched to the chain directory by DID, else by key: db id -> chain id."""
    findings: list[Finding] = []
    by_did = {i.did: i for i in h.issuers.values()}
    db_to_chain: dict[int, int] = {}
    for rec in records.issuers():
        match = by_did.get(rec.did)
        if match is None:
            key = h.keys.get(to_checksum_address(rec.key_address)) if rec.key_address else None
            match = h.issuers.get(key.issuer_id) if key else None
        if match is None:
            findings.append(
                Finding(
                    code="db-issuer-not-on-chain",
                    severity=Severity.WARNING,
                    check="database",
                    title="issuer in the database is not in the chain directory",
                    message=(
                        f"the database's issuer “{rec.name}” ({rec.did}, key {rec.key_address}) is "
                        "neither a DID nor a key of any issuer admitted in this registry; its "
                        "batches cannot be anchored here."
                    ),
                    issuer=rec.name,
                    details={"db_id": rec.db_id, "did": rec.did},
                )
            )
            continue
        db_to_chain[rec.db_id] = match.issuer_id
    return db_to_chain, findings


def _this_deployment(records: IssuerRecords, chain_id: int, registry: str) -> tuple[list[RecordedBatch], int]:
    """The anchored batches recorded for this chain and registry, and how many were for others."""
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
    return relevant, other_deployment


def _recorded_batches(h: History, relevant: list[RecordedBatch], db_to_chain: dict[int, int]) -> list[Finding]:
    """Each batch the records claim anchored: on chain, by the same issuer, with the same count."""
    findings: list[Finding] = []
    for rb in relevant:
        chain_issuer = db_to_chain.get(rb.issuer_db_id)
        onchain = h.batches.get(rb.root)
        label = h.issuer_name(chain_issuer) if chain_issuer else f"database issuer {rb.issuer_db_id}"
        if onchain is None:
            findings.append(
                Finding(
                    code="db-batch-not-on-chain",
                    severity=Severity.CRITICAL,
                    check="database",
                    title="batch recorded as anchored is not on chain",
                    message=(
                        f"the database records batch {rb.root} ({rb.count} credentials) of {label} as "
                        f"{rb.state}{f' in transaction {rb.anchor_tx}' if rb.anchor_tx else ''}, but "
                        "that root is not anchored in this registry. Its credential files will "
                        "fail verification; re-anchor the batch."
                    ),
                    issuer_id=chain_issuer,
                    root=rb.root,
                    tx=rb.anchor_tx,
                    block=rb.anchor_block,
                )
            )
            continue
        if chain_issuer is not None and onchain.issuer_id != chain_issuer:
            findings.append(
                Finding(
                    code="db-batch-other-issuer",
                    severity=Severity.CRITICAL,
                    check="database",
                    title="batch anchored by another issuer",
                    message=(
                        f"the database attributes batch {rb.root} to {label}, but on chain it was "
                        f"anchored by {h.issuer_name(onchain.issuer_id)}."
                    ),
                    issuer_id=chain_issuer,
                    root=rb.root,
                    tx=onchain.tx,
                    block=onchain.block,
                )
            )
        if onchain.count != rb.count:
            findings.append(
                Finding(
                    code="db-batch-count-mismatch",
                    severity=Severity.CRITICAL,
                    check="database",
                    title="batch count differs between database and chain",
                    message=(
                        f"batch {rb.root} of {label} holds {rb.count} credentials according to the "
                        f"database but was anchored with count {onchain.count}."
                    ),
                    issuer_id=chain_issuer,
                    root=rb.root,
                    tx=onchain.tx,
                    block=onchain.block,
                    details={"db_count": rb.count, "chain_count": onchain.count},
                )
            )
        if rb.anchor_tx and rb.anchor_tx != onchain.tx:
            findings.append(
                Finding(
                    code="db-anchor-tx-mismatch",
                    severity=Severity.WARNING,
                    check="database",
                    title="anchoring transaction differs",
                    message=(
                        f"the database says batch {rb.root} was anchored by transaction {rb.anchor_tx}, "
                        f"the chain shows {onchain.tx} (a replaced transaction the service did not "
                        "record, or a record from another deployment)."
                    ),
                    issuer_id=chain_issuer,
                    root=rb.root,
                    tx=onchain.tx,
                    block=onchain.block,
                )
            )
    return findings


def _unrecorded_batches(h: History, audited: set[int], db_roots: set[str], mentioned: set[str]) -> list[Finding]:
    """Roots anchored by the audited issuers that the records do not hold: lost, or rogue."""
    findings: list[Finding] = []
    unknown = [b for b in h.batches.values() if b.issuer_id in audited and b.root not in db_roots]
    for b in sorted(unknown, key=lambda x: (x.block, x.tx)):
        issuer = h.issuers[b.issuer_id]
        key_addr = h.key_by_id.get(b.key_id)
        if b.root in mentioned or b.tx in mentioned:
            code, title = "db-lost-batch", "the database lost a batch"
            message = (
                f"batch {b.root} ({b.count} credentials) of {issuer.name} was anchored on "
                f"{iso_time(b.timestamp)} in transaction {b.tx}, and the service's own log "
                "mentions it, but the database has no batch record for it: its credentials "
                "cannot be served or revoked through the service. Restore the record from a "
                "backup."
            )
        else:
            code, title = "rogue-root", "root anchored outside the service"
            message = (
                f"root {b.root} ({b.count} credentials) was anchored with {issuer.name}'s "
                f"key {key_addr} on {iso_time(b.timestamp)} in transaction {b.tx}, but the issuer's "
                "database has never heard of it: the key was used outside the service. If "
                "the issuer did not do this, an accreditation body should declare the key "
                "compromised from before that time."
            )
        findings.append(
            Finding(
                code=code,
                severity=Severity.CRITICAL,
                check="database",
                title=title,
                message=message,
                issuer_id=b.issuer_id,
                issuer=issuer.name,
                root=b.root,
                tx=b.tx,
                block=b.block,
                at=iso_time(b.timestamp),
                details={"count": b.count, "key": key_addr},
            )
        )
    return findings


def _revocations(
    h: History, records: IssuerRecords, db_to_chain: dict[int, int], audited: set[int], db_roots: set[str]
) -> tuple[list[Finding], int]:
    """Revocations both ways; also returns how many the records hold."""
    findings: list[Finding] = []
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
            step = h.supersessions.get((iid, digest))
            unknown = _chain_revocation_unknown(h, iid, when, None, digest)
            findings.append(unknown if step is None else _chain_supersession_unknown(h, step))
    return findings, len(db_cred) + len(db_batch)


def _supersession_finding(step: SupersessionRecord, code: str, title: str, message: str) -> Finding:
    """A database finding about one on-chain supersession (a warning, located at its transaction)."""
    return Finding(
        code=code,
        severity=Severity.WARNING,
        check="database",
        title=title,
        message=message,
        issuer_id=step.issuer_id,
        root=step.new_root,
        tx=step.tx,
        block=step.block,
        at=step.at,
        details={"digest": step.digest, "new_digest": step.new_digest, "new_id": step.new_id},
    )


def _chain_supersession_unknown(h: History, step: SupersessionRecord) -> Finding:
    return _supersession_finding(
        step,
        "chain-supersession-unknown-to-db",
        "supersession on chain unknown to the database",
        f"credential {step.digest} of {h.issuer_name(step.issuer_id)} was superseded on chain on {step.at} by "
        f"{step.new_id} ({step.kind_name}), but the database records no such supersession (nor a revocation "
        "of it): the service still presents the old credential as valid, and the key was used outside "
        "the service.",
    )


def _unrecorded_successors(h: History, audited: set[int], db_roots: set[str]) -> list[Finding]:
    """Supersessions of the audited issuers naming a successor in a batch their records do not hold."""
    return [
        _supersession_finding(
            step,
            "supersession-successor-unrecorded",
            "a supersession names a successor the database does not hold",
            f"credential {step.digest} of {h.issuer_name(step.issuer_id)} was superseded on {step.at} by "
            f"{step.new_id} ({step.new_digest}) in batch {step.new_root}, which the database does not "
            "record as anchored: holders are pointed at a credential the service cannot serve. Find "
            "who anchored that batch (see the batch's own finding).",
        )
        for step in h.supersessions.values()
        if step.issuer_id in audited and step.new_root not in db_roots
    ]


def _db_revocation_missing(h: History, issuer_id: int | None, root: str, digest: str | None) -> Finding:
    what = f"credential {digest} of batch {root}" if digest else f"the whole batch {root}"
    return Finding(
        code="db-revocation-not-on-chain",
        severity=Severity.CRITICAL,
        check="database",
        title="revocation recorded but not on chain",
        message=(
            f"the database records {what} as revoked, but the chain has no such revocation: "
            "verifiers still see the credential(s) as valid. Send the revocation again."
        ),
        issuer_id=issuer_id,
        issuer=h.issuers[issuer_id].name if issuer_id in h.issuers else None,
        root=root,
        details={"digest": digest},
    )


def _chain_revocation_unknown(h: History, issuer_id: int, when: int, root: str | None, digest: str | None) -> Finding:
    what = f"credential {digest}" if digest else f"the whole batch {root}"
    return Finding(
        code="chain-revocation-unknown-to-db",
        severity=Severity.WARNING,
        check="database",
        title="revocation on chain unknown to the database",
        message=(
            f"{what} of {h.issuer_name(issuer_id)} was revoked on chain on {iso_time(when)}, but the "
            "database does not record that revocation: the service still presents it as valid, "
            "and the key was used outside the service."
        ),
        issuer_id=issuer_id,
        root=root,
        at=iso_time(when),
        details={"digest": digest},
    )
