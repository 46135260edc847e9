"""The public-chain path on anvil with Sepolia's chain id and a 1-second block time: the service
refuses development keys, takes an encrypted keystore, and releases files only after the
profile's confirmations (3 on Sepolia)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from sqlmodel import Session, select

from registry.chain.adapter import Chain
from registry.chain.admin import deploy_registry
from registry.chain.devkeys import _derive
from registry.chain.keys import load_signer
from registry.config import Settings
from registry.core.csvimport import IssueRequest
from registry.errors import ConfigError, Conflict
from registry.service.issuance import create_achievement, create_issuer, credential_file, issue
from registry.service.keys import check_issuer_keys
from registry.service.sealing import seal_due
from registry.service.store import Batch, BatchState, CredentialRow
from registry.service.worker import Worker
from registry.verify import Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, start_anvil
from tests.service_support import Database, database

pytestmark = pytest.mark.e2e

SEPOLIA = 11155111


@pytest.fixture(scope="module")
def sepolia(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Chain, Path]]:
    tmp = tmp_path_factory.mktemp("sepolia")
    chain = start_anvil(tmp / "chain", chain_id=SEPOLIA, block_time=1)
    try:
        settings = Settings(home=tmp / "home", rpc_url=chain.rpc_url, network="sepolia")
        client = Chain(chain.rpc_url)
        admin, accreditor, issuer = _derive(0), _derive(1), _derive(2)
        deploy_registry(settings, client, admin)
        client.writes.grant_accreditor(admin, accreditor.address)
        client.writes.admit_issuer(accreditor, "Sepolia University", "did:web:sepolia.example", issuer.address)
        keystore = tmp / "issuer.keystore.json"
        keystore.write_text(json.dumps(Account.encrypt(issuer.key, "correct horse")))
        yield settings, client, keystore
    finally:
        chain.down()


@pytest.fixture
def sdb(tmp_path: Path) -> Iterator[Database]:
    yield from database("sqlite", tmp_path)


def test_dev_keys_are_refused_off_dev_chains(sepolia: tuple[Settings, Chain, Path], sdb: Database) -> None:
    settings, client, _ = sepolia
    assert client.reads.chain_id() == SEPOLIA
    with pytest.raises(ConfigError, match="chain 11155111 is not a development chain"):
        load_signer(client.reads.chain_id(), role="issuer")
    with Session(sdb.engine) as session:
        create_issuer(
            session,
            name="Sepolia University",
            did="did:web:sepolia.example",
            key_source="dev:issuer",
            key_address=_derive(2).address,
        )
        session.commit()
    with pytest.raises(ConfigError, match="development keys are refused"):
        check_issuer_keys(sdb.engine, settings.profile.chain_id)
    from registry.service.runtime import prepare

    with pytest.raises(ConfigError, match="development keys are refused"):
        prepare(settings.model_copy(update={"database_url": sdb.url}), sdb.engine)


def test_keystore_key_and_three_confirmations(
    sepolia: tuple[Settings, Chain, Path], sdb: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, client, keystore = sepolia
    assert settings.required_confirmations == 3
    monkeypatch.setenv("REGISTRY_KEY_PASSPHRASE", "correct horse")
    with Session(sdb.engine) as session:
        issuer = create_issuer(
            session,
            name="Sepolia University",
            did="did:web:sepolia.example",
            key_source=f"keystore:{keystore}",
            key_address=_derive(2).address,
        )
        ach = create_achievement(session, issuer, json.loads(ACHIEVEMENT.model_dump_json()))
        assert ach.id is not None
        rows = issue(session, issuer, [IssueRequest(achievement_id=ach.id, recipient_email="x@example.org")])
        session.commit()
        cid = rows[0].id
    assert next(iter(check_issuer_keys(sdb.engine, SEPOLIA).values())).address == _derive(2).address
    seal_due(sdb.engine, settings, force=True)
    worker = Worker(settings, sdb.engine, client)
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + 180  # blocks every 2 s, 3 confirmations: a generous deadline
    while time.monotonic() < deadline:
        worker.run_once()
        with Session(sdb.engine) as session:
            batch = session.exec(select(Batch)).one()
            seen.append((batch.state, client.reads.head()))
            if batch.state == BatchState.CONFIRMED:
                break
            if batch.state == BatchState.SUBMITTED and batch.anchor_block is not None:
                with pytest.raises(Conflict, match="not released yet"):
                    credential_file(session, session.get(CredentialRow, cid))  # type: ignore[arg-type]
        time.sleep(0.5)
    assert batch.state == BatchState.CONFIRMED, seen
    assert batch.confirmations_required == 3
    assert any(state == BatchState.SUBMITTED for state, _ in seen), "confirmed without waiting"
    assert batch.anchor_block is not None and client.reads.head() - batch.anchor_block + 1 >= 3
    with Session(sdb.engine) as session:
        data = credential_file(session, session.get(CredentialRow, cid))  # type: ignore[arg-type]
    assert data["proof"][-1]["chainId"] == SEPOLIA
    assert client.registry_address is not None
    policy = VerificationPolicy(trusted={SEPOLIA: {client.registry_address}}, min_confirmations=3)
    report = Verifier(policy, rpc_url=client.rpc_url).verify(data)
    assert report.verdict is Verdict.VALID, report.summary
