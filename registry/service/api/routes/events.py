"""The calling issuer's event log (append-only record of what the service did)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import col, select

from registry.service.api.deps import CurrentIssuer, SessionDep
from registry.service.store import Event

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("")
def list_(
    issuer: CurrentIssuer,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, description="only events with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Event)
        .where(Event.issuer_id == issuer.id)
        .where(col(Event.id) > after)
        .order_by(col(Event.id))
        .limit(limit)
    )
    return [
        {"id": e.id, "at": e.at.isoformat(), "kind": e.kind, "subject": e.subject, "data": json.loads(e.data)}
        for e in rows
    ]
