"""Revoking stage of the worker: send pending revocations of confirmed batches on chain."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.chain import calls
from registry.chain.abi import Revert
from registry.errors import TransactionFailed
from registry.service.store import (
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Revocation,
    RevocationState,
    log_event,
    utcnow,
)
from registry.service.webhooks import enqueue_many
from registry.service.worker.stage import PassResult, Stage

__all__ = ["Revoking"]


class Revoking(Stage):
    """Revoke credentials and batches on chain (or only in the database, never anchored)."""

    def run(self, result: PassResult, issuer_id: int | None = None) -> None:
        """Send pending revocations of confirmed batches (idempotent: the contract refuses a
        second revocation, which counts as done)."""
        with Session(self.engine) as session:
            query = select(Revocation).where(Revocation.state == RevocationState.PENDING)
            if issuer_id is not None:
                query = query.where(Revocation.issuer_id == issuer_id)
            pending = list(session.exec(query.order_by(col(Revocation.id))))
            for rev in pending:
                batch = session.get(Batch, rev.batch_id) if rev.batch_id else None
                if batch is not None and batch.state == BatchState.FAILED:
                    self._revoke_locally(session, rev)
                    continue
                if batch is None or batch.state not in (BatchState.CONFIRMED, BatchState.REVOKED):
                    continue
                self._revoke(session, rev, batch, result)

    def _revoke_locally(self, session: Session, rev: Revocation) -> None:
        """A batch that never reached the chain needs no on-chain revocation."""
        rev.state = RevocationState.DONE
        rev.done_at = utcnow()
        rev.last_error = "the batch was never anchored; revoked in the database only"
        session.add(rev)
        log_event(session, "revocation.local", issuer_id=rev.issuer_id, subject=f"revocation:{rev.id}")
        session.commit()

    def _revoke(self, session: Session, rev: Revocation, batch: Batch, result: PassResult) -> None:
        account = self._signer(session, batch.issuer_id)
        credential = session.get(CredentialRow, rev.credential_id) if rev.credential_id else None
        if credential is not None:
            assert credential.digest is not None
            call, already = calls.revoke_credential(credential.digest, rev.reason), Revert.CREDENTIAL_ALREADY_REVOKED
        else:
            call, already = calls.revoke_batch(batch.root, rev.reason), Revert.BATCH_ALREADY_REVOKED
        tx_hash: str | None = None
        try:
            tx_hash = self.client.writes.transact(account, call).tx_hash
        except TransactionFailed as exc:
            if exc.revert is not already:
                rev.last_error = str(exc)
                rev.state = RevocationState.FAILED
                session.add(rev)
                log_event(
                    session,
                    "revocation.failed",
                    issuer_id=rev.issuer_id,
                    subject=f"revocation:{rev.id}",
                    error=str(exc),
                )
                session.commit()
                result.errors.append(str(exc))
                return
        now = utcnow()
        rev.state = RevocationState.DONE
        rev.tx_hash = tx_hash
        rev.done_at = now
        session.add(rev)
        if credential is not None:
            credential.state = CredentialState.REVOKED
            credential.revoked_at = credential.revoked_at or now
            session.add(credential)
        else:
            batch.state = BatchState.REVOKED
            batch.revoked_at = now
            batch.revocation_reason = rev.reason
            session.add(batch)
            session.execute(
                sa.update(CredentialRow)
                .where(col(CredentialRow.batch_id) == batch.id)
                .values(state=CredentialState.REVOKED, revoked_at=now)
                .execution_options(synchronize_session=False)
            )
        log_event(
            session,
            "revocation.done",
            issuer_id=rev.issuer_id,
            subject=f"revocation:{rev.id}",
            tx=tx_hash,
            batch=batch.id,
            credential=rev.credential_id,
            reason=rev.reason,
        )
        revoked = (
            [credential.id]
            if credential is not None
            else list(session.exec(select(CredentialRow.id).where(col(CredentialRow.batch_id) == batch.id)))
        )
        enqueue_many(  # outbox: committed with the revocation
            session,
            rev.issuer_id,
            "credential.revoked",
            [{"credential_id": c, "reason": rev.reason, "on_chain": True, "tx": tx_hash} for c in revoked],
        )
        session.commit()
        if rev.id is not None:
            result.revoked.append(rev.id)
        self._fault("revoked")
