"""The auditor shows lineages (issue 14), on a real anvil with the deployed registry fixture.

Batches are anchored with the fixture's issuers, credentials superseded with
``ChainWriter.supersede_credential`` (the chain adapter tests' ``issued`` and ``supersede``), and
the auditor runs against its own SQLite cache. Each test reverts its chain changes (``snapshot``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry.audit.auditor import Auditor
from registry.audit.cache import AuditCache
from registry.audit.render import render_html, render_json, render_lineages
from registry.audit.report import AuditReport, IssuerTimeline, Severity, short_hex
from registry.chain import calls
from registry.chain.abi import Revert
from registry.chain.devkeys import dev_account
from registry.chain.model import TxResult
from registry.errors import TransactionFailed
from tests.chain_fixtures import Registry, anvil_rpc
from tests.e2e.test_chain_supersession import RENEWAL, issued, supersede

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("snapshot")]


def audit(registry: Registry, cache: Path) -> AuditReport:
    store = AuditCache(f"sqlite:///{cache}")
    try:
        return Auditor(registry.client, store).run(check_bytecode=False)
    finally:
        store.close()


def uni(report: AuditReport, registry: Registry) -> IssuerTimeline:
    return next(i for i in report.issuers if i.issuer_id == registry.issuer_id)


def block_time(registry: Registry, tx: TxResult) -> int:
    return registry.client.history.block_timestamp(tx.block_number)


def test_a_correction_then_a_renewal_is_one_line_in_every_output(registry: Registry, tmp_path: Path) -> None:
    first, corrected, renewed = issued(registry, 3), issued(registry), issued(registry)
    a, b, c = first[0], corrected[0], renewed[0]
    registry.client.writes.revoke_credentials(registry.issuer_key, [first[1].digest], 1)
    step1 = supersede(registry, a, b)
    step2 = supersede(registry, b, c, RENEWAL)
    registry.issue(2, key=registry.issuer2_key)  # the other issuer: nothing superseded

    report = audit(registry, tmp_path / "audit.sqlite")

    assert report.findings == []
    issuer = uni(report, registry)
    (line,) = issuer.lineages
    assert line.digests == [a.digest, b.digest, c.digest] and not line.current_revoked
    assert [(s.new_id, s.kind_name, s.new_root) for s in line.steps] == [
        (b.id, "correction", b.root),
        (c.id, "renewal", c.root),
    ]
    assert [(s.block, s.tx, s.timestamp) for s in line.steps] == [
        (t.block_number, t.tx_hash, block_time(registry, t)) for t in (step1, step2)
    ]
    assert {s.key for s in line.steps} == {registry.issuer_key.address}
    assert (issuer.revoked_credentials, issuer.superseded_credentials) == (1, 2)
    assert [r["digest"] for r in report.credential_revocations] == [first[1].digest]
    assert [s.digest for s in report.supersessions] == [a.digest, b.digest]
    superseded = [e for e in issuer.timeline if e.kind == "credential_superseded"]
    assert [e.summary for e in superseded] == [
        f"credential superseded: {short_hex(a.digest)} -> {b.id} (correction)",
        f"credential superseded: {short_hex(b.digest)} -> {c.id} (renewal)",
    ]
    assert sum(e.kind == "credential_revoked" for e in issuer.timeline) == 1
    other = next(i for i in report.issuers if i.issuer_id == registry.issuer2_id)
    assert (other.lineages, other.superseded_credentials) == ([], 0)

    as_json = json.loads(render_json(report))
    (json_line,) = next(i for i in as_json["issuers"] if i["issuer_id"] == registry.issuer_id)["lineages"]
    assert json_line["path"] == f"{short_hex(a.digest)} -> {b.id} (correction) -> {c.id} (renewal)"
    text = render_lineages(report).splitlines()
    assert text[0] == f"Universidad de Ejemplo (issuer {registry.issuer_id}): {json_line['path']}"
    assert text[1:] == [
        f"  {s.at} block {s.block} key {registry.issuer_key.address}: {short_hex(s.digest)} -> {s.new_id} "
        f"({s.kind_name})"
        for s in line.steps
    ]
    html = render_html(report)
    assert f"→ {b.id} (correction) → {c.id} (renewal)" in html
    assert "<b>2</b>credentials superseded" in html and "<b>1</b>credentials revoked" in html
    assert "1 credential(s) revoked; 2 credential(s) superseded" in html
    assert html.count("<svg") == 2  # the revocation chart shows supersessions too
    assert "superseded (corrected or renewed) (2)" in html


def test_successors_revoked_after_and_their_batch(registry: Registry, tmp_path: Path) -> None:
    """A successor revoked after being named, and a successor whose batch is revoked: both end the
    lineage in a dead credential. A successor revoked *before* being named is refused by the
    contract (``SuccessorRevoked``); the auditor's ``successor-already-revoked`` finding is for
    older deployments and is tested on a replayed history (tests/unit/test_audit_lineage_replay.py)."""
    old, fixes, other_fixes = issued(registry, 3), issued(registry, 3), issued(registry)
    registry.client.writes.revoke_credentials(registry.issuer_key, [fixes[0].digest], 1)
    with pytest.raises(TransactionFailed) as refused:
        supersede(registry, old[0], fixes[0])
    assert refused.value.revert is Revert.SUCCESSOR_REVOKED
    supersede(registry, old[1], fixes[1])
    registry.client.writes.revoke_credentials(registry.issuer_key, [fixes[1].digest], 1)
    supersede(registry, old[2], other_fixes[0], RENEWAL)
    registry.client.writes.revoke_batch(registry.issuer_key, other_fixes[0].root, 1)

    report = audit(registry, tmp_path / "audit.sqlite")

    found = {f.code: f for f in report.findings}
    assert sorted(found) == ["successor-batch-revoked", "successor-revoked"]
    assert found["successor-revoked"].severity is Severity.WARNING
    assert found["successor-revoked"].details["digest"] == old[1].digest
    assert found["successor-batch-revoked"].root == other_fixes[0].root
    assert {f.check for f in report.findings} == {"revocations"}
    issuer = uni(report, registry)
    assert [line.current_revoked for line in issuer.lineages] == [True, True]
    assert (issuer.revoked_credentials, issuer.superseded_credentials, issuer.revoked_batches) == (2, 2, 1)
    assert "ends in a revoked credential" in render_html(report)
    assert render_lineages(report).count("[ends in a revoked credential]") == 2


def test_supersessions_with_a_retired_and_a_compromised_key(registry: Registry, tmp_path: Path) -> None:
    old, new = issued(registry), issued(registry)
    anvil_rpc(registry, "evm_increaseTime", 60)  # the batches stay before the declared compromise
    done = supersede(registry, old[0], new[0])
    rotated = dev_account("issuer-rotated", 31337)
    registry.client.writes.transact(registry.issuer_key, calls.rotate_key(rotated.address))
    late = supersede(registry, old[1], new[1], key=registry.issuer_key)  # a retired key may still supersede
    registry.client.writes.transact(
        registry.accreditor, calls.declare_key_compromised(registry.issuer_key.address, block_time(registry, done))
    )

    report = audit(registry, tmp_path / "audit.sqlite")

    assert [(f.code, f.tx) for f in report.findings] == [
        ("supersession-after-compromise", done.tx_hash),
        ("supersession-after-compromise", late.tx_hash),
    ]
    assert report.findings[0].details["key"] == registry.issuer_key.address


def test_a_retired_key_superseding_before_any_compromise(registry: Registry, tmp_path: Path) -> None:
    old, new = issued(registry), issued(registry)
    rotated = dev_account("issuer-rotated", 31337)
    registry.client.writes.transact(registry.issuer_key, calls.rotate_key(rotated.address))
    late = supersede(registry, old[0], new[0], key=registry.issuer_key)

    report = audit(registry, tmp_path / "audit.sqlite")

    assert [(f.code, f.severity, f.tx) for f in report.findings] == [
        ("supersession-by-retired-key", Severity.WARNING, late.tx_hash)
    ]
    (line,) = uni(report, registry).lineages
    assert line.steps[0].key == registry.issuer_key.address and line.steps[0].key_id == 1


def test_a_cache_written_before_supersessions_keeps_loading(registry: Registry, tmp_path: Path) -> None:
    cache = tmp_path / "audit.sqlite"
    old, new = issued(registry), issued(registry)
    before = audit(registry, cache)  # a cache with no supersession in it
    assert uni(before, registry).lineages == []
    supersede(registry, old[0], new[0])

    resumed = audit(registry, cache)

    assert resumed.resumed and resumed.new_events == 2  # CredentialRevoked and CredentialSuperseded
    assert [line.digests for line in uni(resumed, registry).lineages] == [[old[0].digest, new[0].digest]]


def test_supersessions_an_older_auditor_could_not_decode_are_read_again(registry: Registry, tmp_path: Path) -> None:
    cache = tmp_path / "audit.sqlite"
    old, new = issued(registry), issued(registry)
    supersede(registry, old[0], new[0])
    first = audit(registry, cache)
    topic = registry.client.reads.abi.topic("CredentialSuperseded")
    engine = sa.create_engine(f"sqlite:///{cache}")
    with engine.begin() as conn:  # what an auditor whose ABI lacked the event stored
        changed = conn.execute(
            sa.text("UPDATE audit_log SET name = 'Unknown', args = :args WHERE name = 'CredentialSuperseded'"),
            {"args": json.dumps({"topics": [topic]})},
        ).rowcount
    engine.dispose()
    assert changed == 1

    again = audit(registry, cache)

    assert again.resumed and again.new_events >= 1 and again.events == first.events
    assert uni(again, registry).lineages == uni(first, registry).lineages
    assert uni(again, registry).superseded_credentials == 1
    store = AuditCache(f"sqlite:///{cache}")
    try:
        source = store.source(31337, registry.client.registry_address or "", 0)
        assert not store.rebuilt and store.undecoded(source) == []
    finally:
        store.close()
