"""Anchoring stages of the worker: pending -> signed (sign and record the transaction, or adopt
the anchor already on chain) -> submitted (broadcast the recorded raw transaction).

The transaction is signed and *recorded* (raw bytes, hash, nonce, EIP-1559 fees) before it is
broadcast; after a crash the same raw transaction is sent again, so a root is never anchored by
two transactions, and a root the contract already knows (``RootAlreadyAnchored``) is adopted from
the chain's own batch record.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.chain import calls
from registry.chain.abi import Revert
from registry.chain.model import BatchInfo
from registry.errors import ChainUnavailable, TransactionFailed
from registry.service.store import (
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    TxState,
    log_event,
    session_scope,
)
from registry.service.worker.keying import KeyChanging
from registry.service.worker.stage import GWEI, PassResult, Stage, TxOwner, WorkerContext

__all__ = ["Anchoring"]


class Anchoring(Stage):
    """Sign, record and broadcast the anchoring transaction of a batch."""

    def __init__(self, ctx: WorkerContext, keys: KeyChanging) -> None:
        super().__init__(ctx)
        self.keys = keys

    def sign(self, batch_id: int, result: PassResult) -> bool:
        """pending -> signed: adopt an anchor already on chain, or sign and record a new tx."""
        client = self.client
        with session_scope(self.engine) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            on_chain = client.reads.batches([batch.root])[batch.root]
            if on_chain is not None:
                return self._adopt(session, batch, on_chain, result)
            account = self._signer(session, batch.issuer_id)
            if not self.keys.key_ready(session, batch.issuer_id, result):
                # Format v2 files are signed with the key derived from this anchoring key: the
                # chain must record it before the anchor, through a recorded key change whose
                # nonce comes first. The batch stays pending until that is done.
                return False
            nonce = self._next_nonce(session, account.address)
            profile = self.settings.profile
            call = calls.anchor(batch.root, batch.count, batch.metadata_hash)
            try:
                signed = client.sender.sign(
                    account,
                    call,
                    nonce=nonce,
                    max_fee_cap=int(profile.max_fee_gwei * GWEI),
                    priority=int(profile.priority_fee_gwei * GWEI),
                )
            except TransactionFailed as exc:
                if exc.revert is Revert.ROOT_ALREADY_ANCHORED:
                    on_chain = client.reads.batches([batch.root])[batch.root]
                    if on_chain is not None:
                        return self._adopt(session, batch, on_chain, result)
                batch.attempts += 1
                batch.last_error = str(exc)
                if batch.attempts >= self.settings.max_anchor_attempts:
                    batch.state = BatchState.FAILED
                session.add(batch)
                log_event(
                    session,
                    "anchor.refused",
                    issuer_id=batch.issuer_id,
                    subject=f"batch:{batch.id}",
                    error=str(exc),
                    attempts=batch.attempts,
                )
                result.errors.append(str(exc))
                return False
            self._record(session, TxOwner(batch), signed)
            batch.state = BatchState.SIGNED
            batch.anchor_tx = signed.tx_hash
            batch.anchor_block = None
            batch.confirmations_required = self.confirmations
            batch.chain_id = client.reads.chain_id()
            batch.registry_address = (client.registry_address or "").lower()
            session.add(batch)
        result.signed.append(batch_id)
        self._fault("signed")
        return True

    def _adopt(self, session: Session, batch: Batch, on_chain: BatchInfo, result: PassResult) -> bool:
        """The root is already on chain (an earlier transaction of ours): follow that one.

        A root anchored by *another* issuer (roots are global in the contract, and a pending
        anchor's root is public in the mempool) is never adopted: its files would name the wrong
        issuer. The batch fails and its credentials go back to the queue, to be sealed again with
        fresh salts, hence a new root.
        """
        ours = self._issuer_on_chain(session, batch.issuer_id)
        if ours == 0:
            result.errors.append(f"batch {batch.id}: our key is not registered on chain; not adopting")
            return False
        if on_chain.issuer_id != ours:
            self._reseal(session, batch, f"root anchored on chain by issuer #{on_chain.issuer_id}, not by us (#{ours})")
            result.errors.append(f"batch {batch.id}: root taken by issuer #{on_chain.issuer_id}")
            return False
        block = on_chain.block_number
        tx_hash = self.client.history.anchor_tx_of(batch.root, block)
        if tx_hash is None:
            raise ChainUnavailable(self.client.rpc_url, f"no BatchAnchored log in block {block}")
        batch.state = BatchState.SUBMITTED
        batch.anchor_tx = tx_hash
        batch.anchor_block = None
        batch.chain_id = self.client.reads.chain_id()
        batch.registry_address = (self.client.registry_address or "").lower()
        batch.confirmations_required = batch.confirmations_required or self.confirmations
        session.add(batch)
        log_event(
            session,
            "anchor.adopted",
            issuer_id=batch.issuer_id,
            subject=f"batch:{batch.id}",
            tx=tx_hash,
            block=block,
        )
        return True

    def _reseal(self, session: Session, batch: Batch, why: str) -> None:
        """Give up a batch that can never be anchored as ours: its credentials are queued again."""
        for tx in session.exec(select(AnchorTx).where(AnchorTx.batch_id == batch.id)):
            if tx.state in (TxState.SIGNED, TxState.BROADCAST):
                tx.state = TxState.DROPPED
                session.add(tx)
        session.execute(
            sa.update(CredentialRow)
            .where(col(CredentialRow.batch_id) == batch.id)
            .where(col(CredentialRow.state) == CredentialState.BATCHED)
            .values(state=CredentialState.QUEUED, batch_id=None, salts=None, digest=None, merkle_path=None)
            .execution_options(synchronize_session=False)
        )
        batch.state = BatchState.FAILED
        batch.anchor_tx = None
        batch.anchor_block = None
        batch.last_error = why
        session.add(batch)
        log_event(
            session,
            "batch.requeued",
            issuer_id=batch.issuer_id,
            subject=f"batch:{batch.id}",
            root=batch.root,
            reason=why,
        )

    def broadcast(self, batch_id: int, result: PassResult) -> bool:
        """signed -> submitted: send the recorded raw transaction (idempotent)."""
        with session_scope(self.engine) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            tx, outcome = self._send_recorded(session, TxOwner(batch), "sent")
            if outcome is None:
                self._back_to_pending(session, batch, tx, "nonce used by another transaction")
                return False
            batch.state = BatchState.SUBMITTED
            session.add(batch)
        result.broadcast.append(batch_id)
        self._fault("broadcast")
        return True
