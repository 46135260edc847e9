"""The auditor: what each issuer anchored and revoked, when, with which key, and does it add up.

Reads every event of a CredentialRegistry from its deployment block through the chain adapter
(paged ``eth_getLogs`` whose page adapts to the node, block timestamps in JSON-RPC batches),
keeps them in the auditor's own cache database (:mod:`registry.audit.cache`) so a second run
only reads new blocks, replays them into per-issuer timelines (:mod:`registry.audit.replay`),
and runs the checks of ``docs/audit.md``:

* chain only (:mod:`registry.audit.replay`, :mod:`registry.audit.checks`): anchors with a key
  at or after its declared compromise time, anchors by a suspended issuer or with a retired
  key, revocations of unknown roots, role and directory changes by accounts without the
  authority to make them, counts that disagree with the batch metadata (when it is known);
* lineages (:mod:`registry.audit.lineage`): supersessions (corrections and renewals) joined
  into lines, successors revoked, shared, or named with a retired or compromised key;
* with the issuer's records (:mod:`registry.audit.reconcile` through the
  :class:`registry.audit.records.IssuerRecords` port): batches recorded as anchored but not on
  chain (or with another count or issuer), roots anchored with the issuer's keys that its
  records do not know (lost records versus a key used outside the service), revocations that
  do not agree both ways;
* code (:mod:`registry.audit.codecheck`): the runtime bytecode at the registry address against
  the pinned compiler's output for ``contracts/``;
* credential sample (:mod:`registry.audit.sampling`): a sample of credential files verified
  with :class:`registry.verify.Verifier`.

Each finding has a severity (critical, warning, info) and a plain-language message
(:mod:`registry.audit.report`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from registry.audit.cache import AuditCache, CacheSource
from registry.audit.checks import chain_checks, lookalike_checks
from registry.audit.codecheck import check_code, default_sources
from registry.audit.lineage import attach_keys, lineage_checks, lineages
from registry.audit.reconcile import reconcile
from registry.audit.records import IssuerRecords
from registry.audit.replay import replay
from registry.audit.report import AuditReport, BatchRecord, IssuerTimeline, SupersessionRecord, short_hex
from registry.audit.sampling import check_sample
from registry.audit.state import History, select_issuer
from registry.chain.adapter import Chain
from registry.core.pathway import Pathway, pathway_digest
from registry.errors import ChainUnavailable, ConfigError

__all__ = ["REORG_DEPTH", "Auditor", "SyncStats", "audit"]

REORG_DEPTH: Final = 128


@dataclass
class SyncStats:
    from_block: int
    to_block: int
    new_events: int = 0
    pages: int = 0
    resumed: bool = False
    rewound: bool = False


class Auditor:
    """Reads a registry's history into its cache and audits it."""

    def __init__(
        self,
        client: Chain,
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
        chain_id = self.client.reads.chain_id()
        source = self.cache.source(chain_id, self.registry, self.from_block)
        head = self.client.reads.head()
        stats = SyncStats(from_block=self.from_block, to_block=head)
        start = self.from_block
        if source.scanned_to is not None:
            stats.resumed = True
            start = source.scanned_to + 1
            current = (
                self.client.history.block_headers([source.scanned_to]).get(source.scanned_to)
                if source.scanned_to <= head
                else None
            )
            if current is None or current.hash != source.scanned_hash:
                stats.rewound = True
                start = self._rewind(source, head)
        stale = self._first_undecoded(source)
        if stale is not None and stale < start:
            self.cache.rewind(source, stale)
            stats.rewound, start = True, stale
        if start > head:
            return stats
        pages = self.client.history.get_logs(start, head, page_size=self.page_size, max_page_size=self.max_page_size)
        for page in pages:
            decoded = [self.client.history.decode_log(raw) for raw in page.logs]
            wanted = {d.block for d in decoded if d.timestamp is None} | {page.to_block}
            headers = self.client.history.block_headers(wanted)
            rows = [
                {
                    "block": d.block,
                    "log_index": d.log_index,
                    "tx": d.tx,
                    "block_hash": d.block_hash or (headers[d.block].hash if d.block in headers else ""),
                    "timestamp": d.timestamp if d.timestamp is not None else headers[d.block].timestamp,
                    "name": d.name,
                    "args": json.dumps(d.args, sort_keys=True),
                }
                for d in decoded
            ]
            self.cache.append(source, rows, page.to_block, headers[page.to_block].hash)
            stats.new_events += len(rows)
            stats.pages += 1
        return stats

    def _first_undecoded(self, source: CacheSource) -> int | None:
        """The first block with an event the cache holds as ``Unknown`` but this ABI decodes: the
        cache was written by an older auditor (before ``CredentialSuperseded``, say)."""
        abi = self.client.reads.abi
        known = {abi.topic(str(item["name"])) for item in abi.abi if item.get("type") == "event"}
        return min((block for block, topic in self.cache.undecoded(source) if topic in known), default=None)

    def _rewind(self, source: CacheSource, head: int) -> int:
        """After a reorg (or a reset chain), forget recent events and say where to read again."""
        assert source.scanned_to is not None
        point = max(source.from_block, min(source.scanned_to, head) - REORG_DEPTH)
        self.cache.rewind(source, point)
        last = self.cache.last_stored(source)
        if last is not None:
            header = self.client.history.block_headers([last[0]]).get(last[0])
            if header is None or header.hash != last[1]:
                self.cache.rewind(source, None)  # deeper than any reorg: a different chain
                return source.from_block
        return point

    def history(self) -> History:
        source = self.cache.source(self.client.reads.chain_id(), self.registry, self.from_block)
        return replay(self.cache.events(source))

    def _name_supersession_keys(self, h: History) -> None:
        """The key of each supersession, from the revocation slot it wrote (one batched read; the
        events do not carry it)."""
        if not h.supersessions:
            return
        slots = self.client.reads.revocations(list(h.supersessions))
        attach_keys(h, {pair: slot.key_id for pair, slot in slots.items() if slot is not None})

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
        pathways: Sequence[Pathway] = (),
    ) -> AuditReport:
        """Sync, replay and run every applicable check. Batches that publish a pathway (its digest
        as root) are labelled from ``records`` and from the definitions in ``pathways``."""
        stats = self.sync()
        source = self.cache.source(self.client.reads.chain_id(), self.registry, self.from_block)
        events = self.cache.events(source)
        h = replay(events)
        self._name_supersession_keys(h)
        findings = list(h.findings)
        run = ["history", "keys", "suspension", "revocations", "governance", "metadata", "lookalikes"]
        skipped: dict[str, str] = {}
        findings += chain_checks(h, metadata)
        findings += lineage_checks(h)
        findings += lookalike_checks(h)
        db_info: dict[str, Any] | None = None
        if records is not None:
            db_findings, db_info = reconcile(h, records, chain_id=self.client.reads.chain_id(), registry=self.registry)
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
                code_findings, code_info = check_code(self.client.reads, self.registry, root, self.cache)
                findings += code_findings
                run.append("code")
        sample_info: dict[str, Any] | None = None
        if files is not None:
            sample_findings, sample_info = check_sample(self.client.reads, self.registry, files, size=sample_size)
            findings += sample_findings
            run.append("sample")
        else:
            skipped["sample"] = "no credential files given (--files)"
        labels = {"0x" + pathway_digest(p).hex(): _pathway_label(p.id, p.version, p.name) for p in pathways}
        if records is not None:
            labels.update({b.root: b.pathway for b in records.anchored_batches() if b.pathway})
        _label_pathways(h, labels)
        selected = select_issuer(h, issuer) if issuer else None
        if selected is not None:
            findings = [
                f for f in findings if f.issuer_id in (None, selected) or selected in f.details.get("issuers", ())
            ]
        findings.sort(key=lambda f: (f.severity.rank, f.block or 0, f.code))
        return AuditReport(
            generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            rpc=self.client.rpc_url,
            chain_id=self.client.reads.chain_id(),
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
            supersessions=_supersessions(h, selected),
            roles=h.role_changes,
            accreditors=sorted(h.accreditors.values(), key=lambda b: (b.name is None, b.name or "", b.address)),
            code=code_info,
            database=db_info,
            sample=sample_info,
            findings=findings,
        )


def _pathway_label(pathway_id: str, version: int, name: str) -> str:
    return f"{pathway_id} version {version} ({name})"


def _label_pathways(h: History, labels: Mapping[str, str]) -> None:
    """Mark the batches that publish a pathway, and their timeline entries."""
    for root, label in labels.items():
        batch = h.batches.get(root.lower())
        if batch is None:
            continue
        h.batches[batch.root] = batch.model_copy(update={"pathway": label})
        issuer = h.issuers.get(batch.issuer_id)
        if issuer is None:
            continue
        for i, entry in enumerate(issuer.timeline):
            if entry.kind == "batch_anchored" and entry.details.get("root") == batch.root:
                details = {**entry.details, "pathway": label}
                summary = f"pathway published: {label}, digest {short_hex(batch.root)}, key {batch.key}"
                update = {"kind": "pathway_published", "summary": summary, "details": details}
                issuer.timeline[i] = entry.model_copy(update=update)


def _timelines(h: History, selected: int | None) -> list[IssuerTimeline]:
    """The issuers with their totals (the replay keeps the events, the totals are counted here)."""
    out: list[IssuerTimeline] = []
    for iid, issuer in sorted(h.issuers.items()):
        if selected is not None and iid != selected:
            continue
        batches = [b for b in h.batches.values() if b.issuer_id == iid]
        totals = {
            "keys": [h.keys[k.address] for k in issuer.keys],
            "batches": len(batches),
            "credentials": sum(b.count for b in batches if b.pathway is None),
            "pathways": sum(1 for b in batches if b.pathway is not None),
            "revoked_batches": sum(1 for b in batches if b.revoked_at is not None),
            "revoked_credentials": sum(1 for (i, d) in h.revocations if i == iid and (i, d) not in h.supersessions),
            "superseded_credentials": sum(1 for (i, _d) in h.supersessions if i == iid),
            "lineages": lineages(h, iid),
        }
        body = h.accreditors.get(issuer.admitted_by)
        if body is not None and body.name:
            totals.update(admitted_by_name=body.name, admitted_by_uri=body.uri)
        out.append(issuer.model_copy(update=totals))
    return out


def _batch_records(h: History, selected: int | None) -> list[BatchRecord]:
    """The batches, each with the key its key id names at the end of the history."""
    out: list[BatchRecord] = []
    for b in h.batches.values():
        if selected is not None and b.issuer_id != selected:
            continue
        key = h.key_by_id.get(b.key_id)
        out.append(b if b.key == key else b.model_copy(update={"key": key}))
    return out


def _credential_revocations(h: History, selected: int | None) -> list[dict[str, Any]]:
    return [
        {"issuer_id": iid, "digest": digest, "timestamp": ts, "reason": reason, "tx": tx}
        for (iid, digest), (ts, reason, tx) in sorted(h.revocations.items(), key=lambda kv: kv[1][0])
        if (selected is None or iid == selected) and (iid, digest) not in h.supersessions
    ]


def _supersessions(h: History, selected: int | None) -> list[SupersessionRecord]:
    """Every supersession in the order it happened (a superseded credential is not listed as revoked)."""
    return [s for (iid, _d), s in h.supersessions.items() if selected is None or iid == selected]


def audit(
    client: Chain,
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
