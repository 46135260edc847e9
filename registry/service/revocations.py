"""Revocation requests of the issuer service: a credential or a whole batch. A credential never
sealed is revoked at once; anything sealed is revoked on chain by the anchoring worker, through the
same recorded-transaction pipeline as anchors (:mod:`registry.service.worker.revoking`): a request
is open (``pending``, ``signed``, ``submitted``) until it is ``done`` or ``failed``, and an open
request blocks a second one for the same credential or batch."""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.errors import Conflict, InvalidInput
from registry.service.issuance import get_batch, get_credential
from registry.service.store.db import log_event
from registry.service.store.models import (
    BatchState,
    CredentialState,
    Issuer,
    Revocation,
    RevocationState,
    Supersession,
    utcnow,
)
from registry.service.webhooks import enqueue

__all__ = ["request_batch_revocation", "request_revocation"]


def _check_reason(reason: int) -> None:
    if not 0 <= reason <= 255:
        raise InvalidInput("reason", "a reason code is 0..255 (see GET /v1/revocation-reasons)")


def request_revocation(session: Session, issuer: Issuer, credential_id: str, reason: int, note: str = "") -> Revocation:
    """Revoke one credential: at once if it was never anchored, else on chain by the worker."""
    _check_reason(reason)
    row = get_credential(session, issuer, credential_id)
    if row.state == CredentialState.REVOKED:
        raise Conflict("already_revoked", f"credential {credential_id} is already revoked")
    pending = session.exec(
        select(Revocation)
        .where(Revocation.credential_id == credential_id)
        .where(col(Revocation.state).in_(RevocationState.open_states()))
    ).first()
    if pending is not None:
        raise Conflict("already_revoked", f"credential {credential_id} is being revoked (request {pending.id})")
    replacing = session.exec(
        select(Supersession)
        .where((Supersession.old_credential_id == credential_id) | (Supersession.new_credential_id == credential_id))
        .where(col(Supersession.state).in_(RevocationState.open_states()))
    ).first()
    if replacing is not None:
        raise Conflict(
            "being_superseded",
            f"credential {credential_id} is in supersession {replacing.id} ({replacing.old_credential_id} -> "
            f"{replacing.new_credential_id}), which the worker is sending; revoke once it is done",
        )
    assert issuer.id is not None
    rev = Revocation(issuer_id=issuer.id, batch_id=row.batch_id, credential_id=row.id, reason=reason, note=note)
    if row.batch_id is None:
        # Never sealed: it simply never gets anchored.
        row.state = CredentialState.REVOKED
        row.revoked_at = utcnow()
        rev.state = RevocationState.DONE
        rev.done_at = row.revoked_at
        session.add(row)
        enqueue(
            session, issuer.id, "credential.revoked", {"credential_id": row.id, "reason": reason, "on_chain": False}
        )
    session.add(rev)
    session.flush()
    log_event(
        session,
        "revocation.requested",
        issuer_id=issuer.id,
        subject=f"credential:{row.id}",
        reason=reason,
        note=note,
        revocation=rev.id,
        on_chain=row.batch_id is not None,
    )
    return rev


def request_batch_revocation(
    session: Session, issuer: Issuer, batch_id: int, reason: int, note: str = ""
) -> Revocation:
    """Revoke a whole batch on chain (the worker sends it once the batch is confirmed)."""
    _check_reason(reason)
    batch = get_batch(session, issuer, batch_id)
    if batch.state == BatchState.REVOKED:
        raise Conflict("already_revoked", f"batch {batch_id} is already revoked")
    pending = session.exec(
        select(Revocation)
        .where(Revocation.batch_id == batch_id)
        .where(col(Revocation.credential_id).is_(None))
        .where(col(Revocation.state).in_(RevocationState.open_states()))
    ).first()
    if pending is not None:
        raise Conflict("already_revoked", f"batch {batch_id} is being revoked (request {pending.id})")
    assert issuer.id is not None
    rev = Revocation(issuer_id=issuer.id, batch_id=batch_id, reason=reason, note=note)
    session.add(rev)
    session.flush()
    log_event(
        session,
        "revocation.requested",
        issuer_id=issuer.id,
        subject=f"batch:{batch_id}",
        reason=reason,
        note=note,
        revocation=rev.id,
    )
    return rev
