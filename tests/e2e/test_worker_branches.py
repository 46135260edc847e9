"""The anchoring worker's failure branches against a real anvil and a real database: an anchor
mined but reverted, an anchor refused (other than ``RootAlreadyAnchored``), ``max_anchor_attempts``
moving a batch to FAILED, revoking a failed batch, a revocation refused on chain, a nonce spent
outside the service before the broadcast ("nonce too low", no receipt), the fee cap leaving no room
for a replacement, and issuers whose key source cannot give the anchoring key.

Each test that changes the directory on chain (suspends an issuer, rotates a key) runs inside an
anvil snapshot that is reverted afterwards, so the module's registry is unchanged for the next."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlmodel import Session, select

from registry.chain import calls
from registry.chain.adapter import Chain
from registry.core.csvimport import IssueRequest
from registry.errors import ConfigError, Conflict
from registry.issue.signing import ensure_signing_key
from registry.service.issuance import credential_file, issue
from registry.service.keys import check_issuer_keys, signer_for
from registry.service.revocations import request_revocation
from registry.service.sealing import seal_due
from registry.service.store import (
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    Event,
    Issuer,
    Revocation,
    RevocationState,
    TxState,
)
from registry.service.worker import Worker, run_until_idle
from registry.service.worker.stage import GWEI
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.chain_fixtures import anvil_rpc as rpc
from tests.service_support import Database, add_issuer, service_settings

pytestmark = pytest.mark.e2e


def queue(db: Database, registry: Registry, n: int, *, key_source: str | None = None) -> tuple[int, list[str]]:
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry, key_source=key_source)
        requests_ = [
            IssueRequest(achievement_id=ach, recipient_email=f"l{i}@example.org", recipient_name=f"L {i}", result="A")
            for i in range(n)
        ]
        rows = issue(session, issuer, requests_)
        session.commit()
        assert issuer.id is not None
        return issuer.id, [r.id for r in rows]


def events(db: Database) -> list[Event]:
    with Session(db.engine) as session:
        return list(session.exec(select(Event).order_by(Event.id)))  # type: ignore[arg-type]


def send_unmined(registry: Registry, account: Any, call: Any) -> str:
    """Sign and broadcast ``call`` with a tip far above the worker's, so it goes first in the block."""
    sender = registry.client.sender
    signed = sender.sign(
        account, call, nonce=sender.nonce(account.address), max_fee_cap=1000 * GWEI, priority=100 * GWEI
    )
    assert sender.broadcast_raw(signed.raw) not in ("nonce_too_low", "underpriced")
    return signed.tx_hash


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_a_reverted_anchor_counts_as_an_attempt_and_the_last_attempt_fails_the_batch(
    db: Database, registry: Registry, snapshot: None, max_attempts: int
) -> None:
    """The anchor is signed and sent while the issuer is in good standing; the accreditation body's
    suspension lands first in the same block, so the anchor is mined *reverted*. With one attempt
    allowed that fails the batch at once; with two, the re-signing is refused by the node
    (``SuspendedIssuer``, not ``RootAlreadyAnchored``) and that second attempt fails it."""
    settings = service_settings(registry, db, max_anchor_attempts=max_attempts)
    issuer_id, ids = queue(db, registry, 3)
    [batch_id] = seal_due(db.engine, settings, force=True)
    worker = Worker(settings, db.engine, registry.client)
    # The signing key goes on record (its own mined transaction) before the block is held back.
    ensure_signing_key(registry.client, registry.issuer_key)
    rpc(registry, "evm_setAutomine", False)
    first = worker.run_once()
    assert first.signed == [batch_id] and first.broadcast == [batch_id]
    suspension = send_unmined(registry, registry.accreditor, calls.suspend_issuer(registry.issuer_id))
    rpc(registry, "evm_mine")
    rpc(registry, "evm_setAutomine", True)
    assert registry.client.sender.receipt(suspension).status == 1  # type: ignore[union-attr]

    errors: list[str] = []
    for _ in range(max_attempts):  # the revert is seen in one pass, a re-signing is tried in the next
        errors += worker.run_once().errors
    with Session(db.engine) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        [tx] = session.exec(select(AnchorTx).where(AnchorTx.batch_id == batch_id)).all()
        assert tx.state == TxState.REVERTED
        assert batch.state == BatchState.FAILED
        assert batch.attempts == max_attempts
        with pytest.raises(Conflict, match="not released yet"):
            credential_file(session, session.get(CredentialRow, ids[0]))  # type: ignore[arg-type]
    kinds = [e.kind for e in events(db)]
    if max_attempts == 1:
        assert "reverted" in (batch.last_error or "") and "anchor.refused" not in kinds
    else:
        assert "SuspendedIssuer" in (batch.last_error or "") and "anchor.refused" in kinds
        assert any("SuspendedIssuer" in e for e in errors)
    assert worker.run_once().signed == []  # a failed batch is left alone

    # Revoking a credential of the failed batch needs no transaction: it is done in the database.
    head = registry.client.reads.head()
    with Session(db.engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        rev = request_revocation(session, issuer, ids[1], 1, "never anchored anyway")
        session.commit()
        rev_id = rev.id
    run_until_idle(worker, timeout=120)
    with Session(db.engine) as session:
        done = session.get(Revocation, rev_id)
        assert done is not None and done.state == RevocationState.DONE and done.tx_hash is None
        assert "never anchored" in (done.last_error or "")
    assert "revocation.local" in [e.kind for e in events(db)]
    assert registry.client.reads.head() == head  # nothing sent


def test_a_revocation_refused_on_chain_is_marked_failed(db: Database, registry: Registry, snapshot: None) -> None:
    """Once the accreditation body declares the service's key compromised, the chain refuses its
    revocations (``CompromisedKey``, not "already revoked"): the revocation is FAILED with the
    reason, is not retried behind the issuer's back, and nothing is revoked on chain."""
    settings = service_settings(registry, db)
    issuer_id, ids = queue(db, registry, 2)
    seal_due(db.engine, settings, force=True)
    worker = Worker(settings, db.engine, registry.client)
    run_until_idle(worker, timeout=120)
    rpc(registry, "evm_increaseTime", 60)
    rpc(registry, "evm_mine")
    since = int(rpc(registry, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    registry.client.writes.transact(
        registry.accreditor, calls.declare_key_compromised(registry.issuer_key.address, since)
    )
    with Session(db.engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        rev = request_revocation(session, issuer, ids[0], 1)
        session.commit()
        rev_id = rev.id
    result = worker.run_once()
    assert result.revoked == [] and any("CompromisedKey" in e for e in result.errors)
    with Session(db.engine) as session:
        failed = session.get(Revocation, rev_id)
        assert failed is not None and failed.state == RevocationState.FAILED and failed.tx_hash is None
        assert "CompromisedKey" in (failed.last_error or "")
        file = credential_file(session, session.get(CredentialRow, ids[0]))  # type: ignore[arg-type]
    assert "revocation.failed" in [e.kind for e in events(db)]
    assert worker.run_once().revoked == []  # a failed revocation is not retried behind the issuer's back
    report = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(file)
    assert report.check("revocation").status is CheckStatus.PASS, report.check("revocation").reason


def test_an_unknown_key_source_stops_the_issuers_batches(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db)
    issuer_id, _ = queue(db, registry, 2)
    with Session(db.engine) as session:  # the service refuses such a source; a row edited behind its back
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        issuer.key_source = "hsm:slot-1"
        session.add(issuer)
        session.commit()
    [batch_id] = seal_due(db.engine, settings, force=True)
    with pytest.raises(ConfigError, match="unknown key source 'hsm:slot-1'"):
        Worker(settings, db.engine, registry.client).run_once()
    with pytest.raises(ConfigError, match="unknown key source"):
        check_issuer_keys(db.engine, 31337)
    with Session(db.engine) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None and batch.state == BatchState.PENDING  # nothing signed, nothing lost
        assert session.exec(select(AnchorTx)).all() == []


def test_a_key_that_is_not_the_issuers_anchoring_key_is_refused(db: Database, registry: Registry) -> None:
    settings = service_settings(registry, db)
    queue(db, registry, 2, key_source="dev:issuer2")  # issuer 1's address, issuer 2's key
    seal_due(db.engine, settings, force=True)
    with pytest.raises(ConfigError, match="but the issuer's anchoring key is"):
        Worker(settings, db.engine, registry.client).run_once()


def test_keystore_errors_name_the_problem(
    db: Database, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eth_account import Account

    with Session(db.engine) as session:
        issuer, _, _ = add_issuer(session, registry, key_source=f"keystore:{tmp_path / 'missing.json'}")
        with pytest.raises(ConfigError, match=r"passphrase missing|cannot read keystore"):
            signer_for(issuer, 31337)
        monkeypatch.setenv("REGISTRY_KEY_PASSPHRASE", "right")
        with pytest.raises(ConfigError, match="cannot read keystore"):
            signer_for(issuer, 31337)
        path = tmp_path / "key.json"
        path.write_text(json.dumps(Account.encrypt(registry.issuer_key.key, "right", iterations=2)))
        issuer.key_source = f"keystore:{path}"
        assert signer_for(issuer, 31337).address == registry.issuer_key.address
        monkeypatch.setenv("REGISTRY_KEY_PASSPHRASE", "wrong")
        with pytest.raises(ConfigError, match="wrong passphrase"):
            signer_for(issuer, 31337)
        # A development key is refused off development chains: the service refuses to start.
        issuer.key_source = "dev:issuer"
        with pytest.raises(ConfigError):
            signer_for(issuer, 11155111)


def test_the_registry_is_unchanged_after_the_snapshots(db: Database, registry: Registry) -> None:
    """Sanity for the fixtures above: a clean issuer still anchors after the snapshots reverted."""
    settings = service_settings(registry, db)
    _, ids = queue(db, registry, 2)
    seal_due(db.engine, settings, force=True)
    run_until_idle(Worker(settings, db.engine, Chain(registry.rpc_url, registry.client.registry_address)), timeout=120)
    with Session(db.engine) as session:
        file = credential_file(session, session.get(CredentialRow, ids[0]))  # type: ignore[arg-type]
    assert Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(file).verdict is (
        Verdict.VALID
    )


def test_the_fee_cap_leaves_no_room_to_bump_so_the_anchor_waits(
    db: Database, registry: Registry, snapshot: None
) -> None:
    """Base fee so high that the anchor is signed at the profile's cap (50 gwei on "local"): when it
    is stuck, a 12.5 % bump would pass the cap, so there is no replacement; the transaction waits,
    says why (once), and is confirmed when blocks come."""
    settings = service_settings(registry, db, rebroadcast_after=60)
    cap = int(settings.profile.max_fee_gwei * GWEI)
    _, ids = queue(db, registry, 2)
    [batch_id] = seal_due(db.engine, settings, force=True)
    rpc(registry, "anvil_setNextBlockBaseFeePerGas", hex(cap * 4 // 5))
    rpc(registry, "evm_mine")
    rpc(registry, "evm_setAutomine", False)
    worker = Worker(settings, db.engine, registry.client)
    assert worker.run_once().broadcast == [batch_id]
    with Session(db.engine) as session:
        [tx] = session.exec(select(AnchorTx).where(AnchorTx.batch_id == batch_id)).all()
        assert tx.max_fee_per_gas == cap
    # Stuck: the worker's clock is moved past rebroadcast_after (its timestamps have whole seconds).
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5), tick=True):
        for _ in range(3):  # stuck on every pass: no replacement, and one note
            assert worker.run_once().replaced == []
    with Session(db.engine) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None and batch.state == BatchState.SUBMITTED
        assert "leaves no room for a bump" in (batch.last_error or "")
        assert len(session.exec(select(AnchorTx).where(AnchorTx.batch_id == batch_id)).all()) == 1
    assert [e.kind for e in events(db)].count("anchor.fee_cap") == 1
    rpc(registry, "evm_setAutomine", True)
    run_until_idle(worker, timeout=120, mine=lambda: rpc(registry, "evm_mine"))
    with Session(db.engine) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None and batch.state == BatchState.CONFIRMED and batch.anchor_tx == tx.tx_hash
        file = credential_file(session, session.get(CredentialRow, ids[0]))  # type: ignore[arg-type]
    assert Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(file).verdict is (
        Verdict.VALID
    )


def test_a_nonce_taken_before_the_broadcast_sends_the_batch_back_to_pending(
    db: Database, registry: Registry, snapshot: None
) -> None:
    """Between recording the anchor and sending it, the issuer's key spends the same nonce outside
    the service. The node answers "nonce too low" and there is no receipt for our transaction: the
    batch goes back to pending, is signed again at the next nonce, and is anchored once."""
    settings = service_settings(registry, db)
    _, ids = queue(db, registry, 2)
    [batch_id] = seal_due(db.engine, settings, force=True)
    outside: list[str] = []

    def spend_the_nonce(step: str) -> None:
        if step == "signed" and not outside:
            digest = bytes(range(32))  # revoking an unknown digest is allowed: a harmless transaction
            outside.append(registry.client.writes.revoke_credentials(registry.issuer_key, [digest], 1).tx_hash)

    worker = Worker(settings, db.engine, registry.client, fault=spend_the_nonce)
    run_until_idle(worker, timeout=120)
    with Session(db.engine) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None and batch.state == BatchState.CONFIRMED
        txs = session.exec(select(AnchorTx).where(AnchorTx.batch_id == batch_id).order_by(AnchorTx.id)).all()  # type: ignore[arg-type]
        assert [t.state for t in txs] == [TxState.DROPPED, TxState.CONFIRMED]
        assert txs[1].nonce == txs[0].nonce + 1 and batch.anchor_tx == txs[1].tx_hash
        file = credential_file(session, session.get(CredentialRow, ids[0]))  # type: ignore[arg-type]
    dropped = [e for e in events(db) if e.kind == "anchor.dropped"]
    assert len(dropped) == 1 and "nonce used by another transaction" in json.dumps(dropped[0].model_dump(mode="json"))
    assert len(outside) == 1 and registry.client.sender.receipt(outside[0]) is not None
    assert Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(file).verdict is (
        Verdict.VALID
    )
