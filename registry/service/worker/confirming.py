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
from sqlmodel import Session, col, select

from registry.service.store import (
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    TxState,
    log_event,
    session_scope,
    utcnow,
)
from registry.service.webhooks import enqueue
from registry.service.worker.stage import GWEI, PassResult, Stage

__all__ = ["FEE_BUMP", "Confirming"]

FEE_BUMP = (9, 8)
"""A replacement raises maxFeePerGas and maxPriorityFeePerGas by at least 12.5 % (geth and most
nodes require 10 %)."""


def _bumped(value: int) -> int:
    """``value`` raised by FEE_BUMP, rounded up, and by at least 1 wei."""
    num, den = FEE_BUMP
    return max(value + 1, -(-value * num // den))


def _aware(moment: datetime) -> datetime:
    """Timestamps read back from SQLite are naive; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Confirming(Stage):
    """Track a submitted anchor to its confirmations; replace it when stuck or underpriced."""

    def _replacement_set(self, session: Session, batch: Batch, current: AnchorTx | None) -> list[AnchorTx]:
        """The batch's transactions sharing the current one's nonce that may still be mined."""
        if current is None:
            return []
        rows = session.exec(
            select(AnchorTx)
            .where(AnchorTx.batch_id == batch.id)
            .where(AnchorTx.sender == current.sender)
            .where(AnchorTx.nonce == current.nonce)
            .order_by(col(AnchorTx.id))
        )
        alive = (TxState.SIGNED, TxState.BROADCAST, TxState.REPLACED, TxState.MINED)
        members = [t for t in rows if t.state in alive or t.id == current.id]
        return members or [current]

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
            members = self._replacement_set(session, batch, tx)
            if len(members) > 1:
                found = client.sender.receipts([m.tx_hash for m in members])
                receipt = next((r for r in found.values() if r is not None), None)
            else:
                receipt = client.sender.receipt(batch.anchor_tx)
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
                if tx is None:
                    return
                if not client.sender.tx_known(tx.tx_hash):
                    outcome = client.sender.broadcast_raw(bytes.fromhex(tx.raw_tx[2:]))
                    hashes = [m.tx_hash for m in members]
                    if outcome == "nonce_too_low" and not any(client.sender.receipts(hashes).values()):
                        for m in members:
                            m.state = TxState.DROPPED
                            session.add(m)
                        self._back_to_pending(session, batch, tx, "dropped: nonce reused")
                    elif outcome == "underpriced":
                        self._replace(session, batch, tx, "underpriced: the node refuses its fees", result)
                    else:
                        tx.state = TxState.BROADCAST
                        tx.broadcast_at = utcnow()
                        session.add(tx)
                        log_event(
                            session,
                            "anchor.rebroadcast",
                            issuer_id=batch.issuer_id,
                            subject=f"batch:{batch.id}",
                            tx=tx.tx_hash,
                            outcome=outcome,
                        )
                    return
                sent = _aware(tx.broadcast_at or tx.created_at)
                if (utcnow() - sent).total_seconds() >= self.settings.rebroadcast_after:
                    self._replace(session, batch, tx, "stuck: still pending", result)
                return
            if receipt.tx_hash != batch.anchor_tx:
                # A transaction this one replaced was mined (or the other way round).
                batch.anchor_tx = receipt.tx_hash
                log_event(
                    session,
                    "anchor.replacement_mined",
                    issuer_id=batch.issuer_id,
                    subject=f"batch:{batch.id}",
                    tx=receipt.tx_hash,
                )
                for m in members:
                    if m.tx_hash != receipt.tx_hash and m.state != TxState.REPLACED:
                        m.state = TxState.REPLACED
                        session.add(m)
                tx = self._tx(session, receipt.tx_hash)
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
            session.execute(
                sa.update(CredentialRow)
                .where(col(CredentialRow.batch_id) == batch_id)
                .where(col(CredentialRow.state) == CredentialState.BATCHED)
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

    def _replace(self, session: Session, batch: Batch, tx: AnchorTx, why: str, result: PassResult) -> None:
        """Replace a stuck or underpriced anchor: same nonce, fees up by >= 12.5 %, capped.

        The replacement is committed (row ``signed``, the old one ``replaced``, the batch
        pointing at the new hash) before it is broadcast, like every transaction of the worker.
        When the profile's cap leaves no room for a 12.5 % bump, the transaction is left to wait.
        """
        profile = self.settings.profile
        cap = int(profile.max_fee_gwei * GWEI)
        base = self.client.sender.base_fee()
        tip = max(_bumped(tx.max_priority_fee_per_gas), int(profile.priority_fee_gwei * GWEI))
        max_fee = min(cap, max(_bumped(tx.max_fee_per_gas), 2 * base + tip))
        tip = min(tip, max_fee)
        if max_fee < _bumped(tx.max_fee_per_gas) or tip < _bumped(tx.max_priority_fee_per_gas):
            note = f"{why}; no replacement: the fee cap of {profile.max_fee_gwei} gwei leaves no room for a bump"
            if batch.last_error != note:
                batch.last_error = note
                session.add(batch)
                log_event(
                    session,
                    "anchor.fee_cap",
                    issuer_id=batch.issuer_id,
                    subject=f"batch:{batch.id}",
                    tx=tx.tx_hash,
                    max_fee=tx.max_fee_per_gas,
                    cap=cap,
                )
            return
        account = self._signer(session, batch.issuer_id)
        signed = self.client.sender.replace_fees(account, bytes.fromhex(tx.raw_tx[2:]), max_fee=max_fee, tip=tip)
        tx.state = TxState.REPLACED
        session.add(tx)
        replacement = AnchorTx(
            batch_id=batch.id or 0,
            sender=signed.sender,
            nonce=signed.nonce,
            tx_hash=signed.tx_hash,
            raw_tx="0x" + signed.raw.hex(),
            gas_limit=signed.gas,
            max_fee_per_gas=signed.max_fee_per_gas,
            max_priority_fee_per_gas=signed.max_priority_fee_per_gas,
        )
        session.add(replacement)
        batch.anchor_tx = signed.tx_hash
        batch.last_error = why
        session.add(batch)
        log_event(
            session,
            "anchor.replaced",
            issuer_id=batch.issuer_id,
            subject=f"batch:{batch.id}",
            old=tx.tx_hash,
            tx=signed.tx_hash,
            nonce=signed.nonce,
            reason=why,
            max_fee=signed.max_fee_per_gas,
            tip=signed.max_priority_fee_per_gas,
            base_fee=base,
        )
        session.commit()  # recorded before it is sent
        self._fault("replaced")
        outcome = self.client.sender.broadcast_raw(signed.raw)
        if outcome in ("sent", "known"):
            replacement.state = TxState.BROADCAST
            replacement.broadcast_at = utcnow()
            session.add(replacement)
        result.replaced.append(batch.id or 0)
