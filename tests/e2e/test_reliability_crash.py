"""Crash safety of the anchoring worker as a real process: SIGKILL at every step of the pipeline
(and at steps drawn from a printed seed), restart, and check the invariants after every kill: no
credential lost, no root anchored twice, no file released whose root is not on chain with the
required confirmations; at the end every batch confirmed and every file VALID.

The long campaign (100+ kills at random moments) is ``scripts/bench.py --long``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import Session, select

from registry.service.issuance import credential_file
from registry.service.store import CredentialRow, Event
from registry.verify import Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.reliability_harness import PIPELINE_STEPS, crash_campaign
from tests.service_support import Database, add_issuer

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("REGISTRY_TEST_SEED", "7"))


def test_sigkill_at_every_step_and_at_random_loses_nothing(db: Database, registry: Registry, tmp_path: Path) -> None:
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        assert issuer.id is not None
        issuer_id = issuer.id
    random_kills = 2 if db.kind == "sqlite" else 0  # keeps the fast suite short; the bench does 100+
    result = crash_campaign(
        registry,
        db,
        issuer_id,
        ach,
        tmp_path / "workers",
        steps=list(PIPELINE_STEPS),
        random_kills=random_kills,
        seed=SEED,  # printed by the campaign; REGISTRY_TEST_SEED=N replays another campaign exactly
        log=print,  # each kill and where it struck, shown when the test fails
    )
    assert result.violations == []
    assert set(result.step_kills) == set(PIPELINE_STEPS), result.step_kills
    assert result.crash_runs == len(PIPELINE_STEPS) + random_kills
    # Every file of every batch verifies against the chain.
    with Session(db.engine) as session:
        rows = list(session.exec(select(CredentialRow)))
        files = [(r.id, credential_file(session, r)) for r in rows]
        kinds = [e.kind for e in session.exec(select(Event))]
    reports = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify_many(files)
    assert {r.verdict for r in reports} == {Verdict.VALID}, [r.summary for r in reports if r.verdict != Verdict.VALID]
    assert len(files) == result.credentials
    # The kill after broadcasting, before recording it, was recovered by re-sending the same bytes.
    assert kinds.count("anchor.signed") == result.batches
