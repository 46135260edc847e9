"""The operators' directory changes (``registry accreditor``, ``registry issuer admit``) go through
the anchors' recorded pipeline, on a real anvil and a real database: recorded before they are
sent, sent once whatever crashes, replaced with higher fees when stuck, sent again after a reorg,
adopted when the chain already shows them, failed with the contract's error when refused."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from eth_account import Account
from sqlmodel import Session, col, select

from registry.chain.model import ACCREDITOR_ROLE
from registry.service.directory import DirectoryChangePending, change_directory, resume
from registry.service.store import AnchorTx, DirectoryChange, Event, RevocationState, TxState
from registry.service.worker import WorkerCrash
from registry.service.worker.faults import DIRECTORY_CHANGE_FAULT_POINTS, PAUSE_AT_ENV, PAUSE_FILE_ENV
from registry.service.worker.locks import AnchorLocks
from tests.chain_fixtures import Registry
from tests.chain_fixtures import anvil_rpc as rpc
from tests.service_support import Database, service_settings
from tests.waits import wait_until

pytestmark = pytest.mark.e2e

NAME = "Escuela de Prueba"


def changes(db: Database) -> list[DirectoryChange]:
    with Session(db.engine) as session:
        return list(session.exec(select(DirectoryChange).order_by(col(DirectoryChange.id))))


def change_txs(db: Database, change_id: int) -> list[AnchorTx]:
    with Session(db.engine) as session:
        query = select(AnchorTx).where(AnchorTx.directory_change_id == change_id).order_by(col(AnchorTx.id))
        return list(session.exec(query))


def kinds(db: Database) -> list[str]:
    with Session(db.engine) as session:
        return [e.kind for e in session.exec(select(Event).order_by(col(Event.id)))]


def nonce(registry: Registry, address: str) -> int:
    """Transactions ``address`` has had mined (successful or not)."""
    return registry.client.sender.nonce(address, "latest")


def admission(registry: Registry, uri: str) -> tuple[Any, dict[str, Any], str]:
    """A fresh issuer key and the call, arguments and key of its admission at ``uri``."""
    key = Account.create().address
    call = registry.client.writes.admit_issuer_call(NAME, uri, key)
    assert not isinstance(call, int)
    return call, {"name": NAME, "uri": uri, "key": key}, key


def admitted(registry: Registry, uri: str, key: str) -> int:
    issuer_id = registry.client.reads.issuer_id_by_uri(uri)
    assert issuer_id and registry.client.reads.keys_by_address([key])[key].issuer_id == issuer_id
    return issuer_id


# -- in process ------------------------------------------------------------------------------------


def test_an_admission_is_recorded_sent_once_and_done(db: Database, registry: Registry, snapshot: None) -> None:
    settings = service_settings(registry, db)
    call, args, key = admission(registry, "did:web:once.example")
    before = nonce(registry, registry.accreditor.address)
    row = change_directory(settings, registry.client, registry.accreditor, "admit_issuer", call, args, engine=db.engine)
    assert row.state == RevocationState.DONE and row.tx_hash is not None
    issuer_id = admitted(registry, "did:web:once.example", key)
    assert json.loads(row.outcome or "{}") == {"issuerId": issuer_id}
    assert nonce(registry, registry.accreditor.address) == before + 1
    [tx] = change_txs(db, int(row.id or 0))
    assert (tx.tx_hash, tx.state, tx.sender) == (row.tx_hash, TxState.CONFIRMED, registry.accreditor.address)
    assert kinds(db)[-5:] == [
        "directory_change.queued",
        "directory_change.signed",
        "directory_change.broadcast",
        "directory_change.mined",
        "directory_change.done",
    ]


@pytest.mark.parametrize("step", DIRECTORY_CHANGE_FAULT_POINTS)
def test_a_crash_at_any_step_resumes_with_one_transaction(
    db: Database, registry: Registry, snapshot: None, step: str
) -> None:
    """Killed at ``step``: the same change asked again carries on from the recorded step; one
    ``admitIssuer`` on chain, done."""
    settings = service_settings(registry, db)
    call, args, key = admission(registry, f"did:web:crash-{step.replace('_', '-')}.example")
    before = nonce(registry, registry.accreditor.address)

    def crash(at: str) -> None:
        if at == step:
            raise WorkerCrash(at)

    with pytest.raises(WorkerCrash, match=f"simulated crash at {step}"):
        change_directory(
            settings, registry.client, registry.accreditor, "admit_issuer", call, args, engine=db.engine, fault=crash
        )
    row = change_directory(settings, registry.client, registry.accreditor, "admit_issuer", call, args, engine=db.engine)
    assert row.state == RevocationState.DONE
    admitted(registry, args["uri"], key)
    assert nonce(registry, registry.accreditor.address) == before + 1
    first, *later = changes(db)
    assert [t.state for t in change_txs(db, int(first.id or 0))] == [TxState.CONFIRMED]
    if step == "directory_changed":  # done before the crash: asked again, it is adopted as it stands
        assert first.state == RevocationState.DONE and [c.id for c in later] == [row.id]
        assert row.tx_hash is None and row.last_error == "the chain already shows this change"
    else:  # resumed, not asked again
        assert later == [] and first.id == row.id


def test_a_refused_change_fails_with_the_contracts_error_and_sends_nothing(
    db: Database, registry: Registry, snapshot: None
) -> None:
    settings = service_settings(registry, db)
    call, args, _ = admission(registry, "did:web:refused.example")
    before = nonce(registry, registry.stranger.address)
    row = change_directory(settings, registry.client, registry.stranger, "admit_issuer", call, args, engine=db.engine)
    assert row.state == RevocationState.FAILED
    assert "AccessControlUnauthorizedAccount" in (row.last_error or ""), row.last_error
    assert change_txs(db, int(row.id or 0)) == [] and row.tx_hash is None
    assert nonce(registry, registry.stranger.address) == before
    assert registry.client.reads.issuer_id_by_uri("did:web:refused.example") == 0


def test_a_change_the_chain_already_shows_is_adopted_without_a_transaction(
    db: Database, registry: Registry, snapshot: None
) -> None:
    """Recorded, then made meanwhile by another path (here: a direct write): nothing is sent."""
    settings = service_settings(registry, db)
    body = Account.create().address
    call = registry.client.writes.grant_accreditor_call(body)
    assert call is not None

    def crash(at: str) -> None:
        raise WorkerCrash(at)

    with pytest.raises(WorkerCrash):  # recorded and signed, then the process dies
        change_directory(
            settings,
            registry.client,
            registry.admin,
            "grant_accreditor",
            call,
            {"account": body},
            engine=db.engine,
            fault=crash,
        )
    [row] = changes(db)
    [unsent] = change_txs(db, int(row.id or 0))
    assert row.state == RevocationState.SIGNED and unsent.state == TxState.SIGNED
    rpc(registry, "anvil_setNextBlockBaseFeePerGas", hex(3 * 10**9))
    rpc(registry, "evm_mine")  # other fees: the direct write is another transaction at the recorded nonce
    direct = registry.client.writes.grant_accreditor(registry.admin, body)
    assert direct is not None and direct.tx_hash != unsent.tx_hash
    before = nonce(registry, registry.admin.address)
    row = change_directory(
        settings, registry.client, registry.admin, "grant_accreditor", call, {"account": body}, engine=db.engine
    )
    assert row.state == RevocationState.DONE and row.last_error == "the chain already shows this change", kinds(db)
    assert registry.client.reads.has_role(ACCREDITOR_ROLE, body)
    assert nonce(registry, registry.admin.address) == before
    assert "directory_change.adopted" in kinds(db)


def test_a_second_process_of_the_operator_waits_for_the_first(db: Database, registry: Registry, snapshot: None) -> None:
    """The operator's key is locked as the workers lock an issuer's: while another process holds
    it, nothing is signed; the change waits, recorded, and goes once the lock is free."""
    settings = service_settings(registry, db)
    call, args, key = admission(registry, "did:web:locked.example")
    chain_id = registry.client.reads.chain_id()
    with AnchorLocks(db.engine).hold(chain_id, registry.accreditor.address) as held:
        assert held
        with pytest.raises(DirectoryChangePending, match="pending after"):
            change_directory(
                settings,
                registry.client,
                registry.accreditor,
                "admit_issuer",
                call,
                args,
                engine=db.engine,
                timeout=0.5,
            )
        [row] = changes(db)
        assert row.state == RevocationState.PENDING and change_txs(db, int(row.id or 0)) == []
    [row] = resume(settings, registry.client, registry.accreditor, engine=db.engine, timeout=60)
    assert row.state == RevocationState.DONE
    admitted(registry, args["uri"], key)


def test_a_stuck_change_is_replaced_with_higher_fees_at_the_same_nonce(
    db: Database, registry: Registry, snapshot: None
) -> None:
    settings = service_settings(registry, db, rebroadcast_after=60)
    call, args, key = admission(registry, "did:web:stuck.example")
    rpc(registry, "evm_setAutomine", False)
    with pytest.raises(DirectoryChangePending, match="registry directory resume"):
        change_directory(
            settings, registry.client, registry.accreditor, "admit_issuer", call, args, engine=db.engine, timeout=0.5
        )
    for minutes in (5, 10):
        later = datetime.now(UTC) + timedelta(minutes=minutes)
        with time_machine.travel(later, tick=True), pytest.raises(DirectoryChangePending):
            resume(settings, registry.client, registry.accreditor, engine=db.engine, timeout=0.1)
    [row] = changes(db)
    rows = change_txs(db, int(row.id or 0))
    assert len(rows) == 3 and len({(r.sender, r.nonce) for r in rows}) == 1
    for old, new in itertools.pairwise(rows):
        assert new.max_fee_per_gas * 8 >= old.max_fee_per_gas * 9
        assert new.max_priority_fee_per_gas * 8 >= old.max_priority_fee_per_gas * 9
    assert [r.state for r in rows] == [TxState.REPLACED, TxState.REPLACED, TxState.BROADCAST]
    before = nonce(registry, registry.accreditor.address)
    rpc(registry, "evm_setAutomine", True)
    rpc(registry, "evm_mine")
    [row] = resume(settings, registry.client, registry.accreditor, engine=db.engine, timeout=60)
    assert row.state == RevocationState.DONE and row.tx_hash == rows[-1].tx_hash
    assert nonce(registry, registry.accreditor.address) == before + 1
    admitted(registry, args["uri"], key)
    assert kinds(db).count("directory_change.replaced") == 2


def test_a_reorg_that_drops_the_mined_change_sends_it_again(db: Database, registry: Registry, snapshot: None) -> None:
    """Mined, not yet confirmed (3 confirmations): the block leaves the chain; the change goes
    back to pending, is signed again and done once."""
    settings = service_settings(registry, db, confirmations=3)
    call, args, key = admission(registry, "did:web:reorg.example")
    snap = rpc(registry, "evm_snapshot")
    with pytest.raises(DirectoryChangePending):
        change_directory(
            settings, registry.client, registry.accreditor, "admit_issuer", call, args, engine=db.engine, timeout=0.5
        )
    [row] = changes(db)
    [mined] = change_txs(db, int(row.id or 0))
    assert row.state == RevocationState.SUBMITTED and mined.state == TxState.MINED
    assert rpc(registry, "evm_revert", snap) is True  # the block with admitIssuer is gone
    assert registry.client.reads.issuer_id_by_uri(args["uri"]) == 0
    before = nonce(registry, registry.accreditor.address)
    rpc(registry, "evm_mine")
    with pytest.raises(DirectoryChangePending):  # dropped, signed again, mined: 1 confirmation of 3
        resume(settings, registry.client, registry.accreditor, engine=db.engine, timeout=0.5)
    assert "directory_change.dropped" in kinds(db)
    rpc(registry, "anvil_mine", "0x2")
    [row] = resume(settings, registry.client, registry.accreditor, engine=db.engine, timeout=60)
    assert row.state == RevocationState.DONE
    admitted(registry, args["uri"], key)
    assert nonce(registry, registry.accreditor.address) == before + 1


# -- the CLI, killed -----------------------------------------------------------------------------


def _cli_env(registry: Registry, db: Database, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        **db.settings_env(),
        "REGISTRY_HOME": str(registry.settings.home),
        "REGISTRY_CONFIG_DIR": str(tmp / "config"),
        "PATH": str(Path(sys.executable).parent),
    }


def _admit_cmd(registry: Registry, uri: str, key: str) -> list[str]:
    return [sys.executable, "-m", "registry.cli", "issuer", "admit", NAME, uri, key, "--rpc", registry.rpc_url]


KILLED_STATE = {
    "directory_change_signed": RevocationState.SIGNED,
    "directory_change_sent": RevocationState.SIGNED,  # sent, not yet recorded as sent
    "directory_change_broadcast": RevocationState.SUBMITTED,
    "directory_change_mined": RevocationState.SUBMITTED,
    "directory_changed": RevocationState.DONE,
}


@pytest.mark.parametrize("step", DIRECTORY_CHANGE_FAULT_POINTS)
def test_the_cli_killed_mid_admission_sends_it_once_when_run_again(
    db: Database, registry: Registry, snapshot: None, tmp_path: Path, step: str
) -> None:
    """SIGKILL of ``registry issuer admit`` at a step; the same command run again (or ``registry
    directory resume``) finishes it with one transaction; ``registry directory list`` shows it."""
    env = _cli_env(registry, db, tmp_path)
    uri, key = f"did:web:killed-{step.replace('_', '-')}.example", Account.create().address
    before = nonce(registry, registry.accreditor.address)
    report = tmp_path / "paused"
    paused = subprocess.Popen(
        _admit_cmd(registry, uri, key),
        env={**env, PAUSE_AT_ENV: step, PAUSE_FILE_ENV: str(report)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: report.exists() and step in report.read_text(), what=f"the CLI to reach {step}", timeout=60)
    finally:
        paused.send_signal(signal.SIGKILL)
        paused.wait()
    [row] = changes(db)
    assert row.state == KILLED_STATE[step]
    if step in ("directory_change_sent", "directory_change_mined"):
        again = subprocess.run(
            [sys.executable, "-m", "registry.cli", "directory", "resume", "--rpc", registry.rpc_url],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"directory change {row.id} (admit_issuer): done" in again.stdout
    again = subprocess.run(_admit_cmd(registry, uri, key), env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "admitted" in again.stdout
    if step in ("directory_change_signed", "directory_change_broadcast"):  # left open: the command finishes it
        assert f"finished the interrupted directory change {row.id} (admit_issuer): done" in again.stderr
    admitted(registry, uri, key)
    assert nonce(registry, registry.accreditor.address) == before + 1
    [row] = changes(db)
    assert row.state == RevocationState.DONE
    listed = subprocess.run(
        [sys.executable, "-m", "registry.cli", "directory", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert (entry["action"], entry["state"], entry["tx"]) == ("admit_issuer", "done", row.tx_hash)
    assert entry["args"] == {"name": NAME, "uri": uri, "key": key}


def test_the_cli_appointment_goes_through_the_pipeline(
    db: Database, registry: Registry, snapshot: None, tmp_path: Path
) -> None:
    env = _cli_env(registry, db, tmp_path)
    body = Account.create().address
    cmd = [
        sys.executable,
        "-m",
        "registry.cli",
        "accreditor",
        body,
        "--name",
        "Bureau",
        "--uri",
        "https://bureau.example",
        "--rpc",
        registry.rpc_url,
    ]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    [row] = changes(db)
    assert row.action == "appoint_accreditor" and row.state == RevocationState.DONE
    assert f"(tx {row.tx_hash})" in first.stdout
    entry = registry.client.reads.accreditors([body])[body]
    assert (entry.name, entry.uri) == ("Bureau", "did:web:bureau.example")
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert second.returncode == 0 and second.stdout.rstrip().endswith("already"), second.stdout
    assert len(changes(db)) == 1


def test_the_cli_suspends_reinstates_reassigns_and_declares_compromise_through_the_pipeline(
    db: Database, registry: Registry, snapshot: None, tmp_path: Path
) -> None:
    env = _cli_env(registry, db, tmp_path)
    reads = registry.client.reads
    issuer = str(registry.issuer2_id)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "registry.cli", "issuer", *args, "--rpc", registry.rpc_url]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)

    suspended = cli("suspend", issuer)
    assert suspended.returncode == 0, suspended.stdout + suspended.stderr
    assert f"issuer {issuer} (Other College) suspended (tx 0x" in suspended.stdout
    assert reads.issuers([registry.issuer2_id])[registry.issuer2_id].suspended
    again = cli("suspend", issuer)  # the chain already shows it: adopted, nothing sent
    assert again.returncode == 0 and "suspended (already on chain)" in again.stdout, again.stdout + again.stderr
    reinstated = cli("reinstate", issuer)
    assert reinstated.returncode == 0 and "reinstated (tx 0x" in reinstated.stdout, reinstated.stderr
    assert not reads.issuers([registry.issuer2_id])[registry.issuer2_id].suspended

    new_key = Account.create().address
    assigned = cli("assign-key", issuer, new_key)
    assert assigned.returncode == 0, assigned.stdout + assigned.stderr
    assert reads.issuers([registry.issuer2_id])[registry.issuer2_id].active_key.lower() == new_key.lower()

    old = registry.issuer2_key.address
    declared = cli("declare-compromise", old, "--since", "2026-01-02T03:04:05Z")
    assert declared.returncode == 0, declared.stdout + declared.stderr
    assert reads.keys_by_address([old])[old].compromised_at == int(
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    )

    before = len(changes(db))
    for bad, field in (
        (cli("declare-compromise", old, "--since", "2999-01-01"), "in the future"),
        (cli("declare-compromise", old, "--since", "yesterday"), "neither an ISO 8601"),
        (cli("declare-compromise", Account.create().address, "--since", "2026-01-01"), "no issuer's anchoring key"),
        (cli("suspend", "999"), "no issuer 999"),
        (cli("assign-key", issuer, "0x123"), "is not an address"),
    ):
        assert bad.returncode == 3 and field in bad.stderr, bad.stdout + bad.stderr
    assert len(changes(db)) == before  # refused before anything was recorded
    actions = [(c.action, c.state) for c in changes(db)]
    assert actions == [
        ("suspend_issuer", "done"),
        ("suspend_issuer", "done"),
        ("reinstate_issuer", "done"),
        ("assign_key", "done"),
        ("declare_key_compromised", "done"),
    ]
