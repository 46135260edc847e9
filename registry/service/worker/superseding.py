"""Superseding stage of the worker: a correction or renewal (:mod:`registry.service.lineage`)
goes on chain through the revocations' recorded-transaction pipeline (DESIGN.md, anchoring
pipeline), once the NEW credential's batch is confirmed:

pending (waits for that batch) -> signed (pre-flight, nonce, fees; ``supersedeCredential``
recorded in ``anchor_tx`` before it is sent) -> submitted (the recorded bytes broadcast) -> done
(mined, the required confirmations, the block still canonical and the chain recording this very
supersession). Done, in one transaction: the old credential is revoked, the new one released
(its file carries the ``supersedes`` claim the chain now confirms) and ``credential.superseded``
goes to the webhook outbox.

A crash anywhere resumes from the recorded state (the same raw transaction is sent again); a
pre-flight or mined transaction refused as ``CredentialAlreadyRevoked`` is adopted when the chain
records this supersession (one of our own transactions did it), and fails the request otherwise.
Stuck or underpriced transactions are replaced with higher fees and a reorg sends it back to
pending, as for revocations. A failed request releases the new credential as a plain one: its
file then makes no claim the chain would contradict.
"""

from __future__ import annotations

import json

from sqlmodel import Session

from registry.chain import calls
from registry.chain.abi import Revert
from registry.chain.model import Call
from registry.errors import TransactionFailed
from registry.service.lineage import kind_name
from registry.service.store import (
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    RevocationState,
    Supersession,
    log_event,
    session_scope,
    utcnow,
)
from registry.service.webhooks import enqueue
from registry.service.worker.stage import GWEI, PassResult, Request, RequestStage

__all__ = ["Superseding"]


class _Parties:
    """The two credentials of a supersession and the new one's confirmed batch."""

    def __init__(self, old: CredentialRow, new: CredentialRow, batch: Batch) -> None:
        self.old = old
        self.new = new
        self.batch = batch

    @property
    def old_digest(self) -> str:
        assert self.old.digest is not None
        return self.old.digest

    @property
    def new_digest(self) -> str:
        assert self.new.digest is not None
        return self.new.digest


class Superseding(RequestStage):
    """Send corrections and renewals on chain once their new credential is anchored."""

    model = Supersession
    noun = "supersession"
    results = "supersessions"
    done_fault = "superseded"

    # -- what is superseded -------------------------------------------------------------------

    def _parties(self, session: Session, sup: Supersession) -> _Parties | str | None:
        """The credentials and the new one's confirmed batch; None while that batch is not
        confirmed yet; why not ever, when it can no longer happen."""
        old = session.get(CredentialRow, sup.old_credential_id)
        new = session.get(CredentialRow, sup.new_credential_id)
        assert old is not None and new is not None
        if sup.state == RevocationState.PENDING:  # not sent yet: is there still a point?
            if new.state == CredentialState.REVOKED:
                return f"the new credential {new.id} was revoked (with its batch)"
            if old.state == CredentialState.REVOKED:
                return f"the old credential {old.id} was revoked meanwhile (with its batch)"
        batch = session.get(Batch, new.batch_id) if new.batch_id is not None else None
        if batch is None or batch.state not in (BatchState.CONFIRMED, BatchState.REVOKED):
            return None  # queued, sealed, being anchored, or re-queued after a failed batch
        return _Parties(old, new, batch)

    def _call(self, sup: Supersession, parties: _Parties) -> Call:
        assert parties.new.merkle_path is not None
        return calls.supersede_credential(
            parties.old_digest,
            parties.batch.root,
            parties.new_digest,
            json.loads(parties.new.merkle_path),
            sup.kind,
            parties.new.credential_uri,
        )

    def _recorded_on_chain(self, session: Session, sup: Supersession, parties: _Parties) -> bool:
        """The chain (latest block) records ``old -> new`` in our issuer's namespace."""
        ours = self._issuer_on_chain(session, sup.issuer_id)
        root = parties.batch.root
        snap = self.client.reads.snapshot([root], [], successors=[(root, parties.old_digest)])
        record = snap.supersessions.get((ours, parties.old_digest.lower()))
        return record is not None and record.new_digest == parties.new_digest.lower()

    # -- pending -> signed ----------------------------------------------------------------------

    def sign(self, sup_id: int, result: PassResult) -> bool:
        """pending -> signed: pre-flight, sign and record ``supersedeCredential`` (or adopt it, or
        fail the request)."""
        with session_scope(self.engine) as session:
            sup = session.get(Supersession, sup_id)
            assert sup is not None
            parties = self._parties(session, sup)
            if parties is None:
                return False
            if isinstance(parties, str):
                self._fail(session, sup, parties, result)
                return False
            account = self._signer(session, sup.issuer_id)
            nonce = self._next_nonce(session, account.address)
            profile = self.settings.profile
            try:
                signed = self.client.sender.sign(
                    account,
                    self._call(sup, parties),
                    nonce=nonce,
                    max_fee_cap=int(profile.max_fee_gwei * GWEI),
                    priority=int(profile.priority_fee_gwei * GWEI),
                )
            except TransactionFailed as exc:
                if exc.revert is Revert.CREDENTIAL_ALREADY_REVOKED and self._recorded_on_chain(session, sup, parties):
                    note = "already recorded on chain by this issuer; adopted"
                    self._adopt(session, sup, note, lambda: self._done(session, sup, parties, None, result))
                else:
                    self._fail(session, sup, str(exc), result)
                return False
            self._record_signed(session, sup, signed)
        return self._signed(sup_id, result)

    def _fail(self, session: Session, sup: Supersession, why: str, result: PassResult) -> None:
        """Refused (not retried behind the issuer's back): the new credential is released as a
        plain credential once its batch is confirmed; the old one stays as it is."""
        sup.state = RevocationState.FAILED
        sup.last_error = why
        session.add(sup)
        new = session.get(CredentialRow, sup.new_credential_id)
        assert new is not None
        batch = session.get(Batch, new.batch_id) if new.batch_id is not None else None
        if new.state == CredentialState.BATCHED and batch is not None and batch.state == BatchState.CONFIRMED:
            new.state = CredentialState.RELEASED
            session.add(new)
        log_event(session, "supersession.failed", issuer_id=sup.issuer_id, subject=f"supersession:{sup.id}", error=why)
        result.errors.append(f"supersession {sup.id}: {why}")

    # -- signed -> submitted ------------------------------------------------------------------

    def _give_up(self, session: Session, row: Request, result: PassResult) -> None:
        assert isinstance(row, Supersession)
        self._fail(session, row, f"{row.attempts} transactions reverted", result)

    # -- submitted -> done ----------------------------------------------------------------------

    def _confirm(self, session: Session, row: Request, tx_hash: str, result: PassResult) -> bool:
        assert isinstance(row, Supersession)
        parties = self._parties(session, row)
        assert isinstance(parties, _Parties), "a supersession is sent only for a confirmed new batch"
        if not self._recorded_on_chain(session, row, parties):
            return False
        self._done(session, row, parties, tx_hash, result)
        return True

    # -- done ---------------------------------------------------------------------------------

    def _done(
        self, session: Session, sup: Supersession, parties: _Parties, tx_hash: str | None, result: PassResult
    ) -> None:
        """Request done, old credential revoked, new one released, ``credential.superseded`` in
        the outbox: all in the caller's transaction."""
        now = utcnow()
        sup.state = RevocationState.DONE
        sup.tx_hash = tx_hash
        sup.done_at = now
        session.add(sup)
        parties.old.state = CredentialState.REVOKED
        parties.old.revoked_at = parties.old.revoked_at or now
        session.add(parties.old)
        if parties.new.state == CredentialState.BATCHED:
            parties.new.state = CredentialState.RELEASED
            session.add(parties.new)
        kind = kind_name(sup.kind)
        log_event(
            session,
            "supersession.done",
            issuer_id=sup.issuer_id,
            subject=f"supersession:{sup.id}",
            tx=tx_hash,
            old=parties.old.id,
            new=parties.new.id,
            supersession_kind=kind,
        )
        enqueue(  # outbox: committed with the supersession
            session,
            sup.issuer_id,
            "credential.superseded",
            {
                "credential_id": parties.old.id,
                "credential_uri": parties.old.credential_uri,
                "new_credential_id": parties.new.id,
                "new_credential_uri": parties.new.credential_uri,
                "kind": kind,
                "tx": tx_hash,
            },
        )
        if sup.id is not None:
            result.superseded.append(sup.id)
