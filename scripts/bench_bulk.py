#!/usr/bin/env python3
"""Bulk verification throughput: a 1,000-file batch (10,000 with ``long``) issued on a private
anvil, verified through ``POST /v1/verify/batch`` (uvicorn on loopback, real HTTP: JSON array,
multipart and zip bodies, JSON and CSV answers) and through ``registry verify DIR --format csv``
(a subprocess: interpreter start-up and imports included), against the same chain.

A block is mined before each timed API request, so the service's head-cached chain reads start
afresh each time (as for a new batch), not served from the previous run's cache.

``run(long=False)`` (called by ``scripts/bench.py``) returns ``verify_batch_files_per_s`` (the
lower of API and CLI: the target is both), ``verify_batch_files_per_s_api`` (JSON array, best of
3), ``..._api_multipart``, ``..._api_zip``, ``..._api_csv``, ``..._cli``, ``..._cli_in_process``
(the same work without start-up), ``cli_startup_ms`` (``registry verify --help``: the start-up
every ``registry verify`` pays, best of 3) and ``cli_help_ms`` (``registry --help``, which loads
every command's module), the load average of the run, and where one batch's time goes
in-process (``verify_batch_profile_ms``: parsing and schema validation, integrity, inclusion,
``chain_reads`` (the batch's one snapshot: its roots and every credential's revocation pair, read
by a fresh reader after a new block), rows and CSV).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _best(fn: Callable[[], Any], repeat: int = 3, before: Callable[[], Any] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _each(fn: Callable[[Any], None], items: list[Any]) -> None:
    for item in items:
        fn(item)


def _profile(registry: Any, files: list[Path]) -> dict[str, float]:
    """Milliseconds per stage for one batch, in-process (the verifier's own steps timed apart;
    each the best of 3)."""
    from registry.chain.reads import ChainReader
    from registry.core import credfile
    from registry.verify import VerificationPolicy, Verifier
    from registry.verify.identity import named_identity
    from registry.verify.tabular import BatchFile, csv_text, learner_name, rows, verify_batch
    from tests.chain_fixtures import anvil_rpc

    data = [f.read_bytes() for f in files]
    parsed = [credfile.parse_credential_file(d) for d in data]
    verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
    offline = Verifier(VerificationPolicy(trusted=registry.trust, offline=True))
    batch = [BatchFile(str(f), d) for f, d in zip(files, data, strict=True)]
    results = verify_batch(verifier, batch)
    stages: dict[str, Callable[[], Any]] = {
        "parse_and_schema": lambda: [credfile.parse_credential_file(d) for d in data],
        "integrity": lambda: [credfile.check_integrity(cf) for cf in parsed],
        "inclusion": lambda: _each(credfile.check_inclusion, parsed),
        "issuer_identity": lambda: [named_identity(cf.credential) for cf in parsed],
        "learner_names": lambda: [learner_name(d) for d in data],
        "verify_batch_total": lambda: verify_batch(verifier, batch),
        "verify_batch_offline_part": lambda: verify_batch(offline, batch),
        "rows_and_csv": lambda: csv_text(rows((r for r, _ in results), (n for _, n in results))),
    }
    out = {name: _best(fn) for name, fn in stages.items()}
    anchor = parsed[0].anchor
    roots = sorted({cf.root for cf in parsed})
    pairs = [(cf.root, cf.digest) for cf in parsed]
    out["chain_reads"] = _best(
        lambda: ChainReader(registry.rpc_url, anchor.registry).snapshot(roots, pairs),
        before=lambda: anvil_rpc(registry, "evm_mine"),
    )
    return {k: round(v * 1000, 1) for k, v in out.items()}


def run(long: bool = False) -> dict[str, Any]:
    import requests

    from tests.api_fuzz import serve
    from tests.chain_fixtures import anvil_rpc, deploy_fixture

    n = 10_000 if long else 1_000
    figures: dict[str, Any] = {"verify_batch_files": n}
    with tempfile.TemporaryDirectory() as tmp:
        fixture = deploy_fixture(Path(tmp))
        assert isinstance(fixture, Generator)
        registry = next(fixture)
        try:
            issued = registry.issue(n)
            files = sorted(issued.files)
            folder = files[0].parent
            data = [f.read_bytes() for f in files]
            array = b"[" + b",".join(data) + b"]"
            packed = io.BytesIO()
            with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
                for f, d in zip(files, data, strict=True):
                    z.writestr(f.name, d)
            upload = [("files", (f.name, d, "application/json")) for f, d in zip(files, data, strict=True)]
            figures["verify_batch_request_mb"] = round(len(array) / 1e6, 2)
            os.environ["REGISTRY_MAX_VERIFY_BATCH"] = str(n)
            os.environ["REGISTRY_MAX_UPLOAD_BYTES"] = str(max(len(array) * 2, 20 * 1024 * 1024))
            with serve(registry, Path(tmp) / "svc") as service:
                url = f"{service.base_url}/v1/verify/batch"
                http = requests.Session()

                def post(suffix: str = "", **kwargs: Any) -> requests.Response:
                    r = http.post(url + suffix, timeout=600, **kwargs)
                    r.raise_for_status()
                    return r

                first = post(data=array, headers={"content-type": "application/json"}).json()
                figures["verify_batch_api_verdicts"] = first["verdicts"]
                variants: dict[str, Callable[[], Any]] = {
                    "api": lambda: post(data=array, headers={"content-type": "application/json"}),
                    "api_csv": lambda: post("?format=csv", data=array, headers={"content-type": "application/json"}),
                    "api_multipart": lambda: post(files=upload),
                    "api_zip": lambda: post(data=packed.getvalue(), headers={"content-type": "application/zip"}),
                }
                for name, fn in variants.items():  # each after a new head: the chain reads start afresh
                    figures[f"verify_batch_files_per_s_{name}"] = round(
                        n / _best(fn, before=lambda: anvil_rpc(registry, "evm_mine"))
                    )
            env = {
                **os.environ,
                "REGISTRY_HOME": str(registry.settings.home),
                "REGISTRY_CONFIG_DIR": str(Path(tmp) / "config"),
            }
            cmd = [sys.executable, "-m", "registry.cli", "verify", "--rpc", registry.rpc_url, "--format", "csv"]

            def cli() -> None:
                done = subprocess.run([*cmd, str(folder)], env=env, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"registry verify exited {done.returncode}: {done.stderr[-500:]}")

            figures["verify_batch_files_per_s_cli"] = round(n / _best(cli))

            def started(*args: str) -> int:
                """Milliseconds of ``registry ARGS`` (start-up and imports), best of 3."""
                command = [sys.executable, "-m", "registry.cli", *args]
                return round(_best(lambda: subprocess.run(command, env=env, capture_output=True, check=True)) * 1000)

            figures["cli_startup_ms"] = started("verify", "--help")
            figures["cli_help_ms"] = started("--help")
            profile = _profile(registry, files)
            figures["verify_batch_profile_ms"] = profile
            figures["verify_batch_files_per_s_cli_in_process"] = round(n / (profile["verify_batch_total"] / 1000))
        finally:
            fixture.close()
            os.environ.pop("REGISTRY_MAX_VERIFY_BATCH", None)
            os.environ.pop("REGISTRY_MAX_UPLOAD_BYTES", None)
    figures["verify_batch_files_per_s"] = min(
        figures["verify_batch_files_per_s_api"], figures["verify_batch_files_per_s_cli"]
    )
    figures["verify_batch_load_average"] = [round(x, 2) for x in os.getloadavg()]
    return figures


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(long="--long" in sys.argv), indent=2, sort_keys=True) + "\n")
