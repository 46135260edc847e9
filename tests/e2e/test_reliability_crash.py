"""Crash safety of the anchoring worker as a real process: SIGKILL at every step of the pipeline,
anchors' and revocations' (and at steps drawn from a printed seed), restart, and check the
invariants after every kill: no credential lost, no root anchored twice, no file released whose
root is not on chain with the required confirmations, no revocation lost or sent twice, every
chain write recorded before it was sent, no nonce shared or skipped; at the end every batch
confirmed, every revocation done once on chain, every file VALID unless revoked (then INVALID
for that reason).

The long campaign (100+ kills at random moments) is ``scripts/bench.py --long``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import Session, select

from registry.service.issuance import credential_file
from registry.service.store import CredentialRow, CredentialState, Event, Revocation, RevocationState
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.reliability_harness import PIPELINE_STEPS, REVOCATION_STEPS, crash_campaign
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
        steps=[*PIPELINE_STEPS, *REVOCATION_STEPS],
        random_kills=random_kills,
        seed=SEED,  # printed by the campaign; REGISTRY_TEST_SEED=N replays another campaign exactly
        log=print,  # each kill and where it struck, shown when the test fails
    )
    assert result.violations == []
    assert set(result.step_kills) == {*PIPELINE_STEPS, *REVOCATION_STEPS}, result.step_kills
    assert result.crash_runs == len(PIPELINE_STEPS) + len(REVOCATION_STEPS) + random_kills
    assert result.revocation_kills >= len(REVOCATION_STEPS) and result.revocations >= len(REVOCATION_STEPS)
    # Every file of every batch verifies against the chain: VALID, or INVALID as revoked.
    with Session(db.engine) as session:
        rows = list(session.exec(select(CredentialRow)))
        files = [(r.id, credential_file(session, r)) for r in rows]
        revoked = {r.id for r in rows if r.state == CredentialState.REVOKED}
        kinds = [e.kind for e in session.exec(select(Event))]
        revocations = list(session.exec(select(Revocation)))
    reports = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify_many(files)
    verdicts = {cid: r for (cid, _), r in zip(files, reports, strict=True)}
    assert revoked, "the campaign revoked nothing"
    for cid, report in verdicts.items():
        if cid in revoked:
            assert report.verdict is Verdict.INVALID and report.check("revocation").status is CheckStatus.FAIL
        else:
            assert report.verdict is Verdict.VALID, report.summary
    assert len(files) == result.credentials
    # The kill after broadcasting, before recording it, was recovered by re-sending the same bytes:
    # one signature per batch and per revocation (no second transaction with another nonce).
    assert kinds.count("anchor.signed") == result.batches
    assert {r.state for r in revocations} == {RevocationState.DONE}
    assert kinds.count("revocation.signed") == len(revocations) == result.revocations
