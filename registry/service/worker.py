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

A transaction still pending after ``rebroadcast_after`` seconds, or refused as underpriced, is
*replaced*: the same transaction (same nonce, data and gas) re-signed with both fees raised by at
least 12.5 %, within the network profile's cap, and recorded before it is sent. Receipts are
looked up for every member of the replacement set; whichever is mined is the anchor.

Several workers may share one database: each issuer key is driven by one worker at a time
(a PostgreSQL advisory lock, or a file lock next to a SQLite database), so two workers never sign
for the same batch or race on a key's nonce.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain.client import BatchInfo, ChainClient
from registry.chain.networks import DEV_CHAIN_IDS
from registry.config import Settings, load_deployment
from registry.errors import ChainUnavailable, ConfigError, TransactionFailed
from registry.issue.direct import batch_metadata
from registry.issue.prepare import prepare_batch
from registry.service.store import (
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
    "FEE_BUMP",
    "AnchorLocks",
    "PassResult",
    "Worker",
    "WorkerCrash",
    "chain_client",
    "check_issuer_keys",
    "run_until_idle",
    "seal_due",
    "signer_for",
]

log = logging.getLogger("registry.service.worker")

FAULT_POINTS = ("sealed", "signed", "sent", "broadcast", "mined", "releasing", "confirmed", "revoked")
"""Named points where a fault-injection hook is called (after the step's commit, except
``sent``: after broadcasting, before recording it, and ``releasing``: after the final checks
against the chain, before the transaction that confirms the batch and releases its files commits).
``replaced`` (a fee replacement recorded, not yet sent) is called only when a transaction is
stuck."""

GWEI = 10**9
FEE_BUMP = (9, 8)
"""A replacement raises maxFeePerGas and maxPriorityFeePerGas by at least 12.5 % (geth and most
nodes require 10 %)."""

PAUSE_AT_ENV = "REGISTRY_WORKER_PAUSE_AT"
PAUSE_FILE_ENV = "REGISTRY_WORKER_PAUSE_FILE"


def _bumped(value: int) -> int:
    """``value`` raised by FEE_BUMP, rounded up, and by at least 1 wei."""
    num, den = FEE_BUMP
    return max(value + 1, -(-value * num // den))


def _aware(moment: datetime) -> datetime:
    """Timestamps read back from SQLite are naive; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _env_pause_hook(client: ChainClient) -> Callable[[str], None] | None:
    """The fault-injection hook of the crash harness (``tests/reliability_harness.py``).

    With ``REGISTRY_WORKER_PAUSE_AT=step[,step...]`` (or ``*``) and ``REGISTRY_WORKER_PAUSE_FILE``,
    a worker reaching one of those steps appends ``"<step> <pid>"`` to the file and then sleeps
    until it is killed, so the harness can SIGKILL it exactly there. Honoured on development
    chains only (31337, 1337): a production worker never pauses.
    """
    steps = {s.strip() for s in os.environ.get(PAUSE_AT_ENV, "").split(",") if s.strip()}
    report = os.environ.get(PAUSE_FILE_ENV)
    if not steps or not report:
        return None

    def hook(step: str) -> None:
        if ("*" not in steps and step not in steps) or client.chain_id() not in DEV_CHAIN_IDS:
            return
        with open(report, "a", encoding="utf-8") as fh:
            fh.write(f"{step} {os.getpid()}\n")
            fh.flush()
            os.fsync(fh.fileno())
        while True:  # until SIGKILL
            time.sleep(3600)

    return hook


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
    from registry.chain.devkeys import dev_account
    from registry.chain.keys import load_keystore

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


# -- one worker per issuer key ------------------------------------------------------------------

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


class AnchorLocks:
    """Mutual exclusion between workers (threads or processes) per issuer key and chain.

    Whoever holds the lock of a key signs, broadcasts, replaces and tracks that key's
    transactions; other workers skip the key for the pass. So one batch is never signed by two
    workers, and a key's nonce is never handed out twice.

    * PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a dedicated
      connection, keyed by database, schema, chain id and key address. It is released at the end
      of the pass, and by the server when the worker's connection dies (a killed worker never
      leaves a lock behind).
    * SQLite file: ``flock`` on ``<database>.anchor-<chain>-<address>.lock`` next to the database
      file, released by the kernel when the process dies. File locks work between processes of
      one host (SQLite cannot be shared between hosts anyway).
    * anything else (``:memory:``): a lock shared by the threads of this process.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        database = engine.url.database or ""
        self.sqlite_file = Path(database) if self.dialect == "sqlite" and database not in ("", ":memory:") else None

    @contextmanager
    def hold(self, chain_id: int, address: str) -> Iterator[bool]:
        """Try to take the lock of ``address`` on ``chain_id``; yields whether it was taken."""
        name = f"registry-anchor:{chain_id}:{address.lower()}"
        if self.dialect == "postgresql":
            with self._pg(name) as got:
                yield got
        elif self.sqlite_file is not None:
            with self._flock(
                self.sqlite_file.with_name(f"{self.sqlite_file.name}.anchor-{chain_id}-{address.lower()}.lock")
            ) as got:
                yield got
        else:
            with _THREAD_LOCKS_GUARD:
                lock = _THREAD_LOCKS.setdefault(name, threading.Lock())
            got = lock.acquire(blocking=False)
            try:
                yield got
            finally:
                if got:
                    lock.release()

    @contextmanager
    def _pg(self, name: str) -> Iterator[bool]:
        key = sa.text("hashtextextended(current_database() || ':' || current_schema() || ':' || :name, 0)")
        conn = self.engine.connect()
        got = False
        try:
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key)), {"name": name}).scalar())
            conn.commit()  # the lock is session-level: it outlives this transaction
            yield got
        finally:
            try:
                if got:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(key)), {"name": name})
                    conn.commit()
            except Exception:  # a broken connection: the server released the lock with it
                conn.invalidate()
            conn.close()

    @contextmanager
    def _flock(self, path: Path) -> Iterator[bool]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


# -- the worker -----------------------------------------------------------------------------


@dataclass
class PassResult:
    """What one pass of the worker did."""

    sealed: list[int] = field(default_factory=list)
    signed: list[int] = field(default_factory=list)
    broadcast: list[int] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    reorged: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    revoked: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    """Issuers whose key another worker holds this pass."""
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.sealed or self.signed or self.broadcast or self.confirmed or self.reorged or self.replaced)


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
        self.fault = fault if fault is not None else _env_pause_hook(client)
        self.locks = AnchorLocks(engine)
        self._signers: dict[int, LocalAccount] = {}
        self._onchain_issuer: dict[str, int] = {}
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
        """Seal what is due, then move every open batch and revocation one or more steps.

        Batches and revocations are handled issuer by issuer, each under the lock of the
        issuer's key (:class:`AnchorLocks`); an issuer whose key another worker holds is skipped.
        """
        result = PassResult()
        result.sealed = seal_due(self.engine, self.settings)
        for _ in result.sealed:
            self._fault("sealed")
        with Session(self.engine) as session:
            open_batches = list(
                session.exec(
                    select(Batch.id, Batch.issuer_id)
                    .where(col(Batch.state).in_([BatchState.PENDING, BatchState.SIGNED, BatchState.SUBMITTED]))
                    .order_by(col(Batch.id))
                )
            )
            revoking = set(
                session.exec(select(Revocation.issuer_id).where(Revocation.state == RevocationState.PENDING))
            )
            issuers = {int(i.id or 0): i.key_address for i in session.exec(select(Issuer))}
        by_issuer: dict[int, list[int]] = {}
        for batch_id, issuer_id in open_batches:
            assert batch_id is not None
            by_issuer.setdefault(int(issuer_id), []).append(int(batch_id))
        chain_id = self.client.chain_id() if by_issuer or revoking else 0
        for issuer_id in sorted(set(by_issuer) | {int(i) for i in revoking}):
            with self.locks.hold(chain_id, issuers[issuer_id]) as mine:
                if not mine:
                    result.skipped.append(issuer_id)
                    continue
                for batch_id in by_issuer.get(issuer_id, []):
                    self._advance(batch_id, result)
                self._revocations(result, issuer_id)
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
                return self._adopt(session, batch, on_chain, result)
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
                        return self._adopt(session, batch, on_chain, result)
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

    def _issuer_on_chain(self, session: Session, issuer_id: int) -> int:
        """The chain's issuer id of ``issuer_id``'s anchoring key."""
        account = self._signer(session, issuer_id)
        if account.address not in self._onchain_issuer:
            info = self.client.keys_by_address([account.address])[account.address]
            self._onchain_issuer[account.address] = info.issuer_id
        return self._onchain_issuer[account.address]

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
        log_event(session, "batch.requeued", issuer_id=batch.issuer_id, subject=f"batch:{batch.id}",
                  root=batch.root, reason=why)  # fmt: skip

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

    def _poll(self, batch_id: int, result: PassResult) -> None:
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
                found = client.receipts([m.tx_hash for m in members])
                receipt = next((r for r in found.values() if r is not None), None)
            else:
                receipt = client.receipt(batch.anchor_tx)
            if receipt is None:
                if batch.anchor_block is not None:
                    self._back_to_pending(
                        session, batch, tx,
                        f"reorg: the anchor in block {batch.anchor_block} left the chain",
                    )  # fmt: skip
                    result.reorged.append(batch_id)
                    return
                if tx is None:
                    return
                if not client.tx_known(tx.tx_hash):
                    outcome = client.broadcast_raw(bytes.fromhex(tx.raw_tx[2:]))
                    if outcome == "nonce_too_low" and not any(client.receipts([m.tx_hash for m in members]).values()):
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
                        log_event(session, "anchor.rebroadcast", issuer_id=batch.issuer_id,
                                  subject=f"batch:{batch.id}", tx=tx.tx_hash, outcome=outcome)  # fmt: skip
                    return
                sent = _aware(tx.broadcast_at or tx.created_at)
                if (utcnow() - sent).total_seconds() >= self.settings.rebroadcast_after:
                    self._replace(session, batch, tx, "stuck: still pending", result)
                return
            if receipt.tx_hash != batch.anchor_tx:
                # A transaction this one replaced was mined (or the other way round).
                batch.anchor_tx = receipt.tx_hash
                log_event(session, "anchor.replacement_mined", issuer_id=batch.issuer_id,
                          subject=f"batch:{batch.id}", tx=receipt.tx_hash)  # fmt: skip
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
            log_event(session, "batch.confirmed", issuer_id=batch.issuer_id,
                      subject=f"batch:{batch.id}", root=batch.root, tx=batch.anchor_tx,
                      block=batch.anchor_block, confirmations=head - batch.anchor_block + 1)  # fmt: skip
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
        base = self.client.base_fee()
        tip = max(_bumped(tx.max_priority_fee_per_gas), int(profile.priority_fee_gwei * GWEI))
        max_fee = min(cap, max(_bumped(tx.max_fee_per_gas), 2 * base + tip))
        tip = min(tip, max_fee)
        if max_fee < _bumped(tx.max_fee_per_gas) or tip < _bumped(tx.max_priority_fee_per_gas):
            note = f"{why}; no replacement: the fee cap of {profile.max_fee_gwei} gwei leaves no room for a bump"
            if batch.last_error != note:
                batch.last_error = note
                session.add(batch)
                log_event(session, "anchor.fee_cap", issuer_id=batch.issuer_id, subject=f"batch:{batch.id}",
                          tx=tx.tx_hash, max_fee=tx.max_fee_per_gas, cap=cap)  # fmt: skip
            return
        account = self._signer(session, batch.issuer_id)
        signed = self.client.replace_fees(account, bytes.fromhex(tx.raw_tx[2:]), max_fee=max_fee, tip=tip)
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
            session, "anchor.replaced", issuer_id=batch.issuer_id, subject=f"batch:{batch.id}",
            old=tx.tx_hash, tx=signed.tx_hash, nonce=signed.nonce, reason=why,
            max_fee=signed.max_fee_per_gas, tip=signed.max_priority_fee_per_gas, base_fee=base,
        )  # fmt: skip
        session.commit()  # recorded before it is sent
        self._fault("replaced")
        outcome = self.client.broadcast_raw(signed.raw)
        if outcome in ("sent", "known"):
            replacement.state = TxState.BROADCAST
            replacement.broadcast_at = utcnow()
            session.add(replacement)
        result.replaced.append(batch.id or 0)

    # -- revocations ------------------------------------------------------------------------

    def _revocations(self, result: PassResult, issuer_id: int | None = None) -> None:
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
