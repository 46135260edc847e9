"""Revoking stage of the worker: a revocation goes through the same recorded-transaction pipeline
as an anchor (DESIGN.md, anchoring pipeline):

pending -> signed (pre-flight, nonce, fees; raw transaction recorded in ``anchor_tx`` before it
is sent) -> submitted (the recorded bytes broadcast) -> done (mined, the required confirmations,
the block still canonical and the chain showing the credential or batch revoked).

A crash anywhere resumes from the recorded state: the same raw transaction is sent again, never a
second revocation with another nonce. A pre-flight (or a mined transaction) refused as
``CredentialAlreadyRevoked`` / ``BatchAlreadyRevoked`` means the chain already shows it revoked
by this issuer: the request is adopted as done (following our own recorded transaction when it
is the one that did it). Stuck or underpriced transactions are replaced with higher fees, a reorg
that drops the mined revocation sends it back to pending, and its nonces come from the same
table as anchors', so the two never collide. Other refusals fail the request with the reason (it
is not retried behind the issuer's back).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.chain import calls
from registry.chain.abi import Revert
from registry.chain.model import Call
from registry.errors import TransactionFailed
from registry.service.store import (
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Revocation,
    RevocationState,
    log_event,
    session_scope,
    utcnow,
)
from registry.service.webhooks import enqueue_many
from registry.service.worker.stage import GWEI, PassResult, Request, RequestStage

__all__ = ["Revoking"]

_WAIT = "wait"
"""A revocation whose batch is not confirmed yet: nothing to do this pass."""


class Revoking(RequestStage):
    """Revoke credentials and batches on chain (or only in the database, never anchored)."""

    model = Revocation
    noun = "revocation"
    results = "revocations"
    done_fault = "revoked"

    # -- what is revoked ----------------------------------------------------------------------

    def _target(self, session: Session, rev: Revocation) -> tuple[Batch, CredentialRow | None] | str:
        """The confirmed batch (and credential) ``rev`` revokes on chain, or why not now: the
        batch is not confirmed yet (``_WAIT``), or it never reached the chain (revoked in the
        database, ``"local"``)."""
        credential = session.get(CredentialRow, rev.credential_id) if rev.credential_id else None
        if credential is not None and credential.batch_id != rev.batch_id:
            if credential.batch_id is None:
                # Its batch failed and the credential went back to the queue: never anchored.
                return "local"
            # Re-sealed into another batch (the first one's root was taken): follow it there.
            log_event(
                session,
                "revocation.followed",
                issuer_id=rev.issuer_id,
                subject=f"revocation:{rev.id}",
                old_batch=rev.batch_id,
                batch=credential.batch_id,
            )
            rev.batch_id = credential.batch_id
            session.add(rev)
        batch = session.get(Batch, rev.batch_id) if rev.batch_id else None
        if batch is None:
            return "local"
        if batch.state == BatchState.FAILED:
            return "local"
        if batch.state not in (BatchState.CONFIRMED, BatchState.REVOKED):
            return _WAIT
        return batch, credential

    def _call(self, rev: Revocation, batch: Batch, credential: CredentialRow | None) -> tuple[Call, Revert]:
        if credential is not None:
            assert credential.digest is not None
            return calls.revoke_credential(credential.digest, rev.reason), Revert.CREDENTIAL_ALREADY_REVOKED
        return calls.revoke_batch(batch.root, rev.reason), Revert.BATCH_ALREADY_REVOKED

    def _revoked_on_chain(self, session: Session, batch: Batch, credential: CredentialRow | None) -> bool:
        """The chain (latest block) shows the credential or the batch revoked by its issuer."""
        reads = self.client.reads
        if credential is not None:
            assert credential.digest is not None
            ours = self._issuer_on_chain(session, batch.issuer_id)
            return next(iter(reads.revocations([(ours, credential.digest)]).values())) is not None
        info = reads.batches([batch.root])[batch.root]
        return info is not None and info.revoked

    # -- pending -> signed ----------------------------------------------------------------------

    def sign(self, rev_id: int, result: PassResult) -> bool:
        """pending -> signed: pre-flight, sign and record the revocation (or adopt it, or fail it)."""
        client = self.client
        with session_scope(self.engine) as session:
            rev = session.get(Revocation, rev_id)
            assert rev is not None
            target = self._target(session, rev)
            if target == _WAIT:
                return False
            if isinstance(target, str):
                self._revoke_locally(session, rev)
                return False
            batch, credential = target
            account = self._signer(session, rev.issuer_id)
            call, already = self._call(rev, batch, credential)
            nonce = self._next_nonce(session, account.address)
            profile = self.settings.profile
            try:
                signed = client.sender.sign(
                    account,
                    call,
                    nonce=nonce,
                    max_fee_cap=int(profile.max_fee_gwei * GWEI),
                    priority=int(profile.priority_fee_gwei * GWEI),
                )
            except TransactionFailed as exc:
                if exc.revert is already:
                    note = "already revoked on chain by this issuer; adopted"
                    self._adopt(session, rev, note, lambda: self._done(session, rev, batch, credential, None, result))
                    return False
                rev.state = RevocationState.FAILED
                rev.last_error = str(exc)
                session.add(rev)
                log_event(
                    session,
                    "revocation.failed",
                    issuer_id=rev.issuer_id,
                    subject=f"revocation:{rev.id}",
                    error=str(exc),
                )
                result.errors.append(str(exc))
                return False
            self._record_signed(session, rev, signed)
        return self._signed(rev_id, result)

    # -- signed -> submitted ------------------------------------------------------------------

    def _give_up(self, session: Session, row: Request, result: PassResult) -> None:
        row.state = RevocationState.FAILED
        session.add(row)

    # -- submitted -> done ----------------------------------------------------------------------

    def _confirm(self, session: Session, row: Request, tx_hash: str, result: PassResult) -> bool:
        assert isinstance(row, Revocation)
        target = self._target(session, row)
        assert not isinstance(target, str), "a revocation is sent only for a confirmed batch"
        batch, credential = target
        if not self._revoked_on_chain(session, batch, credential):
            return False
        self._done(session, row, batch, credential, tx_hash, result)
        return True

    # -- done ---------------------------------------------------------------------------------

    def _done(
        self,
        session: Session,
        rev: Revocation,
        batch: Batch,
        credential: CredentialRow | None,
        tx_hash: str | None,
        result: PassResult,
    ) -> None:
        """Mark the request done and the credential (or the batch and its credentials) revoked,
        with the ``credential.revoked`` webhooks, in the caller's transaction."""
        now = utcnow()
        rev.state = RevocationState.DONE
        rev.tx_hash = tx_hash
        rev.done_at = now
        session.add(rev)
        revoked = self._mark_revoked(session, rev, batch, credential, now)
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
        enqueue_many(  # outbox: committed with the revocation
            session,
            rev.issuer_id,
            "credential.revoked",
            [{"credential_id": c, "reason": rev.reason, "on_chain": True, "tx": tx_hash} for c in revoked],
        )
        if rev.id is not None:
            result.revoked.append(rev.id)

    def _mark_revoked(
        self, session: Session, rev: Revocation, batch: Batch | None, credential: CredentialRow | None, now: datetime
    ) -> list[str]:
        """Credential (or batch and its credentials) revoked in the database; their ids."""
        if credential is not None:
            credential.state = CredentialState.REVOKED
            credential.revoked_at = credential.revoked_at or now
            session.add(credential)
            return [credential.id]
        if batch is None:
            return []
        if batch.state != BatchState.FAILED:
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
        return list(session.exec(select(CredentialRow.id).where(col(CredentialRow.batch_id) == batch.id)))

    def _revoke_locally(self, session: Session, rev: Revocation) -> None:
        """A batch that never reached the chain needs no on-chain revocation: the credential (or
        every credential still in the failed batch) is revoked in the database, so it is never
        released, nor sealed again."""
        now = utcnow()
        rev.state = RevocationState.DONE
        rev.done_at = now
        rev.tx_hash = None
        rev.last_error = "the batch was never anchored; revoked in the database only"
        session.add(rev)
        credential = session.get(CredentialRow, rev.credential_id) if rev.credential_id else None
        batch = session.get(Batch, rev.batch_id) if rev.batch_id else None
        revoked = self._mark_revoked(session, rev, batch, credential, now)
        log_event(session, "revocation.local", issuer_id=rev.issuer_id, subject=f"revocation:{rev.id}")
        enqueue_many(
            session,
            rev.issuer_id,
            "credential.revoked",
            [{"credential_id": c, "reason": rev.reason, "on_chain": False} for c in revoked],
        )
