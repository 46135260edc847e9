"""The ``credential.expiring`` webhook against a real database (SQLite and PostgreSQL), anvil and
a real receiver on loopback: sent once per released, unrevoked credential whose ``validUntil``
enters the window (``REGISTRY_EXPIRING_DAYS``), signed like every event, and never again: not on
a second pass, not by a second worker, not after a crash between the claim and its commit; never
for a credential without ``validUntil``, already expired, revoked, in a revoked batch or with a
revocation requested.

The scans run on a fixed clock (time-machine, frozen) counted from a whole-second ``t0`` taken
before issuance, so the window's edges and ``days_left`` are exact.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.core.csvimport import IssueRequest
from registry.service.issuance import issue
from registry.service.revocations import request_batch_revocation, request_revocation
from registry.service.sealing import seal_due
from registry.service.store import CredentialRow, CredentialState, Issuer, WebhookDelivery, utcnow
from registry.service.webhooks import EVENTS, create_endpoint, deliver_due
from registry.service.worker import Worker, WorkerCrash, run_until_idle
from registry.service.worker.expiring import valid_until
from tests.chain_fixtures import Registry
from tests.service_support import Database, add_issuer, service_settings
from tests.webhook_support import Receiver

pytestmark = pytest.mark.e2e

DAY = timedelta(days=1)
EXPIRING = "credential.expiring"


def _hook(db: Database, issuer_id: int, receiver: Receiver, events: list[str]) -> None:
    with Session(db.engine) as session:
        receiver.secret = create_endpoint(session, issuer_id, receiver.url, events).secret
        session.commit()


def _issue(db: Database, issuer_id: int, ach: int, untils: list[datetime | None]) -> list[str]:
    with Session(db.engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        reqs = [
            IssueRequest(achievement_id=ach, recipient_email=f"l{i}@example.org", valid_until=until)
            for i, until in enumerate(untils)
        ]
        ids = [r.id for r in issue(session, issuer, reqs)]
        session.commit()
        return ids


def _release(db: Database, settings: Settings, worker: Worker) -> list[int]:
    batches = seal_due(db.engine, settings, force=True)
    assert batches
    run_until_idle(worker)
    return batches


def _credentials(db: Database) -> dict[str, CredentialRow]:
    with Session(db.engine) as session:
        return {r.id: r for r in session.exec(select(CredentialRow))}


def _deliveries(db: Database, event: str = EXPIRING) -> list[WebhookDelivery]:
    with Session(db.engine) as session:
        return list(
            session.exec(
                select(WebhookDelivery).where(WebhookDelivery.event == event).order_by(col(WebhookDelivery.id))
            )
        )


def _deliver_all(db: Database) -> None:
    while deliver_due(db.engine, timeout=5.0):
        pass


def _expiring(receiver: Receiver) -> dict[str, dict[str, Any]]:
    """credential id -> ``data`` of every credential.expiring the receiver accepted."""
    return {b["data"]["credential_id"]: b["data"] for b in receiver.bodies.values() if b["type"] == EXPIRING}


def _until(predicate: Callable[[], Any], step: Callable[[], Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        step()
        time.sleep(0.05)


def _quiet_worker(settings: Settings, db: Database, registry: Registry) -> Worker:
    """A worker that anchors and revokes but has not reached its first expiring scan."""
    worker = Worker(settings, db.engine, registry.client)
    worker.expiring.next_scan = math.inf
    return worker


def test_setting_and_event_name() -> None:
    assert EXPIRING in EVENTS
    assert Settings().expiring_days == 30
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGISTRY_EXPIRING_DAYS", "7")
        assert Settings().expiring_days == 7
    assert valid_until('{"validUntil":"2030-01-02T03:04:05Z"}') == (
        "2030-01-02T03:04:05Z",
        datetime.fromisoformat("2030-01-02T03:04:05+00:00"),
    )
    assert valid_until('{"validFrom":"2030-01-02T03:04:05Z"}') is None
    assert valid_until('{"validUntil":"soon"}') is None


def test_expiring_sent_once_to_subscribers_for_credentials_in_the_window(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db, expiring_days=30)
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        assert issuer.id is not None
        issuer_id = issuer.id
    t0 = utcnow().replace(microsecond=0)
    with Receiver() as hooks, Receiver() as other:
        _hook(db, issuer_id, hooks, [EXPIRING])
        _hook(db, issuer_id, other, ["batch.anchored"])  # not subscribed to the event
        setup = _quiet_worker(settings, db, registry)
        soon, edge, beyond, later, expired, forever, revoked = _issue(
            db,
            issuer_id,
            ach,
            [
                t0 + 10 * DAY,
                t0 + 31 * DAY,
                t0 + 31 * DAY + timedelta(seconds=1),
                t0 + 60 * DAY,
                t0 + DAY / 2,
                None,
                t0 + 10 * DAY,
            ],
        )
        _release(db, settings, setup)
        in_revoked_batch = _issue(db, issuer_id, ach, [t0 + 10 * DAY, t0 + 20 * DAY])
        [second_batch] = _release(db, settings, setup)
        with Session(db.engine) as session:
            row = session.get(Issuer, issuer_id)
            assert row is not None
            request_revocation(session, row, revoked, 1)
            request_batch_revocation(session, row, second_batch, 1)
            session.commit()
        gone = [revoked, *in_revoked_batch]
        _until(
            lambda: {_credentials(db)[c].state for c in gone} == {CredentialState.REVOKED},
            step=setup.run_once,
        )
        assert _deliveries(db) == []

        # Day 1: ``soon`` (9 days left) and ``edge`` (exactly 30) are in the window.
        with time_machine.travel(t0 + DAY, tick=False):
            worker = Worker(settings, db.engine, registry.client)
            run_until_idle(worker)
            _deliver_all(db)
            got = _expiring(hooks)
            assert set(got) == {soon, edge}
            rows = _credentials(db)
            assert got[soon] == {
                "credential_id": soon,
                "credential_uri": rows[soon].credential_uri,
                "achievement_id": ach,
                "valid_until": json.loads(rows[soon].doc)["validUntil"],
                "days_left": 9,
                "share_url": f"http://testserver/c/{soon}",
            }
            assert got[soon]["valid_until"] == (t0 + 10 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert got[edge]["days_left"] == 30
            assert {c for c, r in rows.items() if r.expiring_notified_at is not None} == {soon, edge}

            # Again, and from a second worker: nothing new.
            assert worker.expiring.scan() == 0
            run_until_idle(Worker(settings, db.engine, registry.client))
            _deliver_all(db)
            assert len(_deliveries(db)) == 2

        # Day 40: ``later`` (20 days left) entered the window; ``beyond`` expired before any scan
        # saw it inside, so it never gets the event.
        with time_machine.travel(t0 + 40 * DAY, tick=False):
            run_until_idle(Worker(settings, db.engine, registry.client))
            _deliver_all(db)
            got = _expiring(hooks)
            assert set(got) == {soon, edge, later}
            assert got[later]["days_left"] == 20

        never = {beyond, expired, forever, *gone}
        assert never.isdisjoint(_expiring(hooks))
        assert _expiring(other) == {}
        assert hooks.counts() == {d.event_id: 1 for d in _deliveries(db)}  # each event accepted once
        assert hooks.bad_signatures == 0 and other.bad_signatures == 0


def test_crash_before_commit_and_concurrent_workers_emit_once(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db, expiring_days=30)
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        assert issuer.id is not None
        issuer_id = issuer.id
    t0 = utcnow().replace(microsecond=0)
    ids = _issue(db, issuer_id, ach, [t0 + (5 + i) * DAY for i in range(6)])
    _release(db, settings, _quiet_worker(settings, db, registry))
    scan_at = t0 + DAY
    # No endpoint subscribed yet: nothing is claimed (the credentials keep their event).
    assert Worker(settings, db.engine, registry.client).expiring.scan(now=scan_at) == 0
    with Receiver() as hooks:
        _hook(db, issuer_id, hooks, [EXPIRING, "credential.revoked"])

        def crash(step: str) -> None:
            if step == "expiring_claimed":
                raise WorkerCrash(step)

        with time_machine.travel(scan_at, tick=False), pytest.raises(WorkerCrash, match="expiring_claimed"):
            run_until_idle(Worker(settings, db.engine, registry.client, fault=crash))
        db.engine.dispose()
        assert _deliveries(db) == []
        assert all(r.expiring_notified_at is None for r in _credentials(db).values())

        # A revocation requested (not yet on chain: no worker pass runs from here on) is enough.
        with Session(db.engine) as session:
            row = session.get(Issuer, issuer_id)
            assert row is not None
            request_revocation(session, row, ids[0], 1)
            session.commit()
        assert _credentials(db)[ids[0]].state == CredentialState.RELEASED
        notified = ids[1:]

        # Two workers of new processes (their own engines) scan at once.
        engines = [db.new_engine(), db.new_engine()]
        workers = [Worker(settings, engine, registry.client) for engine in engines]
        start = threading.Barrier(len(workers))
        claimed: list[int] = []

        def scan(worker: Worker) -> None:
            start.wait()
            claimed.append(worker.expiring.scan(now=scan_at))

        threads = [threading.Thread(target=scan, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sum(claimed) == len(notified)
        assert [w.expiring.scan(now=scan_at) for w in workers] == [0, 0]
        for engine in engines:
            engine.dispose()
        deliveries = _deliveries(db)
        assert sorted(json.loads(d.payload)["data"]["credential_id"] for d in deliveries) == sorted(notified)
        _deliver_all(db)
        assert set(_expiring(hooks)) == set(notified)
        assert hooks.counts() == {d.event_id: 1 for d in deliveries}
        assert hooks.bad_signatures == 0


def test_the_scan_pages_through_the_window_by_valid_until_and_id(
    db: Database, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan reads only the window, ``CHUNK`` rows at a time on (valid_until, id): many
    credentials sharing one validUntil across page boundaries are each claimed exactly once;
    those outside the window are never read as due."""
    import registry.service.worker.expiring as expiring

    monkeypatch.setattr(expiring, "CHUNK", 4)
    settings = service_settings(registry, db, expiring_days=30)
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        assert issuer.id is not None
        issuer_id = issuer.id
    t0 = utcnow().replace(microsecond=0)
    with Receiver() as hooks:
        _hook(db, issuer_id, hooks, [EXPIRING])
        worker = _quiet_worker(settings, db, registry)
        ties = [t0 + 5 * DAY] * 7 + [t0 + 6 * DAY] * 3 + [t0 + 29 * DAY] * 5  # 15 due, ties across pages
        outside = [t0 + 45 * DAY] * 6 + [None] * 2
        due = _issue(db, issuer_id, ach, ties)
        _issue(db, issuer_id, ach, outside)
        _release(db, settings, worker)
        rows = _credentials(db)
        assert all(rows[c].valid_until == until for c, until in zip(due, ties, strict=True))
        assert worker.expiring.scan() == len(due)
        assert worker.expiring.scan() == 0  # claimed once
        claimed = {c for c, r in _credentials(db).items() if r.expiring_notified_at is not None}
        assert claimed == set(due)
        delivered = [json.loads(d.payload)["data"]["credential_id"] for d in _deliveries(db)]
        assert sorted(delivered) == sorted(due)  # one delivery each
