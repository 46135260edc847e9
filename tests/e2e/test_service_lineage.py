"""Corrections and renewals (issue 14) through the service, against a real anvil and a real
database (SQLite and PostgreSQL): a reissue or renewal (API and CLI) queues the new credential,
the worker anchors its batch and only then sends ``supersedeCredential`` through the
recorded-transaction pipeline; the old file verifies INVALID (superseded), the new one VALID
(its ``lineage`` check passes), ``credential.superseded`` reaches a real webhook receiver, bad
requests are refused and change nothing, and a crash at any supersession step resends the
recorded transaction, never a second one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, col, select
from typer.testing import CliRunner

from registry.chain.adapter import Chain
from registry.cli.app import app as cli
from registry.config import Settings
from registry.errors import Conflict
from registry.service.audit_records import ServiceDatabase
from registry.service.issuance import credential_file
from registry.service.lineage import _supersede
from registry.service.runtime import create_app
from registry.service.store import (
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Event,
    Issuer,
    RevocationState,
    Supersession,
    TxState,
    WebhookDelivery,
)
from registry.service.webhooks import deliver_due
from registry.service.worker import Worker, WorkerCrash, run_until_idle
from registry.service.worker.faults import SUPERSESSION_FAULT_POINTS
from registry.verify import CheckStatus, Report, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.chain_fixtures import anvil_rpc as rpc
from tests.reliability_revocations import check_revocations, key_transactions
from tests.service_support import Database, add_issuer, service_settings
from tests.waits import wait_until
from tests.webhook_support import Receiver


def year(ahead: int) -> int:
    """The year ``ahead`` years from the test clock's now (fixtures never expire by themselves)."""
    return datetime.now(UTC).year + ahead


pytestmark = pytest.mark.e2e


class Service:
    """The REST API on a real database and chain, with the worker run on demand."""

    def __init__(self, http: TestClient, settings: Settings, db: Database, registry: Registry) -> None:
        self.http = http
        self.settings = settings
        self.db = db
        self.registry = registry
        self.start = registry.client.reads.head() + 1
        with Session(db.engine) as session:
            issuer, self.key, self.ach = add_issuer(session, registry, 1)
            _, self.key2, _ = add_issuer(session, registry, 2)
            assert issuer.id is not None
            self.issuer_id = issuer.id

    def h(self, which: int = 1) -> dict[str, str]:
        return {"X-API-Key": self.key if which == 1 else self.key2}

    def worker(self, **kw: Any) -> Worker:
        return Worker(self.settings, self.db.engine, self.registry.client, **kw)

    def run(self, worker: Worker | None = None) -> None:
        """Seal what is queued and run the worker until nothing is open (mining as it goes)."""
        self.http.post("/v1/batches/seal", headers=self.h())
        run_until_idle(worker or self.worker(), timeout=120, mine=lambda: rpc(self.registry, "evm_mine"))

    def issue(self, n: int) -> list[str]:
        body = {
            "credentials": [
                {"achievement_id": self.ach, "recipient_email": f"l{i}@example.org", "recipient_name": f"Learner {i}"}
                for i in range(n)
            ]
        }
        r = self.http.post("/v1/credentials/bulk", json=body, headers=self.h())
        assert r.status_code == 201, r.text
        return list(r.json()["ids"])

    def file(self, credential_id: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/credentials/{credential_id}/file", headers=self.h())
        assert r.status_code == 200, r.text
        return dict(r.json())

    def verify(self, file: dict[str, Any]) -> Report:
        policy = VerificationPolicy(trusted=self.registry.trust)
        return Verifier(policy, rpc_url=self.registry.rpc_url).verify(file)

    def supersession(self, sup_id: int) -> Supersession:
        with Session(self.db.engine) as session:
            sup = session.get(Supersession, sup_id)
            assert sup is not None
            return sup

    def sent(self) -> list[Any]:
        """The key's supersedeCredential transactions mined since the service started."""
        txs = key_transactions(self.registry.client, self.registry.issuer_key.address, self.start)
        return [t for t in txs if t.function == "supersedeCredential"]


@pytest.fixture
def service(db: Database, registry: Registry) -> Iterator[Service]:
    settings = service_settings(registry, db)
    with TestClient(create_app(settings, engine=db.engine)) as http:
        yield Service(http, settings, db, registry)


def released(service: Service, n: int) -> list[str]:
    ids = service.issue(n)
    service.run()
    return ids


def table_counts(db: Database) -> dict[str, int]:
    """Rows of every table: a refused request must leave them all as they were."""
    with db.engine.connect() as conn:
        return {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for name, table in SQLModel.metadata.tables.items()
        }


def assert_superseded(report: Report, new_uri: str, kind: str) -> None:
    check = report.check("revocation")
    assert report.verdict is Verdict.INVALID and check.status is CheckStatus.FAIL, report.summary
    assert f"superseded by {new_uri}" in check.reason and check.reason.endswith(kind), check.reason


def assert_replaces(report: Report, old_uri: str, kind: str) -> None:
    assert report.verdict is Verdict.VALID, report.summary
    check = report.check("lineage")
    assert check.status is CheckStatus.PASS and f"replaces {old_uri} ({kind}" in check.reason, check.reason


def test_a_correction_through_the_api_is_anchored_then_superseded_on_chain(service: Service) -> None:
    """Reissue -> the new credential is queued with the claim, anchored, and only after its batch
    is confirmed the worker sends ``supersedeCredential`` (recorded first); then the old file is
    INVALID (superseded), the new VALID, the lineage is in the API and the receiver gets
    ``credential.superseded``."""
    http = service.http
    old_id, other_id = released(service, 2)
    old_file = service.file(old_id)
    with Receiver() as receiver:
        hook = http.post(
            "/v1/webhooks", json={"url": receiver.url, "events": ["credential.superseded"]}, headers=service.h()
        )
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]
        r = http.post(
            f"/v1/credentials/{old_id}/reissue",
            json={"set": {"/credentialSubject/name": "Learner Zero Corrected"}, "note": "typo in the name"},
            headers=service.h(),
        )
        assert r.status_code == 202, r.text
        body = r.json()
        new_id, sup = body["id"], body["supersession"]
        assert body["credential"]["state"] == "queued" and body["credential"]["supersedes"] == old_id
        assert sup["state"] == "pending" and sup["kind"] == "correction" and sup["credential_id"] == old_id
        assert http.get(f"/v1/credentials/{old_id}", headers=service.h()).json()["superseded_by"] == new_id
        early = http.get(f"/v1/credentials/{new_id}/file", headers=service.h())
        assert early.status_code == 409 and early.json()["error"]["code"] == "not_released"

        service.run()  # the new batch first; the supersession once it is confirmed (event order below)

        done = service.supersession(sup["id"])
        assert done.state == RevocationState.DONE and done.tx_hash is not None
        with Session(service.db.engine) as session:
            [tx] = session.exec(select(AnchorTx).where(AnchorTx.supersession_id == done.id)).all()
            old_row, new_row = session.get(CredentialRow, old_id), session.get(CredentialRow, new_id)
            assert old_row is not None and new_row is not None
            assert (old_row.state, new_row.state) == (CredentialState.REVOKED, CredentialState.RELEASED)
            kinds = [e.kind for e in session.exec(select(Event).order_by(col(Event.id)))]
        assert tx.tx_hash == done.tx_hash and tx.state == TxState.CONFIRMED
        assert [(t.tx_hash, t.status, t.subject) for t in service.sent()] == [(done.tx_hash, 1, old_row.digest)]
        assert (
            kinds.index("supersession.signed")
            < kinds.index("supersession.broadcast")
            < kinds.index("supersession.done")
        )
        assert kinds.index("batch.confirmed") < kinds.index("supersession.signed")

        new_file = service.file(new_id)
        assert new_file["credentialSubject"]["name"] == "Learner Zero Corrected"
        assert new_file["proof"][-1]["supersedes"] == {
            "id": old_row.credential_uri,
            "credentialDigest": old_row.digest,
            "kind": "correction",
        }
        assert_superseded(service.verify(old_file), new_row.credential_uri, "correction")
        assert_replaces(service.verify(new_file), old_row.credential_uri, "correction")
        assert service.verify(service.file(other_id)).verdict is Verdict.VALID
        # The auditor's reconciliation reads it as the contract records it: a revocation, reason 2.
        recorded = ServiceDatabase(engine=service.db.engine).revocations()
        assert [(r.digest, r.reason, r.tx_hash) for r in recorded] == [(old_row.digest, 2, done.tx_hash)]
        listed = {c["id"]: c for c in http.get("/v1/credentials", headers=service.h()).json()}
        assert listed[old_id]["superseded_by"] == new_id and listed[new_id]["supersedes"] == old_id
        assert listed[other_id]["supersedes"] is None and listed[other_id]["superseded_by"] is None
        http.post("/dashboard/login", data={"api_key": service.key})
        dashboard = http.get("/dashboard").text
        assert f"replaced by {new_id}" in dashboard and f"replaces {old_id}" in dashboard

        wait_until(lambda: deliver_due(service.db.engine) == 0 and bool(receiver.accepted), what="the webhook")
        [event_id] = receiver.accepted
        assert receiver.bad_signatures == 0
        payload = receiver.bodies[event_id]
        assert payload["type"] == "credential.superseded"
        assert payload["data"] == {
            "credential_id": old_id,
            "credential_uri": old_row.credential_uri,
            "new_credential_id": new_id,
            "new_credential_uri": new_row.credential_uri,
            "kind": "correction",
            "tx": done.tx_hash,
        }
    assert (
        check_revocations(
            service.db.engine,
            service.registry.client,
            set(),
            service.registry.issuer_key.address,
            final=True,
            from_block=service.start,
        )
        == []
    )


def test_a_renewal_through_the_api_gets_the_new_validity(service: Service) -> None:
    [old_id] = released(service, 1)
    old_file = service.file(old_id)
    until = f"{year(5)}-06-30"
    r = service.http.post(
        f"/v1/credentials/{old_id}/renew",
        json={"validFrom": "2026-01-01T00:00:00Z", "validUntil": until},
        headers=service.h(),
    )
    assert r.status_code == 202, r.text
    new_id = r.json()["id"]
    assert r.json()["supersession"]["kind"] == "renewal"
    service.run()
    new_file = service.file(new_id)
    assert (new_file["validFrom"], new_file["validUntil"]) == ("2026-01-01T00:00:00Z", f"{until}T00:00:00Z")
    assert new_file["credentialSubject"] == old_file["credentialSubject"]
    assert_superseded(service.verify(old_file), new_file["id"], "renewal")
    assert_replaces(service.verify(new_file), old_file["id"], "renewal")


def test_bad_requests_are_refused_and_change_nothing(service: Service) -> None:
    """Every refusal names the problem and leaves every table as it was."""
    http = service.http
    old_id, revoked_id = released(service, 2)
    [queued_id] = service.issue(1)
    assert http.post(f"/v1/credentials/{revoked_id}/revoke", json={"reason": 1}, headers=service.h()).status_code == 202
    service.run()  # (also anchors the queued one: queue another)
    [queued_id] = service.issue(1)
    before = table_counts(service.db)

    def refused(path: str, body: Any, status: int, code: str, text: str = "", which: int = 1) -> None:
        r = http.post(path, json=body, headers=service.h(which))
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code and text in r.json()["error"]["message"], r.text

    reissue = f"/v1/credentials/{old_id}/reissue"
    for pointer in ("/id", "/issuer", "/issuer/name", "/proof", "/@context/0", "/type"):
        refused(reissue, {"set": {pointer: "x"}}, 422, "invalid_input", "cannot be changed by a correction")
    refused(reissue, {"set": {"": "x"}}, 422, "invalid_input", "whole credential")
    refused(reissue, {"set": {"credentialSubject": "x"}}, 422, "invalid_input")
    refused(reissue, {"set": {"/credentialSubject/nothing/name": "x"}}, 422, "invalid_input", "no such field")
    refused(reissue, {"set": {"/validFrom": "yesterday"}}, 422, "invalid_input", "would not be valid")
    refused(reissue, {"set": {"/validUntil": "2020-01-01T00:00:00Z"}}, 422, "invalid_input", "later than validFrom")
    refused(reissue, {"set": {"/credentialSubject/undefinedTerm": "x"}}, 422, "invalid_input", "do not define")
    refused(reissue, {"set": {"/credentialSubject/name": "Learner 0"}}, 422, "invalid_input", "changes nothing")
    refused(reissue, {"set": {}}, 422, "invalid_request")
    refused(reissue, {"set": {"/name": "x"}, "reason": "renewal"}, 422, "invalid_request")
    refused(reissue, {"set": {"/name": "x"}}, 404, "not_found", which=2)  # another issuer's credential
    refused("/v1/credentials/nope/reissue", {"set": {"/name": "x"}}, 404, "not_found")
    refused(f"/v1/credentials/{queued_id}/reissue", {"set": {"/name": "x"}}, 409, "not_released")
    refused(f"/v1/credentials/{revoked_id}/reissue", {"set": {"/name": "x"}}, 409, "already_revoked")
    renew = f"/v1/credentials/{old_id}/renew"
    backwards = {"validUntil": f"{year(4)}-01-01", "validFrom": f"{year(5)}-01-01"}
    refused(renew, backwards, 422, "invalid_input", "later than")
    refused(renew, {"validUntil": "2001-01-01"}, 422, "invalid_input", "in the future")
    refused(renew, {"validUntil": "soon"}, 422, "invalid_request")
    refused(renew, {}, 422, "invalid_request")
    assert table_counts(service.db) == before

    # Once replaced, a credential is not replaced a second time (nor revoked while it happens).
    ok = http.post(reissue, json={"set": {"/credentialSubject/name": "Fixed"}}, headers=service.h())
    assert ok.status_code == 202, ok.text
    after = table_counts(service.db)
    refused(reissue, {"set": {"/credentialSubject/name": "Again"}}, 409, "already_superseded", ok.json()["id"])
    refused(renew, {"validUntil": f"{year(5)}-01-01"}, 409, "already_superseded")
    refused(f"/v1/credentials/{old_id}/revoke", {"reason": 1}, 409, "being_superseded")
    refused(f"/v1/credentials/{ok.json()['id']}/revoke", {"reason": 1}, 409, "being_superseded")
    assert table_counts(service.db) == after


def test_a_racing_second_replacement_is_refused_by_the_database(service: Service) -> None:
    """Two reissues of one credential that both passed the "already replaced?" check (a race):
    the database's partial unique index keeps one live supersession, the loser gets a clear 409
    and stores nothing; once the first one failed, the credential can be replaced again."""
    [old_id] = released(service, 1)
    ok = service.http.post(
        f"/v1/credentials/{old_id}/reissue", json={"set": {"/credentialSubject/name": "Fixed"}}, headers=service.h()
    )
    assert ok.status_code == 202, ok.text
    before = table_counts(service.db)

    def racing_reissue() -> str:
        """The loser's write, after its check ran before the winner's commit."""
        with Session(service.db.engine) as session:
            issuer = session.get(Issuer, service.issuer_id)
            old = session.get(CredentialRow, old_id)
            assert issuer is not None and old is not None
            doc = json.loads(old.doc)
            doc["credentialSubject"]["name"] = "Fixed too"
            try:
                sup = _supersede(session, issuer, old, doc, "correction", "")
                session.commit()
                return sup.old_credential_id
            finally:
                session.rollback()

    with pytest.raises(Conflict, match="concurrent request") as refused:
        racing_reissue()
    assert refused.value.code == "already_superseded"
    assert table_counts(service.db) == before
    with Session(service.db.engine) as session:  # the first one fails: a new one may be queued
        session.execute(
            sa.update(Supersession)
            .where(col(Supersession.id) == ok.json()["supersession"]["id"])
            .values(state="failed")
        )
        session.commit()
    assert racing_reissue() == old_id


def test_reissue_and_renew_from_the_cli(service: Service, tmp_path: Path) -> None:
    """``registry reissue FILE --set ...`` and ``registry renew FILE --valid-until ...`` on the
    service database; refusals exit with the error's code and change nothing."""
    first, second = released(service, 2)
    files = {cid: tmp_path / f"{cid}.json" for cid in (first, second)}
    for cid, path in files.items():
        path.write_text(json.dumps(service.file(cid)))
    env = {
        "REGISTRY_HOME": str(service.registry.settings.home),
        "REGISTRY_RPC_URL": service.registry.rpc_url,
        **service.db.settings_env(),
    }
    runner = CliRunner()
    before = table_counts(service.db)
    r = runner.invoke(cli, ["reissue", str(files[first]), "--set", "/id=urn:x"], env=env)
    assert r.exit_code == 3 and "cannot be changed by a correction" in r.output, r.output
    r = runner.invoke(cli, ["reissue", str(files[first]), "--set", "credentialSubject/name=x"], env=env)
    assert r.exit_code == 3 and "expected POINTER=VALUE" in r.output, r.output
    r = runner.invoke(cli, ["reissue", str(files[first]), "--set", "/name=x", "--reason", "renewal"], env=env)
    assert r.exit_code == 3 and "registry renew" in r.output, r.output
    r = runner.invoke(cli, ["renew", str(files[second]), "--valid-until", "31/12/2030"], env=env)
    assert r.exit_code == 2 and "--valid-until" in r.output, r.output  # a usage error (Click)
    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps({**service.file(first), "id": "urn:uuid:00000000-0000-4000-8000-000000000000"}))
    r = runner.invoke(cli, ["renew", str(stranger), "--valid-until", f"{year(5)}-12-31"], env=env)
    assert r.exit_code == 3 and "not found" in r.output.lower(), r.output
    assert table_counts(service.db) == before

    r = runner.invoke(
        cli,
        ["reissue", str(files[first]), "--set", '/credentialSubject/name="Ana García"', "--note", "ticket 7"],
        env=env,
    )
    assert r.exit_code == 0 and f"replaces {first}" in r.output, r.output
    r = runner.invoke(cli, ["renew", str(files[second]), "--valid-until", f"{year(5)}-12-31"], env=env)
    assert r.exit_code == 0 and f"replaces {second}" in r.output and r.output.startswith("renewal"), r.output
    r = runner.invoke(cli, ["renew", str(files[first]), "--valid-until", f"{year(5)}-12-31"], env=env)
    assert r.exit_code == 5 and "already replaced" in r.output, r.output
    service.run()
    with Session(service.db.engine) as session:
        sups = {s.old_credential_id: s for s in session.exec(select(Supersession))}
        new = {
            old: credential_file(session, session.get(CredentialRow, s.new_credential_id)) for old, s in sups.items()
        }  # type: ignore[arg-type]
    assert {s.state for s in sups.values()} == {RevocationState.DONE} and sups[first].note == "ticket 7"
    assert new[first]["credentialSubject"]["name"] == "Ana García"
    assert new[second]["validUntil"] == f"{year(5)}-12-31T00:00:00Z"
    old = {cid: json.loads(path.read_text()) for cid, path in files.items()}
    assert_superseded(service.verify(old[first]), new[first]["id"], "correction")
    assert_superseded(service.verify(old[second]), new[second]["id"], "renewal")
    assert_replaces(service.verify(new[first]), old[first]["id"], "correction")
    assert_replaces(service.verify(new[second]), old[second]["id"], "renewal")


@pytest.mark.parametrize("step", SUPERSESSION_FAULT_POINTS)
def test_a_crash_at_any_supersession_step_resends_the_recorded_transaction(service: Service, step: str) -> None:
    """Killed at each step (recorded, sent but not marked sent, marked sent, mined, done): a new
    process finishes it with the transaction recorded before the crash, never a second one."""
    [old_id] = released(service, 1)
    r = service.http.post(
        f"/v1/credentials/{old_id}/reissue", json={"set": {"/credentialSubject/name": "New"}}, headers=service.h()
    )
    sup_id = r.json()["supersession"]["id"]

    def crash(at: str) -> None:
        if at == step:
            raise WorkerCrash(at)

    with pytest.raises(WorkerCrash, match=f"simulated crash at {step}"):
        service.run(service.worker(fault=crash))
    with Session(service.db.engine) as session:
        [recorded] = session.exec(select(AnchorTx).where(AnchorTx.supersession_id == sup_id)).all()
    engine = service.db.new_engine()
    client = Chain(service.registry.rpc_url, service.registry.client.registry_address)
    run_until_idle(Worker(service.settings, engine, client), timeout=60, mine=lambda: rpc(service.registry, "evm_mine"))
    engine.dispose()
    done = service.supersession(sup_id)
    assert done.state == RevocationState.DONE and done.tx_hash == recorded.tx_hash
    assert [(t.tx_hash, t.status) for t in service.sent()] == [(recorded.tx_hash, 1)], "superseded twice"
    with Session(service.db.engine) as session:
        kinds = [e.kind for e in session.exec(select(Event))]
        deliveries = [d.event for d in session.exec(select(WebhookDelivery))]
    assert kinds.count("supersession.signed") == 1 and kinds.count("supersession.done") == 1
    assert deliveries.count("credential.superseded") == 0  # no endpoint subscribed: nothing queued
    assert (
        check_revocations(
            service.db.engine,
            service.registry.client,
            set(),
            service.registry.issuer_key.address,
            final=True,
            from_block=service.start,
        )
        == []
    )
    assert service.verify(service.file(done.new_credential_id)).verdict is Verdict.VALID


def test_a_supersession_already_on_chain_is_adopted_and_a_refused_one_fails_cleanly(service: Service) -> None:
    """Sent with the issuer's key outside the service: the pre-flight's CredentialAlreadyRevoked
    and the chain's record of this very supersession make it done, no transaction sent. Revoked
    outside the service instead: the request fails with the reason and the new credential is
    released as a plain one (no claim in its file), VALID."""
    adopted_id, refused_id = released(service, 2)
    ids = {}
    for cid in (adopted_id, refused_id):
        r = service.http.post(
            f"/v1/credentials/{cid}/reissue", json={"set": {"/credentialSubject/name": f"N {cid}"}}, headers=service.h()
        )
        ids[cid] = (r.json()["id"], r.json()["supersession"]["id"])

    def stop(at: str) -> None:  # the new batch is confirmed; nothing sent for the supersessions yet
        if at == "confirmed":
            raise WorkerCrash(at)

    with pytest.raises(WorkerCrash):
        service.run(service.worker(fault=stop))
    with Session(service.db.engine) as session:
        old = session.get(CredentialRow, adopted_id)
        new = session.get(CredentialRow, ids[adopted_id][0])
        gone = session.get(CredentialRow, refused_id)
        assert old is not None and new is not None and gone is not None and new.state == CredentialState.BATCHED
        batch = session.get(Batch, new.batch_id)
        assert batch is not None and batch.state == BatchState.CONFIRMED
    writes = service.registry.client.writes
    assert old.digest and new.digest and new.merkle_path and gone.digest
    path = json.loads(new.merkle_path)
    writes.supersede_credential(
        service.registry.issuer_key, old.digest, batch.root, new.digest, path, 1, new.credential_uri
    )
    writes.revoke_credentials(service.registry.issuer_key, [gone.digest], 1)
    outside = len(service.sent())
    service.run()
    assert len(service.sent()) == outside, "sent a second supersession"
    adopted, failed = service.supersession(ids[adopted_id][1]), service.supersession(ids[refused_id][1])
    assert adopted.state == RevocationState.DONE and "adopted" in (adopted.last_error or "")
    assert failed.state == RevocationState.FAILED and "CredentialAlreadyRevoked" in (failed.last_error or "")
    plain = service.file(ids[refused_id][0])
    assert "supersedes" not in plain["proof"][-1]
    report = service.verify(plain)
    assert report.verdict is Verdict.VALID and "lineage" not in [c.name for c in report.checks]
    assert_replaces(service.verify(service.file(ids[adopted_id][0])), old.credential_uri, "correction")
