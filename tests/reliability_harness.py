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
* :func:`~tests.reliability_keys.check_key_changes`: every ``setSigningKey`` recorded and sent
  once, a done key change the key of record, every batch on chain anchored after its issuer's
  key change.

The campaign itself (issue, revoke, correct or renew, admit issuers, start, kill at a step or at
a random moment, check, restart; many times) is :func:`tests.reliability_campaign.crash_campaign`.
"""

from __future__ import annotations

import contextlib
import os
import select as select_mod
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
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
from registry.service.worker.faults import KEY_CHANGE_FAULT_POINTS, SUPERSESSION_FAULT_POINTS, TRACE_FILE_ENV
from tests.chain_fixtures import Registry, free_port
from tests.clock import python
from tests.reliability_keys import KEYSTORE_PASSPHRASE
from tests.service_support import Database

ROOT = Path(__file__).resolve().parent.parent
ANCHORED_TOPIC = registry_abi().topic("BatchAnchored")
PIPELINE_STEPS = ("sealed", "signed", "sent", "broadcast", "mined", "releasing", "confirmed")
REVOCATION_STEPS = ("revocation_signed", "revocation_sent", "revocation_broadcast", "revocation_mined", "revoked")
"""The revocation's pause points (``registry.service.worker.faults.REVOCATION_FAULT_POINTS``)."""
SUPERSESSION_STEPS = SUPERSESSION_FAULT_POINTS
"""The pause points of a correction or renewal."""
KEY_CHANGE_STEPS = KEY_CHANGE_FAULT_POINTS
"""A key change happens once per signing key: each run at one of these steps admits a fresh
issuer (its own anchoring key in a keystore) whose first batch needs one."""
ALL_STEPS = (*PIPELINE_STEPS, *REVOCATION_STEPS, *SUPERSESSION_STEPS, *KEY_CHANGE_STEPS)
"""Every pause point of the campaign: what a step run and a random run draw from."""
STEP_KINDS = {
    **dict.fromkeys(PIPELINE_STEPS, "anchor"),
    **dict.fromkeys(REVOCATION_STEPS, "revocation"),
    **dict.fromkeys(SUPERSESSION_STEPS, "supersession"),
    **dict.fromkeys(KEY_CHANGE_STEPS, "key_change"),
}
"""The kind of request a pause point belongs to."""
NO_STEP = "start"
"""Where a kill at a random moment struck when the worker had passed no pause point yet (a
traced worker writes it once built)."""


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
        self.trace_file = workdir / f"{name}.trace"
        self.starts = 0

    def start(self, pause_at: str | None = None, *, trace: bool = False) -> WorkerProcess:
        """Start it; ``pause_at``: pause at those steps; ``trace``: write every step passed
        (:meth:`last_step`)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = dict(self.env)
        self.pause_file.unlink(missing_ok=True)
        self.trace_file.unlink(missing_ok=True)
        if pause_at:
            env["REGISTRY_WORKER_PAUSE_AT"] = pause_at
            env["REGISTRY_WORKER_PAUSE_FILE"] = str(self.pause_file)
        if trace:
            env[TRACE_FILE_ENV] = str(self.trace_file)
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

    def passed(self) -> list[str]:
        """The pause points this run passed so far (started with ``trace``), ``start`` first."""
        try:
            return self.trace_file.read_text().split()
        except FileNotFoundError:
            return []

    def last_step(self) -> str | None:
        """The last pause point this run passed (started with ``trace``): ``start`` when built
        and none passed yet, ``None`` before it is built."""
        steps = self.passed()
        return steps[-1] if steps else None

    def wait_passed(self, step: str, timeout: float = 60.0) -> None:
        """Wait until this run (started with ``trace``) passed ``step``."""

        def check() -> bool:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited with {self.returncode}: {self.tail()}")
            return step in self.passed()

        wait_for(check, timeout, f"{self.name} to pass {step}", interval=0.01)

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
    ones), ``up()`` forwards again. ``delay`` (seconds) holds each request before forwarding it (a
    distant RPC); ``peak_in_flight`` is the most requests forwarded and not yet answered at once."""

    def __init__(self, target_port: int, *, delay: float = 0.0) -> None:
        self.target_port = target_port
        self.delay = delay
        self.in_flight = 0
        self.peak_in_flight = 0
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
        awaiting = False  # a request went upstream on this connection and its answer has not begun
        try:
            while self._up.is_set():
                ready, _, _ = select_mod.select([a, b], [], [], 0.2)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    if src is a and not awaiting:
                        awaiting = True
                        with self._lock:
                            self.in_flight += 1
                            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                        if self.delay:
                            time.sleep(self.delay)
                    elif src is b and awaiting:
                        awaiting = False
                        with self._lock:
                            self.in_flight -= 1
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            if awaiting:
                with self._lock:
                    self.in_flight -= 1
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
