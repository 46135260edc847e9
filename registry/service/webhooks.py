"""Webhooks for LMS/SIS integrations: endpoints, a transactional outbox, signed deliveries.

An event is written to ``webhook_delivery`` (one row per subscribed endpoint) by
:func:`enqueue`, inside the caller's session: it commits with the change that causes it and
disappears with a rolled-back one. :func:`deliver_due` sends what is due; a row is claimed by a
conditional UPDATE (a lease, ``claimed_until``) so several senders never send the same row at
once, and a sender killed between the POST and the commit leaves the row to be sent again after
the lease, with the SAME ``X-Registry-Event-Id`` (at-least-once; receivers deduplicate on it).

Signature (the Stripe/GitHub scheme): ``X-Registry-Signature: t=<unix>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, f"{t}.{body}")``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.errors import InvalidInput
from registry.service.store import WebhookDelivery, WebhookEndpoint, WebhookState, utcnow

__all__ = [
    "EVENTS",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "WebhookSender",
    "create_endpoint",
    "deliver_due",
    "enqueue",
    "enqueue_many",
    "sign",
    "verify_signature",
]

log = logging.getLogger("registry.service.webhooks")

EVENTS = (
    "credential.issued",
    "batch.anchored",
    "credential.revoked",
    "credential.expiring",
    "credential.superseded",  # a correction or renewal is on chain: old id, new id, kind
)
SIGNATURE_HEADER = "X-Registry-Signature"
EVENT_ID_HEADER = "X-Registry-Event-Id"
EVENT_HEADER = "X-Registry-Event"

MAX_ATTEMPTS = 8
BACKOFF_BASE = 2.0
BACKOFF_MAX = 3600.0
LEASE_SECONDS = 30.0
TIMEOUT_SECONDS = 10.0


# -- endpoints ------------------------------------------------------------------------------


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("url", "a webhook URL is http:// or https:// with a host")
    return url


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise InvalidInput("events", f"name at least one event of {', '.join(EVENTS)}")
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise InvalidInput("events", f"unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENTS)}")
    return sorted(set(events))


def create_endpoint(session: Session, issuer_id: int, url: str, events: list[str]) -> WebhookEndpoint:
    """Register a receiver; its ``secret`` is returned once by the API and kept to sign."""
    row = WebhookEndpoint(
        issuer_id=issuer_id,
        url=check_url(url),
        events=",".join(check_events(events)),
        secret="whsec_" + secrets.token_urlsafe(32),
    )
    session.add(row)
    session.flush()
    return row


# -- outbox ---------------------------------------------------------------------------------


def enqueue(session: Session, issuer_id: int | None, event: str, data: dict[str, Any]) -> int:
    """Write ``event`` to the outbox for every endpoint of ``issuer_id`` subscribed to it, in the
    caller's transaction (never commits). Returns how many deliveries were written."""
    return enqueue_many(session, issuer_id, event, [data])


def enqueue_many(session: Session, issuer_id: int | None, event: str, items: list[dict[str, Any]]) -> int:
    """:func:`enqueue` for several events of one kind (one endpoint query, bulk insert)."""
    assert event in EVENTS
    if issuer_id is None:
        return 0
    endpoints = session.exec(
        select(WebhookEndpoint.id, WebhookEndpoint.events)
        .where(WebhookEndpoint.issuer_id == issuer_id)
        .where(col(WebhookEndpoint.deleted_at).is_(None))
    ).all()
    now = utcnow()
    rows = []
    for endpoint_id, events in endpoints:
        if event not in events.split(","):
            continue
        for data in items:
            event_id = "evt_" + uuid.uuid4().hex
            body = {"id": event_id, "type": event, "created": now.isoformat(), "data": data}
            rows.append(
                {
                    "event_id": event_id,
                    "endpoint_id": endpoint_id,
                    "issuer_id": issuer_id,
                    "event": event,
                    "payload": json.dumps(body, separators=(",", ":"), sort_keys=True),
                    "state": WebhookState.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    table: Any = sa.inspect(WebhookDelivery).local_table
    for start in range(0, len(rows), 5000):
        session.execute(sa.insert(table), rows[start : start + 5000])
    return len(rows)


# -- signing --------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does: recompute the HMAC and compare in constant time; refuse stale ones."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


# -- delivery -------------------------------------------------------------------------------


def backoff(attempts: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_MAX) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, with full jitter in [d/2, d]."""
    delay: float = min(cap, base * 2.0 ** max(0, attempts - 1))
    return delay / 2 + random.random() * delay / 2


def _claim(engine: Engine, delivery_id: int, lease: float) -> bool:
    """Take the lease of one due row; a single UPDATE, so two senders never both win."""
    now = utcnow()
    with engine.begin() as conn:
        taken = conn.execute(
            sa.update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery_id)
            .where(col(WebhookDelivery.state) == WebhookState.PENDING)
            .where(sa.or_(col(WebhookDelivery.claimed_until).is_(None), col(WebhookDelivery.claimed_until) < now))
            .values(claimed_until=now + timedelta(seconds=lease))
        )
        return taken.rowcount == 1


def deliver_due(
    engine: Engine,
    *,
    client: httpx.Client | None = None,
    limit: int = 50,
    max_attempts: int = MAX_ATTEMPTS,
    backoff_base: float = BACKOFF_BASE,
    lease: float = LEASE_SECONDS,
    timeout: float = TIMEOUT_SECONDS,
    budget: float | None = None,
) -> int:
    """Send every due delivery once (claimed first); returns how many were attempted. With
    ``budget``, start no new request after that many seconds (the worker's other stages wait)."""
    now = utcnow()
    with Session(engine) as session:
        due = list(
            session.exec(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.state == WebhookState.PENDING)
                .where(col(WebhookDelivery.next_attempt_at) <= now)
                .where(sa.or_(col(WebhookDelivery.claimed_until).is_(None), col(WebhookDelivery.claimed_until) < now))
                .order_by(col(WebhookDelivery.id))
                .limit(limit)
            )
        )
    if not due:  # an idle pass builds no HTTP client (its TLS context costs milliseconds of CPU)
        return 0
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    tried = 0
    try:
        started = time.monotonic()
        for delivery_id in due:
            assert delivery_id is not None
            if budget is not None and time.monotonic() - started > budget:
                break
            if not _claim(engine, delivery_id, lease):
                continue
            _send(engine, http, delivery_id, max_attempts=max_attempts, backoff_base=backoff_base)
            tried += 1
    finally:
        if own:
            http.close()
    return tried


def _send(engine: Engine, http: httpx.Client, delivery_id: int, *, max_attempts: int, backoff_base: float) -> None:
    with Session(engine) as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        endpoint = session.get(WebhookEndpoint, row.endpoint_id)
        assert endpoint is not None
        url, secret, body, event_id, event = (
            endpoint.url,
            endpoint.secret,
            row.payload.encode(),
            row.event_id,
            row.event,
        )
        if endpoint.deleted_at is not None:
            row.state, row.claimed_until, row.last_error = WebhookState.FAILED, None, "the endpoint was deleted"
            session.add(row)
            session.commit()
            return
    status: int | None = None
    error: str | None = None
    try:
        response = http.post(
            url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body, int(time.time())),
                EVENT_ID_HEADER: event_id,
                EVENT_HEADER: event,
                "User-Agent": "registry-webhooks/1",
            },
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    with Session(engine) as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        row.attempts += 1
        row.last_status = status
        row.claimed_until = None
        if error is None:
            row.state = WebhookState.DELIVERED
            row.delivered_at = utcnow()
            row.last_error = None
        else:
            row.last_error = error[:1000]
            if row.attempts >= max_attempts:
                row.state = WebhookState.FAILED
            else:
                row.next_attempt_at = utcnow() + timedelta(seconds=backoff(row.attempts, base=backoff_base))
        session.add(row)
        session.commit()


def replay(session: Session, issuer_id: int, delivery_id: int) -> WebhookDelivery | None:
    """Send a delivery again (same event id), now; None when it is not this issuer's."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.issuer_id != issuer_id:
        return None
    row.state = WebhookState.PENDING
    row.next_attempt_at = utcnow()
    row.claimed_until = None
    session.add(row)
    return row


def delivery_view(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "endpoint_id": row.endpoint_id,
        "event": row.event,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "next_attempt_at": _iso(row.next_attempt_at),
        "created_at": _iso(row.created_at),
        "delivered_at": _iso(row.delivered_at),
    }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


class WebhookSender:
    """A loop that sends due deliveries (started by ``registry serve``/``registry worker``)."""

    def __init__(self, engine: Engine, *, interval: float = 1.0, **options: Any) -> None:
        self.engine = engine
        self.interval = interval
        self.options = options

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = deliver_due(self.engine, **self.options)
            except Exception:
                log.exception("webhook pass failed")
                busy = 0
            stop.wait(0.05 if busy else self.interval)

    def start(self) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="webhook-sender", daemon=True)
        thread.start()
        return thread, stop
