"""Webhooks through a real receiver on loopback and a real database (SQLite and PostgreSQL): the
outbox is written with the change (never for a rolled-back one), deliveries are signed, retried
after a 500 and a timeout, replayable with the same event id, and survive a SIGKILLed sender."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.config import Settings
from registry.core.csvimport import IssueRequest
from registry.service.auth import create_api_key
from registry.service.issuance import create_achievement, create_issuer, issue
from registry.service.revocations import request_revocation
from registry.service.runtime import create_app
from registry.service.sealing import seal_due
from registry.service.store import Issuer, WebhookDelivery, WebhookState
from registry.service.webhooks import create_endpoint, deliver_due, sign, verify_signature
from registry.service.worker import Worker, run_until_idle
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.service_support import Database, add_issuer, service_settings
from tests.webhook_support import Receiver, SenderProcess

pytestmark = pytest.mark.e2e


def _issuer(db: Database) -> tuple[int, int, str]:
    with Session(db.engine) as session:
        issuer = create_issuer(
            session,
            name="Webhook University",
            did=f"did:web:hooks-{secrets.token_hex(4)}.example",
            key_source="dev:issuer",
            key_address="0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",  # the dev key "issuer"
        )
        assert issuer.id is not None
        _, token = create_api_key(session, issuer.id, "test")
        data = json.loads(ACHIEVEMENT.model_dump_json())
        data["id"] = f"https://example.org/achievements/{secrets.token_hex(4)}"
        ach = create_achievement(session, issuer, data)
        session.commit()
        assert ach.id is not None
        return issuer.id, ach.id, token


def _hook(db: Database, issuer_id: int, url: str, events: list[str]) -> str:
    with Session(db.engine) as session:
        row = create_endpoint(session, issuer_id, url, events)
        session.commit()
        return row.secret


def _issue(db: Database, issuer_id: int, ach: int, n: int, *, commit: bool = True) -> list[str]:
    with Session(db.engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        reqs = [IssueRequest(achievement_id=ach, recipient_email=f"l{i}@example.org") for i in range(n)]
        ids = [r.id for r in issue(session, issuer, reqs)]
        if commit:
            session.commit()
        else:
            session.rollback()
        return ids


def _deliveries(db: Database) -> list[WebhookDelivery]:
    with Session(db.engine) as session:
        return list(session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)))  # type: ignore[arg-type]


def _until(predicate: Callable[[], Any], timeout: float = 30.0, step: Callable[[], Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        if step is not None:
            step()
        time.sleep(0.02)


def test_signature_roundtrip_and_tampering() -> None:
    body = b'{"id":"evt_1"}'
    header = sign("whsec_x", body, int(time.time()))
    assert verify_signature("whsec_x", body, header)
    assert not verify_signature("whsec_y", body, header)
    assert not verify_signature("whsec_x", body + b" ", header)
    assert not verify_signature("whsec_x", body, sign("whsec_x", body, int(time.time()) - 3600))


def test_fails_times_out_recovers_each_event_once_and_replay(db: Database) -> None:
    issuer_id, ach, _ = _issuer(db)
    with Receiver() as receiver:
        receiver.secret = _hook(db, issuer_id, receiver.url, ["credential.issued", "credential.revoked"])
        receiver.script = ["fail", "hang", "fail"]
        ids = _issue(db, issuer_id, ach, 3)
        with Session(db.engine) as session:
            issuer = session.get(Issuer, issuer_id)
            assert issuer is not None
            request_revocation(session, issuer, ids[0], 1)  # never sealed: revoked at once
            session.commit()
        rows = _deliveries(db)
        assert sorted(r.event for r in rows) == ["credential.issued"] * 3 + ["credential.revoked"]

        def step() -> None:
            deliver_due(db.engine, timeout=0.5, backoff_base=0.05)

        _until(lambda: all(r.state == WebhookState.DELIVERED for r in _deliveries(db)), step=step)
        rows = _deliveries(db)
        assert receiver.bad_signatures == 0
        assert receiver.counts() == {r.event_id: 1 for r in rows}  # each event accepted exactly once
        assert sum(r.attempts for r in rows) == len(rows) + 3  # the 500s and the timeout were retried
        assert {receiver.bodies[r.event_id]["data"]["credential_id"] for r in rows} == set(ids)

        # Visible and replayable through the API, with the same event id.
        replayed = rows[1]
        app = create_app(_settings(db), engine=db.engine)
        with TestClient(app) as http:
            key = {"X-API-Key": _issuer_token(db, issuer_id)}
            listed = http.get("/v1/webhooks/deliveries", headers=key).json()
            assert {d["event_id"] for d in listed} == {r.event_id for r in rows}
            assert http.post(f"/v1/webhooks/deliveries/{replayed.id}/replay", headers=key).status_code == 202
            http.post("/dashboard/login", data={"api_key": key["X-API-Key"]})
            page = http.get("/dashboard").text
            assert "Webhook deliveries" in page and replayed.event_id in page
            bad = http.post(
                "/v1/webhooks", json={"url": "ftp://example.org/x", "events": ["batch.anchored"]}, headers=key
            )
            assert bad.status_code == 422 and "url" in bad.text
            unknown = http.post("/v1/webhooks", json={"url": receiver.url, "events": ["nope"]}, headers=key)
            assert unknown.status_code == 422
        _until(lambda: receiver.counts()[replayed.event_id] == 2, step=step)


def _issuer_token(db: Database, issuer_id: int) -> str:
    with Session(db.engine) as session:
        _, token = create_api_key(session, issuer_id, "api")
        session.commit()
        return token


def _settings(db: Database) -> Settings:
    return Settings(database_url=db.url, db_schema=db.schema, worker_in_process=False, public_url="http://testserver")


def test_rolled_back_change_is_never_delivered(db: Database) -> None:
    issuer_id, ach, _ = _issuer(db)
    with Receiver() as receiver:
        receiver.secret = _hook(db, issuer_id, receiver.url, ["credential.issued"])
        _issue(db, issuer_id, ach, 2, commit=False)
        assert _deliveries(db) == []
        assert deliver_due(db.engine) == 0
        kept = _issue(db, issuer_id, ach, 1)
        deliver_due(db.engine)
        assert [b["data"]["credential_id"] for b in receiver.bodies.values()] == kept


def test_sender_killed_between_send_and_commit_loses_nothing(db: Database) -> None:
    issuer_id, ach, _ = _issuer(db)
    with Receiver(default="slow", slow_seconds=1.0) as receiver:
        receiver.secret = _hook(db, issuer_id, receiver.url, ["credential.issued"])
        _issue(db, issuer_id, ach, 4)
        events = {r.event_id for r in _deliveries(db)}
        for _ in range(2):  # the sender is SIGKILLed while a request is in flight
            sender = SenderProcess(db.url, db.schema, lease=1.0).start()
            seen = len(receiver.arrived)
            _until(lambda: len(receiver.arrived) > seen)  # noqa: B023
            sender.kill()
        receiver.default = "ok"
        sender = SenderProcess(db.url, db.schema, lease=1.0).start()
        try:
            _until(lambda: all(r.state == WebhookState.DELIVERED for r in _deliveries(db)), timeout=60)
        finally:
            sender.kill()
        counts = receiver.counts()
        assert set(counts) == events  # nothing lost, nothing unknown
        assert set(receiver.arrived) == events  # a duplicate always carries the same event id
        assert receiver.bad_signatures == 0


def test_worker_delivers_batch_anchored_and_revoked_on_chain(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db)
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        assert issuer.id is not None
        issuer_id = issuer.id
    with Receiver() as receiver:
        receiver.secret = _hook(db, issuer_id, receiver.url, ["batch.anchored", "credential.revoked"])
        ids = _issue(db, issuer_id, ach, 2)
        assert seal_due(db.engine, settings, force=True)
        worker = Worker(settings, db.engine, registry.client)
        run_until_idle(worker)
        with Session(db.engine) as session:
            issuer = session.get(Issuer, issuer_id)
            assert issuer is not None
            request_revocation(session, issuer, ids[1], 1)
            session.commit()
        run_until_idle(worker)
        _until(lambda: len(receiver.counts()) == 2, step=worker.run_once)
        kinds = {b["type"]: b["data"] for b in receiver.bodies.values()}
        assert sorted(kinds["batch.anchored"]["credential_ids"]) == sorted(ids)
        assert kinds["credential.revoked"] == {**kinds["credential.revoked"], "credential_id": ids[1], "on_chain": True}
        assert receiver.bad_signatures == 0
