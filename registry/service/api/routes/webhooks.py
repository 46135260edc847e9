"""The calling issuer's webhooks: register receivers (the signing secret is shown once), list and
delete them, see deliveries and replay one. Another issuer's objects answer 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from registry.errors import NotFound
from registry.service.api.deps import CurrentIssuer, SessionDep
from registry.service.store import WebhookDelivery, WebhookEndpoint, utcnow
from registry.service.webhooks import EVENTS, create_endpoint, delivery_view, replay

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookIn(BaseModel):
    url: str = Field(max_length=2048, description="http(s) receiver; redirects are not followed")
    events: list[str] = Field(description=f"any of {', '.join(EVENTS)}")


def _view(row: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "url": row.url,
        "events": row.events.split(","),
        "created_at": row.created_at.isoformat(),
    }
    if secret:
        out["secret"] = row.secret
    return out


def _endpoint(session: SessionDep, issuer: CurrentIssuer, webhook_id: int) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, webhook_id)
    if row is None or row.issuer_id != issuer.id or row.deleted_at is not None:
        raise NotFound("webhook", str(webhook_id))
    return row


@router.post("", status_code=201)
def create(body: WebhookIn, issuer: CurrentIssuer, session: SessionDep) -> dict[str, Any]:
    """Register a receiver; the answer carries ``secret`` (HMAC key), shown this once."""
    assert issuer.id is not None
    row = create_endpoint(session, issuer.id, body.url, body.events)
    session.commit()
    return _view(row, secret=True)


@router.get("")
def list_(issuer: CurrentIssuer, session: SessionDep) -> list[dict[str, Any]]:
    rows = session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.issuer_id == issuer.id)
        .where(col(WebhookEndpoint.deleted_at).is_(None))
        .order_by(col(WebhookEndpoint.id))
    )
    return [_view(r) for r in rows]


@router.get("/deliveries")
def deliveries(
    issuer: CurrentIssuer,
    session: SessionDep,
    state: Annotated[str | None, Query(description="pending, delivered or failed")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    query = select(WebhookDelivery).where(WebhookDelivery.issuer_id == issuer.id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    return [delivery_view(r) for r in session.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(limit))]


@router.post("/deliveries/{delivery_id}/replay", status_code=202)
def replay_(delivery_id: int, issuer: CurrentIssuer, session: SessionDep) -> dict[str, Any]:
    """Send a delivery again now, with the same event id (receivers deduplicate on it)."""
    assert issuer.id is not None
    row = replay(session, issuer.id, delivery_id)
    if row is None:
        raise NotFound("webhook delivery", str(delivery_id))
    session.commit()
    return delivery_view(row)


@router.delete("/{webhook_id}", status_code=204)
def delete(webhook_id: int, issuer: CurrentIssuer, session: SessionDep) -> None:
    """Stop sending to a receiver (its past deliveries stay visible)."""
    row = _endpoint(session, issuer, webhook_id)
    row.deleted_at = utcnow()
    session.add(row)
    session.commit()
