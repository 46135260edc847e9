"""Batches of the calling issuer: list, status, seal now, revoke."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlmodel import col, select

from registry.service.api.deps import CurrentIssuer, SessionDep, SettingsDep, StateDep
from registry.service.api.schemas import BatchOut, RevocationOut, RevokeIn
from registry.service.issuance import get_batch
from registry.service.revocations import request_batch_revocation
from registry.service.sealing import seal_due
from registry.service.store import Batch

router = APIRouter(prefix="/v1/batches", tags=["batches"])


@router.get("", response_model=list[BatchOut])
def list_(
    issuer: CurrentIssuer,
    session: SessionDep,
    settings: SettingsDep,
    state: Literal["pending", "signed", "submitted", "confirmed", "revoked", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BatchOut]:
    query = select(Batch).where(Batch.issuer_id == issuer.id)
    if state:
        query = query.where(Batch.state == state)
    rows = session.exec(query.order_by(col(Batch.id).desc()).offset(offset).limit(limit))
    return [BatchOut.of(b, settings.explorer_tx_url) for b in rows]


@router.post("/seal", status_code=201, response_model=list[BatchOut])
def seal_now(issuer: CurrentIssuer, session: SessionDep, state: StateDep) -> list[BatchOut]:
    """Seal every queued credential of the issuer into batches now (instead of waiting for
    the batch size or age); the worker anchors them."""
    ids = seal_due(state.engine, state.settings, issuer_id=issuer.id, force=True)
    if state.worker_wake is not None:
        state.worker_wake.set()
    rows = [session.get(Batch, i) for i in ids]
    return [BatchOut.of(b, state.settings.explorer_tx_url) for b in rows if b is not None]


@router.get("/{batch_id}", response_model=BatchOut)
def get(batch_id: int, issuer: CurrentIssuer, session: SessionDep, settings: SettingsDep) -> BatchOut:
    return BatchOut.of(get_batch(session, issuer, batch_id), settings.explorer_tx_url)


@router.post("/{batch_id}/revoke", status_code=202, response_model=RevocationOut)
def revoke(batch_id: int, body: RevokeIn, issuer: CurrentIssuer, session: SessionDep) -> RevocationOut:
    """Revoke a whole batch on chain (sent by the worker once the batch is anchored)."""
    rev = request_batch_revocation(session, issuer, batch_id, body.reason, body.note)
    session.commit()
    return RevocationOut.of(rev)
