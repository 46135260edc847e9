"""Crash safety of the anchoring worker as a real process: SIGKILL at every step of the pipeline,
anchors', revocations' and supersessions' (corrections and renewals; and at steps drawn from a
printed seed), restart, and check the invariants after every kill: no credential lost, no root
anchored twice, no file released whose root is not on chain with the required confirmations, no
revocation or supersession lost or sent twice, no new file released before the chain records what
it replaces, every chain write recorded before it was sent, no nonce shared or skipped, every
``setSigningKey`` recorded and sent once, a done key change the key of record, every batch on
chain anchored after its issuer's key change; at the end every batch confirmed, every revocation,
supersession and key change done once on chain, every file VALID unless revoked or superseded
(then INVALID for that reason). Random kills draw from every pause point, the key change's too.

The long campaign (100+ kills, half of the random ones at random moments) is
``scripts/bench.py --long``."""

from __future__ import annotations

import os
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlmodel import Session, select

from registry.service.issuance import credential_file
from registry.service.store import (
    CredentialRow,
    CredentialState,
    Event,
    KeyChange,
    Revocation,
    RevocationState,
    Supersession,
)
from registry.service.worker.faults import PAUSE_AT_ENV, PAUSE_FILE_ENV, TRACE_FILE_ENV, env_pause_hook
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.reliability_campaign import crash_campaign, draw_random_run
from tests.reliability_harness import (
    ALL_STEPS,
    KEY_CHANGE_STEPS,
    REVOCATION_STEPS,
    STEP_KINDS,
    SUPERSESSION_STEPS,
)
from tests.reliability_keys import KEYSTORE_PASSPHRASE
from tests.service_support import Database, add_issuer

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("REGISTRY_TEST_SEED", "7"))


def test_sigkill_at_every_step_and_at_random_loses_nothing(
    db: Database, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_KEY_PASSPHRASE", KEYSTORE_PASSPHRASE)  # the fresh issuers' files
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
        steps=list(ALL_STEPS),
        random_kills=random_kills,
        seed=SEED,  # printed by the campaign; REGISTRY_TEST_SEED=N replays another campaign exactly
        log=print,  # each kill and where it struck, shown when the test fails
    )
    assert result.violations == []
    assert set(result.step_kills) == set(ALL_STEPS), result.step_kills
    assert result.crash_runs == len(ALL_STEPS) + random_kills
    assert result.random_kills == sum(result.random_point_kills.values()) == random_kills
    assert set(result.random_point_kills) <= set(ALL_STEPS)
    assert sum(result.kills_per_point().values()) == result.crash_runs
    assert result.revocation_kills >= len(REVOCATION_STEPS) and result.revocations >= len(REVOCATION_STEPS)
    assert result.supersession_kills >= len(SUPERSESSION_STEPS)
    assert result.supersessions >= len(SUPERSESSION_STEPS)
    assert result.key_change_kills >= len(KEY_CHANGE_STEPS) and result.key_changes >= len(KEY_CHANGE_STEPS)
    # Every file of every batch verifies against the chain: VALID, or INVALID as revoked.
    with Session(db.engine) as session:
        rows = list(session.exec(select(CredentialRow)))
        files = [(r.id, credential_file(session, r)) for r in rows]
        revoked = {r.id for r in rows if r.state == CredentialState.REVOKED}
        kinds = [e.kind for e in session.exec(select(Event))]
        revocations = list(session.exec(select(Revocation)))
        supersessions = list(session.exec(select(Supersession)))
        key_changes = list(session.exec(select(KeyChange)))
        uris = {r.id: r.credential_uri for r in rows}
    reports = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify_many(files)
    verdicts = {cid: r for (cid, _), r in zip(files, reports, strict=True)}
    assert revoked, "the campaign revoked nothing"
    replaced = {s.old_credential_id: s.new_credential_id for s in supersessions}
    replacing = {s.new_credential_id: s.old_credential_id for s in supersessions}
    for cid, report in verdicts.items():
        if cid in revoked:
            assert report.verdict is Verdict.INVALID and report.check("revocation").status is CheckStatus.FAIL
            if cid in replaced:  # superseded: the reason names the credential replacing it
                assert f"superseded by {uris[replaced[cid]]}" in report.check("revocation").reason
        else:
            assert report.verdict is Verdict.VALID, report.summary
            if cid in replacing:
                assert report.check("lineage").status is CheckStatus.PASS
    assert len(files) == result.credentials
    # The kill after broadcasting, before recording it, was recovered by re-sending the same bytes:
    # one signature per batch and per revocation (no second transaction with another nonce).
    assert kinds.count("anchor.signed") == result.batches
    assert {r.state for r in revocations} == {RevocationState.DONE}
    assert kinds.count("revocation.signed") == len(revocations) == result.revocations
    assert {s.state for s in supersessions} == {RevocationState.DONE}
    assert kinds.count("supersession.signed") == len(supersessions) == result.supersessions
    assert {k.state for k in key_changes} == {RevocationState.DONE}
    assert kinds.count("key_change.signed") == len(key_changes) == result.key_changes


def test_random_runs_draw_every_pause_point_key_changes_included() -> None:
    """What the random kills draw from: every pause point (anchor, revocation, supersession and
    key change), each with about its share; with a random window a share of them at the point,
    the others at a random moment. Pure: no chain, no database."""
    rng = random.Random(SEED)
    draws = [draw_random_run(rng, None, 0.5) for _ in range(2200)]
    points = [p for p, _ in draws]
    assert all(at for _, at in draws)  # no window: always killed at the drawn point
    assert set(points) == set(ALL_STEPS)
    assert min(points.count(p) for p in ALL_STEPS) > 50  # ~100 each
    assert {STEP_KINDS[p] for p in points} == {"anchor", "revocation", "supersession", "key_change"}
    windowed = [draw_random_run(rng, (0.5, 4.0), 0.5) for _ in range(2000)]
    assert 800 < sum(at for _, at in windowed) < 1200
    assert {p for p, at in windowed if at} >= set(KEY_CHANGE_STEPS)


def _fake_client(chain_id: int) -> Any:
    return SimpleNamespace(reads=SimpleNamespace(chain_id=lambda: chain_id))


def test_a_traced_worker_writes_start_then_every_point_it_passes_on_dev_chains_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a random-moment kill is counted by: ``start`` once the worker is built, then every
    pause point, without pausing; a production chain gets no hook at all."""
    trace = tmp_path / "worker.trace"
    monkeypatch.setenv(TRACE_FILE_ENV, str(trace))
    monkeypatch.delenv(PAUSE_AT_ENV, raising=False)
    monkeypatch.delenv(PAUSE_FILE_ENV, raising=False)
    hook = env_pause_hook(cast(Any, _fake_client(31337)))
    assert hook is not None
    for step in ("sealed", "key_change_signed", "key_changed"):
        hook(step)  # returns: nothing pauses
    assert trace.read_text().split() == ["start", "sealed", "key_change_signed", "key_changed"]
    trace.unlink()
    assert env_pause_hook(cast(Any, _fake_client(1))) is None
    assert not trace.exists()
