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

from sqlmodel import Session, select

from registry.chain import calls
from registry.chain.abi import Revert
from registry.chain.model import Call
from registry.errors import TransactionFailed
from registry.service.lineage import kind_name
from registry.service.store import (
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    RevocationState,
    Supersession,
    TxState,
    log_event,
    session_scope,
    utcnow,
)
from registry.service.webhooks import enqueue
from registry.service.worker.stage import GWEI, PassResult, RequestStage, TxOwner

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
                    self._adopt(session, sup, parties, result)
                else:
                    self._fail(session, sup, str(exc), result)
                return False
            self._record(session, TxOwner(sup), signed)
            sup.state = RevocationState.SIGNED
            sup.tx_hash = signed.tx_hash
            session.add(sup)
        result.supersessions_signed.append(sup_id)
        self._fault("supersession_signed")
        return True

    def _adopt(self, session: Session, sup: Supersession, parties: _Parties, result: PassResult) -> None:
        """The chain already records this supersession: follow our own transaction that did it
        (mined again after a reorg had dropped it) to its confirmations, else done as it stands."""
        mine = list(session.exec(select(AnchorTx).where(AnchorTx.supersession_id == sup.id)))
        found = self.client.sender.receipts([t.tx_hash for t in mine]) if mine else {}
        ok = next((r for r in found.values() if r is not None and r.status == 1), None)
        owner = TxOwner(sup)
        log_event(
            session,
            "supersession.adopted",
            issuer_id=sup.issuer_id,
            subject=owner.subject,
            tx=ok.tx_hash if ok is not None else None,
        )
        if ok is not None:
            tx = self._tx(session, ok.tx_hash)
            assert tx is not None
            tx.state = TxState.BROADCAST
            tx.block_number = tx.block_hash = tx.gas_used = None
            session.add(tx)
            sup.state = RevocationState.SUBMITTED
            sup.tx_hash = ok.tx_hash
            session.add(sup)
            return
        sup.last_error = "already recorded on chain by this issuer; adopted"
        self._done(session, sup, parties, None, result)

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

    def _broadcasts(self, result: PassResult) -> list[int]:
        return result.supersessions_broadcast

    # -- submitted -> done ----------------------------------------------------------------------

    def poll(self, sup_id: int, result: PassResult) -> None:
        """submitted -> done once mined with the required confirmations and still on chain; back
        to pending after a reorg or a drop; replaced when stuck or underpriced."""
        if not self._track(sup_id, result):
            return
        with session_scope(self.engine) as session:
            sup = session.get(Supersession, sup_id)
            assert sup is not None
            tx = self._tx(session, sup.tx_hash)
            assert tx is not None and tx.block_number is not None
            if self.client.reads.head() - tx.block_number + 1 < self.confirmations:
                return
            parties = self._parties(session, sup)
            assert isinstance(parties, _Parties), "a supersession is sent only for a confirmed new batch"
            canonical = self.client.history.block_hash(tx.block_number)
            if canonical != tx.block_hash or not self._recorded_on_chain(session, sup, parties):
                self._request_back_to_pending(session, sup, tx, "reorg: the chain no longer has this supersession")
                result.supersessions_reorged.append(sup_id)
                return
            tx.state = TxState.CONFIRMED
            session.add(tx)
            self._done(session, sup, parties, tx.tx_hash, result)
        self._fault("superseded")

    def _track(self, sup_id: int, result: PassResult) -> bool:
        """Follow the submitted transaction (receipt, replacement set, reverts, fee bumps); True
        when it is mined and the confirmations are worth checking."""
        mined_now = False
        with session_scope(self.engine) as session:
            sup = session.get(Supersession, sup_id)
            assert sup is not None and sup.tx_hash is not None
            owner = TxOwner(sup)
            tx = self._tx(session, sup.tx_hash)
            members = self._replacement_set(session, owner, tx)
            receipt = self._mined(members, sup.tx_hash)
            if receipt is None:
                if tx is not None and tx.state == TxState.MINED:
                    why = f"reorg: the supersession in block {tx.block_number} left the chain"
                    self._request_back_to_pending(session, sup, tx, why)
                    result.supersessions_reorged.append(sup_id)
                elif tx is not None:
                    self._unmined(session, owner, tx, members, result)
                return False
            if receipt.tx_hash != sup.tx_hash:
                tx = self._follow_mined(session, owner, receipt, members)
            assert tx is not None
            if receipt.status != 1:
                # Refused when mined: the next pre-flight says why (adopted, or failed).
                tx.state = TxState.REVERTED
                session.add(tx)
                sup.attempts += 1
                self._request_back_to_pending(session, sup, None, f"transaction {receipt.tx_hash} reverted")
                if sup.attempts >= self.settings.max_anchor_attempts:
                    self._fail(session, sup, f"{sup.attempts} transactions reverted", result)
                return False
            if tx.block_number != receipt.block_number or tx.state != TxState.MINED:
                mined_now = True
                tx.state = TxState.MINED
                tx.block_number = receipt.block_number
                tx.block_hash = receipt.block_hash
                tx.gas_used = receipt.gas_used
                session.add(tx)
                log_event(
                    session,
                    "supersession.mined",
                    issuer_id=sup.issuer_id,
                    subject=owner.subject,
                    tx=receipt.tx_hash,
                    block=receipt.block_number,
                    gas_used=receipt.gas_used,
                )
        if mined_now:
            self._fault("supersession_mined")
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
