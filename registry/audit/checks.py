"""Chain-only checks that need the whole replayed history (``docs/audit.md``, checks ``keys``,
``metadata`` and ``lookalikes``): batches anchored with a key at or after its declared
compromise, anchored counts that disagree with the batch metadata document when that document
is known, and directory entries a person could take for one another (UTS #39)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from registry.audit.report import BatchRecord, Finding, IssuerTimeline, Severity, iso_time
from registry.audit.state import History
from registry.core.lookalike import DirectoryName, Lookalike, find_lookalikes

__all__ = ["chain_checks", "lookalike_checks"]


def chain_checks(h: History, metadata: Mapping[str, bytes] | None = None) -> list[Finding]:
    """Checks that need the whole history: compromise declared after the fact, metadata counts."""
    return _anchors_after_compromise(h) + _metadata_counts(h, metadata or {})


def _anchors_after_compromise(h: History) -> list[Finding]:
    findings: list[Finding] = []
    by_key: dict[str, list[BatchRecord]] = {}
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
        findings.append(
            Finding(
                code="anchor-after-compromise",
                severity=Severity.CRITICAL,
                check="keys",
                title="batches anchored with a key after its declared compromise",
                message=(
                    f"{label}'s key {address} was declared compromised from "
                    f"{iso_time(record.compromised_since)} (declared {iso_time(record.compromise_declared_at)} by "
                    f"{record.compromise_declared_by}), and {len(batches)} batch(es) with {credentials} "
                    f"credential(s) were anchored with it at or after that time. Verifiers reject "
                    "these credentials; the issuer should re-issue the genuine ones with its new key."
                ),
                issuer_id=record.issuer_id,
                issuer=h.issuers[record.issuer_id].name if record.issuer_id in h.issuers else None,
                root=first.root,
                tx=first.tx,
                block=first.block,
                at=iso_time(first.timestamp),
                details={
                    "key": address,
                    "compromised_since": record.compromised_since,
                    "roots": [b.root for b in batches],
                    "credentials": credentials,
                },
            )
        )
    return findings


def _metadata_counts(h: History, metadata: Mapping[str, bytes]) -> list[Finding]:
    findings: list[Finding] = []
    for batch in h.batches.values():
        doc = metadata.get(batch.metadata_hash)
        if doc is None:
            continue
        try:
            meta = json.loads(doc)
            claimed = int(meta["count"])
        except (ValueError, KeyError, TypeError):
            findings.append(
                Finding(
                    code="metadata-unreadable",
                    severity=Severity.WARNING,
                    check="metadata",
                    title="batch metadata has no readable count",
                    message=f"the metadata document of batch {batch.root} has no integer 'count'.",
                    issuer_id=batch.issuer_id,
                    root=batch.root,
                    tx=batch.tx,
                    block=batch.block,
                )
            )
            continue
        if claimed != batch.count:
            findings.append(
                Finding(
                    code="count-metadata-mismatch",
                    severity=Severity.WARNING,
                    check="metadata",
                    title="batch count disagrees with its metadata",
                    message=(
                        f"batch {batch.root} of {h.issuer_name(batch.issuer_id)} was anchored with "
                        f"count {batch.count}, but its metadata document (hash {batch.metadata_hash}) "
                        f"says {claimed} credentials."
                    ),
                    issuer_id=batch.issuer_id,
                    root=batch.root,
                    tx=batch.tx,
                    block=batch.block,
                    at=iso_time(batch.timestamp),
                    details={"chain_count": batch.count, "metadata_count": claimed},
                )
            )
    return findings


def lookalike_checks(h: History) -> list[Finding]:
    """Directory entries that look like one another, and entries mixing scripts (check ``lookalikes``).

    Each finding is placed at the admission of the later entry: the one a person should question.
    """
    entries = [DirectoryName(iid, issuer.name, issuer.uri) for iid, issuer in sorted(h.issuers.items())]
    return [_lookalike_finding(h, hit) for hit in find_lookalikes(entries)]


def _lookalike_finding(h: History, hit: Lookalike) -> Finding:
    issuers = [h.issuers[i] for i in hit.issuer_ids]
    later = max(issuers, key=lambda i: (i.admitted_at, i.issuer_id))
    admitted = next((e for e in later.timeline if e.kind == "admitted"), None)
    details = {
        "issuers": list(hit.issuer_ids),
        "reasons": [str(r) for r in hit.reasons],
        "names": [i.name for i in issuers],
        "uris": [i.uri for i in issuers],
    }
    if len(issuers) == 1:
        code, title = "mixed-script-issuer", "an issuer's name or domain mixes scripts"
        message = (
            f"{_label(later)}: {hit.explanation}. A reader may take it for another issuer; the "
            "accreditation body should confirm who it is, and suspend it if it was not meant."
        )
    else:
        code, title = "lookalike-issuers", "issuer entries a person could confuse"
        message = (
            f"{_label(issuers[0])} and {_label(issuers[1])}: {hit.explanation}. Credentials of one "
            "can be taken for the other's; the accreditation body should confirm the later entry "
            f"(issuer {later.issuer_id}) is a distinct issuer, and suspend it if not."
        )
    return Finding(
        code=code,
        severity=Severity.WARNING,
        check="lookalikes",
        title=title,
        message=message,
        issuer_id=later.issuer_id,
        issuer=later.name,
        tx=admitted.tx if admitted else None,
        block=admitted.block if admitted else None,
        at=iso_time(later.admitted_at),
        details=details,
    )


def _label(issuer: IssuerTimeline) -> str:
    return f"issuer {issuer.issuer_id} “{issuer.name}” ({issuer.uri})"
