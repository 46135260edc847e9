"""The auditor against anvil with scripted histories: each produces exactly the expected findings.

Every scenario deploys its own registry (on one anvil per module), so findings of one story
cannot leak into another. Issuer databases are real SQLite files built with the service's own
store (migrations and models), read back through :mod:`registry.audit.records`.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlmodel import select
from typer.testing import CliRunner

from registry.audit.auditor import Auditor
from registry.audit.cache import AuditCache
from registry.audit.render import render_csv, render_html
from registry.audit.report import AuditReport
from registry.chain import calls
from registry.chain.adapter import Chain
from registry.chain.admin import deploy_registry
from registry.chain.artifacts import compile_sources
from registry.chain.devkeys import dev_account
from registry.chain.local import LocalChain
from registry.cli.app import app
from registry.config import Settings, load_deployment
from registry.issue.direct import IssuedBatch, issue_and_anchor
from registry.service.audit_records import open_issuer_records
from registry.service.store import Batch, BatchState, Event, Issuer, make_engine, session_scope, upgrade
from tests.chain_fixtures import ACHIEVEMENT
from tests.cohort import synthetic_cohort

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class World:
    """A freshly deployed registry: one accreditation body, two issuers, an issuer database."""

    chain: LocalChain
    client: Chain
    settings: Settings
    admin: LocalAccount
    accreditor: LocalAccount
    issuer_key: LocalAccount
    issuer_id: int
    other_key: LocalAccount
    other_id: int
    deploy_block: int
    tmp: Path
    db_url: str
    counter: int = 0

    def issue(self, n: int = 4, *, key: LocalAccount | None = None) -> IssuedBatch:
        self.counter += 1
        key = key or self.issuer_key
        iid = self.issuer_id if key is self.issuer_key else self.other_id
        from registry.core.credential import IssuerProfile

        info = self.client.reads.issuers([iid])[iid]
        docs = list(synthetic_cohort(n, IssuerProfile(id=info.did, name=info.name), ACHIEVEMENT, seed=self.counter))
        return issue_and_anchor(self.client, key, docs, self.tmp / f"files-{self.counter}")

    def record(self, batch: IssuedBatch, *, lose: bool = False) -> None:
        """Record ``batch`` in the issuer database as the service would (row + event log)."""
        engine = make_engine(self.db_url)
        with session_scope(engine) as session:
            issuer = session.get(Issuer, 1)
            assert issuer is not None
            if not lose:
                session.add(
                    Batch(
                        issuer_id=1,
                        state=BatchState.CONFIRMED,
                        root=batch.root,
                        count=len(batch.files),
                        metadata_hash="0x" + "00" * 32,
                        chain_id=self.client.reads.chain_id(),
                        registry_address=self.client.registry_address,
                        anchor_tx=batch.anchor.anchor_tx,
                        anchor_block=batch.anchor.anchor_block,
                    )
                )
            session.add(
                Event(
                    issuer_id=1,
                    kind="batch.confirmed",
                    subject=batch.root,
                    data=json.dumps({"tx": batch.anchor.anchor_tx}),
                )
            )
        engine.dispose()

    def audit(self, *, db: bool = True, **options: Any) -> AuditReport:
        cache = AuditCache(f"sqlite:///{self.tmp / 'audit.sqlite'}")
        records = open_issuer_records(self.db_url) if db else None
        try:
            options.setdefault("sources", PROJECT)
            return Auditor(self.client, cache, from_block=self.deploy_block).run(records=records, **options)
        finally:
            cache.close()
            if records is not None:
                records.close()


@pytest.fixture
def world(anvil: LocalChain, tmp_path: Path) -> World:
    settings = Settings(home=tmp_path / "home", rpc_url=anvil.rpc_url)
    client = Chain(anvil.rpc_url)
    admin = dev_account("admin", 31337)
    record = deploy_registry(settings, client, admin, force=True)
    accreditor = dev_account("accreditor", 31337)
    client.writes.grant_accreditor(admin, accreditor.address)
    issuer_key, other_key = dev_account("issuer", 31337), dev_account("issuer2", 31337)
    issuer_id = client.writes.admit_issuer(
        accreditor, "Universidad de Ejemplo", "did:web:uni.example", issuer_key.address
    )
    other_id = client.writes.admit_issuer(accreditor, "Other College", "did:web:other.example", other_key.address)
    db_url = f"sqlite:///{tmp_path / 'issuer.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    with session_scope(engine) as session:
        session.add(
            Issuer(
                name="Universidad de Ejemplo",
                did="did:web:uni.example",
                key_source="dev:issuer",
                key_address=issuer_key.address,
            )
        )
    engine.dispose()
    return World(
        anvil,
        client,
        settings,
        admin,
        accreditor,
        issuer_key,
        issuer_id,
        other_key,
        other_id,
        int(record["block"]),
        tmp_path,
        db_url,
    )


def codes(report: AuditReport) -> list[str]:
    return sorted(f.code for f in report.findings)


def _increase_time(client: Chain, seconds: int) -> None:
    client.rpc.batch([("evm_increaseTime", [seconds]), ("evm_mine", [])])


# -- the five stories ----------------------------------------------------------------------------


def test_clean_issuer_has_no_findings_and_a_full_timeline(world: World) -> None:
    first, second = world.issue(4), world.issue(3)
    world.record(first)
    world.record(second)
    other = world.issue(2, key=world.other_key)  # another issuer, not in this database: out of scope

    report = world.audit(files=first.files[0].parent)

    assert report.findings == []
    assert report.checks_run == [
        "history",
        "keys",
        "suspension",
        "revocations",
        "governance",
        "metadata",
        "lookalikes",
        "database",
        "code",
        "sample",
    ]
    assert report.code is not None and report.code["status"] == "identical"
    assert report.sample is not None and report.sample["VALID"] == 4
    assert report.database == {
        "issuers": 1,
        "batches_recorded": 2,
        "batches_other_deployment": 0,
        "chain_batches_of_these_issuers": 2,
        "revocations_recorded": 0,
    }
    uni = next(i for i in report.issuers if i.issuer_id == world.issuer_id)
    assert [e.kind for e in uni.timeline] == ["admitted", "signing_key_set", "batch_anchored", "batch_anchored"]
    assert (uni.batches, uni.credentials) == (2, 7)
    assert uni.admitted_by == world.accreditor.address
    assert {b.root for b in report.batches} == {first.root, second.root, other.root}
    assert [r.role_name for r in report.roles] == ["registry admin", "accreditation body"]


def test_key_used_outside_the_service_is_a_rogue_root(world: World) -> None:
    known = world.issue(3)
    world.record(known)
    rogue = world.issue(5)  # anchored with the issuer's key, never recorded by the service

    report = world.audit()

    assert codes(report) == ["rogue-root"]
    finding = report.findings[0]
    assert finding.severity == "critical"
    assert finding.root == rogue.root
    assert finding.tx == rogue.anchor.anchor_tx
    assert finding.issuer_id == world.issuer_id
    assert "outside the service" in finding.message
    assert report.critical


def test_compromised_key_used_after_the_declared_time(world: World) -> None:
    before = world.issue(2)
    _increase_time(world.client, 3600)
    after = world.issue(3)
    since = world.client.reads.batches([after.root])[after.root.lower()]
    assert since is not None
    world.client.writes.transact(
        world.accreditor, calls.declare_key_compromised(world.issuer_key.address, since.anchored_at)
    )

    report = world.audit(db=False, files=after.files[0].parent)

    assert codes(report) == ["anchor-after-compromise"] + ["credential-invalid"] * 3
    finding = next(f for f in report.findings if f.code == "anchor-after-compromise")
    assert finding.details["roots"] == [after.root]
    assert before.root not in finding.details["roots"]
    assert finding.details["key"] == world.issuer_key.address
    uni = next(i for i in report.issuers if i.issuer_id == world.issuer_id)
    assert uni.timeline[-1].kind == "key_compromised"
    assert uni.keys[0].compromised_since == since.anchored_at


def test_database_that_lost_a_batch(world: World) -> None:
    kept, lost = world.issue(2), world.issue(4)
    world.record(kept)
    world.record(lost, lose=True)  # the service logged the anchoring, but the row is gone

    report = world.audit()

    assert codes(report) == ["db-lost-batch"]
    assert report.findings[0].root == lost.root
    assert "lost" in report.findings[0].title


def test_redeployed_contract_with_different_bytecode(world: World, tmp_path: Path) -> None:
    modified = tmp_path / "modified"
    (modified / "contracts").mkdir(parents=True)
    shutil.copy(PROJECT / "contracts/ICredentialRegistry.sol", modified / "contracts")  # imported by the registry
    source = (PROJECT / "contracts/CredentialRegistry.sol").read_text()
    patched = source.replace(
        "function issuerCount() external view returns (uint32) {\n        return _issuerCount;",
        "function issuerCount() external view returns (uint32) {\n        return _issuerCount + 1;",
    )
    assert patched != source
    (modified / "contracts/CredentialRegistry.sol").write_text(patched)
    (modified / "node_modules").symlink_to(PROJECT / "node_modules")
    compiled = compile_sources(modified)["contracts"]["contracts/CredentialRegistry.sol"]["CredentialRegistry"]
    deployer = Chain(world.client.rpc_url)
    result = deployer.writes.deploy(world.admin, bytecode=compiled["evm"]["bytecode"]["object"])
    assert result.contract_address is not None
    impostor = Chain(world.client.rpc_url, result.contract_address)
    cache = AuditCache(f"sqlite:///{tmp_path / 'impostor.sqlite'}")
    try:
        report = Auditor(impostor, cache, from_block=result.block_number).run(sources=PROJECT)
    finally:
        cache.close()

    assert codes(report) == ["code-mismatch"]
    assert report.code is not None and report.code["status"] == "different"
    assert report.findings[0].severity == "critical"
    shutil.rmtree(modified)


# -- more reconciliation ----------------------------------------------------------------------------


def test_database_claims_and_revocations_disagreeing_with_the_chain(world: World) -> None:
    from registry.service.store import AchievementRow, CredentialRow, Revocation, RevocationState

    good = world.issue(3)
    world.record(good)
    digest = json.loads(good.files[0].read_text())["proof"][-1]["credentialDigest"]
    engine = make_engine(world.db_url)
    ghost_root = "0x" + "ab" * 32
    with session_scope(engine) as session:
        ach = AchievementRow(issuer_id=1, uri="https://uni.example/a", name="A", data="{}")
        session.add(ach)
        session.flush()
        row = session.exec(select(Batch).where(Batch.root == good.root)).one()
        row.count = 4  # the database says 4, the chain says 3
        session.add(
            Batch(
                issuer_id=1,
                state=BatchState.CONFIRMED,
                root=ghost_root,
                count=2,
                metadata_hash="0x" + "00" * 32,
                chain_id=world.client.reads.chain_id(),
                registry_address=world.client.registry_address,
            )
        )
        cred = CredentialRow(
            id=uuid.uuid4().hex,
            issuer_id=1,
            achievement_id=ach.id or 0,
            batch_id=row.id,
            seq=1,
            credential_uri=f"urn:uuid:{uuid.uuid4()}",
            doc="{}",
            digest=digest,
        )
        session.add(cred)
        session.flush()
        session.add(Revocation(issuer_id=1, credential_id=cred.id, reason=1, state=RevocationState.DONE))
    engine.dispose()
    # and a revocation on chain that the database never heard of
    other_digest = json.loads(good.files[1].read_text())["proof"][-1]["credentialDigest"]
    world.client.writes.revoke_credentials(world.issuer_key, [other_digest], 2)

    report = world.audit()

    assert codes(report) == [
        "chain-revocation-unknown-to-db",
        "db-batch-count-mismatch",
        "db-batch-not-on-chain",
        "db-revocation-not-on-chain",
    ]
    by_code = {f.code: f for f in report.findings}
    assert by_code["db-batch-not-on-chain"].root == ghost_root
    assert by_code["db-batch-count-mismatch"].details == {"db_count": 4, "chain_count": 3}
    assert by_code["db-revocation-not-on-chain"].details["digest"] == digest
    assert by_code["chain-revocation-unknown-to-db"].severity == "warning"


# -- resume, outputs, CLI ---------------------------------------------------------------------------


def test_second_run_resumes_and_sees_only_new_events(world: World) -> None:
    world.record(world.issue(2))
    first = world.audit()
    assert not first.resumed and first.new_events == first.events
    later = world.issue(2)
    world.record(later)

    second = world.audit()

    assert second.resumed
    assert second.new_events == 1
    assert second.events == first.events + 1
    assert second.findings == []


def test_cli_reports_in_every_format_and_exits_by_severity(world: World, tmp_path: Path) -> None:
    world.record(world.issue(3))
    env = {"REGISTRY_HOME": str(world.settings.home)}
    base = [
        "audit",
        "--rpc",
        world.client.rpc_url,
        "--db",
        world.db_url,
        "--sources",
        str(PROJECT),
        "--cache",
        f"sqlite:///{tmp_path / 'cli-audit.sqlite'}",
    ]
    runner = CliRunner()

    clean = runner.invoke(app, [*base, "--format", "json"], env=env)
    assert clean.exit_code == 0, clean.output
    data = json.loads(clean.stdout)
    assert data["registry"] == world.client.registry_address
    assert data["from_block"] == world.deploy_block  # default from the deployments file
    assert data["findings"] == []

    world.issue(2)  # a rogue root
    html_out = tmp_path / "report.html"
    dirty = runner.invoke(app, [*base, "--format", "html", "--out", str(html_out)], env=env)
    assert dirty.exit_code == 1
    html = html_out.read_text()
    assert "rogue-root" in html and "<svg" in html
    assert "<script" not in html and 'src="http' not in html and "<link" not in html  # readable offline
    csv_run = runner.invoke(app, [*base, "--format", "csv"], env=env)
    assert csv_run.exit_code == 1
    assert csv_run.stdout.splitlines()[0].startswith("severity,code,check")
    assert ",rogue-root," in csv_run.stdout

    table = runner.invoke(app, [*base, "--issuer", "did:web:uni.example"], env=env)
    assert table.exit_code == 1
    assert "rogue-root" in table.stdout

    bad = runner.invoke(app, [*base, "--format", "pdf"], env=env)
    assert bad.exit_code == 3
    assert "unknown --format" in bad.stderr
    unknown = runner.invoke(app, [*base, "--issuer", "did:web:nobody.example"], env=env)
    assert unknown.exit_code == 3
    assert "not found" in unknown.stderr


def test_html_and_csv_renderers_cover_revocations(world: World) -> None:
    batch = world.issue(3)
    world.record(batch)
    world.client.writes.revoke_batch(world.issuer_key, batch.root, 1)
    report = world.audit(db=False)
    html = render_html(report)
    assert html.count("<svg") == 2  # anchoring chart and revocation chart
    assert "batch revoked" in html
    assert render_csv(report).splitlines() == ["severity,code,check,issuer_id,issuer,root,tx,block,at,title,message"]


def test_deployment_record_supplies_defaults(world: World) -> None:
    from registry.cli.audit import resolve_target

    client, start = resolve_target(world.settings, world.client.rpc_url, None, None)
    assert client.registry_address == load_deployment(world.settings, 31337)["address"]
    assert start == world.deploy_block
