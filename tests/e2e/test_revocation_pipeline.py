"""Revocations through the recorded-transaction pipeline, against a real anvil and a real database
(SQLite and PostgreSQL): signed and recorded before the broadcast and re-sent as recorded after a
crash at any step, adopted when the chain already shows them, fee-bumped when stuck, sent again
after a reorg dropped them, sharing the key's nonces with anchors, revoked in the database only
when the batch never reached the chain, and failed with the reason when the chain refuses them.

Tests that change the chain (automine, a compromised key, fees) run inside an anvil snapshot that
is reverted afterwards."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlmodel import Session, col, select

from registry.chain import calls
from registry.chain.adapter import Chain
from registry.core.csvimport import IssueRequest
from registry.service.issuance import credential_file, issue
from registry.service.revocations import request_batch_revocation, request_revocation
from registry.service.sealing import seal_due
from registry.service.store import (
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Event,
    Issuer,
    Revocation,
    RevocationState,
    TxState,
)
from registry.service.worker import Worker, WorkerCrash, run_until_idle
from registry.service.worker.faults import REVOCATION_FAULT_POINTS
from registry.service.worker.stage import GWEI
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.chain_fixtures import anvil_rpc as rpc
from tests.reliability_revocations import check_revocations, key_transactions
from tests.service_support import Database, add_issuer, service_settings
from tests.waits import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def start(registry: Registry) -> int:
    """The head when the test starts: transactions before it belong to other tests."""
    return registry.client.reads.head() + 1


def anchored(db: Database, registry: Registry, n: int, **overrides: Any) -> tuple[Worker, int, list[str]]:
    """``n`` credentials of issuer 1 issued, sealed, anchored and released; the worker, the
    issuer's id and the credential ids."""
    settings = service_settings(registry, db, **overrides)
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        rows = issue(
            session,
            issuer,
            [
                IssueRequest(achievement_id=ach, recipient_email=f"r{i}@example.org", recipient_name=f"R {i}")
                for i in range(n)
            ],
        )
        session.commit()
        assert issuer.id is not None
        issuer_id, ids = issuer.id, [r.id for r in rows]
    seal_due(db.engine, settings, force=True)
    worker = Worker(settings, db.engine, registry.client)
    run_until_idle(worker, timeout=120, mine=lambda: rpc(registry, "evm_mine"))
    return worker, issuer_id, ids


def revoke(db: Database, issuer_id: int, credential_id: str, reason: int = 1) -> int:
    with Session(db.engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        rev = request_revocation(session, issuer, credential_id, reason, "test")
        session.commit()
        assert rev.id is not None
        return rev.id


def revoke_batch(db: Database, issuer_id: int, batch_id: int) -> int:
    with Session(db.engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        rev = request_batch_revocation(session, issuer, batch_id, 6, "test")
        session.commit()
        assert rev.id is not None
        return rev.id


def revocation(db: Database, rev_id: int) -> Revocation:
    with Session(db.engine) as session:
        rev = session.get(Revocation, rev_id)
        assert rev is not None
        return rev


def rev_txs(db: Database, rev_id: int) -> list[AnchorTx]:
    with Session(db.engine) as session:
        return list(session.exec(select(AnchorTx).where(AnchorTx.revocation_id == rev_id).order_by(col(AnchorTx.id))))


def kinds(db: Database) -> list[str]:
    with Session(db.engine) as session:
        return [e.kind for e in session.exec(select(Event).order_by(col(Event.id)))]


def digest_of(db: Database, credential_id: str) -> str:
    with Session(db.engine) as session:
        row = session.get(CredentialRow, credential_id)
        assert row is not None and row.digest is not None
        return row.digest


def revocations_sent(registry: Registry, start: int) -> list[Any]:
    """The key's revocation transactions mined since ``start`` (successful or not)."""
    txs = key_transactions(registry.client, registry.issuer_key.address, start)
    return [t for t in txs if t.function in ("revokeCredential", "revokeCredentials", "revokeBatch")]


def verify(db: Database, registry: Registry, credential_id: str) -> Any:
    with Session(db.engine) as session:
        file = credential_file(session, session.get(CredentialRow, credential_id))  # type: ignore[arg-type]
    return Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(file)


@pytest.mark.parametrize("step", REVOCATION_FAULT_POINTS)
def test_a_crash_at_any_revocation_step_resends_the_recorded_transaction(
    db: Database, registry: Registry, start: int, step: str
) -> None:
    """Killed at each step of the revocation (recorded, sent but not marked sent, marked sent,
    mined, done): a new process (new engine, new chain client) finishes it with the transaction
    recorded before the crash, never a second one with another nonce."""
    worker, issuer_id, ids = anchored(db, registry, 3)
    rev_id = revoke(db, issuer_id, ids[0])
    seen: list[str] = []

    def crash(at: str) -> None:
        if at == step:
            seen.append(at)
            raise WorkerCrash(at)

    dying = Worker(worker.settings, db.engine, registry.client, fault=crash)
    with pytest.raises(WorkerCrash, match=f"simulated crash at {step}"):
        run_until_idle(dying, timeout=60, mine=lambda: rpc(registry, "evm_mine"))
    [recorded] = rev_txs(db, rev_id)  # recorded before anything was sent
    if step == "revocation_signed":
        assert recorded.state == TxState.SIGNED and revocation(db, rev_id).state == RevocationState.SIGNED
        assert not registry.client.sender.tx_known(recorded.tx_hash)  # not sent yet
        assert recorded.raw_tx.startswith("0x02") and recorded.max_fee_per_gas >= recorded.max_priority_fee_per_gas
    db.engine.dispose()
    engine = db.new_engine()
    client = Chain(registry.rpc_url, registry.client.registry_address)
    run_until_idle(Worker(worker.settings, engine, client), timeout=60, mine=lambda: rpc(registry, "evm_mine"))
    engine.dispose()
    done = revocation(db, rev_id)
    assert done.state == RevocationState.DONE and done.tx_hash == recorded.tx_hash
    assert [(t.tx_hash, t.state) for t in rev_txs(db, rev_id)] == [(recorded.tx_hash, TxState.CONFIRMED)]
    sent = revocations_sent(registry, start)
    assert [(t.tx_hash, t.status) for t in sent] == [(recorded.tx_hash, 1)], "revoked by a second transaction"
    assert kinds(db).count("revocation.signed") == 1
    assert (
        check_revocations(
            db.engine, registry.client, {rev_id}, registry.issuer_key.address, final=True, from_block=start
        )
        == []
    )
    report = verify(db, registry, ids[0])
    assert report.verdict is Verdict.INVALID and report.check("revocation").status is CheckStatus.FAIL
    assert verify(db, registry, ids[1]).verdict is Verdict.VALID


@pytest.mark.parametrize("what", ["credential", "batch"])
def test_a_revocation_already_on_chain_is_adopted_as_done(
    db: Database, registry: Registry, start: int, what: str
) -> None:
    """The credential (or batch) is already revoked on chain by this issuer, e.g. with its key
    outside the service: the pre-flight's ``CredentialAlreadyRevoked`` / ``BatchAlreadyRevoked``
    makes the request done as it stands; no transaction is recorded or sent."""
    worker, issuer_id, ids = anchored(db, registry, 2)
    if what == "credential":
        registry.client.writes.revoke_credentials(registry.issuer_key, [digest_of(db, ids[0])], 2)
        rev_id = revoke(db, issuer_id, ids[0])
    else:
        with Session(db.engine) as session:
            batch = session.exec(select(Batch)).one()
        registry.client.writes.revoke_batch(registry.issuer_key, batch.root, 6)
        rev_id = revoke_batch(db, issuer_id, int(batch.id or 0))
    outside = len(revocations_sent(registry, start))
    result = worker.run_once()
    assert result.revoked == [rev_id] and result.revocations_signed == [] and result.errors == []
    done = revocation(db, rev_id)
    assert done.state == RevocationState.DONE and done.tx_hash is None
    assert "already revoked on chain" in (done.last_error or "")
    assert rev_txs(db, rev_id) == []
    assert len(revocations_sent(registry, start)) == outside  # nothing sent by the service
    assert "revocation.adopted" in kinds(db)
    with Session(db.engine) as session:
        states = {r.id: r.state for r in session.exec(select(CredentialRow))}
    assert states[ids[0]] == CredentialState.REVOKED
    assert states[ids[1]] == (CredentialState.REVOKED if what == "batch" else CredentialState.RELEASED)


def test_a_stuck_revocation_is_replaced_with_higher_fees_at_the_same_nonce(
    db: Database, registry: Registry, snapshot: None, start: int
) -> None:
    """Blocks stop coming (automine off): past ``rebroadcast_after`` the revocation is re-signed
    with both fees up by at least 12.5 %, same nonce, recorded before it is sent; whichever is
    mined is the revocation, and the key's nonce moved by one."""
    worker, issuer_id, ids = anchored(db, registry, 2, rebroadcast_after=60)
    rev_id = revoke(db, issuer_id, ids[0])
    sender = registry.issuer_key.address
    nonce_before = registry.client.sender.nonce(sender, "latest")
    rpc(registry, "evm_setAutomine", False)
    first = worker.run_once()
    assert first.revocations_signed == [rev_id] and first.revocations_broadcast == [rev_id]
    assert worker.run_once().revocations_replaced == []  # not stuck yet
    for minutes in (5, 10):  # stuck: the worker's clock moves past rebroadcast_after, twice
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=minutes), tick=True):
            assert worker.run_once().revocations_replaced == [rev_id]
    rows = rev_txs(db, rev_id)
    assert len(rows) == 3 and len({(r.sender, r.nonce) for r in rows}) == 1
    for old, new in itertools.pairwise(rows):
        assert new.max_fee_per_gas * 8 >= old.max_fee_per_gas * 9
        assert new.max_priority_fee_per_gas * 8 >= old.max_priority_fee_per_gas * 9
    assert [r.state for r in rows] == [TxState.REPLACED, TxState.REPLACED, TxState.BROADCAST]
    assert revocation(db, rev_id).tx_hash == rows[-1].tx_hash
    rpc(registry, "evm_setAutomine", True)
    rpc(registry, "evm_mine")
    run_until_idle(worker, timeout=60, mine=lambda: rpc(registry, "evm_mine"))
    done = revocation(db, rev_id)
    assert done.state == RevocationState.DONE and done.tx_hash == rows[-1].tx_hash
    assert registry.client.sender.nonce(sender, "latest") == nonce_before + 1  # one transaction, not three
    assert [t.tx_hash for t in revocations_sent(registry, start)] == [rows[-1].tx_hash]
    assert kinds(db).count("revocation.replaced") == 2
    assert verify(db, registry, ids[0]).verdict is Verdict.INVALID


def test_the_fee_cap_leaves_no_room_so_the_stuck_revocation_waits(
    db: Database, registry: Registry, snapshot: None
) -> None:
    """Signed at the profile's cap (a high base fee): a bump would pass it, so no replacement; it
    says why once and is done when blocks come."""
    worker, issuer_id, ids = anchored(db, registry, 2, rebroadcast_after=60)
    cap = int(worker.settings.profile.max_fee_gwei * GWEI)
    rev_id = revoke(db, issuer_id, ids[0])
    rpc(registry, "anvil_setNextBlockBaseFeePerGas", hex(cap * 4 // 5))
    rpc(registry, "evm_mine")
    rpc(registry, "evm_setAutomine", False)
    assert worker.run_once().revocations_broadcast == [rev_id]
    [tx] = rev_txs(db, rev_id)
    assert tx.max_fee_per_gas == cap
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5), tick=True):
        for _ in range(3):
            assert worker.run_once().revocations_replaced == []
    assert "leaves no room for a bump" in (revocation(db, rev_id).last_error or "")
    assert kinds(db).count("revocation.fee_cap") == 1
    rpc(registry, "evm_setAutomine", True)
    run_until_idle(worker, timeout=60, mine=lambda: rpc(registry, "evm_mine"))
    assert revocation(db, rev_id).state == RevocationState.DONE
    assert [t.tx_hash for t in rev_txs(db, rev_id)] == [tx.tx_hash]


def test_a_reorg_that_drops_the_mined_revocation_sends_it_again(
    db: Database, registry: Registry, snapshot: None, start: int
) -> None:
    """Mined, not yet confirmed (3 confirmations): the block leaves the chain (anvil snapshot
    revert). The revocation goes back to pending, is signed again (the same nonce and fees give
    the same transaction, so the same row) and is done once on chain."""
    worker, issuer_id, ids = anchored(db, registry, 2, confirmations=3)
    rev_id = revoke(db, issuer_id, ids[0])
    snap = rpc(registry, "evm_snapshot")

    def mined() -> bool:  # anvil may answer the broadcast a moment before it mines the block
        worker.run_once()
        rows = rev_txs(db, rev_id)
        return bool(rows) and rows[-1].state == TxState.MINED

    wait_until(mined, what="the revocation to be mined")
    [mined] = rev_txs(db, rev_id)
    assert mined.state == TxState.MINED and revocation(db, rev_id).state == RevocationState.SUBMITTED
    assert registry.client.sender.receipt(mined.tx_hash) is not None
    assert rpc(registry, "evm_revert", snap) is True  # the block with the revocation is gone
    assert registry.client.sender.receipt(mined.tx_hash) is None
    result = worker.run_once()
    assert result.revocations_reorged == [rev_id]
    assert "revocation.dropped" in kinds(db)
    run_until_idle(worker, timeout=60, mine=lambda: rpc(registry, "evm_mine"))
    done = revocation(db, rev_id)
    assert done.state == RevocationState.DONE
    sent = revocations_sent(registry, start)
    assert len(sent) == 1 and sent[0].status == 1 and done.tx_hash == sent[0].tx_hash
    assert {t.state for t in rev_txs(db, rev_id) if t.tx_hash == done.tx_hash} == {TxState.CONFIRMED}
    assert (
        check_revocations(
            db.engine, registry.client, {rev_id}, registry.issuer_key.address, final=True, from_block=start
        )
        == []
    )
    assert verify(db, registry, ids[0]).verdict is Verdict.INVALID


def test_anchors_and_revocations_in_flight_share_the_keys_nonces(
    db: Database, registry: Registry, snapshot: None, start: int
) -> None:
    """A revocation and a new anchor signed in one pass while nothing is mined: consecutive,
    distinct nonces from one table; both mined, nothing stuck behind a hole."""
    worker, issuer_id, ids = anchored(db, registry, 2)
    rev_id = revoke(db, issuer_id, ids[0])
    with Session(db.engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        ach = session.exec(select(CredentialRow)).first().achievement_id  # type: ignore[union-attr]
        issue(session, issuer, [IssueRequest(achievement_id=ach, recipient_email="n@example.org")])
        session.commit()
    [batch_id] = seal_due(db.engine, worker.settings, force=True)
    rpc(registry, "evm_setAutomine", False)
    result = worker.run_once()
    assert result.broadcast == [batch_id] and result.revocations_broadcast == [rev_id]
    with Session(db.engine) as session:
        anchor = session.exec(select(AnchorTx).where(AnchorTx.batch_id == batch_id)).one()
    [rev_tx] = rev_txs(db, rev_id)
    pending = registry.client.sender.nonce(registry.issuer_key.address, "latest")
    assert sorted([anchor.nonce, rev_tx.nonce]) == [pending, pending + 1]
    rpc(registry, "evm_setAutomine", True)
    run_until_idle(worker, timeout=60, mine=lambda: rpc(registry, "evm_mine"))
    assert revocation(db, rev_id).state == RevocationState.DONE
    with Session(db.engine) as session:
        assert session.get(Batch, batch_id).state == BatchState.CONFIRMED  # type: ignore[union-attr]
    assert (
        check_revocations(
            db.engine, registry.client, {rev_id}, registry.issuer_key.address, final=True, from_block=start
        )
        == []
    )


def test_a_revocation_mined_reverted_fails_with_the_reason_and_loses_nothing(
    db: Database, registry: Registry, snapshot: None, start: int
) -> None:
    """Signed and sent while the key is in good standing; the accreditation body declares the key
    compromised in the same block, ahead of it: the revocation is mined *reverted*. The next
    pre-flight names the reason (``CompromisedKey``): the request is FAILED with it, the row and
    the reverted transaction are kept, the credential is still released, and nothing is retried
    behind the issuer's back."""
    worker, issuer_id, ids = anchored(db, registry, 2)
    rev_id = revoke(db, issuer_id, ids[0])
    rpc(registry, "evm_increaseTime", 60)
    rpc(registry, "evm_mine")
    rpc(registry, "evm_setAutomine", False)
    assert worker.run_once().revocations_broadcast == [rev_id]
    since = int(rpc(registry, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    sender = registry.client.sender
    call = calls.declare_key_compromised(registry.issuer_key.address, since)
    signed = sender.sign(
        registry.accreditor,
        call,
        nonce=sender.nonce(registry.accreditor.address),
        max_fee_cap=1000 * GWEI,
        priority=100 * GWEI,
    )
    assert sender.broadcast_raw(signed.raw) == "sent"
    rpc(registry, "evm_mine")
    rpc(registry, "evm_setAutomine", True)
    [tx] = rev_txs(db, rev_id)
    receipt = sender.receipt(tx.tx_hash)
    assert receipt is not None and receipt.status == 0
    errors: list[str] = []
    for _ in range(2):  # the revert is seen in one pass, the pre-flight refuses in the next
        errors += worker.run_once().errors
    failed = revocation(db, rev_id)
    assert failed.state == RevocationState.FAILED and failed.attempts == 1
    assert "CompromisedKey" in (failed.last_error or "") and any("CompromisedKey" in e for e in errors)
    assert [t.state for t in rev_txs(db, rev_id)] == [TxState.REVERTED]
    assert "revocation.dropped" in kinds(db) and "revocation.failed" in kinds(db)
    with Session(db.engine) as session:
        assert session.get(CredentialRow, ids[0]).state == CredentialState.RELEASED  # type: ignore[union-attr]
    assert worker.run_once().revocations_signed == []  # not retried
    assert verify(db, registry, ids[0]).check("revocation").status is CheckStatus.PASS


def test_revoking_a_credential_of_a_failed_batch_keeps_it_out_of_every_batch(
    db: Database, registry: Registry, snapshot: None
) -> None:
    """The batch's root is taken on chain by another issuer, so the batch fails and its
    credentials go back to the queue. The pending revocation of one of them is done in the
    database (no transaction): that credential is revoked and never sealed again, the others are
    anchored in a new batch."""
    settings = service_settings(registry, db)
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        rows = issue(
            session,
            issuer,
            [IssueRequest(achievement_id=ach, recipient_email=f"f{i}@example.org") for i in range(3)],
        )
        session.commit()
        assert issuer.id is not None
        issuer_id, ids = issuer.id, [r.id for r in rows]
    [first_id] = seal_due(db.engine, settings, force=True)
    rev_id = revoke(db, issuer_id, ids[0])
    with Session(db.engine) as session:
        root = session.get(Batch, first_id).root  # type: ignore[union-attr]
    registry.client.writes.anchor(registry.issuer2_key, root, 3, b"front-run")
    head = registry.client.reads.head()
    worker = Worker(settings, db.engine, registry.client)
    worker.run_once()
    done = revocation(db, rev_id)
    assert done.state == RevocationState.DONE and done.tx_hash is None
    assert "never anchored" in (done.last_error or "")
    assert rev_txs(db, rev_id) == []
    assert registry.client.reads.head() == head  # nothing sent
    seal_due(db.engine, settings, force=True)
    run_until_idle(worker, timeout=60)
    with Session(db.engine) as session:
        creds = {r.id: r for r in session.exec(select(CredentialRow))}
        second = session.exec(select(Batch).where(Batch.id != first_id)).one()
    assert creds[ids[0]].state == CredentialState.REVOKED and creds[ids[0]].batch_id is None
    assert second.count == 2 and second.state == BatchState.CONFIRMED
    assert {creds[i].state for i in ids[1:]} == {CredentialState.RELEASED}
    assert "revocation.local" in kinds(db)


def test_revoking_a_batch_that_failed_revokes_its_credentials_in_the_database(
    db: Database, registry: Registry, snapshot: None
) -> None:
    """A batch FAILED after its anchor attempts (credentials kept in it): a batch revocation and a
    credential revocation are done in the database, every credential of it is revoked, nothing is
    sent."""
    settings = service_settings(registry, db, max_anchor_attempts=1)
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        rows = issue(
            session,
            issuer,
            [IssueRequest(achievement_id=ach, recipient_email=f"g{i}@example.org") for i in range(2)],
        )
        session.commit()
        assert issuer.id is not None
        issuer_id, ids = issuer.id, [r.id for r in rows]
    [batch_id] = seal_due(db.engine, settings, force=True)
    with Session(db.engine) as session:  # as if its attempts were used up
        batch = session.get(Batch, batch_id)
        assert batch is not None
        batch.state = BatchState.FAILED
        batch.last_error = "reverted"
        session.add(batch)
        session.commit()
    rev_one = revoke(db, issuer_id, ids[0])
    rev_all = revoke_batch(db, issuer_id, batch_id)
    head = registry.client.reads.head()
    run_until_idle(Worker(settings, db.engine, registry.client), timeout=60)
    assert registry.client.reads.head() == head
    for rid in (rev_one, rev_all):
        done = revocation(db, rid)
        assert done.state == RevocationState.DONE and done.tx_hash is None
    with Session(db.engine) as session:
        assert {r.state for r in session.exec(select(CredentialRow))} == {CredentialState.REVOKED}
        batch = session.get(Batch, batch_id)
        assert batch is not None and batch.state == BatchState.FAILED and batch.revoked_at is not None
    assert json.dumps(kinds(db)).count("revocation.local") == 2
