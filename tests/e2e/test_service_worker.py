"""The anchoring worker against a real anvil and a real database (SQLite; PostgreSQL too when
REGISTRY_TEST_POSTGRES_URL is set): the happy path, a crash at every step, a root already on
chain, a reorg, RPC outages, revocations."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, select

from registry.chain.abi import registry_abi
from registry.chain.adapter import Chain
from registry.core.csvimport import IssueRequest
from registry.errors import ChainUnavailable, Conflict
from registry.service.issuance import credential_file, issue
from registry.service.revocations import request_batch_revocation, request_revocation
from registry.service.sealing import seal_due
from registry.service.store import AnchorTx, Batch, BatchState, CredentialRow, CredentialState, Event
from registry.service.worker import FAULT_POINTS, Worker, WorkerCrash, run_until_idle
from registry.verify import Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry, free_port
from tests.chain_fixtures import anvil_rpc as rpc
from tests.service_support import Database, add_issuer, service_settings
from tests.waits import wait_until

pytestmark = pytest.mark.e2e


def anchor_logs(registry: Registry, root: str) -> list[Any]:
    topics = [registry_abi().topic("BatchAnchored"), root]
    query = {"address": registry.client.registry_address, "fromBlock": "0x0", "toBlock": "latest", "topics": topics}
    return list(registry.client.rpc.call("eth_getLogs", [query]))


def queue(db: Database, registry: Registry, n: int) -> tuple[int, list[str]]:
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        rows = issue(
            session,
            issuer,
            [
                IssueRequest(
                    achievement_id=ach,
                    recipient_email=f"learner{i}@example.org",
                    recipient_name=f"Learner {i}",
                    result="A",
                )
                for i in range(n)
            ],
        )
        session.commit()
        assert issuer.id is not None
        return issuer.id, [r.id for r in rows]


def verify_all(db: Database, registry: Registry, ids: list[str]) -> list[Any]:
    verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
    with Session(db.engine) as session:
        files = [credential_file(session, session.get(CredentialRow, cid)) for cid in ids]  # type: ignore[arg-type]
    return verifier.verify_many([(cid, f) for cid, f in zip(ids, files, strict=True)])


def test_batch_is_anchored_confirmed_and_released(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db)
    _, ids = queue(db, registry, 5)
    worker = Worker(settings, db.engine, registry.client)
    # Nothing is due (batch_size 1000, max age 1 h): no batch yet, and no file.
    assert worker.run_once().sealed == []
    with Session(db.engine) as session, pytest.raises(Conflict, match="not released yet"):
        credential_file(session, session.get(CredentialRow, ids[0]))  # type: ignore[arg-type]
    assert len(seal_due(db.engine, settings, force=True)) == 1
    run_until_idle(worker)
    with Session(db.engine) as session:
        batch = session.exec(select(Batch)).one()
        assert batch.state == BatchState.CONFIRMED and batch.count == 5
        tx = session.exec(select(AnchorTx).where(AnchorTx.batch_id == batch.id)).one()
        assert tx.tx_hash == batch.anchor_tx and tx.raw_tx.startswith("0x02")
        assert tx.max_fee_per_gas >= tx.max_priority_fee_per_gas > 0
        kinds = [e.kind for e in session.exec(select(Event).order_by(Event.id))]  # type: ignore[arg-type]
    anchor_kinds = [k for k in kinds if not k.startswith("key_change.")]  # the first anchor of a key
    assert anchor_kinds[-5:] == ["batch.sealed", "anchor.signed", "anchor.broadcast", "anchor.mined", "batch.confirmed"]
    assert len(anchor_logs(registry, batch.root)) == 1
    reports = verify_all(db, registry, ids)
    assert [r.verdict for r in reports] == [Verdict.VALID] * 5, reports[0].summary


@pytest.mark.parametrize("step", [p for p in FAULT_POINTS if p != "revoked"])
def test_crash_at_any_step_resumes_without_loss_or_double_anchor(db: Database, registry: Registry, step: str) -> None:
    settings = service_settings(registry, db, batch_size=4)
    _, ids = queue(db, registry, 4)

    def crash(at: str) -> None:
        if at == step:
            raise WorkerCrash(at)

    with pytest.raises(WorkerCrash, match=f"simulated crash at {step}"):
        run_until_idle(Worker(settings, db.engine, registry.client, fault=crash))
    db.engine.dispose()
    # A new process: new engine, new chain client, nothing kept in memory.
    engine = db.new_engine()
    client = Chain(registry.rpc_url, registry.client.registry_address)
    run_until_idle(Worker(settings, engine, client))
    with Session(engine) as session:
        batches = session.exec(select(Batch)).all()
        states = {r.state for r in session.exec(select(CredentialRow))}
        txs = session.exec(select(AnchorTx).where(col(AnchorTx.batch_id).is_not(None))).all()
    assert len(batches) == 1 and batches[0].state == BatchState.CONFIRMED
    assert states == {CredentialState.RELEASED}
    assert len(txs) == 1, "the anchoring transaction was signed twice"
    assert len(anchor_logs(registry, batches[0].root)) == 1
    assert {r.verdict for r in verify_all(db, registry, ids)} == {Verdict.VALID}
    engine.dispose()


def test_root_already_on_chain_is_adopted_not_anchored_again(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db)
    _, ids = queue(db, registry, 3)
    [batch_id] = seal_due(db.engine, settings, force=True)
    with Session(db.engine) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
    # The root reaches the chain behind the worker's back (e.g. a tx the DB lost).
    result = registry.client.writes.anchor(registry.issuer_key, batch.root, batch.count, b"meta")
    run_until_idle(Worker(settings, db.engine, registry.client))
    with Session(db.engine) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None and batch.state == BatchState.CONFIRMED
        assert batch.anchor_tx == result.tx_hash
        assert session.exec(select(AnchorTx)).all() == []
        assert "anchor.adopted" in [e.kind for e in session.exec(select(Event))]
    assert len(anchor_logs(registry, batch.root)) == 1
    assert {r.verdict for r in verify_all(db, registry, ids)} == {Verdict.VALID}


def test_reorg_that_drops_the_anchor_moves_the_batch_back_to_pending(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db, confirmations=3)
    _, ids = queue(db, registry, 3)
    seal_due(db.engine, settings, force=True)
    snapshot = rpc(registry, "evm_snapshot")
    worker = Worker(settings, db.engine, registry.client)

    def mined() -> bool:  # anvil may answer eth_sendRawTransaction a moment before it mines the block
        worker.run_once()
        with Session(db.engine) as session:
            return session.exec(select(Batch)).one().anchor_block is not None

    wait_until(mined, what="the anchor to be mined")
    with Session(db.engine) as session:
        batch = session.exec(select(Batch)).one()
        assert batch.state == BatchState.SUBMITTED and batch.anchor_block is not None
        dropped_block = batch.anchor_block
        with pytest.raises(Conflict, match="not released yet"):
            credential_file(session, session.get(CredentialRow, ids[0]))  # type: ignore[arg-type]
    assert rpc(registry, "evm_revert", snapshot) is True  # the block with the anchor is gone
    result = worker.run_once()
    assert result.reorged == [batch.id]
    with Session(db.engine) as session:
        again = session.get(Batch, batch.id)
        assert again is not None
        # Back to pending, then re-signed within the same pass.
        assert again.state in (BatchState.PENDING, BatchState.SIGNED, BatchState.SUBMITTED)
        assert "anchor.dropped" in [e.kind for e in session.exec(select(Event))]
    run_until_idle(worker, mine=lambda: rpc(registry, "evm_mine"))
    with Session(db.engine) as session:
        final = session.get(Batch, batch.id)
        assert final is not None and final.state == BatchState.CONFIRMED
        head = registry.client.reads.head()
        assert final.anchor_block is not None and head - final.anchor_block + 1 >= 3
        assert registry.client.history.block_hash(dropped_block) is not None  # re-mined after the revert
    assert {r.verdict for r in verify_all(db, registry, ids)} == {Verdict.VALID}


def test_rpc_outage_keeps_sealing_and_recovers(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db, batch_size=2, worker_interval=0.05, rpc_retry_max=0.2)
    _, ids = queue(db, registry, 2)
    dead = Chain(f"http://127.0.0.1:{free_port()}", registry.client.registry_address, timeout=0.5)
    worker = Worker(settings, db.engine, dead)
    with pytest.raises(ChainUnavailable, match="unavailable"):
        worker.run_once()
    with Session(db.engine) as session:
        batch = session.exec(select(Batch)).one()
        assert batch.state == BatchState.PENDING  # sealed while the chain was down
    thread, stop = worker.start()
    try:
        thread.join(0.6)
        assert thread.is_alive(), "the worker loop must survive RPC failures"
        worker.client = Chain(registry.rpc_url, registry.client.registry_address)
        worker.wake.set()

        def confirmed() -> bool:
            with Session(db.engine) as session:
                return session.get(Batch, batch.id).state == BatchState.CONFIRMED  # type: ignore[union-attr]

        wait_until(confirmed, what="the worker to recover after the RPC came back")
    finally:
        stop.set()
        worker.wake.set()
        thread.join(5)
    assert {r.verdict for r in verify_all(db, registry, ids)} == {Verdict.VALID}


def test_revocations_reach_the_chain(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db)
    _, ids = queue(db, registry, 6)
    seal_due(db.engine, settings, force=True)
    worker = Worker(settings, db.engine, registry.client)
    # Requested before the batch is confirmed: the worker waits for the anchor, then revokes.
    with Session(db.engine) as session:
        issuer_id = session.get(CredentialRow, ids[0]).issuer_id  # type: ignore[union-attr]
        from registry.service.store import Issuer

        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        request_revocation(session, issuer, ids[0], 1, "typo in the name")
        session.commit()
        with pytest.raises(Conflict, match="being revoked"):
            request_revocation(session, issuer, ids[0], 1)
    run_until_idle(worker)
    reports = verify_all(db, registry, ids)
    assert reports[0].verdict is Verdict.INVALID
    assert "revoked by the issuer" in reports[0].check("revocation").reason
    assert "issued in error" in reports[0].check("revocation").reason
    assert {r.verdict for r in reports[1:]} == {Verdict.VALID}
    with Session(db.engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        batch_id = session.get(CredentialRow, ids[1]).batch_id  # type: ignore[union-attr]
        assert batch_id is not None
        request_batch_revocation(session, issuer, batch_id, 6)
        session.commit()
    run_until_idle(worker)
    reports = verify_all(db, registry, ids[1:])
    assert {r.verdict for r in reports} == {Verdict.INVALID}
    assert "whole batch was revoked" in reports[0].check("revocation").reason
    with Session(db.engine) as session:
        assert session.get(Batch, batch_id).state == BatchState.REVOKED  # type: ignore[union-attr]
        states = {r.state for r in session.exec(select(CredentialRow))}
    assert states == {CredentialState.REVOKED}
