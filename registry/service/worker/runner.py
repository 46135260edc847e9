"""The anchoring worker's loop: one pass seals what is due and moves every open batch and
revocation, issuer by issuer under the lock of the issuer's key; RPC failures back off
exponentially while sealing (database only) keeps going."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain.adapter import Chain
from registry.config import Settings
from registry.errors import ChainUnavailable
from registry.service.sealing import seal_due
from registry.service.store import REQUEST_MODELS, Batch, BatchState, Issuer, RevocationState
from registry.service.worker.anchoring import Anchoring
from registry.service.worker.confirming import Confirming
from registry.service.worker.delivering import Delivering
from registry.service.worker.expiring import Expiring
from registry.service.worker.faults import env_pause_hook
from registry.service.worker.keying import KeyChanging
from registry.service.worker.locks import AnchorLocks
from registry.service.worker.revoking import Revoking
from registry.service.worker.stage import ContextView, PassResult, WorkerContext
from registry.service.worker.superseding import Superseding

__all__ = ["Worker", "run_until_idle"]

log = logging.getLogger("registry.service.worker")


class Worker(ContextView):
    """Drives batches through the anchoring pipeline; safe to kill at any point."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        client: Chain,
        *,
        fault: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            WorkerContext(settings, engine, client, fault if fault is not None else env_pause_hook(client))
        )
        self.locks = AnchorLocks(engine)
        self.wake = threading.Event()
        self.keying = KeyChanging(self.ctx)
        self.anchoring = Anchoring(self.ctx, self.keying)
        self.confirming = Confirming(self.ctx)
        self.revoking = Revoking(self.ctx)
        self.superseding = Superseding(self.ctx)
        self.expiring = Expiring(self.ctx)
        self.delivering = Delivering(self.ctx)

    # -- one pass ---------------------------------------------------------------------------

    def run_once(self) -> PassResult:
        """Seal what is due, then move every open key change, batch, revocation and supersession
        one or more steps.

        They are handled issuer by issuer, each under the lock of the issuer's key
        (:class:`AnchorLocks`); an issuer whose key another worker holds is skipped. Key changes go
        first and again after the batches (one a batch queued): an anchor waits for its issuer's
        signing key to be of record. Then batches: a supersession waits for its new credential's
        batch to be confirmed.
        """
        result = PassResult()
        result.sealed = seal_due(self.engine, self.settings)
        for _ in result.sealed:
            self._fault("sealed")
        with Session(self.engine) as session:
            open_batches = list(
                session.exec(
                    select(Batch.id, Batch.issuer_id)
                    .where(col(Batch.state).in_(BatchState.open_states()))
                    .order_by(col(Batch.id))
                )
            )
            requesting = {
                issuer_id
                for model in REQUEST_MODELS
                for issuer_id in session.exec(
                    select(model.issuer_id).where(col(model.state).in_(RevocationState.open_states()))
                )
            }
            issuers = {int(i.id or 0): i.key_address for i in session.exec(select(Issuer))}
        by_issuer: dict[int, list[int]] = {}
        for batch_id, issuer_id in open_batches:
            assert batch_id is not None
            by_issuer.setdefault(int(issuer_id), []).append(int(batch_id))
        chain_id = self.client.reads.chain_id() if by_issuer or requesting else 0
        for issuer_id in sorted(set(by_issuer) | {int(i) for i in requesting}):
            with self.locks.hold(chain_id, issuers[issuer_id]) as mine:
                if not mine:
                    result.skipped.append(issuer_id)
                    continue
                self.keying.run(result, issuer_id)
                batches = by_issuer.get(issuer_id, [])
                for batch_id in batches:
                    self._advance(batch_id, result)
                queued = len(result.key_changes_signed)
                self.keying.run(result, issuer_id)  # one a batch just queued
                if len(result.key_changes_signed) > queued:
                    for batch_id in self._pending(batches):  # the key may be of record already
                        self._advance(batch_id, result)
                self.revoking.run(result, issuer_id)
                self.superseding.run(result, issuer_id)
        self.expiring.run(result)  # before delivering: a pass sends what it found
        self.delivering.run(result)
        return result

    def _pending(self, batch_ids: list[int]) -> list[int]:
        """Those of ``batch_ids`` still pending (waiting for their issuer's key change)."""
        with Session(self.engine) as session:
            query = select(Batch.id).where(col(Batch.id).in_(batch_ids)).where(Batch.state == BatchState.PENDING)
            return sorted(int(i) for i in session.exec(query) if i is not None)

    def _advance(self, batch_id: int, result: PassResult) -> None:
        """Move one batch as far as it can go now (each step committed before the next)."""
        for _ in range(4):
            with Session(self.engine) as session:
                batch = session.get(Batch, batch_id)
                assert batch is not None
                state = batch.state
            if state == BatchState.PENDING:
                if not self.anchoring.sign(batch_id, result):
                    return
            elif state == BatchState.SIGNED:
                if not self.anchoring.broadcast(batch_id, result):
                    return
            elif state == BatchState.SUBMITTED:
                self.confirming.poll(batch_id, result)
                return
            else:
                return

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
    """Run passes until nothing is open (tests, the demo): every batch confirmed or failed,
    every revocation and supersession done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        worker.run_once()
        with Session(worker.engine) as session:
            open_count = session.exec(
                select(sa.func.count()).select_from(Batch).where(col(Batch.state).in_(BatchState.open_states()))
            ).one()
            queued = sum(
                session.exec(
                    select(sa.func.count())
                    .select_from(model)
                    .where(col(model.state).in_(RevocationState.open_states()))
                ).one()
                for model in REQUEST_MODELS
            )
        if not open_count and not queued:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{open_count} batch(es) still open after {timeout:.0f} s")
        if mine is not None:
            mine()
        time.sleep(0.05)
