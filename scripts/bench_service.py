"""Service figures for scripts/bench.py: API issuance, public verify throughput, anchoring latency.

Runs a real `registry serve` process (uvicorn, in-process worker) against a private anvil, with
SQLite and, when REGISTRY_TEST_POSTGRES_URL is set, PostgreSQL (in a scratch schema).

``api_verify_rps``: single-file POST /v1/verify on keep-alive connections, measured with ``wrk``
(a compiled load generator, Lua script rotating over real credential files and counting VALID
answers) when it is installed, else with Python clients; ``api_verify_load_generator`` says
which, and ``api_verify_load_avg`` gives the 1/5/15-minute load average at the end of the run,
so a noisy run can be recognised. The service runs ``SERVE_WORKERS`` HTTP processes
(``REGISTRY_BENCH_SERVE_WORKERS``, default 2) beside anvil, its anchoring worker at the default
interval (a second service process: the anchoring latency figure is taken with a 0.05 s interval).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.service.auth import create_api_key  # noqa: E402
from registry.service.issuance import create_achievement, create_issuer  # noqa: E402
from registry.service.store import make_engine, upgrade  # noqa: E402
from tests.chain_fixtures import ACHIEVEMENT, Registry, deploy_fixture, free_port  # noqa: E402

BULK = 5_000
SERVE_WORKERS = int(os.environ.get("REGISTRY_BENCH_SERVE_WORKERS", "2"))
VERIFY_SECONDS = 10.0
VERIFY_CONNECTIONS = 16
VERIFY_RUNS = 3

WRK_SCRIPT = r"""
local bodies = {}
local i = 0
ok, bad = 0, 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for n = 1, #args do
    local f = io.open(args[n], "rb")
    bodies[n] = f:read("*a")
    f:close()
  end
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/verify", {["Content-Type"] = "application/json"}, bodies[i])
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"verdict":"VALID"', 1, true) then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local good, wrong = 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    wrong = wrong + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "ok": %d, "bad": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, good, wrong, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _serve(
    registry: Registry, db_url: str, schema: str | None, tmp: Path, *, worker_interval: float | None = 0.05
) -> tuple[subprocess.Popen[bytes], str]:
    """``registry serve`` on a free port; ``worker_interval`` None keeps the default (Settings)."""
    port = free_port()
    env = {
        **os.environ,
        "REGISTRY_HOME": str(registry.settings.home),
        "REGISTRY_RPC_URL": registry.rpc_url,
        "REGISTRY_DATABASE_URL": db_url,
        "REGISTRY_BATCH_MAX_AGE": "0.5",
        "REGISTRY_BATCH_SIZE": "100000",
        "REGISTRY_MAX_BODY_BYTES": str(64 * 1024 * 1024),
        **({"REGISTRY_DB_SCHEMA": schema} if schema else {}),
    }
    env.pop("REGISTRY_WORKER_INTERVAL", None)
    if worker_interval is not None:
        env["REGISTRY_WORKER_INTERVAL"] = str(worker_interval)
    return launch_serve(port, SERVE_WORKERS, env, tmp / f"serve-{port}.log")


def launch_serve(
    port: int, workers: int, env: dict[str, str], log_path: Path, cwd: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``registry serve`` on ``port`` with ``env`` (from ``cwd``), its output in ``log_path``;
    returns once ``/healthz`` answers (RuntimeError with the log's tail if it never does)."""
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"service did not start: {log_path.read_text()[-2000:]}")


def wrk_figures(out: str) -> dict[str, Any]:
    """The ``WRKJSON`` line :data:`WRK_SCRIPT` prints, parsed."""
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    found: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    return found


def _issuer(db_url: str, schema: str | None, registry: Registry) -> tuple[str, int]:
    engine = make_engine(db_url, schema=schema)
    upgrade(engine)
    with Session(engine) as session:
        info = registry.client.reads.issuers([registry.issuer_id])[registry.issuer_id]
        issuer = create_issuer(
            session, name=info.name, did=info.did, key_source="dev:issuer", key_address=registry.issuer_key.address
        )
        assert issuer.id is not None
        _, token = create_api_key(session, issuer.id, "bench")
        data = json.loads(ACHIEVEMENT.model_dump_json())
        data["id"] = f"https://uni.example/achievements/bench-{secrets.token_hex(3)}"
        ach = create_achievement(session, issuer, data)
        session.commit()
        assert ach.id is not None
        ach_id = ach.id
    engine.dispose()
    return token, ach_id


def _measure(registry: Registry, db_url: str, schema: str | None, tmp: Path, *, verify: bool) -> dict[str, Any]:
    token, ach_id = _issuer(db_url, schema, registry)
    proc, base = _serve(registry, db_url, schema, tmp)
    figures: dict[str, Any] = {}
    try:
        api = httpx.Client(base_url=base, headers={"X-API-Key": token}, timeout=120)
        body = {
            "credentials": [
                {
                    "achievement_id": ach_id,
                    "recipient_email": f"l{i}@example.org",
                    "recipient_name": f"Learner {i}",
                    "result": "pass",
                }
                for i in range(BULK)
            ]
        }
        rates = []
        for _ in range(3):
            t0 = time.perf_counter()
            resp = api.post("/v1/credentials/bulk", json=body)
            rates.append(BULK / (time.perf_counter() - t0))
            assert resp.status_code == 201, resp.text
        figures["api_issue_creds_per_s"] = round(statistics.median(rates))
        # anchoring latency: seal -> confirmed (in-process worker, local chain, 1 confirmation)
        t0 = time.perf_counter()
        sealed = api.post("/v1/batches/seal")
        assert sealed.status_code == 201, sealed.text
        while True:
            batches = api.get("/v1/batches").json()
            if batches and all(b["state"] == "confirmed" for b in batches):
                break
            if time.perf_counter() - t0 > 120:
                raise RuntimeError(f"batches not confirmed: {batches}")
            time.sleep(0.02)
        figures["anchor_latency_s"] = round(time.perf_counter() - t0, 3)
        figures["anchor_latency_batch_size"] = BULK * 3
        files = _verify_files(api) if verify else []
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    if verify:
        # Verification is measured on a service configured as in production: the anchoring
        # worker polls at its default interval, not at the 0.05 s used above for the latency
        # figure (that polling alone took about 7 % of a core during a 10 s run).
        proc, base = _serve(registry, db_url, schema, tmp, worker_interval=None)
        try:
            figures.update(_verify_rps(files, base))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return figures


def _verify_files(api: httpx.Client) -> list[bytes]:
    ids = [c["id"] for c in api.get("/v1/credentials", params={"limit": 50}).json()]
    return [api.get(f"/v1/credentials/{i}/file").content for i in ids]


def _verify_rps(files: list[bytes], base: str) -> dict[str, Any]:
    figures = verify_rps_wrk(base, files) if shutil.which("wrk") else verify_rps_python(base, files)
    figures["api_verify_server_workers"] = SERVE_WORKERS
    figures["api_verify_worker_interval_s"] = Settings.model_fields["worker_interval"].default
    figures["api_verify_load_avg"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def verify_rps_wrk(
    base: str,
    files: list[bytes],
    seconds: float = VERIFY_SECONDS,
    connections: int = VERIFY_CONNECTIONS,
    runs: int = VERIFY_RUNS,
) -> dict[str, Any]:
    """POST /v1/verify with ``wrk`` (one thread, ``connections`` keep-alive connections), rotating
    over ``files``; only 200 answers with verdict VALID count. ``runs`` runs of ``seconds`` after
    one warm-up: the figures are their medians, each run's figures are kept (``*_runs``), since one
    run on a shared machine can be 10 % off."""
    found: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "verify.lua").write_text(WRK_SCRIPT)
        paths = []
        for n, data in enumerate(files):
            (tmp / f"{n}.json").write_bytes(data)
            paths.append(str(tmp / f"{n}.json"))
        script, url = str(tmp / "verify.lua"), base + "/v1/verify"
        # warm-up: connections, the head cache, each worker's verifier
        wrk = ["wrk", "-t1", f"-c{connections}", "--timeout", "10s", "-s", script]
        subprocess.run([*wrk, "-d2s", url, "--", *paths], check=True, capture_output=True)
        for _ in range(runs):
            out = subprocess.run(
                [*wrk, f"-d{int(seconds)}s", url, "--", *paths],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            found.append(wrk_figures(out))
    rps = [round(f["ok"] / (f["duration_us"] / 1e6), 1) for f in found]
    p50 = [round(f["p50_us"] / 1000, 1) for f in found]
    p99 = [round(f["p99_us"] / 1000, 1) for f in found]
    return {
        "api_verify_rps": statistics.median(rps),
        "api_verify_rps_runs": rps,
        "api_verify_errors": sum(f["bad"] + f["errors"] for f in found),
        "api_verify_p50_ms": statistics.median(p50),
        "api_verify_p99_ms": statistics.median(p99),
        "api_verify_p99_ms_runs": p99,
        "api_verify_run_seconds": seconds,
        "api_verify_load_generator": "wrk",
        "api_verify_connections": connections,
    }


def verify_rps_python(
    base: str, files: list[bytes], seconds: float = VERIFY_SECONDS, threads: int = 8
) -> dict[str, Any]:
    """The fallback without ``wrk``: ``threads`` Python clients (httpx, keep-alive)."""
    done: list[int] = []
    errors: list[int] = []
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    def worker(n: int) -> None:
        client = httpx.Client(base_url=base, timeout=30)
        i = n
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            resp = client.post(
                "/v1/verify", content=files[i % len(files)], headers={"content-type": "application/json"}
            )
            latencies.append(time.perf_counter() - t0)
            if resp.status_code == 200 and resp.json()["verdict"] == "VALID":
                done.append(1)
            else:
                errors.append(resp.status_code)
            i += threads

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "api_verify_rps": round(len(done) / elapsed, 1),
        "api_verify_errors": len(errors),
        "api_verify_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "api_verify_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "api_verify_load_generator": "python",
        "api_verify_connections": threads,
    }


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fixture = deploy_fixture(tmp / "chain")
        registry = next(fixture)
        try:
            sqlite = _measure(registry, f"sqlite:///{tmp / 'svc.db'}", None, tmp, verify=True)
            figures.update(sqlite)
            figures["api_issue_creds_per_s_sqlite"] = sqlite["api_issue_creds_per_s"]
            pg = os.environ.get("REGISTRY_TEST_POSTGRES_URL")
            if pg:
                schema = "bench_" + secrets.token_hex(4)
                admin = make_engine(pg)
                with admin.begin() as conn:
                    conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
                try:
                    other = _measure(registry, pg, schema, tmp, verify=False)
                    figures["api_issue_creds_per_s_postgresql"] = other["api_issue_creds_per_s"]
                    figures["anchor_latency_s_postgresql"] = other["anchor_latency_s"]
                finally:
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                    admin.dispose()
        finally:
            fixture.close()
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
