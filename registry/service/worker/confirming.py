"""Confirming stage of the worker: submitted -> confirmed (files released once the receipt has
the required confirmations *and* the contract's batch record agrees), or back to pending when a
receipt disappears (reorg) or the transaction was dropped.

A transaction still pending after ``rebroadcast_after`` seconds, or refused as underpriced, is
*replaced*: the same transaction (same nonce, data and gas) re-signed with both fees raised by at
least 12.5 %, within the network profile's cap, and recorded before it is sent. Receipts are
looked up for every member of the replacement set; whichever is mined is the anchor.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, select

from registry.service.store import (
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
from registry.service.worker.stage import FEE_BUMP, PassResult, Stage, TxOwner

__all__ = ["FEE_BUMP", "Confirming"]


class Confirming(Stage):
    """Track a submitted anchor to its confirmations; replace it when stuck or underpriced
    (the shared code of :class:`~registry.service.worker.stage.Stage`, also used for
    revocations)."""

    def poll(self, batch_id: int, result: PassResult) -> None:
        """submitted -> confirmed (files released), or back to pending after a reorg/drop.

        The receipt is looked up for every transaction of the replacement set (the current one
        and those it replaced): whichever was mined is the anchor. A transaction pending too long,
        or refused as underpriced, is replaced with higher fees (:meth:`_replace`).
        """
        client = self.client
        mined_now = False
        with session_scope(self.engine) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None and batch.anchor_tx is not None
            tx = self._tx(session, batch.anchor_tx)
            owner = TxOwner(batch)
            members = self._replacement_set(session, owner, tx)
            receipt = self._mined(members, batch.anchor_tx)
            if receipt is None:
                if batch.anchor_block is not None:
                    self._back_to_pending(
                        session,
                        batch,
                        tx,
                        f"reorg: the anchor in block {batch.anchor_block} left the chain",
                    )
                    result.reorged.append(batch_id)
                    return
                if tx is not None:
                    self._unmined(session, owner, tx, members, result)
                return
            if receipt.tx_hash != batch.anchor_tx:
                # A transaction this one replaced was mined (or the other way round).
                tx = self._follow_mined(session, owner, receipt, members)
            if receipt.status != 1:
                if tx is not None:
                    tx.state = TxState.REVERTED
                    session.add(tx)
                batch.attempts += 1
                self._back_to_pending(session, batch, None, f"transaction {receipt.tx_hash} reverted")
                if batch.attempts >= self.settings.max_anchor_attempts:
                    batch.state = BatchState.FAILED
                return
            if batch.anchor_block != receipt.block_number:
                batch.anchor_block = receipt.block_number
                mined_now = True
                if tx is not None:
                    tx.state = TxState.MINED
                    tx.block_number = receipt.block_number
                    tx.block_hash = receipt.block_hash
                    tx.gas_used = receipt.gas_used
                    session.add(tx)
                session.add(batch)
                log_event(
                    session,
                    "anchor.mined",
                    issuer_id=batch.issuer_id,
                    subject=f"batch:{batch.id}",
                    tx=receipt.tx_hash,
                    block=receipt.block_number,
                    gas_used=receipt.gas_used,
                )
        if mined_now:
            self._fault("mined")
        with session_scope(self.engine) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None and batch.anchor_block is not None
            required = batch.confirmations_required or self.confirmations
            head = client.reads.head()
            if head - batch.anchor_block + 1 < required:
                return
            # Final checks against the chain itself before anything is released.
            canonical = client.history.block_hash(batch.anchor_block)
            on_chain = client.reads.batches([batch.root])[batch.root]
            if canonical != receipt.block_hash or on_chain is None or on_chain.block_number != batch.anchor_block:
                tx = self._tx(session, batch.anchor_tx)
                self._back_to_pending(session, batch, tx, "reorg: the chain no longer has this anchor")
                result.reorged.append(batch_id)
                return
            self._fault("releasing")
            tx = self._tx(session, batch.anchor_tx)
            if tx is not None:
                tx.state = TxState.CONFIRMED
                session.add(tx)
            batch.state = BatchState.CONFIRMED
            batch.anchored_at = datetime.fromtimestamp(on_chain.anchored_at, UTC)
            batch.confirmed_at = utcnow()
            batch.last_error = None
            session.add(batch)
            # A credential replacing another stays batched until the supersession is on chain
            # (its file's claim would not verify before): the superseding stage releases it.
            replacing = select(Supersession.new_credential_id).where(
                col(Supersession.state).in_(RevocationState.open_states())
            )
            session.execute(
                sa.update(CredentialRow)
                .where(col(CredentialRow.batch_id) == batch_id)
                .where(col(CredentialRow.state) == CredentialState.BATCHED)
                .where(col(CredentialRow.id).not_in(replacing))
                .values(state=CredentialState.RELEASED)
                .execution_options(synchronize_session=False)
            )
            log_event(
                session,
                "batch.confirmed",
                issuer_id=batch.issuer_id,
                subject=f"batch:{batch.id}",
                root=batch.root,
                tx=batch.anchor_tx,
                block=batch.anchor_block,
                confirmations=head - batch.anchor_block + 1,
            )
            enqueue(  # outbox: committed with the release
                session,
                batch.issuer_id,
                "batch.anchored",
                {
                    "batch_id": batch.id,
                    "root": batch.root,
                    "tx": batch.anchor_tx,
                    "block": batch.anchor_block,
                    "chain_id": batch.chain_id,
                    "count": batch.count,
                    "credential_ids": list(
                        session.exec(select(CredentialRow.id).where(col(CredentialRow.batch_id) == batch_id))
                    ),
                },
            )
        result.confirmed.append(batch_id)
        self._fault("confirmed")
