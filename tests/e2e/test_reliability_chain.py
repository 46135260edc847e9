"""Chain faults under a real worker process and a real anvil: reorgs that drop the anchoring
transaction (also while the worker is dead), an RPC outage behind a loopback proxy (issuance goes
on, verification is INDETERMINATE, the worker recovers), stuck and underpriced transactions
replaced at the same nonce (never duplicated), and a root taken by another issuer."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from registry.issue.signing import ensure_signing_key
from registry.service.issuance import credential_file
from registry.service.runtime import create_app
from registry.service.sealing import seal_due
from registry.service.store import AnchorTx, Batch, BatchState, CredentialRow, CredentialState, Event, TxState
from registry.service.worker import Worker, run_until_idle
from registry.verify import Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.reliability_harness import (
    Miner,
    RpcProxy,
    WorkerProcess,
    anchor_counts,
    check_invariants,
    queue_credentials,
    rpc,
    wait_for,
    worker_env,
)
from tests.service_support import Database, add_issuer, database, service_settings

pytestmark = pytest.mark.e2e


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """SQLite only: these tests are about the chain (the database side of every step is covered
    on PostgreSQL too by the crash and worker tests); keeps the fast suite short."""
    yield from database("sqlite", tmp_path)


@pytest.fixture
def start(registry: Registry) -> int:
    """The head when the test starts: roots anchored before belong to other tests."""
    return registry.client.reads.head() + 1


@pytest.fixture
def issuer(db: Database, registry: Registry) -> tuple[int, str, int]:
    """Issuer 1 in the service, its signing key already of record (the CLI's direct path): these
    tests count blocks and transactions of anchors only, with no key change before the first
    (tests/e2e/test_key_change_pipeline.py covers that one)."""
    ensure_signing_key(registry.client, registry.issuer_key)
    with Session(db.engine) as session:
        row, token, ach = add_issuer(session, registry)
        assert row.id is not None
        return row.id, token, ach


@pytest.fixture
def manual_mining(registry: Registry) -> Iterator[None]:
    """Automine off for the test (transactions wait in the pool), always restored."""
    rpc(registry.rpc_url, "evm_setAutomine", False)
    try:
        yield
    finally:
        rpc(registry.rpc_url, "evm_setAutomine", True)


def only_batch(db: Database) -> Batch:
    with Session(db.engine) as session:
        return session.exec(select(Batch)).one()


def batch_where(db: Database, predicate: Any) -> Batch | None:
    with Session(db.engine) as session:
        batch = session.exec(select(Batch)).first()
        return batch if batch is not None and predicate(batch) else None


def events(db: Database) -> list[str]:
    with Session(db.engine) as session:
        return [e.kind for e in session.exec(select(Event).order_by(col(Event.id)))]


def txs(db: Database) -> list[AnchorTx]:
    with Session(db.engine) as session:
        query = select(AnchorTx).where(col(AnchorTx.batch_id).is_not(None))  # not the key change
        return list(session.exec(query.order_by(col(AnchorTx.id))))


def states(db: Database) -> set[str]:
    with Session(db.engine) as session:
        return {r.state for r in session.exec(select(CredentialRow))}


def verify_all(db: Database, rpc_url: str, registry: Registry) -> set[Verdict]:
    with Session(db.engine) as session:
        files = [(r.id, credential_file(session, r)) for r in session.exec(select(CredentialRow))]
    verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=rpc_url)
    return {r.verdict for r in verifier.verify_many(files)}


def test_reorg_drops_the_anchor_batch_goes_back_and_is_anchored_again(
    db: Database, registry: Registry, issuer: tuple[int, str, int], tmp_path: Path, start: int
) -> None:
    issuer_id, _, ach = issuer
    ids = set(queue_credentials(db.engine, issuer_id, ach, 3, "reorg"))
    worker = WorkerProcess(worker_env(registry, db, confirmations=4), tmp_path).start()
    url = registry.rpc_url
    try:
        for round_ in range(2):
            batch = wait_for(
                lambda: batch_where(db, lambda b: b.anchor_block is not None), 60, "the anchor to be mined"
            )
            dropped_tx, block = batch.anchor_tx, batch.anchor_block
            dropped_hash = registry.client.history.block_hash(block)
            assert states(db) == {CredentialState.BATCHED}  # 1 of 4 confirmations: nothing released
            if round_ == 1:
                worker.kill()  # the second reorg happens while the worker is dead
            rpc(url, "anvil_reorg", registry.client.reads.head() - block + 1, [])
            assert registry.client.sender.receipt(dropped_tx) is None, "the reorg should drop the anchoring transaction"
            assert registry.client.history.block_hash(block) != dropped_hash
            if round_ == 1:
                worker.start()
            drops = round_ + 1
            wait_for(lambda: events(db).count("anchor.dropped") == drops, 60, "the worker to see the reorg")  # noqa: B023
            assert states(db) == {CredentialState.BATCHED}
            assert not check_invariants(db.engine, registry.client, ids, from_block=start)
        with Miner(url, 0.2):
            wait_for(lambda: batch_where(db, lambda b: b.state == BatchState.CONFIRMED), 60, "confirmation")
    finally:
        worker.stop()
    batch = only_batch(db)
    assert anchor_counts(registry.client)[batch.root] == 1
    assert check_invariants(db.engine, registry.client, ids, final=True, from_block=start) == []
    assert verify_all(db, url, registry) == {Verdict.VALID}
    kinds = events(db)
    assert kinds.count("anchor.dropped") == 2 and kinds.count("batch.confirmed") == 1


def test_rpc_outage_issuance_goes_on_verification_indeterminate_worker_recovers(
    db: Database, registry: Registry, issuer: tuple[int, str, int], tmp_path: Path, start: int
) -> None:
    _, token, ach = issuer
    headers = {"X-API-Key": token}

    def learner(i: int) -> dict[str, Any]:
        return {"achievement_id": ach, "recipient_email": f"o{i}@example.org", "recipient_name": f"O {i}"}

    with RpcProxy(registry.chain.port) as proxy, Miner(registry.rpc_url, 0.2):
        settings = service_settings(registry, db, rpc_url=proxy.url)
        env = worker_env(registry, db, rpc_url=proxy.url, batch_size=2, rpc_retry_max=0.5)
        worker = WorkerProcess(env, tmp_path).start()
        try:
            with TestClient(create_app(settings, engine=db.engine)) as http:
                first = [http.post("/v1/credentials", json=learner(i), headers=headers) for i in range(2)]
                assert [r.status_code for r in first] == [201, 201]
                cid = first[0].json()["id"]

                def released() -> bool:
                    return bool(http.get(f"/v1/credentials/{cid}", headers=headers).json()["state"] == "released")

                wait_for(released, 60, "the first batch to be released")
                file = http.get(f"/v1/credentials/{cid}/file", headers=headers).content
                ok = http.post("/v1/verify", content=file, headers={"content-type": "application/json"}).json()
                assert ok["verdict"] == "VALID", ok["summary"]

                proxy.down()
                more = [http.post("/v1/credentials", json=learner(i), headers=headers) for i in range(2, 4)]
                assert [r.status_code for r in more] == [201, 201], more[0].text
                down = http.post("/v1/verify", content=file, headers={"content-type": "application/json"}).json()
                assert down["verdict"] == "INDETERMINATE", down["summary"]
                wait_for(lambda: "chain unavailable" in worker.tail(), 30, "the worker to meet the outage")
                batches = http.get("/v1/batches", headers=headers).json()
                assert sorted(b["state"] for b in batches) == ["confirmed", "pending"]  # sealed while down
                assert worker.alive, worker.tail()

                proxy.up()

                def all_confirmed() -> bool:
                    got = http.get("/v1/batches", headers=headers).json()
                    return [b["state"] for b in got] == ["confirmed", "confirmed"]

                wait_for(all_confirmed, 60, "the worker to recover when the node is back")
                back = http.post("/v1/verify", content=file, headers={"content-type": "application/json"}).json()
                assert back["verdict"] == "VALID", back["summary"]
        finally:
            worker.stop()
    assert verify_all(db, registry.rpc_url, registry) == {Verdict.VALID}


def _replacement_chain_ok(rows: list[AnchorTx]) -> None:
    """Every replacement: same sender and nonce, both fees raised by at least 12.5 %."""
    assert len({(r.sender, r.nonce) for r in rows}) == 1, [(r.sender, r.nonce) for r in rows]
    for old, new in itertools.pairwise(rows):
        assert new.max_fee_per_gas * 8 >= old.max_fee_per_gas * 9, (old.max_fee_per_gas, new.max_fee_per_gas)
        assert new.max_priority_fee_per_gas * 8 >= old.max_priority_fee_per_gas * 9


def test_stuck_transaction_is_replaced_with_higher_fees_at_the_same_nonce(
    db: Database, registry: Registry, issuer: tuple[int, str, int], tmp_path: Path, manual_mining: None, start: int
) -> None:
    issuer_id, _, ach = issuer
    ids = set(queue_credentials(db.engine, issuer_id, ach, 3, "stuck"))
    sender = registry.issuer_key.address
    nonce_before = registry.client.sender.nonce(sender, "latest")
    worker = WorkerProcess(worker_env(registry, db, rebroadcast_after=1, confirmations=1), tmp_path).start()
    try:
        wait_for(lambda: len(txs(db)) >= 3, 60, "two fee replacements of the pending transaction")
        rpc(registry.rpc_url, "evm_mine")  # whichever of them is in the pool now is mined
        wait_for(lambda: batch_where(db, lambda b: b.state == BatchState.CONFIRMED), 60, "confirmation")
    finally:
        worker.stop()
    rows = txs(db)
    _replacement_chain_ok(rows)
    batch = only_batch(db)
    confirmed = [r for r in rows if r.state == TxState.CONFIRMED]
    assert [r.tx_hash for r in confirmed] == [batch.anchor_tx]
    assert {r.state for r in rows if r.tx_hash != batch.anchor_tx} == {TxState.REPLACED}
    assert registry.client.sender.nonce(sender, "latest") == nonce_before + 1  # one transaction, not several
    assert anchor_counts(registry.client)[batch.root] == 1
    assert events(db).count("anchor.replaced") == len(rows) - 1
    assert check_invariants(db.engine, registry.client, ids, final=True, from_block=start) == []


def test_underpriced_transaction_dropped_by_the_node_is_replaced(
    db: Database, registry: Registry, issuer: tuple[int, str, int], tmp_path: Path, manual_mining: None, start: int
) -> None:
    issuer_id, _, ach = issuer
    ids = set(queue_credentials(db.engine, issuer_id, ach, 3, "underpriced"))
    worker = WorkerProcess(worker_env(registry, db, confirmations=1), tmp_path).start()  # no time-based bumps
    try:
        wait_for(lambda: batch_where(db, lambda b: b.state == BatchState.SUBMITTED), 60, "the broadcast")
        [first] = txs(db)
        # The base fee jumps above the transaction's maxFeePerGas: anvil evicts it from the pool.
        rpc(registry.rpc_url, "anvil_setNextBlockBaseFeePerGas", hex(first.max_fee_per_gas * 3))
        rpc(registry.rpc_url, "evm_mine")
        assert not registry.client.sender.tx_known(first.tx_hash)
        wait_for(lambda: len(txs(db)) >= 2 and txs(db)[-1].state == TxState.BROADCAST, 60, "a replacement")
        rpc(registry.rpc_url, "evm_mine")
        wait_for(lambda: batch_where(db, lambda b: b.state == BatchState.CONFIRMED), 60, "confirmation")
    finally:
        worker.stop()
    rows = txs(db)
    _replacement_chain_ok(rows)
    assert rows[-1].max_fee_per_gas >= first.max_fee_per_gas * 3  # priced for the new base fee
    assert only_batch(db).anchor_tx == rows[-1].tx_hash
    with Session(db.engine) as session:
        replaced = session.exec(select(Event).where(Event.kind == "anchor.replaced")).first()
        assert replaced is not None and "underpriced" in replaced.data
    assert check_invariants(db.engine, registry.client, ids, final=True, from_block=start) == []


def test_the_replaced_transaction_mined_instead_is_accepted(
    db: Database, registry: Registry, issuer: tuple[int, str, int], tmp_path: Path, manual_mining: None, start: int
) -> None:
    """Killed after recording a replacement, before sending it; the original is then mined:
    the restarted worker follows the original (the replacement set), never sends a second anchor."""
    issuer_id, _, ach = issuer
    ids = set(queue_credentials(db.engine, issuer_id, ach, 3, "race"))
    worker = WorkerProcess(worker_env(registry, db, rebroadcast_after=1, confirmations=1), tmp_path)
    worker.start(pause_at="replaced")
    try:
        assert worker.wait_paused(60) == "replaced"
        worker.kill()
        original, replacement = txs(db)
        assert (original.state, replacement.state) == (TxState.REPLACED, TxState.SIGNED)
        rpc(registry.rpc_url, "evm_mine")
        assert registry.client.sender.receipt(original.tx_hash) is not None
        worker.start()
        wait_for(lambda: batch_where(db, lambda b: b.state == BatchState.CONFIRMED), 60, "confirmation")
    finally:
        worker.stop()
    batch = only_batch(db)
    assert batch.anchor_tx == original.tx_hash
    assert {r.tx_hash: r.state for r in txs(db)} == {
        original.tx_hash: TxState.CONFIRMED,
        replacement.tx_hash: TxState.REPLACED,
    }
    assert "anchor.replacement_mined" in events(db)
    assert anchor_counts(registry.client)[batch.root] == 1
    assert check_invariants(db.engine, registry.client, ids, final=True, from_block=start) == []


def test_root_taken_by_another_issuer_is_never_adopted(
    db: Database, registry: Registry, issuer: tuple[int, str, int]
) -> None:
    """Roots are global in the contract and public in the mempool: another admitted issuer can
    anchor ours first. Adopting that record would release files naming the wrong issuer; the
    worker re-queues the credentials instead, and they are sealed again with fresh salts."""
    issuer_id, _, ach = issuer
    settings = service_settings(registry, db)
    queue_credentials(db.engine, issuer_id, ach, 3, "front")
    [first_id] = seal_due(db.engine, settings, force=True)
    stolen = only_batch(db).root
    registry.client.writes.anchor(registry.issuer2_key, stolen, 3, b"front-run")
    worker = Worker(settings, db.engine, registry.client)
    run_until_idle(worker)
    with Session(db.engine) as session:
        first = session.get(Batch, first_id)
        assert first is not None and first.state == BatchState.FAILED
        assert "by issuer #" in (first.last_error or "")
    assert states(db) == {CredentialState.QUEUED}
    assert "batch.requeued" in events(db)
    seal_due(db.engine, settings, force=True)
    run_until_idle(worker)
    with Session(db.engine) as session:
        again = session.exec(select(Batch).where(Batch.id != first_id)).one()
    assert again.state == BatchState.CONFIRMED and again.root != stolen
    assert states(db) == {CredentialState.RELEASED}
    assert verify_all(db, registry.rpc_url, registry) == {Verdict.VALID}
