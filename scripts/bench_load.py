"""Load benchmark: mixed issue / status / verify traffic against a real service on loopback.

A fresh anvil with a deployed registry, the service (``registry serve``, its anchoring worker in
process) in its own process on 127.0.0.1, SQLite (or PostgreSQL in a throw-away schema when
``REGISTRY_TEST_POSTGRES_URL`` is set), and a thread-pool load generator using httpx:

* 50 % ``POST /v1/credentials`` (201 expected), 30 % status reads (``GET /v1/credentials/{id}``
  of an accepted credential, or ``GET /v1/batches``; 200), 20 % ``POST /v1/verify`` of a released
  credential file (200 and verdict VALID);
* bounded: ``LOAD_SECONDS`` (fast) or ``LONG_SECONDS`` (``--long``: 10 minutes), and at most
  ``MAX_REQUESTS`` requests; only loopback addresses.

Afterwards the worker drains (every batch anchored and confirmed) and the database is compared
with what the clients were told: ``load_lost_writes`` counts credentials answered 201 but not
stored, or stored without a 201. Figures: ``load_requests``, ``load_errors`` (must be 0),
``load_lost_writes`` (must be 0), ``load_p50_ms``, ``load_p99_ms``, ``load_duration_s``,
``load_rps`` and per-kind p99s, ``load_unreleased`` (credentials not released after the drain).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOAD_SECONDS = float(os.environ.get("REGISTRY_LOAD_SECONDS", "20"))
LONG_SECONDS = 600.0
CLIENTS = 8
MAX_REQUESTS = 2_000_000
DRAIN_SECONDS = 180.0

SERVE = "import sys; from registry.cli.app import app; sys.argv[0] = 'registry'; app()"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(long: bool = False) -> dict[str, Any]:
    import httpx
    from sqlmodel import Session, col, select

    from registry.service.store import CredentialRow
    from tests.chain_fixtures import deploy_fixture, free_port
    from tests.service_support import DB_KINDS, Database, add_issuer, database

    seconds = LONG_SECONDS if long else LOAD_SECONDS
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp_name, contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        registry = stack.enter_context(contextlib.contextmanager(deploy_fixture)(tmp))
        kind = "postgresql" if "postgresql" in DB_KINDS else "sqlite"
        db: Database = stack.enter_context(contextlib.contextmanager(database)(kind, tmp))
        proc: subprocess.Popen[bytes] | None = None
        try:
            with Session(db.engine) as session:
                issuer, key, ach = add_issuer(session, registry, 1)
                issuer_id = issuer.id
            port = free_port()
            env = {
                **os.environ,
                "REGISTRY_HOME": str(registry.settings.home),
                "REGISTRY_RPC_URL": registry.rpc_url,
                **db.settings_env(),
                "REGISTRY_BATCH_SIZE": "500",
                "REGISTRY_BATCH_MAX_AGE": "2",
                "REGISTRY_WORKER_INTERVAL": "0.2",
                "REGISTRY_PUBLIC_URL": f"http://127.0.0.1:{port}",
            }
            log = stack.enter_context((tmp / "serve.log").open("wb"))
            proc = subprocess.Popen(
                [sys.executable, "-c", SERVE, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            headers = {"X-API-Key": key}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                _wait(lambda: _ready(http), 60, "the service did not become ready")
                # A released credential for the verify traffic.
                seed_body = {"achievement_id": ach, "recipient_email": "seed@example.org"}
                first = http.post("/v1/credentials", json=seed_body)
                assert first.status_code == 201, first.text
                seed = first.json()["id"]
                http.post("/v1/batches/seal")
                _wait(lambda: http.get(f"/v1/credentials/{seed}").json()["state"] == "released", 60, "no anchor")
                credential_file = http.get(f"/v1/credentials/{seed}/file").content

            accepted: list[str] = [seed]
            latencies: dict[str, list[float]] = {"issue": [], "status": [], "verify": []}
            errors: Counter[str] = Counter()
            lock = threading.Lock()
            stop_at = time.monotonic() + seconds
            count = [0]

            def client(n: int) -> None:
                rng = random.Random(n)
                with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
                    i = 0
                    while time.monotonic() < stop_at:
                        with lock:
                            if count[0] >= MAX_REQUESTS:
                                return
                            count[0] += 1
                            known = accepted[rng.randrange(len(accepted))]
                        i += 1
                        roll = rng.random()
                        started = time.perf_counter()
                        try:
                            if roll < 0.5:
                                what = "issue"
                                r = c.post(
                                    "/v1/credentials",
                                    json={
                                        "achievement_id": ach,
                                        "recipient_email": f"l{n}-{i}@example.org",
                                        "recipient_name": f"Learner {n}-{i}",
                                    },
                                )
                                ok = r.status_code == 201
                            elif roll < 0.8:
                                what = "status"
                                r = c.get(f"/v1/credentials/{known}") if roll < 0.7 else c.get("/v1/batches?limit=5")
                                ok = r.status_code == 200
                            else:
                                what = "verify"
                                r = c.post(
                                    "/v1/verify", content=credential_file, headers={"content-type": "application/json"}
                                )
                                ok = r.status_code == 200 and r.json().get("verdict") == "VALID"
                        except httpx.HTTPError as exc:
                            with lock:
                                errors[f"{type(exc).__name__}"] += 1
                            continue
                        elapsed = (time.perf_counter() - started) * 1000
                        with lock:
                            latencies[what].append(elapsed)
                            if not ok:
                                errors[f"{what}:{r.status_code}"] += 1
                            elif what == "issue":
                                accepted.append(r.json()["id"])

            started = time.monotonic()
            threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(seconds + 120)
            duration = time.monotonic() - started

            # Drain: the worker seals (age) and anchors everything that was accepted.
            drain_started = time.monotonic()
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                http.post("/v1/batches/seal")

                def drained() -> bool:
                    with Session(db.engine) as session:
                        left = session.exec(
                            select(CredentialRow.id)
                            .where(CredentialRow.issuer_id == issuer_id)
                            .where(col(CredentialRow.state) != "released")
                        ).first()
                    return left is None

                with contextlib.suppress(TimeoutError):  # what is left shows as load_unreleased
                    _wait(drained, DRAIN_SECONDS, "drain")
            drain_s = time.monotonic() - drain_started
            with Session(db.engine) as session:
                rows = session.exec(
                    select(CredentialRow.id, CredentialRow.state).where(CredentialRow.issuer_id == issuer_id)
                ).all()
            stored = Counter(r[0] for r in rows)
            told = Counter(accepted)
            lost = sum((told - stored).values()) + sum((stored - told).values())
            unreleased = sum(1 for r in rows if r[1] != "released")
            everything = [x for v in latencies.values() for x in v]
            # Every answered request is in the latencies (failed answers too); transport errors are not.
            requests = len(everything) + sum(v for k, v in errors.items() if ":" not in k)
            figures: dict[str, Any] = {
                "load_requests": requests,
                "load_errors": sum(errors.values()),
                "load_error_kinds": dict(errors),
                "load_lost_writes": lost,
                "load_issued": len(accepted) - 1,
                "load_unreleased": unreleased,
                "load_p50_ms": round(_percentile(everything, 0.50), 2),
                "load_p99_ms": round(_percentile(everything, 0.99), 2),
                "load_mean_ms": round(statistics.fmean(everything), 2) if everything else 0.0,
                "load_duration_s": round(duration, 1),
                "load_rps": round(requests / duration, 1) if duration else 0.0,
                "load_drain_s": round(drain_s, 1),
                "load_clients": CLIENTS,
                "load_database": kind,
            }
            for what, values in latencies.items():
                figures[f"load_{what}_requests"] = len(values)
                figures[f"load_{what}_p99_ms"] = round(_percentile(values, 0.99), 2)
            return figures
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def _ready(http: Any) -> bool:
    import httpx

    try:
        return bool(http.get("/readyz").status_code == 200)
    except httpx.TransportError:
        return False


def _wait(ready: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(long="--long" in sys.argv), indent=2, sort_keys=True) + "\n")
