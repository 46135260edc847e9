"""Webhook figures across a crash campaign of the sender: events are written to the outbox with
the credentials they announce, a sender subprocess delivers them to a real receiver on loopback
and is SIGKILLed several times while requests are in flight, then restarted until all are sent.

``run(long=False) -> dict``: ``webhook_deliveries`` (events accepted by the receiver),
``webhook_lost`` (events never accepted; must be 0), ``webhook_duplicates_without_same_id``
(an event received under two different event ids; must be 0), ``webhook_redeliveries`` (requests
repeated with the same id, what the receiver deduplicates), ``webhook_kills``.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, select  # noqa: E402

from registry.core.csvimport import IssueRequest  # noqa: E402
from registry.service.issuance import create_achievement, create_issuer, issue  # noqa: E402
from registry.service.store import WebhookDelivery, WebhookState, make_engine, upgrade  # noqa: E402
from registry.service.webhooks import create_endpoint  # noqa: E402
from tests.chain_fixtures import ACHIEVEMENT  # noqa: E402
from tests.webhook_support import Receiver, SenderProcess  # noqa: E402


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def run(long: bool = False) -> dict[str, Any]:
    events, kills = (200, 12) if long else (30, 4)
    with tempfile.TemporaryDirectory() as tmp, Receiver(default="slow", slow_seconds=0.3) as receiver:
        url = f"sqlite:///{Path(tmp) / 'hooks.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        with Session(engine) as session:
            issuer = create_issuer(
                session,
                name="Bench",
                did=f"did:web:bench-{secrets.token_hex(3)}.example",
                key_source="dev:issuer",
                key_address="0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
            )
            assert issuer.id is not None
            data = json.loads(ACHIEVEMENT.model_dump_json())
            ach = create_achievement(session, issuer, data)
            receiver.secret = create_endpoint(session, issuer.id, receiver.url, ["credential.issued"]).secret
            session.commit()
            assert ach.id is not None
            issue(
                session,
                issuer,
                [IssueRequest(achievement_id=ach.id, recipient_email=f"b{i}@example.org") for i in range(events)],
            )
            session.commit()
        done_kills = 0
        started = time.perf_counter()
        for _ in range(kills):
            sender = SenderProcess(url, None, lease=0.5).start()
            seen = len(receiver.arrived)
            if _wait(lambda: len(receiver.arrived) > seen + 1, 30):  # noqa: B023
                sender.kill()  # a request is in flight (the receiver is slow)
                done_kills += 1
            else:
                sender.kill()
        receiver.slow_seconds = 0.0
        sender = SenderProcess(url, None, lease=0.5).start()
        try:

            def finished() -> bool:
                with Session(engine) as session:
                    return all(r.state == WebhookState.DELIVERED for r in session.exec(select(WebhookDelivery)))

            _wait(finished, 120)
        finally:
            sender.kill()
        elapsed = time.perf_counter() - started
        with Session(engine) as session:
            rows = list(session.exec(select(WebhookDelivery)))
        engine.dispose()
    accepted = receiver.counts()
    ids_by_credential: dict[str, set[str]] = defaultdict(set)
    for event_id, body in receiver.bodies.items():
        ids_by_credential[body["data"]["credential_id"]].add(event_id)
    return {
        "webhook_events": len(rows),
        "webhook_deliveries": sum(1 for r in rows if r.event_id in accepted),
        "webhook_lost": sum(1 for r in rows if r.event_id not in accepted),
        "webhook_duplicates_without_same_id": sum(len(ids) - 1 for ids in ids_by_credential.values()),
        "webhook_redeliveries": len(receiver.arrived) - len(set(receiver.arrived)),
        "webhook_bad_signatures": receiver.bad_signatures,
        "webhook_kills": done_kills,
        "webhook_campaign_s": round(elapsed, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(long="--long" in sys.argv), indent=2))
