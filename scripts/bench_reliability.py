#!/usr/bin/env python3
"""Crash-safety campaign of the anchoring worker (a section of ``scripts/bench.py``).

A real ``registry worker`` process against a private anvil and a real database is SIGKILLed at
every pause point (the anchor's, the revocation's, the supersession's and the key change's:
revocations, corrections and renewals are requested, and issuers whose signing key is not yet on
chain admitted, during the campaign; all go through the same recorded-transaction pipeline) and
at random (tests/reliability_campaign.py), restarted, and the invariants are checked after every
kill (no credential, revocation or supersession lost, nothing anchored, revoked, superseded or
key-registered twice, no new file released before the chain records what it replaces, every
chain write recorded before it was sent, no nonce shared or skipped, a done key change the key of
record, every batch anchored after its issuer's key change). A random kill draws a pause point
from all of them, key changes included; half the random kills strike at the drawn point, the
others at a random moment 0-0.5 s after the worker passed it (counted at the last point it
passed then).

Quick mode: one kill per step plus two random ones (SQLite). ``--long``: each step four times
plus 80 random kills on SQLite, and each step twice plus 40 random kills on PostgreSQL
(``REGISTRY_TEST_POSTGRES_URL``, default the local server; skipped, saying why, when it cannot be
reached): 250+ kills in all. ``--db``, ``--rounds``, ``--random-kills``, ``--seed`` and
``--point-share`` run one campaign of another shape.

Figures: ``crash_runs`` (every kill), ``crash_violations`` (must be 0),
``crash_kills_per_kind`` (anchor / revocation / supersession / key_change: the kind of the point
each kill struck at, or last passed), ``crash_revocations`` (revocations requested),
``crash_revocation_kills`` (kills while one was open), ``crash_supersessions`` (corrections and
renewals requested), ``crash_supersession_kills``, ``crash_key_changes`` (signing keys
registered), ``crash_key_change_kills``, and per database the kills per point
(``crash_kills_per_point``, ``crash_random_point_kills``, ``crash_random_moment_kills``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _campaign(
    kind: str, tmp: Path, *, rounds: int, random_kills: int, seed: int, point_share: float = 0.5
) -> dict[str, Any]:
    from sqlmodel import Session

    from tests.chain_fixtures import Registry, deploy_fixture
    from tests.reliability_campaign import crash_campaign
    from tests.reliability_harness import ALL_STEPS
    from tests.service_support import Database, add_issuer, database

    fixture: Generator[Registry] = deploy_fixture(tmp / "chain")
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
            steps=list(ALL_STEPS) * rounds,
            random_kills=random_kills,
            random_window=(0.0, 0.5),
            point_share=point_share,
            seed=seed,
            log=lambda line: print(f"[reliability {kind}] {line}", file=sys.stderr, flush=True),
        )
        figures = result.figures()
        figures["violations"] = result.violations[:20]
        return figures
    finally:
        dbs.close()
        fixture.close()


SUMMED = (
    "crash_runs",
    "crash_violations",
    "crash_credentials",
    "crash_batches",
    "crash_revocations",
    "crash_revocation_kills",
    "crash_supersessions",
    "crash_supersession_kills",
    "crash_key_changes",
    "crash_key_change_kills",
)


def run(
    long: bool = False,
    *,
    kinds: list[str] | None = None,
    rounds: int | None = None,
    random_kills: int | None = None,
    seed: int = 100,
    point_share: float = 0.5,
) -> dict[str, Any]:
    from collections import Counter

    from tests.service_support import _postgres_problem

    shapes = {"sqlite": (4, 80), "postgresql": (2, 40)} if long else {"sqlite": (1, 2), "postgresql": (1, 2)}
    chosen = kinds if kinds is not None else (["sqlite", "postgresql"] if long else ["sqlite"])
    plans = [
        (k, shapes[k][0] if rounds is None else rounds, shapes[k][1] if random_kills is None else random_kills)
        for k in chosen
    ]
    skipped: dict[str, str] = {}
    if any(k == "postgresql" for k, _, _ in plans) and (problem := _postgres_problem()) is not None:
        skipped["postgresql"] = problem
        plans = [p for p in plans if p[0] != "postgresql"]
    per_db: dict[str, Any] = {}
    for i, (kind, kind_rounds, kind_random) in enumerate(plans):
        # stdout is the JSON document alone (here and in scripts/bench.py): the campaign's seed
        # line goes to stderr with its log.
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
            per_db[kind] = _campaign(
                kind, Path(tmp), rounds=kind_rounds, random_kills=kind_random, seed=seed + i, point_share=point_share
            )
    figures: dict[str, Any] = {key: sum(int(f[key]) for f in per_db.values()) for key in SUMMED}
    per_kind: Counter[str] = Counter()
    for f in per_db.values():
        per_kind.update(f["crash_kills_per_kind"])
    figures["crash_kills_per_kind"] = dict(sorted(per_kind.items()))
    figures["crash_campaigns"] = per_db
    if skipped:
        figures["crash_skipped"] = skipped
    return figures


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--long", action="store_true", help="the long campaign (SQLite and PostgreSQL)")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], help="only this database (or both)")
    parser.add_argument("--rounds", type=int, help="kills at every pause point, this many times each")
    parser.add_argument("--random-kills", type=int, help="random kills after the step runs")
    parser.add_argument("--seed", type=int, default=100, help="seed of the first campaign (the next: +1)")
    parser.add_argument("--point-share", type=float, default=0.5, help="share of random kills at a drawn point")
    args = parser.parse_args(argv)
    kinds = None if args.db is None else (["sqlite", "postgresql"] if args.db == "both" else [args.db])
    return run(
        args.long,
        kinds=kinds,
        rounds=args.rounds,
        random_kills=args.random_kills,
        seed=args.seed,
        point_share=args.point_share,
    )


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(sys.argv[1:]), indent=2, sort_keys=True) + "\n")
