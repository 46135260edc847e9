"""Several workers on one database: two real worker processes never sign one batch twice nor
hand out one nonce twice (per-key locks: PostgreSQL advisory locks, file locks next to SQLite);
run on SQLite, and on PostgreSQL when REGISTRY_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from registry.service.store import AnchorTx, Batch, BatchState, Event, TxState
from registry.service.worker import AnchorLocks
from tests.chain_fixtures import Registry
from tests.reliability_harness import (
    Miner,
    WorkerProcess,
    check_invariants,
    idle,
    queue_credentials,
    wait_for,
    worker_env,
)
from tests.service_support import Database, add_issuer

pytestmark = pytest.mark.e2e


def test_anchor_locks_exclude_other_engines_and_are_released(db: Database) -> None:
    other = db.new_engine()
    try:
        mine, theirs = AnchorLocks(db.engine), AnchorLocks(other)
        with mine.hold(31337, "0xAbC") as got:
            assert got
            with theirs.hold(31337, "0xabc") as also:
                assert not also, "a second worker must not get the same key"
            with theirs.hold(31337, "0xdef") as different_key, theirs.hold(1, "0xabc") as different_chain:
                assert different_key and different_chain
        with theirs.hold(31337, "0xabc") as got_after:
            assert got_after, "the lock is released at the end of the pass"
    finally:
        other.dispose()


def test_two_worker_processes_never_anchor_twice_nor_share_a_nonce(
    db: Database, registry: Registry, tmp_path: Path
) -> None:
    start = registry.client.reads.head() + 1
    with Session(db.engine) as session:
        one, _, ach1 = add_issuer(session, registry, 1)
        two, _, ach2 = add_issuer(session, registry, 2)
        assert one.id is not None and two.id is not None
        plan = [(one.id, ach1), (two.id, ach2)]
    issued: set[str] = set()
    env = worker_env(registry, db, batch_size=3, batch_max_age=1.0, confirmations=2, worker_interval=0.05)
    workers = [WorkerProcess(env, tmp_path, name=f"worker{i}") for i in (1, 2)]
    with Miner(registry.rpc_url, 0.2):
        for w in workers:
            w.start()
        try:
            for round_ in range(4):  # keep feeding both issuers while both workers run
                for issuer_id, ach in plan:
                    issued.update(queue_credentials(db.engine, issuer_id, ach, 6, f"w{round_}-{issuer_id}"))
                wait_for(lambda: idle(db.engine), 90, "both workers to anchor everything")
                assert all(w.alive for w in workers), [w.tail() for w in workers]
        finally:
            for w in workers:
                w.stop()
    with Session(db.engine) as session:
        batches = list(session.exec(select(Batch)))
        txs = list(session.exec(select(AnchorTx)))
        kinds = Counter(e.kind for e in session.exec(select(Event)))
    assert len(batches) == 16 and {b.state for b in batches} == {BatchState.CONFIRMED}
    # One signed transaction per batch: nothing signed twice, nothing dropped or replaced.
    assert sorted(Counter(t.batch_id for t in txs if t.batch_id is not None).values()) == [1] * len(batches)
    assert {t.state for t in txs} == {TxState.CONFIRMED}
    assert kinds["anchor.dropped"] == 0 and kinds["anchor.refused"] == 0 and kinds["anchor.signed"] == 16
    # Each key's nonces were handed out once each.
    for sender in {t.sender for t in txs}:
        nonces = [t.nonce for t in txs if t.sender == sender]
        assert len(nonces) == len(set(nonces)), f"nonce reused by {sender}: {sorted(nonces)}"
    assert check_invariants(db.engine, registry.client, issued, final=True, from_block=start) == []
