#!/usr/bin/env python3
"""Crash-safety campaign of the anchoring worker (a section of ``scripts/bench.py``).

A real ``registry worker`` process against a private anvil and a real database is SIGKILLed at
every pipeline step (the anchor's, the revocation's and the supersession's: revocations,
corrections and renewals are requested during the campaign and go through the same
recorded-transaction pipeline) and at random moments, restarted, and the invariants are checked
after every kill (tests/reliability_harness.py: no credential, revocation or supersession lost,
nothing anchored, revoked or superseded twice, no new file released before the chain records what
it replaces, every chain write recorded before it was sent, no nonce shared or skipped). Quick
mode: one kill per step plus two random ones (SQLite). ``--long``: each step four times plus 80
random kills on SQLite, and each step twice plus 40 random kills on PostgreSQL when
``REGISTRY_TEST_POSTGRES_URL`` is set (150+ kills in all).

Figures: ``crash_runs`` (revocation and supersession kills included), ``crash_violations`` (must
be 0), ``crash_revocations`` (revocations requested), ``crash_revocation_kills`` (kills while one
was open), ``crash_supersessions`` (corrections and renewals requested),
``crash_supersession_kills`` (kills while one was open), per-database details.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _campaign(kind: str, tmp: Path, *, rounds: int, random_kills: int, seed: int) -> dict[str, Any]:
    from sqlmodel import Session

    from tests.chain_fixtures import Registry, deploy_fixture
    from tests.reliability_harness import (
        KEY_CHANGE_STEPS,
        PIPELINE_STEPS,
        REVOCATION_STEPS,
        SUPERSESSION_STEPS,
        crash_campaign,
    )
    from tests.service_support import Database, add_issuer, database

    fixture: Generator[Registry] = deploy_fixture(tmp / "chain")  # type: ignore[assignment]
    registry = next(fixture)
    dbs: Generator[Database] = database(kind, tmp)  # type: ignore[assignment]
    db = next(dbs)
    try:
        with Session(db.engine) as session:
            issuer, _, ach = add_issuer(session, registry)
            assert issuer.id is not None
            issuer_id = issuer.id
        result = crash_campaign(
            registry,
            db,
            issuer_id,
            ach,
            tmp / "workers",
            steps=[*PIPELINE_STEPS, *REVOCATION_STEPS, *SUPERSESSION_STEPS, *KEY_CHANGE_STEPS] * rounds,
            random_kills=random_kills,
            random_window=(0.5, 4.0),
            seed=seed,
            log=lambda line: print(f"[reliability {kind}] {line}", file=sys.stderr),
        )
        figures = result.figures()
        figures["violations"] = result.violations[:20]
        return figures
    finally:
        dbs.close()
        fixture.close()


def run(long: bool = False) -> dict[str, Any]:
    from tests.service_support import POSTGRES_URL

    plans: list[tuple[str, int, int]] = [("sqlite", 4, 80) if long else ("sqlite", 1, 2)]
    if long and POSTGRES_URL:
        plans.append(("postgresql", 2, 40))
    per_db: dict[str, Any] = {}
    for i, (kind, rounds, random_kills) in enumerate(plans):
        with tempfile.TemporaryDirectory() as tmp:
            per_db[kind] = _campaign(kind, Path(tmp), rounds=rounds, random_kills=random_kills, seed=100 + i)
    return {
        "crash_runs": sum(int(f["crash_runs"]) for f in per_db.values()),
        "crash_violations": sum(int(f["crash_violations"]) for f in per_db.values()),
        "crash_credentials": sum(int(f["crash_credentials"]) for f in per_db.values()),
        "crash_batches": sum(int(f["crash_batches"]) for f in per_db.values()),
        "crash_revocations": sum(int(f["crash_revocations"]) for f in per_db.values()),
        "crash_revocation_kills": sum(int(f["crash_revocation_kills"]) for f in per_db.values()),
        "crash_supersessions": sum(int(f["crash_supersessions"]) for f in per_db.values()),
        "crash_supersession_kills": sum(int(f["crash_supersession_kills"]) for f in per_db.values()),
        "crash_key_changes": sum(int(f["crash_key_changes"]) for f in per_db.values()),
        "crash_key_change_kills": sum(int(f["crash_key_change_kills"]) for f in per_db.values()),
        "crash_campaigns": per_db,
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(long="--long" in sys.argv), indent=2, sort_keys=True) + "\n")
