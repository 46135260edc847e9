"""What the stages of the anchoring worker share: the worker's context (settings, database,
chain client, fault hook, loaded keys), the result of a pass, and the helpers every stage uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.chain.adapter import Chain
from registry.config import Settings
from registry.service.keys import signer_for
from registry.service.store import AnchorTx, Batch, BatchState, Issuer, TxState, log_event

__all__ = ["GWEI", "ContextView", "PassResult", "Stage", "WorkerContext"]

GWEI = 10**9


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
        if issuer_id not in self._signers:
            issuer = session.get(Issuer, issuer_id)
            assert issuer is not None
            self._signers[issuer_id] = signer_for(issuer, self.client.reads.chain_id())
        return self._signers[issuer_id]

    @property
    def confirmations(self) -> int:
        return self.settings.required_confirmations

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
        log_event(session, "anchor.dropped", issuer_id=batch.issuer_id, subject=f"batch:{batch.id}", reason=why)
