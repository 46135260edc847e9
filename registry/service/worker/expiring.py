"""The ``credential.expiring`` stage of the worker: N days (``REGISTRY_EXPIRING_DAYS``) before a
released, unrevoked credential's ``validUntil``, one outbox delivery per subscribed endpoint.

Exactly once per credential, across restarts, several workers and crashes: the credential is
claimed by a conditional UPDATE of ``credential.expiring_notified_at`` (still NULL, still
released, no revocation requested) and its deliveries are written in the same transaction, so a
crash before the commit leaves both undone and a second worker's UPDATE finds the row taken.
The scan asks, issuer by issuer (only those with an endpoint subscribed to the event), for the
released, not yet notified credentials whose ``valid_until`` column (the document's
``validUntil``, migration 0012) falls in the window: a range of the ``ix_credential_expiring_scan``
index, 1,000 at a time, so its cost follows the credentials due, not all those stored. The
delivery quotes ``validUntil`` as the document writes it.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.service.store import (
    CredentialRow,
    CredentialState,
    Revocation,
    RevocationState,
    WebhookEndpoint,
    doc_valid_until,
    log_event,
    utcnow,
)
from registry.service.webhooks import enqueue_many
from registry.service.worker.stage import PassResult, Stage, WorkerContext

__all__ = ["EVENT", "Expiring", "valid_until"]

log = logging.getLogger("registry.service.worker")

EVENT = "credential.expiring"
CHUNK = 1000
"""Credentials read per query of the scan."""
SCAN_EVERY = 600.0
"""Seconds between two scans of one worker (the window is counted in days)."""


def valid_until(doc: str) -> tuple[str, datetime] | None:
    """The stored document's ``validUntil``, as written and as an aware datetime
    (:func:`~registry.service.store.doc_valid_until`; None: absent or unreadable)."""
    try:
        data = json.loads(doc)
    except ValueError:
        return None
    moment = doc_valid_until(data) if isinstance(data, dict) else None
    return None if moment is None else (data["validUntil"], moment)


def _unrevoked() -> Any:
    """No revocation of the credential, or of its whole batch, that is requested or done."""
    return ~sa.exists(
        select(Revocation.id)
        .where(col(Revocation.state) != RevocationState.FAILED)
        .where(
            sa.or_(
                col(Revocation.credential_id) == col(CredentialRow.id),
                sa.and_(
                    col(Revocation.credential_id).is_(None),
                    col(Revocation.batch_id) == col(CredentialRow.batch_id),
                ),
            )
        )
    )


class Expiring(Stage):
    """Runs before the delivery stage of a pass, so a pass sends what it found."""

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.next_scan = 0.0
        """``time.monotonic()`` of this worker's next scan."""

    def run(self, result: PassResult) -> int:
        """Scan when due (every :data:`SCAN_EVERY` seconds); a failure never stops the pass."""
        if time.monotonic() < self.next_scan:
            return 0
        try:
            found = self.scan()
        except Exception as exc:  # the database is down: the other stages report it too
            log.warning("credential.expiring scan failed: %s", exc)
            result.errors.append(f"expiring: {exc}")
            return 0
        self.next_scan = time.monotonic() + SCAN_EVERY
        return found

    def scan(self, *, now: datetime | None = None) -> int:
        """Write ``credential.expiring`` for every credential that entered the window; returns
        how many credentials this call claimed."""
        now = now or utcnow()
        horizon = now + timedelta(days=self.settings.expiring_days)
        claimed = 0
        for issuer_id in self._subscribed():
            after: tuple[datetime, str] | None = None
            while True:
                query = (
                    select(CredentialRow.id, CredentialRow.doc, CredentialRow.valid_until)
                    .where(CredentialRow.issuer_id == issuer_id)
                    .where(CredentialRow.state == CredentialState.RELEASED)
                    .where(col(CredentialRow.expiring_notified_at).is_(None))
                    .where(col(CredentialRow.valid_until) > now)
                    .where(col(CredentialRow.valid_until) <= horizon)
                )
                if after is not None:  # keyset paging: (valid_until, id) after the last row read
                    last, last_id = after
                    query = query.where(
                        sa.or_(
                            col(CredentialRow.valid_until) > last,
                            sa.and_(col(CredentialRow.valid_until) == last, col(CredentialRow.id) > last_id),
                        )
                    )
                with Session(self.engine) as session:
                    order = (col(CredentialRow.valid_until), col(CredentialRow.id))
                    rows = list(session.exec(query.order_by(*order).limit(CHUNK)))
                due: dict[str, tuple[str, datetime]] = {}
                for credential_id, doc, _ in rows:
                    until = valid_until(doc)
                    if until is not None and now < until[1] <= horizon:
                        due[credential_id] = until
                if due:
                    claimed += self._claim(issuer_id, due, now)
                if len(rows) < CHUNK:
                    break
                read_until = rows[-1][2]
                assert read_until is not None  # the query asked for a window
                after = (read_until, rows[-1][0])
        return claimed

    def _subscribed(self) -> list[int]:
        """Issuers with a live endpoint subscribed to the event."""
        with Session(self.engine) as session:
            endpoints = session.exec(
                select(WebhookEndpoint.issuer_id, WebhookEndpoint.events).where(
                    col(WebhookEndpoint.deleted_at).is_(None)
                )
            ).all()
        return sorted({int(issuer_id) for issuer_id, events in endpoints if EVENT in events.split(",")})

    def _claim(self, issuer_id: int, due: dict[str, tuple[str, datetime]], now: datetime) -> int:
        """Mark the credentials still eligible and write their deliveries, in one transaction."""
        with Session(self.engine) as session:
            won = list(
                session.execute(
                    sa.update(CredentialRow)
                    .where(col(CredentialRow.id).in_(sorted(due)))
                    .where(col(CredentialRow.state) == CredentialState.RELEASED)
                    .where(col(CredentialRow.expiring_notified_at).is_(None))
                    .where(col(CredentialRow.revoked_at).is_(None))
                    .where(_unrevoked())
                    .values(expiring_notified_at=now)
                    .returning(
                        col(CredentialRow.id), col(CredentialRow.credential_uri), col(CredentialRow.achievement_id)
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if not won:
                return 0
            base = self.settings.public_url.rstrip("/")
            items = []
            for credential_id, uri, achievement_id in sorted(won):
                value, moment = due[credential_id]
                items.append(
                    {
                        "credential_id": credential_id,
                        "credential_uri": uri,
                        "achievement_id": achievement_id,
                        "valid_until": value,
                        "days_left": (moment - now).days,  # whole days, rounded down
                        "share_url": f"{base}/c/{credential_id}",
                    }
                )
            written = enqueue_many(session, issuer_id, EVENT, items)  # outbox: committed with the mark
            log_event(
                session,
                "credentials.expiring",
                issuer_id=issuer_id,
                subject=f"issuer:{issuer_id}",
                count=len(items),
                deliveries=written,
            )
            self._fault("expiring_claimed")  # claimed and written, not committed: a crash undoes both
            session.commit()
        return len(items)
