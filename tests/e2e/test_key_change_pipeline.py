"""The issuer's signing-key registration (``setSigningKey``) through the worker's recorded
pipeline, against a real anvil and a real database (SQLite and PostgreSQL): queued when a batch
of an issuer whose chain-recorded key differs is about to be anchored, recorded before it is
sent, its nonce before the anchor's; a crash at any step resends the recorded transaction (one
``setSigningKey`` on chain), a key already current is adopted, a stuck one is replaced with
higher fees, a reorg that drops it sends it again, a key that can never be current fails it with
the reason and holds the batch back, losing nothing.

Every test runs inside an anvil snapshot (the module's registry starts without signing keys)."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlmodel import Session, col, select

from registry.chain.adapter import Chain
from registry.core.csvimport import IssueRequest
from registry.issue.signing import ensure_signing_key, signing_public_key
from registry.service.issuance import credential_file, issue
from registry.service.sealing import seal_due
from registry.service.store import (
    AchievementRow,
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Event,
    Issuer,
    KeyChange,
    RevocationState,
    TxState,
)
from registry.service.worker import Worker, WorkerCrash, run_until_idle
from registry.service.worker.faults import KEY_CHANGE_FAULT_POINTS
from registry.verify import Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.chain_fixtures import anvil_rpc as rpc
from tests.reliability_keys import check_key_changes
from tests.reliability_revocations import check_revocations, key_transactions
from tests.service_support import Database, add_issuer, service_settings
from tests.waits import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def start(registry: Registry, snapshot: None) -> int:
    """The head when the test starts: transactions before it belong to other tests."""
    return registry.client.reads.head() + 1


def sealed(
    db: Database, registry: Registry, n: int, *, again: bool = False, **overrides: Any
) -> tuple[Worker, int, list[str]]:
    """``n`` credentials of issuer 1 (added to the database unless ``again``) issued and sealed
    into one batch; the worker (not run yet), the batch id and the credential ids."""
    settings = service_settings(registry, db, **overrides)
    with Session(db.engine) as session:
        if again:
            issuer = session.exec(select(Issuer)).one()
            ach = int(session.exec(select(AchievementRow.id)).first() or 0)
        else:
            issuer, _, ach = add_issuer(session, registry)
        rows = issue(
            session,
            issuer,
            [
                IssueRequest(achievement_id=ach, recipient_email=f"k{i}@example.org", recipient_name=f"K {i}")
                for i in range(n)
            ],
        )
        session.commit()
        ids = [r.id for r in rows]
    [batch_id] = seal_due(db.engine, settings, force=True)
    return Worker(settings, db.engine, registry.client), batch_id, ids


def key_changes(db: Database) -> list[KeyChange]:
    with Session(db.engine) as session:
        return list(session.exec(select(KeyChange).order_by(col(KeyChange.id))))


def change_txs(db: Database, change_id: int) -> list[AnchorTx]:
    with Session(db.engine) as session:
        query = select(AnchorTx).where(AnchorTx.key_change_id == change_id).order_by(col(AnchorTx.id))
        return list(session.exec(query))


def batch_of(db: Database, batch_id: int) -> Batch:
    with Session(db.engine) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        return batch


def kinds(db: Database) -> list[str]:
    with Session(db.engine) as session:
        return [e.kind for e in session.exec(select(Event).order_by(col(Event.id)))]


def sent(registry: Registry, start: int) -> list[Any]:
    """The issuer key's mined transactions since ``start``."""
    return key_transactions(registry.client, registry.issuer_key.address, start)


def key_current(registry: Registry) -> bool:
    public = signing_public_key(registry.issuer_key)
    return registry.client.reads.current_signing_key(registry.issuer_id) == public


def all_valid(db: Database, registry: Registry, ids: list[str]) -> bool:
    verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
    with Session(db.engine) as session:
        files = [credential_file(session, session.get(CredentialRow, c)) for c in ids]  # type: ignore[arg-type]
    return all(r.verdict is Verdict.VALID for r in verifier.verify_many(list(zip(ids, files, strict=True))))


def assert_key_then_anchor(db: Database, registry: Registry, start: int, batch_id: int) -> KeyChange:
    """One successful ``setSigningKey`` on chain, then the batch's anchor at a later nonce; the
    key change done by the transaction it names; nothing unrecorded, nothing sent twice."""
    txs = sent(registry, start)
    assert [t.function for t in txs if t.status == 1] == ["setSigningKey", "anchor"], txs
    assert all(t.status == 1 for t in txs)
    setting, anchor = txs
    assert setting.nonce < anchor.nonce and setting.block <= anchor.block
    [change] = key_changes(db)
    assert change.state == RevocationState.DONE and change.tx_hash == setting.tx_hash
    assert change.public_key == "0x" + signing_public_key(registry.issuer_key).hex()
    batch = batch_of(db, batch_id)
    assert batch.state == BatchState.CONFIRMED and batch.anchor_tx == anchor.tx_hash
    assert key_current(registry)
    address = registry.issuer_key.address
    assert check_revocations(db.engine, registry.client, set(), address, final=True, from_block=start) == []
    assert check_key_changes(db.engine, registry.client, final=True, from_block=start) == []
    return change


def test_the_first_anchor_records_and_sends_the_key_change_then_the_anchor(
    db: Database, registry: Registry, start: int
) -> None:
    """The chain records no signing key: the batch waits, the key change is recorded (nonce from
    the same allocator), sent and confirmed, then the anchor goes at the next nonce; the v2 files
    verify with the key of record. A second batch needs no second key change."""
    worker, batch_id, ids = sealed(db, registry, 3)
    assert not key_current(registry)
    nonce = registry.client.sender.nonce(registry.issuer_key.address)
    run_until_idle(worker, timeout=120)
    change = assert_key_then_anchor(db, registry, start, batch_id)
    [row] = change_txs(db, int(change.id or 0))
    assert row.state == TxState.CONFIRMED and row.nonce == nonce
    with Session(db.engine) as session:
        [anchor_row] = session.exec(select(AnchorTx).where(AnchorTx.batch_id == batch_id)).all()
    assert anchor_row.nonce == nonce + 1
    events = kinds(db)
    assert events.index("key_change.queued") < events.index("key_change.signed") < events.index("key_change.done")
    assert events.index("key_change.done") < events.index("anchor.signed")
    assert all_valid(db, registry, ids)

    again, second, _ = sealed(db, registry, 2, again=True)
    run_until_idle(again, timeout=120)
    assert batch_of(db, second).state == BatchState.CONFIRMED
    assert len(key_changes(db)) == 1
    assert [t.function for t in sent(registry, start)] == ["setSigningKey", "anchor", "anchor"]


@pytest.mark.parametrize("step", KEY_CHANGE_FAULT_POINTS)
def test_a_crash_at_any_key_change_step_resumes_with_one_set_signing_key(
    db: Database, registry: Registry, start: int, step: str
) -> None:
    """The worker dies at the step (after recording, after sending but before recording it,
    after recording it sent, mined, done); a new process (new engine, new chain client) sends the
    recorded transaction again or adopts what the chain shows: one ``setSigningKey``, then the
    anchor, and the files verify."""
    settings = service_settings(registry, db)
    worker, batch_id, ids = sealed(db, registry, 2)

    def crash(at: str) -> None:
        if at == step:
            raise WorkerCrash(at)

    worker.fault = crash
    with pytest.raises(WorkerCrash, match=f"simulated crash at {step}"):
        run_until_idle(worker, timeout=120)
    db.engine.dispose()
    engine = db.new_engine()
    client = Chain(registry.rpc_url, registry.client.registry_address)
    run_until_idle(Worker(settings, engine, client), timeout=120)
    change = assert_key_then_anchor(db, registry, start, batch_id)
    assert len(change_txs(db, int(change.id or 0))) == 1, "the key change was signed twice"
    assert all_valid(db, registry, ids)


def test_a_key_already_current_on_chain_is_adopted_without_a_second_transaction(
    db: Database, registry: Registry, start: int
) -> None:
    """Recorded, then the worker dies before sending it, and the key is set outside the worker
    (the CLI's direct path) at that nonce: the recorded transaction is refused (nonce used, no
    receipt), back to pending, and the chain shows the key current, so it is adopted as done
    with no transaction of its own; then the anchor goes."""
    worker, batch_id, _ = sealed(db, registry, 2)

    def crash(at: str) -> None:
        if at == "key_change_signed":
            raise WorkerCrash(at)

    worker.fault = crash
    with pytest.raises(WorkerCrash):
        worker.run_once()
    worker.fault = None
    [recorded] = change_txs(db, int(key_changes(db)[0].id or 0))
    # Another base fee, so the direct transaction is not byte for byte the recorded one.
    rpc(registry, "anvil_setNextBlockBaseFeePerGas", hex(3 * 10**9))
    rpc(registry, "evm_mine")
    ensure_signing_key(registry.client, registry.issuer_key)
    [direct] = [t for t in sent(registry, start) if t.function == "setSigningKey"]
    assert direct.tx_hash != recorded.tx_hash and direct.nonce == recorded.nonce
    run_until_idle(worker, timeout=120)
    [change] = key_changes(db)
    assert change.state == RevocationState.DONE and change.tx_hash is None
    assert "adopted" in (change.last_error or "") and "key_change.adopted" in kinds(db)
    assert [t.function for t in sent(registry, start)] == ["setSigningKey", "anchor"]
    assert batch_of(db, batch_id).state == BatchState.CONFIRMED


def test_a_key_registered_before_but_not_current_fails_the_key_change_and_holds_the_batch(
    db: Database, registry: Registry, start: int
) -> None:
    """Signing keys are never reused: once the issuer rotated away from the derived key, the
    pre-flight reverts ``SigningKeyAlreadyRegistered`` and the chain does not show it current, so
    it is not adopted: the key change fails with the reason, the batch stays pending with its
    credentials (nothing anchored with files that could not verify), and every pass says why."""
    ensure_signing_key(registry.client, registry.issuer_key)
    registry.client.writes.set_signing_key(registry.issuer_key, secrets.token_bytes(32))  # rotated away
    worker, batch_id, ids = sealed(db, registry, 2)
    first = worker.run_once()
    [change] = key_changes(db)
    assert change.state == RevocationState.FAILED and "SigningKeyAlreadyRegistered" in (change.last_error or "")
    assert any("SigningKeyAlreadyRegistered" in e for e in first.errors)
    later = worker.run_once()
    assert any(f"key_change:{change.id}" in e and "its batches wait" in e for e in later.errors)
    assert len(key_changes(db)) == 1  # not retried behind the issuer's back
    assert batch_of(db, batch_id).state == BatchState.PENDING
    with Session(db.engine) as session:
        states = {session.get(CredentialRow, c).state for c in ids}  # type: ignore[union-attr]
    assert states == {CredentialState.BATCHED}
    assert [t.function for t in sent(registry, start)] == ["setSigningKey", "setSigningKey"]  # the test's own


def test_a_stuck_key_change_is_replaced_with_higher_fees_at_the_same_nonce(
    db: Database, registry: Registry, start: int
) -> None:
    """Blocks stop coming: past ``rebroadcast_after`` the key change is re-signed with both fees
    up by at least 12.5 %, same nonce, recorded before it is sent; the anchor still waits, and
    once blocks come one ``setSigningKey`` is mined, then the anchor."""
    worker, batch_id, _ = sealed(db, registry, 2, rebroadcast_after=60)
    rpc(registry, "evm_setAutomine", False)
    first = worker.run_once()
    [change] = key_changes(db)
    change_id = int(change.id or 0)
    assert first.key_changes_signed == [change_id] and first.key_changes_broadcast == [change_id]
    assert worker.run_once().key_changes_replaced == []  # not stuck yet
    for minutes in (5, 10):
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=minutes), tick=True):
            result = worker.run_once()
            assert result.key_changes_replaced == [change_id] and result.signed == []
    rows = change_txs(db, change_id)
    assert len(rows) == 3 and len({(r.sender, r.nonce) for r in rows}) == 1
    for old, new in itertools.pairwise(rows):
        assert new.max_fee_per_gas * 8 >= old.max_fee_per_gas * 9
        assert new.max_priority_fee_per_gas * 8 >= old.max_priority_fee_per_gas * 9
    assert [r.state for r in rows] == [TxState.REPLACED, TxState.REPLACED, TxState.BROADCAST]
    assert batch_of(db, batch_id).state == BatchState.PENDING
    rpc(registry, "evm_setAutomine", True)
    rpc(registry, "evm_mine")
    run_until_idle(worker, timeout=120, mine=lambda: rpc(registry, "evm_mine"))
    change = assert_key_then_anchor(db, registry, start, batch_id)
    assert change.tx_hash == rows[-1].tx_hash
    assert kinds(db).count("key_change.replaced") == 2


def test_a_reorg_that_drops_the_mined_key_change_sends_it_again(db: Database, registry: Registry, start: int) -> None:
    """Mined, not yet confirmed (3 confirmations): the block leaves the chain. The key change goes
    back to pending, is signed again and done once on chain; the anchor only after it."""
    worker, batch_id, _ = sealed(db, registry, 2, confirmations=3)
    snap = rpc(registry, "evm_snapshot")

    def mined() -> bool:
        worker.run_once()
        changes = key_changes(db)
        rows = change_txs(db, int(changes[0].id or 0)) if changes else []
        return bool(rows) and rows[-1].state == TxState.MINED

    wait_until(mined, what="the key change to be mined")
    [change] = key_changes(db)
    [mined_row] = change_txs(db, int(change.id or 0))
    assert change.state == RevocationState.SUBMITTED and batch_of(db, batch_id).state == BatchState.PENDING
    assert rpc(registry, "evm_revert", snap) is True  # the block with setSigningKey is gone
    assert registry.client.sender.receipt(mined_row.tx_hash) is None and not key_current(registry)
    result = worker.run_once()
    assert result.key_changes_reorged == [int(change.id or 0)] and result.signed == []
    assert "key_change.dropped" in kinds(db)
    run_until_idle(worker, timeout=120, mine=lambda: rpc(registry, "evm_mine"))
    assert_key_then_anchor(db, registry, start, batch_id)


def test_a_key_change_queued_for_a_former_anchoring_key_fails_and_a_new_one_goes(
    db: Database, registry: Registry, start: int
) -> None:
    """A key change still open for the signing key of the issuer's former anchoring key (the key
    source changed meanwhile) would register a key that signs nothing the issuer anchors now: it
    fails naming why, sends nothing, and the batch gets a key change for the current key."""
    worker, batch_id, _ = sealed(db, registry, 2)
    with Session(db.engine) as session:
        issuer = session.exec(select(Issuer)).one()
        stale = KeyChange(issuer_id=int(issuer.id or 0), public_key="0x" + secrets.token_bytes(32).hex())
        session.add(stale)
        session.commit()
        stale_id = stale.id
    result = worker.run_once()
    assert any(f"key_change:{stale_id}" in e and "anchoring key is now" in e for e in result.errors)
    run_until_idle(worker, timeout=120)
    first, current = key_changes(db)
    assert first.id == stale_id and first.state == RevocationState.FAILED and change_txs(db, int(stale_id or 0)) == []
    assert current.state == RevocationState.DONE
    txs = sent(registry, start)
    assert [t.function for t in txs] == ["setSigningKey", "anchor"]
    assert txs[0].subject == current.public_key and batch_of(db, batch_id).state == BatchState.CONFIRMED
