"""What the stages of the anchoring worker share: the worker's context (settings, database,
chain client, fault hook, loaded keys), the result of a pass, and the helpers every stage uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain.adapter import Chain
from registry.chain.model import Receipt, SignedTx
from registry.config import Settings
from registry.service.keys import signer_for
from registry.service.store import (
    AnchorTx,
    Batch,
    BatchState,
    DirectoryChange,
    Issuer,
    KeyChange,
    Revocation,
    RevocationState,
    Supersession,
    TxState,
    log_event,
    session_scope,
    utcnow,
)

__all__ = [
    "FEE_BUMP",
    "GWEI",
    "IN_FLIGHT",
    "ContextView",
    "PassResult",
    "Request",
    "RequestStage",
    "Stage",
    "TxOwner",
    "WorkerContext",
]

GWEI = 10**9

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
    revocations_signed: list[int] = field(default_factory=list)
    revocations_broadcast: list[int] = field(default_factory=list)
    revocations_replaced: list[int] = field(default_factory=list)
    revocations_reorged: list[int] = field(default_factory=list)
    supersessions_signed: list[int] = field(default_factory=list)
    supersessions_broadcast: list[int] = field(default_factory=list)
    supersessions_replaced: list[int] = field(default_factory=list)
    supersessions_reorged: list[int] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    key_changes_signed: list[int] = field(default_factory=list)
    key_changes_broadcast: list[int] = field(default_factory=list)
    key_changes_replaced: list[int] = field(default_factory=list)
    key_changes_reorged: list[int] = field(default_factory=list)
    directory_changes_signed: list[int] = field(default_factory=list)
    directory_changes_broadcast: list[int] = field(default_factory=list)
    directory_changes_replaced: list[int] = field(default_factory=list)
    directory_changes_reorged: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(
            self.sealed
            or self.signed
            or self.broadcast
            or self.confirmed
            or self.reorged
            or self.replaced
            or self.revocations_signed
            or self.revocations_broadcast
            or self.revocations_replaced
            or self.revocations_reorged
            or self.supersessions_signed
            or self.supersessions_broadcast
            or self.supersessions_replaced
            or self.supersessions_reorged
            or self.key_changes_signed
            or self.key_changes_broadcast
            or self.key_changes_replaced
            or self.key_changes_reorged
            or self.directory_changes_signed
            or self.directory_changes_broadcast
            or self.directory_changes_replaced
            or self.directory_changes_reorged
        )


def list_of(result: PassResult, name: str) -> list[int]:
    """The pass's list ``name`` (e.g. ``revocations_broadcast``)."""
    found: list[int] = getattr(result, name)
    return found


IN_FLIGHT = (TxState.SIGNED, TxState.BROADCAST)
"""Recorded transactions that hold their nonce (signed or sent, not mined, not given up)."""


Request = Revocation | Supersession | KeyChange | DirectoryChange
"""A chain write that is not an anchor (asked for by the service, a signing-key registration an
anchor needs, or an operator's directory change asked for with the CLI): the same states, the
same pipeline."""


class TxOwner:
    """What a recorded transaction (``anchor_tx`` row) is for: the anchor of a batch, an on-chain
    revocation, an on-chain supersession or a signing-key registration. The stages record, send,
    track and replace all of them with the same code (and the operators' directory changes)."""

    def __init__(self, row: Batch | Request) -> None:
        self.row = row

    @property
    def is_batch(self) -> bool:
        return isinstance(self.row, Batch)

    @property
    def is_supersession(self) -> bool:
        return isinstance(self.row, Supersession)

    @property
    def is_key_change(self) -> bool:
        return isinstance(self.row, KeyChange)

    @property
    def is_directory_change(self) -> bool:
        return isinstance(self.row, DirectoryChange)

    @property
    def id(self) -> int:
        return int(self.row.id or 0)

    @property
    def issuer_id(self) -> int | None:
        """The service issuer (None for an operator's directory change)."""
        return self.row.issuer_id

    @property
    def kind(self) -> str:
        """The prefix of the owner's events: ``anchor.*``, ``revocation.*``, ``supersession.*`` or
        ``key_change.*`` or ``directory_change.*``."""
        if self.is_batch:
            return "anchor"
        if self.is_key_change:
            return "key_change"
        if self.is_directory_change:
            return "directory_change"
        return "supersession" if self.is_supersession else "revocation"

    @property
    def subject(self) -> str:
        return f"{'batch' if self.is_batch else self.kind}:{self.id}"

    @property
    def current(self) -> str | None:
        """Hash of the owner's current transaction."""
        return self.row.anchor_tx if isinstance(self.row, Batch) else self.row.tx_hash

    @current.setter
    def current(self, tx_hash: str | None) -> None:
        if isinstance(self.row, Batch):
            self.row.anchor_tx = tx_hash
        else:
            self.row.tx_hash = tx_hash

    def owns(self, query: Any) -> Any:
        """``query`` over ``anchor_tx`` narrowed to this owner's transactions."""
        if self.is_batch:
            return query.where(AnchorTx.batch_id == self.id)
        if self.is_supersession:
            return query.where(AnchorTx.supersession_id == self.id)
        if self.is_key_change:
            return query.where(AnchorTx.key_change_id == self.id)
        if self.is_directory_change:
            return query.where(AnchorTx.directory_change_id == self.id)
        return query.where(AnchorTx.revocation_id == self.id)

    def new_tx(self, signed: SignedTx) -> AnchorTx:
        return AnchorTx(
            batch_id=self.id if self.is_batch else None,
            revocation_id=self.id if isinstance(self.row, Revocation) else None,
            supersession_id=self.id if self.is_supersession else None,
            key_change_id=self.id if self.is_key_change else None,
            directory_change_id=self.id if self.is_directory_change else None,
            sender=signed.sender,
            nonce=signed.nonce,
            tx_hash=signed.tx_hash,
            raw_tx="0x" + signed.raw.hex(),
            gas_limit=signed.gas,
            max_fee_per_gas=signed.max_fee_per_gas,
            max_priority_fee_per_gas=signed.max_priority_fee_per_gas,
        )


@dataclass
class WorkerContext:
    """The state a worker's stages share; the worker owns it (``worker.client = ...`` reaches
    every stage)."""

    settings: Settings
    engine: Engine
    client: Chain
    fault: Callable[[str], None] | None = None
    signers: dict[int, LocalAccount] = field(default_factory=dict)
    """Issuer id -> its anchoring key, loaded on first use."""
    onchain_issuer: dict[str, int] = field(default_factory=dict)
    """Anchoring key address -> the chain's issuer id of that key."""


class ContextView:
    """Reads (and, for the chain client and the fault hook, replaces) the shared
    :class:`WorkerContext`; the worker and every stage see the same one."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def client(self) -> Chain:
        return self.ctx.client

    @client.setter
    def client(self, client: Chain) -> None:
        self.ctx.client = client

    @property
    def fault(self) -> Callable[[str], None] | None:
        return self.ctx.fault

    @fault.setter
    def fault(self, fault: Callable[[str], None] | None) -> None:
        self.ctx.fault = fault

    def _fault(self, step: str) -> None:
        if self.ctx.fault is not None:
            self.ctx.fault(step)


class Stage(ContextView):
    """Base of a worker stage: the shared context plus the helpers every stage uses."""

    @property
    def _signers(self) -> dict[int, LocalAccount]:
        return self.ctx.signers

    def _signer(self, session: Session, issuer_id: int) -> LocalAccount:
        """The issuer's anchoring key, loaded once, and again after the key was rotated."""
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        known = self._signers.get(issuer_id)
        if known is None or known.address.lower() != issuer.key_address.lower():
            self._signers[issuer_id] = signer_for(issuer, self.client.reads.chain_id())
        return self._signers[issuer_id]

    @property
    def confirmations(self) -> int:
        return self.settings.required_confirmations

    def _tx(self, session: Session, tx_hash: str | None) -> AnchorTx | None:
        if tx_hash is None:
            return None
        return session.exec(select(AnchorTx).where(AnchorTx.tx_hash == tx_hash)).first()

    def _issuer_on_chain(self, session: Session, issuer_id: int) -> int:
        """The chain's issuer id of ``issuer_id``'s anchoring key (0: not registered)."""
        account = self._signer(session, issuer_id)
        cache = self.ctx.onchain_issuer
        if account.address not in cache:
            info = self.client.reads.keys_by_address([account.address])[account.address]
            if not info.issuer_id:
                return 0
            cache[account.address] = info.issuer_id
        return cache[account.address]

    # -- recorded transactions, shared by anchors, revocations and supersessions --------------

    def _next_nonce(self, session: Session, address: str) -> int:
        """The nonce for a new transaction of ``address``: the lowest one at or above the node's
        pending nonce that no recorded transaction in flight holds. Anchors, revocations,
        supersessions and key changes are rows of one table, so they never collide; a hole left
        by a dropped transaction is filled, never skipped (a skipped nonce would hold back every
        later transaction)."""
        held = set(
            session.exec(
                select(AnchorTx.nonce).where(AnchorTx.sender == address).where(col(AnchorTx.state).in_(IN_FLIGHT))
            )
        )
        nonce = self.client.sender.nonce(address)
        while nonce in held:
            nonce += 1
        return nonce

    def _send_recorded(self, session: Session, owner: TxOwner, sent_fault: str) -> tuple[AnchorTx, str | None]:
        """Send the owner's recorded raw transaction again or for the first time (idempotent) and
        mark it broadcast (event ``<kind>.broadcast``); the node's answer, or None when its nonce
        went to another transaction (nothing marked: the caller sends the owner back to pending)."""
        tx = self._tx(session, owner.current)
        assert tx is not None
        outcome = self.client.sender.broadcast_raw(bytes.fromhex(tx.raw_tx[2:]))
        self._fault(sent_fault)
        if outcome == "nonce_too_low" and self.client.sender.receipt(tx.tx_hash) is None:
            return tx, None
        tx.state = TxState.BROADCAST
        tx.broadcast_at = utcnow()
        session.add(tx)
        log_event(
            session,
            f"{owner.kind}.broadcast",
            issuer_id=owner.issuer_id,
            subject=owner.subject,
            tx=tx.tx_hash,
            outcome=outcome,
        )
        return tx, outcome

    def _record(self, session: Session, owner: TxOwner, signed: SignedTx) -> AnchorTx:
        """Record a signed transaction before it is sent (a row identical to a dropped one, same
        nonce and fees, is that row again); event ``<kind>.signed``."""
        log_event(
            session,
            f"{owner.kind}.signed",
            issuer_id=owner.issuer_id,
            subject=owner.subject,
            tx=signed.tx_hash,
            nonce=signed.nonce,
            max_fee=signed.max_fee_per_gas,
            tip=signed.max_priority_fee_per_gas,
            gas=signed.gas,
        )
        same = self._tx(session, signed.tx_hash)
        if same is not None:
            same.state = TxState.SIGNED
            same.block_number = same.block_hash = same.gas_used = None
            session.add(same)
            return same
        row = owner.new_tx(signed)
        session.add(row)
        return row

    def _replacement_set(self, session: Session, owner: TxOwner, current: AnchorTx | None) -> list[AnchorTx]:
        """The owner's transactions sharing the current one's nonce that may still be mined."""
        if current is None:
            return []
        rows = session.exec(
            owner.owns(select(AnchorTx))
            .where(AnchorTx.sender == current.sender)
            .where(AnchorTx.nonce == current.nonce)
            .order_by(col(AnchorTx.id))
        )
        alive = (TxState.SIGNED, TxState.BROADCAST, TxState.REPLACED, TxState.MINED)
        members = [t for t in rows if t.state in alive or t.id == current.id]
        return members or [current]

    def _mined(self, members: list[AnchorTx], current: str) -> Receipt | None:
        """The receipt of whichever member of the replacement set is mined (one batched call)."""
        if len(members) > 1:
            found = self.client.sender.receipts([m.tx_hash for m in members])
            return next((r for r in found.values() if r is not None), None)
        return self.client.sender.receipt(current)

    def _follow_mined(
        self, session: Session, owner: TxOwner, receipt: Receipt, members: list[AnchorTx]
    ) -> AnchorTx | None:
        """A member of the replacement set other than the current one was mined: it is the
        owner's transaction now; the others are ``replaced``."""
        owner.current = receipt.tx_hash
        session.add(owner.row)
        log_event(
            session,
            f"{owner.kind}.replacement_mined",
            issuer_id=owner.issuer_id,
            subject=owner.subject,
            tx=receipt.tx_hash,
        )
        for m in members:
            if m.tx_hash != receipt.tx_hash and m.state != TxState.REPLACED:
                m.state = TxState.REPLACED
                session.add(m)
        return self._tx(session, receipt.tx_hash)

    def _drop(self, session: Session, owner: TxOwner, tx: AnchorTx | None, why: str) -> None:
        """The owner's transaction left the chain or was never mined: sign it again."""
        if isinstance(owner.row, Batch):
            self._back_to_pending(session, owner.row, tx, why)
        else:
            self._request_back_to_pending(session, owner.row, tx, why)

    def _request_back_to_pending(self, session: Session, row: Request, tx: AnchorTx | None, why: str) -> None:
        """A request's transaction is gone: pending, to be signed again."""
        if tx is not None:
            tx.state = TxState.DROPPED
            session.add(tx)
        row.state = RevocationState.PENDING
        row.tx_hash = None
        row.last_error = why
        session.add(row)
        owner = TxOwner(row)
        log_event(session, f"{owner.kind}.dropped", issuer_id=row.issuer_id, subject=owner.subject, reason=why)

    def _unmined(
        self, session: Session, owner: TxOwner, tx: AnchorTx, members: list[AnchorTx], result: PassResult
    ) -> None:
        """No member of the replacement set is mined: re-send a transaction the node forgot (as
        is), replace one it refuses as underpriced or that is stuck, give up one whose nonce
        another transaction took."""
        client = self.client
        if not client.sender.tx_known(tx.tx_hash):
            outcome = client.sender.broadcast_raw(bytes.fromhex(tx.raw_tx[2:]))
            hashes = [m.tx_hash for m in members]
            if outcome == "nonce_too_low" and not any(client.sender.receipts(hashes).values()):
                for m in members:
                    m.state = TxState.DROPPED
                    session.add(m)
                self._drop(session, owner, tx, "dropped: nonce reused")
            elif outcome == "underpriced":
                self._replace(session, owner, tx, "underpriced: the node refuses its fees", result)
            else:
                tx.state = TxState.BROADCAST
                tx.broadcast_at = utcnow()
                session.add(tx)
                log_event(
                    session,
                    f"{owner.kind}.rebroadcast",
                    issuer_id=owner.issuer_id,
                    subject=owner.subject,
                    tx=tx.tx_hash,
                    outcome=outcome,
                )
            return
        sent = _aware(tx.broadcast_at or tx.created_at)
        if (utcnow() - sent).total_seconds() >= self.settings.rebroadcast_after:
            self._replace(session, owner, tx, "stuck: still pending", result)

    def _replace(self, session: Session, owner: TxOwner, tx: AnchorTx, why: str, result: PassResult) -> None:
        """Replace a stuck or underpriced transaction: same nonce, fees up by >= 12.5 %, capped.

        The replacement is committed (row ``signed``, the old one ``replaced``, the owner
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
            if owner.row.last_error != note:
                owner.row.last_error = note
                session.add(owner.row)
                log_event(
                    session,
                    f"{owner.kind}.fee_cap",
                    issuer_id=owner.issuer_id,
                    subject=owner.subject,
                    tx=tx.tx_hash,
                    max_fee=tx.max_fee_per_gas,
                    cap=cap,
                )
            return
        account = self._account_for(session, owner)
        signed = self.client.sender.replace_fees(account, bytes.fromhex(tx.raw_tx[2:]), max_fee=max_fee, tip=tip)
        tx.state = TxState.REPLACED
        session.add(tx)
        replacement = owner.new_tx(signed)
        session.add(replacement)
        owner.current = signed.tx_hash
        owner.row.last_error = why
        session.add(owner.row)
        log_event(
            session,
            f"{owner.kind}.replaced",
            issuer_id=owner.issuer_id,
            subject=owner.subject,
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
        list_of(result, "replaced" if owner.is_batch else f"{owner.kind}s_replaced").append(owner.id)

    def _account_for(self, session: Session, owner: TxOwner) -> LocalAccount:
        """The key that signs the owner's transactions: its issuer's anchoring key."""
        assert owner.issuer_id is not None
        return self._signer(session, owner.issuer_id)

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
        log_event(session, "anchor.dropped", issuer_id=batch.issuer_id, subject=f"batch:{batch.id}", reason=why)


class RequestStage(Stage):
    """A stage moving requests (revocations, supersessions, key changes) along the same states: pending ->
    signed -> submitted -> done, each step committed before the next. Subclasses name the
    table (``model``) and give the three steps."""

    model: type[Revocation] | type[Supersession] | type[KeyChange] | type[DirectoryChange]
    #: The request's name in fault points and events: "revocation", "supersession", "key_change",
    #: "directory_change".
    noun: str
    #: The prefix of its lists in :class:`PassResult`: "revocations", "supersessions", ...
    results: str

    def run(self, result: PassResult, issuer_id: int | None = None) -> None:
        """Move every open request (of ``issuer_id``) as far as it can go now."""
        model = self.model
        with Session(self.engine) as session:
            query = select(model.id).where(col(model.state).in_(RevocationState.open_states()))
            if issuer_id is not None:
                query = query.where(model.issuer_id == issuer_id)
            ids = [int(i) for i in session.exec(query.order_by(col(model.id))) if i is not None]
        for request_id in ids:
            self._advance(request_id, result)

    def _advance(self, request_id: int, result: PassResult) -> None:
        """One request, step by step (each committed before the next)."""
        for _ in range(4):
            with Session(self.engine) as session:
                row = session.get(self.model, request_id)
                assert isinstance(row, Request)
                state = row.state
            if state == RevocationState.PENDING:
                if not self.sign(request_id, result):
                    return
            elif state == RevocationState.SIGNED:
                if not self.broadcast(request_id, result):
                    return
            elif state == RevocationState.SUBMITTED:
                self.poll(request_id, result)
                return
            else:
                return

    def sign(self, request_id: int, result: PassResult) -> bool:
        """pending -> signed (recorded); False when it cannot move on now."""
        raise NotImplementedError

    def _record_signed(self, session: Session, row: Request, signed: SignedTx) -> None:
        """pending -> signed: the transaction recorded, the request pointing at it (in the
        caller's transaction, committed before it is sent)."""
        self._record(session, TxOwner(row), signed)
        row.state = RevocationState.SIGNED
        row.tx_hash = signed.tx_hash
        session.add(row)

    def _signed(self, request_id: int, result: PassResult) -> bool:
        """After the commit of :meth:`_record_signed`: counted, fault point ``<noun>_signed``."""
        list_of(result, f"{self.results}_signed").append(request_id)
        self._fault(f"{self.noun}_signed")
        return True

    def broadcast(self, request_id: int, result: PassResult) -> bool:
        """signed -> submitted: send the recorded raw transaction (idempotent); False when its
        nonce went to another transaction (back to pending)."""
        with session_scope(self.engine) as session:
            row = session.get(self.model, request_id)
            assert isinstance(row, Request)
            tx, outcome = self._send_recorded(session, TxOwner(row), f"{self.noun}_sent")
            if outcome is None:
                self._request_back_to_pending(session, row, tx, "nonce used by another transaction")
                return False
            row.state = RevocationState.SUBMITTED
            session.add(row)
        self._broadcasts(result).append(request_id)
        self._fault(f"{self.noun}_broadcast")
        return True

    def _broadcasts(self, result: PassResult) -> list[int]:
        """The pass's list of requests of this kind broadcast."""
        return list_of(result, f"{self.results}_broadcast")

    def _reorgs(self, result: PassResult) -> list[int]:
        """The pass's list of requests of this kind sent back to pending by a reorg."""
        return list_of(result, f"{self.results}_reorged")

    def _give_up(self, session: Session, row: Request, result: PassResult) -> None:
        """``max_anchor_attempts`` transactions of ``row`` reverted: fail it (in the caller's
        transaction)."""
        raise NotImplementedError

    def _confirm(self, session: Session, row: Request, tx_hash: str, result: PassResult) -> bool:
        """``row``'s transaction is mined with its confirmations on a canonical block: when the
        chain (latest block) shows its effect, mark it done (in the caller's transaction) and
        return True; False sends it back to pending."""
        raise NotImplementedError

    #: Fault point once a request is done ("revoked" / "superseded").
    done_fault: str

    # -- submitted -> done ----------------------------------------------------------------------

    def poll(self, request_id: int, result: PassResult) -> None:
        """submitted -> done once mined with the required confirmations and still on chain; back
        to pending after a reorg or a drop; replaced when stuck or underpriced."""
        if not self._track(request_id, result):
            return
        with session_scope(self.engine) as session:
            row = session.get(self.model, request_id)
            assert isinstance(row, Request)
            tx = self._tx(session, row.tx_hash)
            assert tx is not None and tx.block_number is not None
            if self.client.reads.head() - tx.block_number + 1 < self.confirmations:
                return
            canonical = self.client.history.block_hash(tx.block_number) == tx.block_hash
            if not canonical or not self._confirm(session, row, tx.tx_hash, result):
                self._request_back_to_pending(session, row, tx, f"reorg: the chain no longer has this {self.noun}")
                self._reorgs(result).append(request_id)
                return
            tx.state = TxState.CONFIRMED
            session.add(tx)
        self._fault(self.done_fault)

    def _track(self, request_id: int, result: PassResult) -> bool:
        """Follow the submitted transaction (receipt, replacement set, reverts, fee bumps); True
        when it is mined and the confirmations are worth checking."""
        mined_now = False
        with session_scope(self.engine) as session:
            row = session.get(self.model, request_id)
            assert isinstance(row, Request) and row.tx_hash is not None
            owner = TxOwner(row)
            tx = self._tx(session, row.tx_hash)
            members = self._replacement_set(session, owner, tx)
            receipt = self._mined(members, row.tx_hash)
            if receipt is None:
                if tx is not None and tx.state == TxState.MINED:
                    why = f"reorg: the {self.noun} in block {tx.block_number} left the chain"
                    self._request_back_to_pending(session, row, tx, why)
                    self._reorgs(result).append(request_id)
                elif tx is not None:
                    self._unmined(session, owner, tx, members, result)
                return False
            if receipt.tx_hash != row.tx_hash:
                tx = self._follow_mined(session, owner, receipt, members)
            assert tx is not None
            if receipt.status != 1:
                # Refused when mined (e.g. the key was declared compromised meanwhile, or the
                # credential was revoked by another transaction): the next pre-flight says why
                # (adopted, or failed).
                tx.state = TxState.REVERTED
                session.add(tx)
                row.attempts += 1
                self._request_back_to_pending(session, row, None, f"transaction {receipt.tx_hash} reverted")
                if row.attempts >= self.settings.max_anchor_attempts:
                    self._give_up(session, row, result)
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
                    f"{self.noun}.mined",
                    issuer_id=row.issuer_id,
                    subject=owner.subject,
                    tx=receipt.tx_hash,
                    block=receipt.block_number,
                    gas_used=receipt.gas_used,
                )
        if mined_now:
            self._fault(f"{self.noun}_mined")
        return True

    # -- adoption -------------------------------------------------------------------------------

    def _adopt(self, session: Session, row: Request, note: str, done: Callable[[], None]) -> None:
        """The chain already shows the request's effect by this issuer. When one of our own
        recorded transactions did it (e.g. mined again after a reorg had dropped it), follow that
        one to its confirmations; otherwise it is ``done()`` as it stands, with ``note``."""
        owner = TxOwner(row)
        mine = list(session.exec(owner.owns(select(AnchorTx))))
        found = self.client.sender.receipts([t.tx_hash for t in mine]) if mine else {}
        ok = next((r for r in found.values() if r is not None and r.status == 1), None)
        log_event(
            session,
            f"{self.noun}.adopted",
            issuer_id=row.issuer_id,
            subject=owner.subject,
            tx=ok.tx_hash if ok is not None else None,
        )
        if ok is None:
            row.last_error = note
            done()
            return
        tx = self._tx(session, ok.tx_hash)
        assert tx is not None
        tx.state = TxState.BROADCAST
        tx.block_number = tx.block_hash = tx.gas_used = None
        session.add(tx)
        row.state = RevocationState.SUBMITTED
        row.tx_hash = ok.tx_hash
        session.add(row)
