"""Sealing (database only): queued credentials -> a batch with salts, digests, the Merkle tree
and every proof, stored with the batch root in one transaction (a crash loses nothing).

Called by the anchoring worker on every pass and by the API's "seal now"."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.core.batch import batch_metadata
from registry.core.keccak import keccak256_hex
from registry.issue.prepare import prepare_batch
from registry.service.store import (
    Batch,
    CredentialRow,
    CredentialState,
    Issuer,
    log_event,
    session_scope,
    utcnow,
)

__all__ = ["seal_due"]


def _seal_one(engine: Engine, issuer_id: int, limit: int) -> int | None:
    """Seal up to ``limit`` of the issuer's oldest queued credentials into one batch."""
    with session_scope(engine) as session:
        ids = list(
            session.exec(
                select(CredentialRow.id)
                .where(CredentialRow.issuer_id == issuer_id)
                .where(CredentialRow.state == CredentialState.QUEUED)
                .order_by(col(CredentialRow.seq))
                .limit(limit)
            )
        )
        if not ids:
            return None
        placeholder = keccak256_hex(f"sealing:{issuer_id}:{ids[0]}:{time.time_ns()}".encode())
        batch = Batch(issuer_id=issuer_id, root=placeholder, count=0, metadata_hash="0x")
        session.add(batch)
        session.flush()
        # Claim atomically: a concurrent sealer that got here first leaves rows not queued.
        claimed = session.execute(
            sa.update(CredentialRow)
            .where(col(CredentialRow.id).in_(ids))
            .where(col(CredentialRow.state) == CredentialState.QUEUED)
            .values(batch_id=batch.id, state=CredentialState.BATCHED)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", -1) != len(ids):
            session.rollback()
            return None
        rows = list(
            session.exec(
                select(CredentialRow).where(CredentialRow.batch_id == batch.id).order_by(col(CredentialRow.seq))
            )
        )
        docs = [json.loads(r.doc) for r in rows]
        prepared = prepare_batch(docs)
        tree = prepared.tree
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        metadata = batch_metadata(docs, issuer.key_address)
        session.execute(
            sa.update(CredentialRow),
            [
                {
                    "id": r.id,
                    "salts": json.dumps(prepared.salts[i], separators=(",", ":")),
                    "digest": "0x" + prepared.digests[i].hex(),
                    "merkle_path": json.dumps(["0x" + p.hex() for p in tree.proof(i)]),
                }
                for i, r in enumerate(rows)
            ],
        )
        batch.root = "0x" + tree.root.hex()
        batch.count = len(rows)
        batch.metadata_hash = keccak256_hex(metadata)
        session.add(batch)
        log_event(
            session,
            "batch.sealed",
            issuer_id=issuer_id,
            subject=f"batch:{batch.id}",
            root=batch.root,
            count=batch.count,
        )
        return batch.id


def seal_due(engine: Engine, settings: Settings, *, issuer_id: int | None = None, force: bool = False) -> list[int]:
    """Seal batches that are due: ``batch_size`` credentials waiting, the oldest waiting longer
    than ``batch_max_age`` seconds, or ``force`` (seal whatever waits). Returns new batch ids."""
    sealed: list[int] = []
    with Session(engine) as session:
        query = (
            select(
                CredentialRow.issuer_id,
                sa.func.count(),
                sa.func.min(CredentialRow.created_at),
            )
            .where(CredentialRow.state == CredentialState.QUEUED)
            .group_by(col(CredentialRow.issuer_id))
        )
        if issuer_id is not None:
            query = query.where(CredentialRow.issuer_id == issuer_id)
        waiting = list(session.exec(query))
    now = utcnow()
    for iid, count, oldest in waiting:
        age = (now - oldest).total_seconds() if oldest else 0.0
        remaining = int(count)
        while remaining >= settings.batch_size or (remaining > 0 and (force or age >= settings.batch_max_age)):
            batch_id = _seal_one(engine, int(iid), settings.batch_size)
            if batch_id is None:
                break
            sealed.append(batch_id)
            remaining -= settings.batch_size
    return sealed
