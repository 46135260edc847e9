"""The anchoring worker: credentials in the database -> sealed batch -> signed transaction ->
broadcast -> mined -> N confirmations -> credential files released (DESIGN.md, anchoring
pipeline).

Every step is committed to the database before the next begins, so a crash anywhere resumes on
the next pass:

* sealing claims queued credentials, computes salts, digests, the Merkle tree and every proof,
  and stores them with the batch root, all in one transaction (a crash loses nothing);
* the anchoring transaction is signed and *recorded* (raw bytes, hash, nonce, EIP-1559 fees)
  before it is broadcast; after a crash the same raw transaction is sent again, so a root is never
  anchored by two transactions, and a root the contract already knows (``RootAlreadyAnchored``)
  is adopted from the chain's own batch record;
* files are released only once the receipt has the required confirmations *and* the contract's
  batch record agrees; a receipt that disappears (reorg) moves the batch back to ``pending``.

RPC failures back off exponentially; sealing (database only) keeps going while the chain is down.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain import ChainClient
from registry.config import Settings, load_deployment
from registry.errors import ChainUnavailable, ConfigError, TransactionFailed
from registry.issuing import batch_metadata
from registry.pipeline import prepare_batch
from registry.store import (
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Issuer,
    Revocation,
    RevocationState,
    TxState,
    log_event,
    session_scope,
    utcnow,
)

__all__ = [
    "FAULT_POINTS",
    "PassResult",
    "Worker",
    "WorkerCrash",
    "chain_client",
    "check_issuer_keys",
    "run_until_idle",
    "seal_due",
    "signer_for",
]

log = logging.getLogger("registry.worker")

FAULT_POINTS = ("sealed", "signed", "sent", "broadcast", "mined", "confirmed", "revoked")
"""Named points where a fault-injection hook is called (after the step's commit, except
``sent``: after broadcasting, before recording it)."""

GWEI = 10**9


class WorkerCrash(BaseException):
    """Raised by a fault hook to simulate the process dying at a named step.

    A ``BaseException`` so that no recovery code catches it: it behaves like a kill.
    """

    def __init__(self, step: str) -> None:
        self.step = step
        super().__init__(f"simulated crash at {step}")


def chain_client(settings: Settings) -> ChainClient:
    """A client for the service's RPC bound to the registry recorded for that chain."""
    client = ChainClient(settings.rpc)
    if settings.registry_address:
        client.registry_address = to_checksum_address(settings.registry_address)
    else:
        client.registry_address = to_checksum_address(load_deployment(settings, client.chain_id())["address"])
    return client


def signer_for(issuer: Issuer, chain_id: int) -> LocalAccount:
    """The anchoring key of ``issuer``: its encrypted keystore, or a dev key on dev chains only."""
    from registry.devkeys import dev_account
    from registry.keys import load_keystore

    kind, _, value = issuer.key_source.partition(":")
    if kind == "keystore":
        account = load_keystore(Path(value))
    elif kind == "dev":
        account = dev_account(value, chain_id)
    else:
        raise ConfigError(f"issuer {issuer.name}: unknown key source {issuer.key_source!r}")
    if account.address.lower() != issuer.key_address.lower():
        raise ConfigError(
            f"issuer {issuer.name}: the key from {kind} is {account.address}, "
            f"but the issuer's anchoring key is {issuer.key_address}"
        )
    return account


def check_issuer_keys(engine: Engine, chain_id: int) -> dict[int, LocalAccount]:
    """Load every issuer's key; raises ConfigError (refusing to start) on any unusable key,
    in particular a development key on a chain that is not a development chain."""
    with Session(engine) as session:
        issuers = list(session.exec(select(Issuer)))
    return {int(i.id or 0): signer_for(i, chain_id) for i in issuers}


# -- sealing (database only) ----------------------------------------------------------------


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
        placeholder = "0x" + keccak(f"sealing:{issuer_id}:{ids[0]}:{time.time_ns()}".encode()).hex()
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
        batch.metadata_hash = "0x" + keccak(metadata).hex()
        session.add(batch)
        log_event(
            session, "batch.sealed", issuer_id=issuer_id, subject=f"batch:{batch.id}",
            root=batch.root, count=batch.count,
        )  # fmt: skip
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


# -- the worker -----------------------------------------------------------------------------


@dataclass
class PassResult:
    """What one pass of the worker did."""

    sealed: list[int] = field(default_factory=list)
    signed: list[int] = field(default_factory=list)
    broadcast: list[int] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    reorged: list[int] = field(default_factory=list)
    revoked: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.sealed or self.signed or self.broadcast or self.confirmed or self.reorged)


class Worker:
    """Drives batches through the anchoring pipeline; safe to kill at any point."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        client: ChainClient,
        *,
        fault: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.client = client
        self.fault = fault
        self._signers: dict[int, LocalAccount] = {}
        self.wake = threading.Event()

    # -- helpers ----------------------------------------------------------------------------

    def _fault(self, step: str) -> None:
        if self.fault is not None:
            self.fault(step)

    def _signer(self, session: Session, issuer_id: int) -> LocalAccount:
        if issuer_id not in self._signers:
            issuer = session.get(Issuer, issuer_id)
            assert issuer is not None
            self._signers[issuer_id] = signer_for(issuer, self.client.chain_id())
        return self._signers[issuer_id]

    @property
    def confirmations(self) -> int:
        return self.settings.required_confirmations

    # -- one pass ---------------------------------------------------------------------------

    def run_once(self) -> PassResult:
        """Seal what is due, then move every open batch and revocation one or more steps."""
        result = PassResult()
        result.sealed = seal_due(self.engine, self.settings)
        for _ in result.sealed:
            self._fault("sealed")
        with Session(self.engine) as session:
            open_ids = list(
                session.exec(
                    select(Batch.id)
                    .where(col(Batch.state).in_([BatchState.PENDING, BatchState.SIGNED, BatchState.SUBMITTED]))
                    .order_by(col(Batch.id))
                )
            )
        for batch_id in open_ids:
            assert batch_id is not None
            self._advance(batch_id, result)
        self._revocations(result)
        return result

    def _advance(self, batch_id: int, result: PassResult) -> None:
        """Move one batch as far as it can go now (each step committed before the next)."""
        for _ in range(4):
            with Session(self.engine) as session:
                batch = session.get(Batch, batch_id)
                assert batch is not None
                state = batch.state
            if state == BatchState.PENDING:
                if not self._sign(batch_id, result):
                    return
            elif state == BatchState.SIGNED:
                if not self._broadcast(batch_id, result):
                    return
            elif state == BatchState.SUBMITTED:
                self._poll(batch_id, result)
                return
            else:
                return

    def _sign(self, batch_id: int, result: PassResult) -> bool:
        """pending -> signed: adopt an anchor already on chain, or sign and record a new tx."""
        client = self.client
        with session_scope(self.engine) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            on_chain = client.batches([batch.root])[batch.root]
            if on_chain is not None:
                return self._adopt(session, batch, on_chain.block_number)
            account = self._signer(session, batch.issuer_id)
            in_flight = session.exec(
                select(sa.func.max(AnchorTx.nonce))
                .where(AnchorTx.sender == account.address)
                .where(col(AnchorTx.state).in_([TxState.SIGNED, TxState.BROADCAST]))
            ).one()
            nonce = client.nonce(account.address)
            if in_flight is not None:
                nonce = max(nonce, int(in_flight) + 1)
            profile = self.settings.profile
            fn = client.fn(
                "anchor", bytes.fromhex(batch.root[2:]), batch.count,
                bytes.fromhex(batch.metadata_hash[2:]),
            )  # fmt: skip
            try:
                signed = client.sign_call(
                    account, fn, "anchor batch", nonce=nonce,
                    max_fee_cap=int(profile.max_fee_gwei * GWEI),
                    priority=int(profile.priority_fee_gwei * GWEI),
                )  # fmt: skip
            except TransactionFailed as exc:
                if exc.reason.startswith("RootAlreadyAnchored"):
                    on_chain = client.batches([batch.root])[batch.root]
                    if on_chain is not None:
                        return self._adopt(session, batch, on_chain.block_number)
                batch.attempts += 1
                batch.last_error = str(exc)
                if batch.attempts >= self.settings.max_anchor_attempts:
                    batch.state = BatchState.FAILED
                session.add(batch)
                log_event(
                    session, "anchor.refused", issuer_id=batch.issuer_id,
                    subject=f"batch:{batch.id}", error=str(exc), attempts=batch.attempts,
                )  # fmt: skip
                result.errors.append(str(exc))
                return False
            same = self._tx(session, signed.tx_hash)
            if same is not None:
                # Identical to a dropped transaction (same nonce and fees): it is the same one.
                same.state = TxState.SIGNED
                same.block_number = same.block_hash = same.gas_used = None
                session.add(same)
            else:
                session.add(
                    AnchorTx(
                        batch_id=batch_id,
                        sender=signed.sender,
                        nonce=signed.nonce,
                        tx_hash=signed.tx_hash,
                        raw_tx="0x" + signed.raw.hex(),
                        gas_limit=signed.gas,
                        max_fee_per_gas=signed.max_fee_per_gas,
                        max_priority_fee_per_gas=signed.max_priority_fee_per_gas,
                    )
                )
            batch.state = BatchState.SIGNED
            batch.anchor_tx = signed.tx_hash
            batch.anchor_block = None
            batch.confirmations_required = self.confirmations
            batch.chain_id = client.chain_id()
            batch.registry_address = (client.registry_address or "").lower()
            session.add(batch)
            log_event(
                session, "anchor.signed", issuer_id=batch.issuer_id, subject=f"batch:{batch.id}",
                tx=signed.tx_hash, nonce=signed.nonce, max_fee=signed.max_fee_per_gas,
                tip=signed.max_priority_fee_per_gas, gas=signed.gas,
            )  # fmt: skip
        result.signed.append(batch_id)
        self._fault("signed")
        return True

    def _adopt(self, session: Session, batch: Batch, block: int) -> bool:
        """The root is already on chain (an earlier transaction of ours): follow that one."""
        tx_hash = self.client.anchor_tx_of(batch.root, block)
        if tx_hash is None:
            raise ChainUnavailable(self.client.rpc_url, f"no BatchAnchored log in block {block}")
        batch.state = BatchState.SUBMITTED
        batch.anchor_tx = tx_hash
        batch.anchor_block = None
        batch.chain_id = self.client.chain_id()
        batch.registry_address = (self.client.registry_address or "").lower()
        batch.confirmations_required = batch.confirmations_required or self.confirmations
        session.add(batch)
        log_event(
            session, "anchor.adopted", issuer_id=batch.issuer_id, subject=f"batch:{batch.id}",
            tx=tx_hash, block=block,
        )  # fmt: skip
        return True

    def _tx(self, session: Session, tx_hash: str | None) -> AnchorTx | None:
        if tx_hash is None:
            return None
        return session.exec(select(AnchorTx).where(AnchorTx.tx_hash == tx_hash)).first()

    def _back_to_pending(self, session: Session, batch: Batch, tx: AnchorTx | None, why: str) -> None:
        if tx is not None:
            tx.state = TxState.DROPPED
            session.add(tx)
        batch.state = BatchState.PENDING
        batch.anchor_tx = None
        batch.anchor_block = None
        batch.anchored_at = None
        batch.last_error = why
        session.add(batch)
        log_event(session, "anchor.dropped", issuer_id=batch.issuer_id,
                  subject=f"batch:{batch.id}", reason=why)  # fmt: skip

    def _broadcast(self, batch_id: int, result: PassResult) -> bool:
        """signed -> submitted: send the recorded raw transaction (idempotent)."""
        with session_scope(self.engine) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            tx = self._tx(session, batch.anchor_tx)
            assert tx is not None
            outcome = self.client.broadcast_raw(bytes.fromhex(tx.raw_tx[2:]))
            self._fault("sent")
            if outcome == "nonce_too_low" and self.client.receipt(tx.tx_hash) is None:
                self._back_to_pending(session, batch, tx, "nonce used by another transaction")
                return False
            tx.state = TxState.BROADCAST
            tx.broadcast_at = utcnow()
            batch.state = BatchState.SUBMITTED
            session.add(tx)
            session.add(batch)
            log_event(session, "anchor.broadcast", issuer_id=batch.issuer_id,
                      subject=f"batch:{batch.id}", tx=tx.tx_hash, outcome=outcome)  # fmt: skip
        result.broadcast.append(batch_id)
        self._fault("broadcast")
        return True

    def _poll(self, batch_id: int, result: PassResult) -> None:
        """submitted -> confirmed (files released), or back to pending after a reorg/drop."""
        client = self.client
        mined_now = False
        with session_scope(self.engine) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None and batch.anchor_tx is not None
            tx = self._tx(session, batch.anchor_tx)
            receipt = client.receipt(batch.anchor_tx)
            if receipt is None:
                if batch.anchor_block is not None:
                    self._back_to_pending(
                        session, batch, tx,
                        f"reorg: the anchor in block {batch.anchor_block} left the chain",
                    )  # fmt: skip
                    result.reorged.append(batch_id)
                    return
                if tx is not None and not client.tx_known(tx.tx_hash):
                    outcome = client.broadcast_raw(bytes.fromhex(tx.raw_tx[2:]))
                    if outcome == "nonce_too_low" and client.receipt(tx.tx_hash) is None:
                        self._back_to_pending(session, batch, tx, "dropped: nonce reused")
                    else:
                        tx.broadcast_at = utcnow()
                        session.add(tx)
                        log_event(session, "anchor.rebroadcast", issuer_id=batch.issuer_id,
                                  subject=f"batch:{batch.id}", tx=tx.tx_hash)  # fmt: skip
                return
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
                log_event(session, "anchor.mined", issuer_id=batch.issuer_id,
                          subject=f"batch:{batch.id}", tx=receipt.tx_hash,
                          block=receipt.block_number, gas_used=receipt.gas_used)  # fmt: skip
        if mined_now:
            self._fault("mined")
        with session_scope(self.engine) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None and batch.anchor_block is not None
            required = batch.confirmations_required or self.confirmations
            head = client.head()
            if head - batch.anchor_block + 1 < required:
                return
            # Final checks against the chain itself before anything is released.
            canonical = client.block_hash(batch.anchor_block)
            on_chain = client.batches([batch.root])[batch.root]
            if canonical != receipt.block_hash or on_chain is None or on_chain.block_number != batch.anchor_block:
                tx = self._tx(session, batch.anchor_tx)
                self._back_to_pending(session, batch, tx, "reorg: the chain no longer has this anchor")
                result.reorged.append(batch_id)
                return
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
            log_event(session, "batch.confirmed", issuer_id=batch.issuer_id,
                      subject=f"batch:{batch.id}", root=batch.root, tx=batch.anchor_tx,
                      block=batch.anchor_block, confirmations=head - batch.anchor_block + 1)  # fmt: skip
        result.confirmed.append(batch_id)
        self._fault("confirmed")

    # -- revocations ------------------------------------------------------------------------

    def _revocations(self, result: PassResult) -> None:
        """Send pending revocations of confirmed batches (idempotent: the contract refuses a
        second revocation, which counts as done)."""
        with Session(self.engine) as session:
            pending = list(
                session.exec(
                    select(Revocation).where(Revocation.state == RevocationState.PENDING).order_by(col(Revocation.id))
                )
            )
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
        root = bytes.fromhex(batch.root[2:])
        credential = session.get(CredentialRow, rev.credential_id) if rev.credential_id else None
        if credential is not None:
            assert credential.digest is not None
            fn = self.client.fn("revokeCredential", bytes.fromhex(credential.digest[2:]), rev.reason)
            action, already = "revoke credential", "CredentialAlreadyRevoked"
        else:
            fn = self.client.fn("revokeBatch", root, rev.reason)
            action, already = "revoke batch", "BatchAlreadyRevoked"
        tx_hash: str | None = None
        try:
            tx_hash = self.client.transact(account, fn, action).tx_hash
        except TransactionFailed as exc:
            if not exc.reason.startswith(already):
                rev.last_error = str(exc)
                rev.state = RevocationState.FAILED
                session.add(rev)
                log_event(session, "revocation.failed", issuer_id=rev.issuer_id,
                          subject=f"revocation:{rev.id}", error=str(exc))  # fmt: skip
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
        log_event(session, "revocation.done", issuer_id=rev.issuer_id,
                  subject=f"revocation:{rev.id}", tx=tx_hash, batch=batch.id,
                  credential=rev.credential_id, reason=rev.reason)  # fmt: skip
        session.commit()
        if rev.id is not None:
            result.revoked.append(rev.id)
        self._fault("revoked")

    # -- loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; RPC failures back off up to ``rpc_retry_max``."""
        backoff = self.settings.worker_interval
        while not stop.is_set():
            try:
                result = self.run_once()
                backoff = self.settings.worker_interval
                delay = 0.05 if result.busy else self.settings.worker_interval
            except ChainUnavailable as exc:
                log.warning("chain unavailable, retrying in %.1f s: %s", backoff, exc.reason)
                delay = backoff
                backoff = min(backoff * 2, self.settings.rpc_retry_max)
            except Exception:
                log.exception("worker pass failed; retrying in %.1f s", backoff)
                delay = backoff
                backoff = min(backoff * 2, self.settings.rpc_retry_max)
            self.wake.wait(delay)
            self.wake.clear()

    def start(self) -> tuple[threading.Thread, threading.Event]:
        """Run in a daemon thread (the service's in-process worker)."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="anchoring-worker", daemon=True)
        thread.start()
        return thread, stop


def run_until_idle(worker: Worker, *, timeout: float = 60.0, mine: Callable[[], Any] | None = None) -> None:
    """Run passes until nothing is open (tests, the demo): every batch confirmed or failed."""
    deadline = time.monotonic() + timeout
    while True:
        worker.run_once()
        with Session(worker.engine) as session:
            open_count = session.exec(
                select(sa.func.count())
                .select_from(Batch)
                .where(col(Batch.state).in_([BatchState.PENDING, BatchState.SIGNED, BatchState.SUBMITTED]))
            ).one()
            queued = session.exec(
                select(sa.func.count()).select_from(Revocation).where(Revocation.state == RevocationState.PENDING)
            ).one()
        if not open_count and not queued:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{open_count} batch(es) still open after {timeout:.0f} s")
        if mine is not None:
            mine()
        time.sleep(0.05)
