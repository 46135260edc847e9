"""The crash campaign of the anchoring worker (``tests/e2e/test_reliability_crash.py``, and
``scripts/bench_reliability.py --long``): queue credentials, revoke, correct or renew, admit
issuers whose signing key is not registered yet, start a real worker process, SIGKILL it at a
pause point or at a random moment, check every invariant (tests/reliability_harness.py,
reliability_revocations.py, reliability_supersessions.py, reliability_keys.py), restart; many
times; then let the worker finish and check again."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.chain.adapter import Chain
from registry.service.store import (
    Batch,
    CredentialRow,
    CredentialState,
    Issuer,
    KeyChange,
    Revocation,
    RevocationState,
    Supersession,
)
from tests.chain_fixtures import Registry
from tests.reliability_harness import (
    ALL_STEPS,
    KEY_CHANGE_STEPS,
    NO_STEP,
    REVOCATION_STEPS,
    STEP_KINDS,
    SUPERSESSION_STEPS,
    Miner,
    WorkerProcess,
    check_invariants,
    idle,
    queue_credentials,
    wait_for,
    worker_env,
)
from tests.reliability_keys import check_key_changes, fresh_issuer
from tests.reliability_revocations import check_revocations, request_revocations
from tests.reliability_supersessions import check_supersessions, new_credentials, request_supersessions
from tests.service_support import Database

__all__ = ["CampaignResult", "crash_campaign", "draw_random_run"]


@dataclass
class CampaignResult:
    crash_runs: int = 0
    step_kills: Counter[str] = field(default_factory=Counter)
    """Kills of the planned step runs, per pause point."""
    random_kills: int = 0
    random_point_kills: Counter[str] = field(default_factory=Counter)
    """Random kills at a pause point drawn from the seed, per point."""
    random_moment_kills: Counter[str] = field(default_factory=Counter)
    """Random kills at a random moment, per the last pause point the worker had passed then
    (``start``: none yet)."""
    violations: list[str] = field(default_factory=list)
    credentials: int = 0
    batches: int = 0
    revocations: int = 0
    revocation_kills: int = 0
    """Kills while a revocation was open (at a revocation step, or at random with one open)."""
    supersessions: int = 0
    supersession_kills: int = 0
    """Kills while a correction or renewal was open (at its steps, or at random with one open)."""
    key_changes: int = 0
    key_change_kills: int = 0
    """Kills while a signing-key registration was open (at its steps, or at random with one open)."""
    fresh_issuers: int = 0
    """Issuers admitted during the campaign (each one's first batch needs a key change)."""
    elapsed_s: float = 0.0

    def kills_per_point(self) -> Counter[str]:
        """Every kill by the pause point it struck at (a random moment: the last one passed)."""
        return self.step_kills + self.random_point_kills + self.random_moment_kills

    def kills_per_kind(self) -> dict[str, int]:
        """Every kill by the kind of step it struck at or after: anchor, revocation,
        supersession, key_change (``start``: a random moment before any step)."""
        kinds: Counter[str] = Counter()
        for point, n in self.kills_per_point().items():
            kinds[STEP_KINDS.get(point, point)] += n
        return dict(sorted(kinds.items()))

    def figures(self) -> dict[str, Any]:
        return {
            "crash_runs": self.crash_runs,
            "crash_violations": len(self.violations),
            "crash_step_kills": dict(sorted(self.step_kills.items())),
            "crash_random_kills": self.random_kills,
            "crash_random_point_kills": dict(sorted(self.random_point_kills.items())),
            "crash_random_moment_kills": dict(sorted(self.random_moment_kills.items())),
            "crash_kills_per_point": dict(sorted(self.kills_per_point().items())),
            "crash_kills_per_kind": self.kills_per_kind(),
            "crash_credentials": self.credentials,
            "crash_batches": self.batches,
            "crash_revocations": self.revocations,
            "crash_revocation_kills": self.revocation_kills,
            "crash_supersessions": self.supersessions,
            "crash_supersession_kills": self.supersession_kills,
            "crash_key_changes": self.key_changes,
            "crash_key_change_kills": self.key_change_kills,
            "crash_fresh_issuers": self.fresh_issuers,
            "crash_campaign_s": round(self.elapsed_s, 1),
        }


def _open_requests(engine: Engine) -> dict[str, int]:
    """How many revocations, supersessions and key changes are open, per kind."""
    with Session(engine) as session:
        return {
            kind: int(
                session.exec(
                    select(sa.func.count())
                    .select_from(model)
                    .where(sa.column("state").in_(RevocationState.open_states()))
                ).one()
            )
            for kind, model in (("revocation", Revocation), ("supersession", Supersession), ("key_change", KeyChange))
        }


def draw_random_run(
    rng: random.Random, random_window: tuple[float, float] | None, point_share: float
) -> tuple[str, bool]:
    """A random run's pause point, drawn from every one of ALL_STEPS (key changes included), and
    whether it is killed there (always without ``random_window``) rather than at a random moment."""
    point = rng.choice(ALL_STEPS)
    return point, random_window is None or rng.random() < point_share


def crash_campaign(
    registry: Registry,
    db: Database,
    issuer_id: int,
    achievement_id: int,
    workdir: Path,
    *,
    steps: list[str],
    random_kills: int = 0,
    random_window: tuple[float, float] | None = None,
    point_share: float = 0.5,
    seed: int = 1,
    batch_size: int = 3,
    confirmations: int = 2,
    log: Callable[[str], None] | None = None,
) -> CampaignResult:
    """Kill the worker at each of ``steps`` (in order), then ``random_kills`` times at random;
    restart after every kill and check the invariants; finally run it until idle.

    Revocations are part of it: before a run at one of REVOCATION_STEPS a released credential
    (every third time also a confirmed batch) is revoked, and random runs revoke one now and then,
    so kills strike the revocation's steps too (anchors and revocations interleave on one key's
    nonces); :func:`check_revocations` runs after every kill beside :func:`check_invariants`.
    So are corrections and renewals: before a run at one of SUPERSESSION_STEPS (and now and then
    before a random run) a released credential is corrected or renewed; its new credential is
    anchored, then ``supersedeCredential`` sent, on the same key's nonces;
    :func:`check_supersessions` runs after every kill too. So are key changes: before a run at
    one of KEY_CHANGE_STEPS (and now and then before a random run) a fresh issuer is admitted
    and a batch of its queued, so the worker registers its signing key (``setSigningKey``, on
    that key's nonces) before anchoring; :func:`check_key_changes` runs after every kill too.

    A random run draws its pause point from every one of ALL_STEPS (key changes included) and
    queues what that point needs. Without ``random_window`` it is killed at that point. With it
    (the long bench campaign) a share ``point_share`` of random runs is killed at the drawn point,
    the others at a seeded delay in that window after the worker passed the drawn point, reaching
    the moments between it and the next steps; such a worker writes every step it passes
    (``REGISTRY_WORKER_TRACE_FILE``), so each kill is counted at the last point it passed.

    Every random choice comes from ``random.Random(seed)``, and the seed is printed (and named in
    every violation), so a failing campaign can be run again as it was: kills at a point replay
    exactly; where a worker killed at a random moment was depends on timing and does not replay.
    """
    rng = random.Random(seed)
    print(f"crash campaign: seed={seed} steps={len(steps)} random_kills={random_kills}", flush=True)
    if log:
        log(f"seed {seed} (every random choice derives from it)")
    result = CampaignResult()
    t0 = time.monotonic()
    # Partial batches seal after 1 s, so leftovers of random runs are anchored too.
    env = worker_env(registry, db, batch_size=batch_size, confirmations=confirmations, batch_max_age=1.0)
    proc = WorkerProcess(env, workdir)
    issued: set[str] = set()
    requested: set[int] = set()
    replacing: set[int] = set()
    client = Chain(registry.rpc_url, registry.client.registry_address)
    start = client.reads.head() + 1  # roots anchored before belong to someone else
    with Session(db.engine) as session:
        result.batches -= int(session.exec(select(sa.func.count()).select_from(Batch)).one())
        result.key_changes -= int(session.exec(select(sa.func.count()).select_from(KeyChange)).one())
        issuer_row = session.get(Issuer, issuer_id)
        assert issuer_row is not None
        address = issuer_row.key_address

    def after_kill(label: str, point: str) -> None:
        """Count the kill (``point``: the pause point it struck at or after) and check."""
        result.crash_runs += 1
        kind = STEP_KINDS.get(point)
        open_requests = _open_requests(db.engine)
        if open_requests["revocation"] or kind == "revocation":
            result.revocation_kills += 1
        if open_requests["supersession"] or kind == "supersession":
            result.supersession_kills += 1
        if open_requests["key_change"] or kind == "key_change":
            result.key_change_kills += 1
        for problem in [
            *check_invariants(db.engine, client, issued, from_block=start),
            *check_revocations(db.engine, client, requested, address, from_block=start),
            *check_supersessions(db.engine, client, replacing, address, from_block=start),
            *check_key_changes(db.engine, client, from_block=start),
        ]:
            result.violations.append(f"seed {seed}, after kill {result.crash_runs} ({label}): {problem}")
        if log:
            log(f"kill {result.crash_runs} at {label}: {len(result.violations)} violation(s) so far")

    def released_some() -> None:
        """Something to revoke: run the worker (no kill) until a credential of the issuer is
        released (the fresh issuers' credentials are not its to revoke or replace)."""

        def any_released() -> bool:
            with Session(db.engine) as session:
                return (
                    session.exec(
                        select(CredentialRow.id)
                        .where(CredentialRow.state == CredentialState.RELEASED)
                        .where(CredentialRow.issuer_id == issuer_id)
                    ).first()
                    is not None
                )

        if not any_released():
            proc.start()
            try:
                wait_for(any_released, 90, "a released credential to revoke", 0.1)
            finally:
                proc.stop()

    def kill_at(point: str, what: str) -> str:
        """Start the worker to pause at ``point``, SIGKILL it there; the point reached."""
        proc.start(pause_at=point)
        try:
            reached = proc.wait_paused(60)
        except (TimeoutError, RuntimeError) as exc:
            proc.kill()
            raise RuntimeError(f"seed {seed}: the worker never reached {what}: {exc}\n{proc.tail()}") from exc
        proc.kill()
        return reached

    revocation_runs = 0
    with Miner(registry.rpc_url, 0.25):
        plan: list[str | None] = [*steps, *([None] * random_kills)]
        for run, step in enumerate(plan):
            # A step run queues a full batch, so there is always something to seal.
            n = batch_size if step is not None else rng.randint(1, 2 * batch_size)
            issued.update(queue_credentials(db.engine, issuer_id, achievement_id, n, f"r{seed}-{run}"))
            point, at_point = (step, True) if step is not None else draw_random_run(rng, random_window, point_share)
            extra = not at_point  # a random moment: now and then every kind of request is open
            if point in REVOCATION_STEPS or (extra and rng.random() < 0.5):
                # Something to revoke at that step: a released credential, every third time a batch.
                released_some()
                revocation_runs += 1
                requested.update(
                    request_revocations(db.engine, issuer_id, rng, credentials=1, batch=revocation_runs % 3 == 0)
                )
            if point in SUPERSESSION_STEPS or (extra and rng.random() < 0.3):
                # Something to replace at that step: a released credential, corrected or renewed.
                released_some()
                replacing.update(request_supersessions(db.engine, issuer_id, rng))
                issued.update(new_credentials(db.engine, replacing))
            if point in KEY_CHANGE_STEPS or (extra and rng.random() < 0.2):
                # A signing key of record is never registered again: a fresh issuer needs one.
                fresh, fresh_achievement = fresh_issuer(registry, db, workdir, f"r{seed}-{run}")
                result.fresh_issuers += 1
                issued.update(queue_credentials(db.engine, fresh, fresh_achievement, batch_size, f"k{seed}-{run}"))
            if step is not None:
                reached = kill_at(step, step)
                result.step_kills[reached] += 1
                after_kill(reached, reached)
            elif at_point:
                reached = kill_at(point, f"{point} (drawn)")
                result.random_kills += 1
                result.random_point_kills[reached] += 1
                after_kill(f"random: {reached}", reached)
            else:
                assert random_window is not None
                proc.start(trace=True)
                # The moment counts from the worker passing the drawn point: from its start, a
                # kill mostly lands in the import (a second or two on a loaded machine, nothing
                # written) or after the work is done (a batch is confirmed within a second).
                proc.wait_passed(point, 60)
                time.sleep(rng.uniform(*random_window))
                proc.kill()
                passed = proc.last_step() or NO_STEP
                result.random_kills += 1
                result.random_moment_kills[passed] += 1
                after_kill(f"random moment after {passed}", passed)
        proc.start()
        try:
            wait_for(lambda: idle(db.engine), 120, "the worker to anchor and release everything", 0.2)
        finally:
            proc.stop()
    for problem in [
        *check_invariants(db.engine, client, issued, final=True, from_block=start),
        *check_revocations(db.engine, client, requested, address, final=True, from_block=start),
        *check_supersessions(db.engine, client, replacing, address, final=True, from_block=start),
        *check_key_changes(db.engine, client, final=True, from_block=start),
    ]:
        result.violations.append(f"seed {seed}, final: {problem}")
    with Session(db.engine) as session:
        result.batches += int(session.exec(select(sa.func.count()).select_from(Batch)).one())
        result.key_changes += int(session.exec(select(sa.func.count()).select_from(KeyChange)).one())
    result.credentials = len(issued)
    result.revocations = len(requested)
    result.supersessions = len(replacing)
    result.elapsed_s = time.monotonic() - t0
    return result
