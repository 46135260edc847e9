"""Fault-injection harness of the anchoring worker, shared by the reliability tests and
``scripts/bench_reliability.py``.

* :class:`WorkerProcess`: ``python -m registry.cli worker`` as a real child process, configured
  by environment variables only, that can be told to pause at a named pipeline step
  (``REGISTRY_WORKER_PAUSE_AT``) so the harness SIGKILLs it exactly there, or killed at random.
* :class:`Miner`: mines a block every few hundred milliseconds (confirmations progress).
* :class:`RpcProxy`: a loopback TCP proxy in front of anvil that can refuse connections (an RPC
  outage) and come back.
* :func:`check_invariants`: no credential lost, no root anchored twice, no file released whose
  root is not on chain with the required confirmations, and (``final``) every batch confirmed.
* :func:`~tests.reliability_revocations.check_revocations`: no revocation request lost, every
  chain write of the key recorded before it was sent, no revocation or supersession sent twice, no
  nonce shared by two purposes or left as a hole, and (``final``) every revocation done once on
  chain.
* :func:`~tests.reliability_supersessions.check_supersessions`: no correction or renewal lost, no
  new file released before the chain records what it replaces, every one done in the database
  recorded on chain, and (``final``) every one done by the one transaction it names.
* :func:`crash_campaign`: issue, revoke, correct or renew, start, kill (at a step or at a random
  moment), check, restart; many times; then let the worker finish and check again.
"""

from __future__ import annotations

import contextlib
import os
import random
import select as select_mod
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from eth_utils import to_checksum_address
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.chain.abi import registry_abi
from registry.chain.adapter import Chain
from registry.core.csvimport import IssueRequest
from registry.service.issuance import issue
from registry.service.store import (
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Issuer,
    KeyChange,
    Revocation,
    RevocationState,
    Supersession,
)
from registry.service.worker.faults import KEY_CHANGE_FAULT_POINTS, SUPERSESSION_FAULT_POINTS
from tests.chain_fixtures import Registry, free_port
from tests.clock import python
from tests.reliability_keys import KEYSTORE_PASSPHRASE, check_key_changes, fresh_issuer
from tests.reliability_revocations import check_revocations, request_revocations
from tests.reliability_supersessions import check_supersessions, new_credentials, request_supersessions
from tests.service_support import Database

ROOT = Path(__file__).resolve().parent.parent
ANCHORED_TOPIC = registry_abi().topic("BatchAnchored")
PIPELINE_STEPS = ("sealed", "signed", "sent", "broadcast", "mined", "releasing", "confirmed")
REVOCATION_STEPS = ("revocation_signed", "revocation_sent", "revocation_broadcast", "revocation_mined", "revoked")
"""The revocation's pause points (``registry.service.worker.faults.REVOCATION_FAULT_POINTS``)."""
SUPERSESSION_STEPS = SUPERSESSION_FAULT_POINTS
KEY_CHANGE_STEPS = KEY_CHANGE_FAULT_POINTS
"""A key change happens once per signing key: each run at one of these steps admits a fresh
issuer (its own anchoring key in a keystore) whose first batch needs one."""
"""The pause points of a correction or renewal."""


def rpc(url: str, method: str, *params: Any) -> Any:
    """One JSON-RPC call to anvil (test controls: evm_mine, anvil_reorg, ...)."""
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10)
    body = reply.json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body.get("result")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy (generous timeouts, no sleeps-as-asserts)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def worker_env(registry: Registry, db: Database, rpc_url: str | None = None, **settings: Any) -> dict[str, str]:
    """The environment of a ``registry worker`` process for this chain and database."""
    values: dict[str, Any] = {
        "home": registry.settings.home,
        "network": "local",
        "rpc_url": rpc_url or registry.rpc_url,
        "registry_address": registry.client.registry_address,
        "database_url": db.url,
        "batch_size": 3,
        "batch_max_age": 3600,
        "worker_interval": 0.1,
        "rpc_retry_max": 1.0,
        "confirmations": 2,
        "rebroadcast_after": 3600,
        "worker_in_process": "false",
        "key_passphrase": KEYSTORE_PASSPHRASE,  # the fresh issuers' keystores (key change steps)
    }
    values.update(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_") and k != "DATABASE_URL"}
    env.update({f"REGISTRY_{k.upper()}": str(v) for k, v in values.items() if v is not None})
    if db.schema:
        env["REGISTRY_DB_SCHEMA"] = db.schema
    env["PYTHONPATH"] = str(ROOT)
    return env


class WorkerProcess:
    """One ``registry worker`` child process (its own session, so a kill takes nothing else)."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str = "worker") -> None:
        self.env = env
        self.workdir = workdir
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.pause_file = workdir / f"{name}.pause"
        self.log_file = workdir / f"{name}.log"
        self.starts = 0

    def start(self, pause_at: str | None = None) -> WorkerProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = dict(self.env)
        self.pause_file.unlink(missing_ok=True)
        if pause_at:
            env["REGISTRY_WORKER_PAUSE_AT"] = pause_at
            env["REGISTRY_WORKER_PAUSE_FILE"] = str(self.pause_file)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            log.write(f"\n--- start {self.starts} pause_at={pause_at}\n".encode())
            self.proc = subprocess.Popen(
                python("-m", "registry.cli", "worker"),
                env=env,
                cwd=str(self.workdir),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def paused_at(self) -> str | None:
        try:
            text = self.pause_file.read_text()
        except FileNotFoundError:
            return None
        return text.split()[0] if text.strip() else None

    def wait_paused(self, timeout: float = 60.0) -> str:
        def check() -> str | None:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited with {self.returncode}: {self.tail()}")
            return self.paused_at()

        return str(wait_for(check, timeout, f"{self.name} to pause", interval=0.05))

    def kill(self) -> None:
        """SIGKILL: no cleanup code of the worker runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (graceful), SIGKILL after 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


class Miner:
    """Mines an empty block every ``interval`` seconds until stopped (confirmations progress)."""

    def __init__(self, rpc_url: str, interval: float = 0.3) -> None:
        self.rpc_url = rpc_url
        self.interval = interval
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="miner", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.paused.is_set():
                with contextlib.suppress(Exception):  # the node is being restarted: mine later
                    rpc(self.rpc_url, "evm_mine")

    def __enter__(self) -> Miner:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(5)


class RpcProxy:
    """A loopback TCP proxy to ``target``; ``down()`` refuses every connection (and cuts open
    ones), ``up()`` forwards again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._up = threading.Event()
        self._up.set()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="rpc-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RpcProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
        self._cut()

    def down(self) -> None:
        self._up.clear()
        self._cut()

    def up(self) -> None:
        self._up.set()

    def _cut(self) -> None:
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.close()
            self._conns.clear()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            if not self._up.is_set():
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()  # RST: connection refused/reset, like a node that is down
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while self._up.is_set():
                ready, _, _ = select_mod.select([a, b], [], [], 0.2)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()


# -- the database side -----------------------------------------------------------------------


def queue_credentials(engine: Engine, issuer_id: int, achievement_id: int, n: int, tag: str) -> list[str]:
    """Queue ``n`` credentials of one issuer (what the API's POST /v1/credentials does)."""

    with Session(engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        rows = issue(
            session,
            issuer,
            [
                IssueRequest(
                    achievement_id=achievement_id,
                    recipient_email=f"{tag}-{i}@example.org",
                    recipient_name=f"Learner {tag}-{i}",
                    result="A",
                )
                for i in range(n)
            ],
        )
        session.commit()
        return [r.id for r in rows]


def anchor_counts(client: Chain, from_block: int = 0) -> Counter[str]:
    """How many BatchAnchored logs each root has in the canonical chain."""
    assert client.registry_address is not None
    logs = client.rpc.call(
        "eth_getLogs",
        [
            {
                "address": to_checksum_address(client.registry_address),
                "fromBlock": hex(from_block),
                "toBlock": "latest",
                "topics": [ANCHORED_TOPIC],
            }
        ],
    )
    return Counter(str(log["topics"][1]).lower() for log in logs)


def check_invariants(
    engine: Engine, client: Chain, issued: set[str], *, final: bool = False, from_block: int = 0
) -> list[str]:
    """Every violation of the crash-safety invariants, as readable strings (empty: all hold)."""
    problems: list[str] = []
    with Session(engine) as session:
        creds = list(session.exec(select(CredentialRow)))
        batches = {int(b.id or 0): b for b in session.exec(select(Batch))}
    by_id = {c.id: c for c in creds}
    lost = issued - set(by_id)
    if lost:
        problems.append(f"{len(lost)} credential(s) lost: {sorted(lost)[:3]}")
    members: Counter[int] = Counter(c.batch_id for c in creds if c.batch_id is not None)
    for bid, b in batches.items():
        if b.state != BatchState.FAILED and members[bid] != b.count:
            problems.append(f"batch {bid} has {members[bid]} credentials, sealed with {b.count}")
    counts = anchor_counts(client, from_block)
    for root, n in counts.items():
        if n > 1:
            problems.append(f"root {root} anchored {n} times")
    db_roots = {b.root for b in batches.values()}
    for root in counts:
        if root not in db_roots:
            problems.append(f"root {root} anchored on chain but unknown to the database")
    released = [
        c
        for c in creds
        if c.state == CredentialState.RELEASED
        or (
            c.state == CredentialState.REVOKED
            and c.batch_id is not None
            and batches[int(c.batch_id)].state != BatchState.FAILED
        )
    ]
    roots = {batches[int(c.batch_id)].root for c in released if c.batch_id is not None}
    on_chain = client.reads.batches(roots) if roots else {}
    head = client.reads.head()
    for c in released:
        if c.batch_id is None:
            problems.append(f"credential {c.id} released without a batch")
            continue
        b = batches[int(c.batch_id)]
        info = on_chain.get(b.root)
        required = b.confirmations_required or 1
        if b.state not in (BatchState.CONFIRMED, BatchState.REVOKED):
            problems.append(f"credential {c.id} released while batch {b.id} is {b.state}")
        if info is None:
            problems.append(f"credential {c.id} released but root {b.root} is not on chain")
        elif head - info.block_number + 1 < required:
            problems.append(
                f"credential {c.id} released with {head - info.block_number + 1} < {required} confirmations"
            )
        elif b.anchor_block != info.block_number:
            problems.append(f"batch {b.id} says block {b.anchor_block}, the chain says {info.block_number}")
    if final:
        open_batches = [b.id for b in batches.values() if b.state not in (BatchState.CONFIRMED, BatchState.REVOKED)]
        if open_batches:
            problems.append(f"batches not confirmed at the end: {open_batches}")
        unreleased = [
            c.id for c in creds if c.id in issued and c.state not in (CredentialState.RELEASED, CredentialState.REVOKED)
        ]
        if unreleased:
            problems.append(f"{len(unreleased)} credential(s) not released at the end")
        for b in batches.values():
            if counts.get(b.root, 0) != 1:
                problems.append(f"batch {b.id} root anchored {counts.get(b.root, 0)} times")
    return problems


def idle(engine: Engine) -> bool:
    """Nothing left to do: no queued credential, every batch confirmed or failed."""
    with Session(engine) as session:
        open_batches = session.exec(
            select(sa.func.count())
            .select_from(Batch)
            .where(sa.not_(sa.column("state").in_([BatchState.CONFIRMED, BatchState.FAILED, BatchState.REVOKED])))
        ).one()
        queued = session.exec(
            select(sa.func.count())
            .select_from(CredentialRow)
            .where(sa.column("state").in_([CredentialState.QUEUED, CredentialState.BATCHED]))
        ).one()
        revoking = session.exec(
            select(sa.func.count()).select_from(Revocation).where(sa.column("state").in_(RevocationState.open_states()))
        ).one()
        superseding = session.exec(
            select(sa.func.count())
            .select_from(Supersession)
            .where(sa.column("state").in_(RevocationState.open_states()))
        ).one()
        keying = session.exec(
            select(sa.func.count()).select_from(KeyChange).where(sa.column("state").in_(RevocationState.open_states()))
        ).one()
    return not open_batches and not queued and not revoking and not superseding and not keying


@dataclass
class CampaignResult:
    crash_runs: int = 0
    step_kills: Counter[str] = field(default_factory=Counter)
    random_kills: int = 0
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
    """Kills while a signing-key registration was open."""
    elapsed_s: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "crash_runs": self.crash_runs,
            "crash_violations": len(self.violations),
            "crash_step_kills": dict(sorted(self.step_kills.items())),
            "crash_random_kills": self.random_kills,
            "crash_credentials": self.credentials,
            "crash_batches": self.batches,
            "crash_revocations": self.revocations,
            "crash_revocation_kills": self.revocation_kills,
            "crash_supersessions": self.supersessions,
            "crash_supersession_kills": self.supersession_kills,
            "crash_key_changes": self.key_changes,
            "crash_key_change_kills": self.key_change_kills,
            "crash_campaign_s": round(self.elapsed_s, 1),
        }


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
    :func:`check_supersessions` runs after every kill too. Before a run at one of
    KEY_CHANGE_STEPS a fresh issuer is admitted and a batch of its queued, so the worker registers
    its signing key (``setSigningKey``, on that key's nonces) before anchoring;
    :func:`check_key_changes` runs after every kill too (random runs draw no key change step).

    Every random choice comes from ``random.Random(seed)``, and the seed is printed (and named in
    every violation), so a failing campaign can be run again as it was. A random kill is at a
    pipeline step drawn from the seed, which replays exactly; with ``random_window`` (the long
    bench campaign) it is instead a seeded delay in that window, reaching the moments between the
    named steps, but where the worker then is depends on timing and does not replay.
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
        issuer_row = session.get(Issuer, issuer_id)
        assert issuer_row is not None
        address = issuer_row.key_address

    def after_kill(label: str) -> None:
        result.crash_runs += 1
        with Session(db.engine) as session:
            open_revocations = session.exec(
                select(sa.func.count())
                .select_from(Revocation)
                .where(sa.column("state").in_(RevocationState.open_states()))
            ).one()
            open_supersessions = session.exec(
                select(sa.func.count())
                .select_from(Supersession)
                .where(sa.column("state").in_(RevocationState.open_states()))
            ).one()
            open_key_changes = session.exec(
                select(sa.func.count())
                .select_from(KeyChange)
                .where(sa.column("state").in_(RevocationState.open_states()))
            ).one()
        if open_revocations or label.removeprefix("random: ") in REVOCATION_STEPS:
            result.revocation_kills += 1
        if open_supersessions or label.removeprefix("random: ") in SUPERSESSION_STEPS:
            result.supersession_kills += 1
        if open_key_changes or label in KEY_CHANGE_STEPS:
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
        """Something to revoke: run the worker (no kill) until a credential is released."""

        def any_released() -> bool:
            with Session(db.engine) as session:
                return (
                    session.exec(
                        select(CredentialRow.id).where(CredentialRow.state == CredentialState.RELEASED)
                    ).first()
                    is not None
                )

        if not any_released():
            proc.start()
            try:
                wait_for(any_released, 90, "a released credential to revoke", 0.1)
            finally:
                proc.stop()

    revocation_runs = 0
    with Miner(registry.rpc_url, 0.25):
        plan: list[str | None] = [*steps, *([None] * random_kills)]
        for run, step in enumerate(plan):
            # A step run queues a full batch, so there is always something to seal.
            n = batch_size if step is not None else rng.randint(1, 2 * batch_size)
            issued.update(queue_credentials(db.engine, issuer_id, achievement_id, n, f"r{seed}-{run}"))
            if step is None and random_window is None:
                step_drawn: str | None = rng.choice([*PIPELINE_STEPS, *REVOCATION_STEPS, *SUPERSESSION_STEPS])
            else:
                step_drawn = step
            if step_drawn in REVOCATION_STEPS or (step_drawn is None and rng.random() < 0.5):
                # Something to revoke at that step: a released credential, every third time a batch.
                released_some()
                revocation_runs += 1
                requested.update(
                    request_revocations(db.engine, issuer_id, rng, credentials=1, batch=revocation_runs % 3 == 0)
                )
            if step_drawn in SUPERSESSION_STEPS or (step_drawn is None and rng.random() < 0.3):
                # Something to replace at that step: a released credential, corrected or renewed.
                released_some()
                replacing.update(request_supersessions(db.engine, issuer_id, rng))
                issued.update(new_credentials(db.engine, replacing))
            if step in KEY_CHANGE_STEPS:
                # A signing key of record is never registered again: a fresh issuer needs one.
                fresh, fresh_achievement = fresh_issuer(registry, db, workdir, f"r{seed}-{run}")
                issued.update(queue_credentials(db.engine, fresh, fresh_achievement, batch_size, f"k{seed}-{run}"))
            if step is not None:
                proc.start(pause_at=step)
                try:
                    reached = proc.wait_paused(60)
                except (TimeoutError, RuntimeError) as exc:
                    proc.kill()
                    raise RuntimeError(f"the worker never reached {step}: {exc}\n{proc.tail()}") from exc
                proc.kill()
                result.step_kills[reached] += 1
                after_kill(reached)
            elif random_window is None:
                point = step_drawn
                assert point is not None
                proc.start(pause_at=point)
                try:
                    reached = proc.wait_paused(60)
                except (TimeoutError, RuntimeError) as exc:
                    proc.kill()
                    raise RuntimeError(f"seed {seed}: the worker never reached {point}: {exc}\n{proc.tail()}") from exc
                proc.kill()
                result.random_kills += 1
                after_kill(f"random: {reached}")
            else:
                proc.start()
                time.sleep(rng.uniform(*random_window))
                proc.kill()
                result.random_kills += 1
                after_kill("random moment")
        proc.start()
        try:
            wait_for(lambda: idle(db.engine), 90, "the worker to anchor and release everything", 0.2)
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
    result.credentials = len(issued)
    result.revocations = len(requested)
    result.supersessions = len(replacing)
    with Session(db.engine) as session:
        result.key_changes = int(session.exec(select(sa.func.count()).select_from(KeyChange)).one())
    result.elapsed_s = time.monotonic() - t0
    return result
