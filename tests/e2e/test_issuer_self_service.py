"""The issuer's own profile through the API, on a real anvil and database: its LinkedIn
organisation id (named by share pages' add-to-profile links), and a failed signing-key
registration tried again on request (`POST /v1/issuer/key-changes/retry`, `registry issuer
retry-key-change`), after which the batches that waited are anchored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from registry.chain import calls
from registry.chain.devkeys import dev_account
from registry.cli.app import app
from registry.service.auth import create_api_key
from registry.service.issuance import credential_file
from registry.service.runtime import create_app
from registry.service.store import BatchState, CredentialRow, Event, Issuer, KeyChange, RevocationState
from registry.service.worker import run_until_idle
from tests.chain_fixtures import Registry
from tests.chain_fixtures import anvil_rpc as rpc
from tests.di_support import verify_with_digital_bazaar
from tests.e2e.test_key_change_pipeline import all_valid, batch_of, key_current, sealed
from tests.service_support import Database, add_issuer, service_settings

pytestmark = pytest.mark.e2e


def events(db: Database, kind: str) -> list[Event]:
    with Session(db.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))))


def test_the_linkedin_organisation_id_is_set_checked_and_cleared_through_the_api(
    db: Database, registry: Registry
) -> None:
    settings = service_settings(registry, db)
    with Session(db.engine) as session:
        issuer, token, _ = add_issuer(session, registry)
        issuer_id = issuer.id
    headers = {"X-API-Key": token}
    with TestClient(create_app(settings, engine=db.engine)) as http:
        me = http.get("/v1/issuer", headers=headers).json()
        assert (me["id"], me["linkedin_organization_id"], me["key_changes"]) == (issuer_id, None, [])
        assert me["anchoring_key"] == registry.issuer_key.address

        for bad in ("acme", "12 34", "1" * 33, ""):
            r = http.patch("/v1/issuer", json={"linkedin_organization_id": bad}, headers=headers)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["field"] == "linkedin_organization_id" and "digits only" in r.text
        r = http.patch("/v1/issuer", json={"name": "Another name"}, headers=headers)
        assert r.status_code == 422, r.text  # not a field an issuer may change here
        assert http.get("/v1/issuer", headers=headers).json()["linkedin_organization_id"] is None

        r = http.patch("/v1/issuer", json={"linkedin_organization_id": "90210"}, headers=headers)
        assert r.status_code == 200 and r.json()["linkedin_organization_id"] == "90210", r.text
        assert http.patch("/v1/issuer", json={}, headers=headers).json()["linkedin_organization_id"] == "90210"
        with Session(db.engine) as session:
            row = session.get(Issuer, issuer_id)
            assert row is not None and row.linkedin_organization_id == "90210"
        r = http.patch("/v1/issuer", json={"linkedin_organization_id": None}, headers=headers)
        assert r.status_code == 200 and r.json()["linkedin_organization_id"] is None
    changed = events(db, "issuer.updated")
    assert len(changed) == 2 and '"linkedin_organization_id": "90210"' in changed[0].data


def test_a_failed_key_change_is_tried_again_on_request_and_the_waiting_batch_follows(
    db: Database, registry: Registry, snapshot: None
) -> None:
    """Issuer suspended: its ``setSigningKey`` is refused, the key change fails and the batch
    waits. Reinstated, the issuer asks for a new try: one key change done, the batch anchored."""
    registry.client.writes.transact(registry.accreditor, calls.suspend_issuer(registry.issuer_id))
    worker, batch_id, ids = sealed(db, registry, 2)
    result = worker.run_once()
    with Session(db.engine) as session:
        [failed] = session.exec(select(KeyChange)).all()
        token_issuer = session.exec(select(Issuer)).one()
    assert failed.state == RevocationState.FAILED and "SuspendedIssuer" in (failed.last_error or "")
    assert any("could not be registered" in e for e in worker.run_once().errors), result.errors
    assert batch_of(db, batch_id).state == BatchState.PENDING and not key_current(registry)

    settings = service_settings(registry, db)
    runner = CliRunner()
    env = {"REGISTRY_HOME": str(settings.home), **db.settings_env()}
    with Session(db.engine) as session:
        _, token = create_api_key(session, int(token_issuer.id or 0), "retry")
        session.commit()
    headers = {"X-API-Key": token}
    registry.client.writes.transact(registry.accreditor, calls.reinstate_issuer(registry.issuer_id))
    with TestClient(create_app(settings, engine=db.engine)) as http:
        me = http.get("/v1/issuer", headers=headers).json()
        assert [(k["id"], k["state"]) for k in me["key_changes"]] == [(failed.id, "failed")]
        assert "SuspendedIssuer" in me["key_changes"][0]["error"]
        r = http.post("/v1/issuer/key-changes/retry", headers=headers)
        assert r.status_code == 202, r.text
        retry = r.json()
        assert retry["state"] == "pending" and retry["public_key"] == failed.public_key and retry["id"] != failed.id
        again = http.post("/v1/issuer/key-changes/retry", headers=headers)
        assert again.status_code == 409 and again.json()["error"]["code"] == "key_change_open", again.text
        busy = runner.invoke(app, ["issuer", "retry-key-change", str(token_issuer.id)], env=env)
        assert busy.exit_code == 5 and "the worker is sending it" in busy.output, busy.output

        run_until_idle(worker, timeout=120, mine=lambda: rpc(registry, "evm_mine"))
        assert batch_of(db, batch_id).state == BatchState.CONFIRMED and key_current(registry)
        assert all_valid(db, registry, ids)
        me = http.get("/v1/issuer", headers=headers).json()
        assert [(k["id"], k["state"]) for k in me["key_changes"]] == [(retry["id"], "done"), (failed.id, "failed")]
        done = http.post("/v1/issuer/key-changes/retry", headers=headers)
        assert done.status_code == 409 and done.json()["error"]["code"] == "nothing_to_retry", done.text
    [queued_again] = [e for e in events(db, "key_change.queued") if "retry_of" in e.data]
    assert f'"retry_of": {failed.id}' in queued_again.data


def test_the_issuer_rotates_its_anchoring_key_and_keeps_issuing(
    db: Database, registry: Registry, snapshot: None, tmp_path: Path
) -> None:
    """`registry issuer rotate-key`: refused while the worker has the issuer's writes open; then
    ``rotateKey`` through the recorded pipeline, the service's key updated, and the next batch
    anchored by the new key after its signing key's registration. Old and new files are VALID."""
    worker, first, ids = sealed(db, registry, 2)
    run_until_idle(worker, timeout=120, mine=lambda: rpc(registry, "evm_mine"))
    _, second, more = sealed(db, registry, 2, again=True)
    settings = service_settings(registry, db)
    env = {"REGISTRY_HOME": str(settings.home), "REGISTRY_RPC_URL": registry.rpc_url, **db.settings_env()}
    runner = CliRunner()
    rotate = ["issuer", "rotate-key", "1", "--dev-key", "issuer-rotated"]
    busy = runner.invoke(app, rotate, env=env)
    assert busy.exit_code == 5 and "chain write(s) open" in busy.output, busy.output
    run_until_idle(worker, timeout=120, mine=lambda: rpc(registry, "evm_mine"))
    new_key = dev_account("issuer-rotated", 31337).address

    rotated = runner.invoke(app, rotate, env=env)
    assert rotated.exit_code == 0, rotated.output
    assert f"anchors with {new_key} from now on (tx 0x" in rotated.output
    assert registry.client.reads.issuers([registry.issuer_id])[registry.issuer_id].active_key.lower() == new_key.lower()
    with Session(db.engine) as session:
        issuer = session.exec(select(Issuer)).one()
        assert (issuer.key_address, issuer.key_source) == (new_key, "dev:issuer-rotated")
    assert len(events(db, "issuer.key_rotated")) == 1

    _, third, last = sealed(db, registry, 2, again=True)
    run_until_idle(worker, timeout=120, mine=lambda: rpc(registry, "evm_mine"))  # the same worker, its key reloaded
    for batch_id in (first, second, third):
        assert batch_of(db, batch_id).state == BatchState.CONFIRMED
    anchored_by = registry.client.rpc.call("eth_getTransactionByHash", [batch_of(db, third).anchor_tx])["from"]
    assert anchored_by.lower() == new_key.lower()
    with Session(db.engine) as session:
        changes = [(c.state, c.public_key) for c in session.exec(select(KeyChange).order_by(col(KeyChange.id)))]
    assert [state for state, _ in changes] == ["done", "done"] and changes[0][1] != changes[1][1]
    assert all_valid(db, registry, ids + more + last)  # files of batches the former key anchored too
    with TestClient(create_app(settings, engine=db.engine)) as http:
        did = http.get("/issuers/1/did.json").json()
    keys = [m["publicKeyMultibase"] for m in did["verificationMethod"] if m["type"] == "Multikey"]
    assert len(keys) == 2 and len(did["assertionMethod"]) == 2  # the current signing key, then the former
    # Digital Bazaar's verifier, given that DID document, verifies the files of both keys.
    with Session(db.engine) as session:
        files = {c: credential_file(session, session.get(CredentialRow, c)) for c in ids + more + last}  # type: ignore[arg-type]
    paths = []
    for cid, file in files.items():
        path = tmp_path / f"{cid}.json"
        path.write_text(json.dumps(file), "utf-8")
        paths.append(path)
    (tmp_path / "did.json").write_text(json.dumps(did), "utf-8")
    verdicts = verify_with_digital_bazaar(paths, [tmp_path / "did.json"])
    assert set(verdicts.values()) == {"VERIFIED"}, verdicts
    again = runner.invoke(app, rotate, env=env)
    assert again.exit_code == 0 and "(already)" in again.output, again.output
