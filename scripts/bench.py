#!/usr/bin/env python3
"""Benchmarks: prints ONE JSON object of named figures. Targets live here, never in tests.

Sections: gas of every contract function (receipt gasUsed on anvil), Merkle tree and issuance
pipeline throughput (vs @openzeppelin/merkle-tree measured in the same run), verification
latency, and (when present) the audit reader. `--quick` skips the 1M-credential runs;
`--long` adds the long campaigns of the reliability work.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

# Optional sections, each a scripts/bench_<name>.py with run() or run(long=...) -> dict.
EXTRA_SECTIONS = ["service", "audit", "reliability", "load", "tamper", "page", "bulk", "webhooks", "stack"]

TARGETS: dict[str, tuple[str, float]] = {
    # key: (comparison, bound) — reported alongside the figures as `targets_met`
    "anchor_gas": ("<=", 50_000),
    "revoke_gas": ("<=", 48_000),
    "revoke_bulk100_gas_each": ("<=", 25_000),
    "onchain_verify_gas_depth20": ("<=", 20_000),
    "merkle_build_100k_s": ("<=", 0.4),
    "merkle_proofs_100k_s": ("<=", 0.4),
    "merkle_verify_100k_s": ("<=", 1.5),
    "merkle_build_proofs_1m_s": ("<=", 5.0),
    "merkle_1m_peak_mb": ("<=", 1000),
    "issue_pipeline_1m_s": ("<=", 20.0),
    "sign_per_credential_us": ("<=", 1000.0),
    "verify_one_ms": ("<=", 50.0),
    "stack_verify_10_files_ms": ("<=", 100.0),
    "ratio_vs_oz_100k": (">=", 20.0),
    "audit_10k_batches_first_s": ("<=", 60.0),
    "audit_10k_batches_resumed_s": ("<=", 2.0),
    "api_issue_creds_per_s": (">=", 5000),
    "api_issue_creds_per_s_postgresql": (">=", 5000),
    "api_verify_rps": (">=", 1000),
    "crash_violations": ("<=", 0),
    "tamper_accepted": ("<=", 0),
    "page_cli_disagreements": ("<=", 0),
    "page_cli_files": (">=", 5000),
    "verify_batch_files_per_s": (">=", 5000),
    "api_verify_p99_ms": ("<=", 50),
    "webhook_lost": ("<=", 0),
    "webhook_duplicates_without_same_id": ("<=", 0),
    "api_fuzz_5xx": ("<=", 0),
    "load_errors": ("<=", 0),
    "load_lost_writes": ("<=", 0),
}


def gas_and_verify() -> dict[str, Any]:
    """Deploy on a private anvil; measure gas and in-process verification latency."""
    from bench_gas import measure_gas
    from web3 import HTTPProvider, Web3

    from registry.verify import VerificationPolicy, Verifier
    from tests.chain_fixtures import deploy_fixture

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fixture = deploy_fixture(Path(tmp))
        registry = next(fixture)
        try:
            w3 = Web3(HTTPProvider(registry.rpc_url))
            probe = w3.eth.contract(abi=_artifact("GasProbe")["abi"], bytecode=_artifact("GasProbe")["bytecode"])
            tx = probe.constructor().transact({"from": registry.admin.address})
            probe_address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
            registry_address = registry.client.registry_address
            assert registry_address and probe_address, "the fixture deployed no registry or no probe"
            figures.update(measure_gas(w3, registry_address, probe_address, w3.eth.accounts))
            batch = registry.issue(1000)
            files = [json.loads(p.read_text()) for p in batch.files[:50]]
            timings = []
            for data in files:
                verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
                t0 = time.perf_counter()
                report = verifier.verify(data)
                timings.append((time.perf_counter() - t0) * 1000)
                assert report.verdict.value == "VALID", report.summary
            figures["verify_one_ms"] = round(statistics.median(timings), 2)
            figures["verify_one_p95_ms"] = round(sorted(timings)[int(len(timings) * 0.95) - 1], 2)
            verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
            all_files = [(str(p), json.loads(p.read_text())) for p in batch.files]
            t0 = time.perf_counter()
            reports = verifier.verify_many(all_files)
            elapsed = time.perf_counter() - t0
            assert all(r.verdict.value == "VALID" for r in reports)
            figures["verify_1000_files_batched_s"] = round(elapsed, 3)
            figures["anchor_gas_1000_credential_batch"] = batch.gas_used
        finally:
            fixture.close()
    return figures


def _artifact(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "registry" / "artifacts" / f"{name}.json").read_text())
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 1M-credential measurements")
    parser.add_argument("--long", action="store_true", help="also run the long campaigns")
    parser.add_argument("--only", choices=["gas", "core", *EXTRA_SECTIONS], help="run one section")
    args = parser.parse_args()
    figures: dict[str, Any] = {"load_average_start": [round(x, 2) for x in os.getloadavg()]}
    sections = [args.only] if args.only else ["gas", "core", *EXTRA_SECTIONS]
    if "gas" in sections:
        figures.update(gas_and_verify())
    if "core" in sections:
        import bench_core

        figures.update(bench_core.run(long=not args.quick))
    for name in EXTRA_SECTIONS:
        if name in sections and (ROOT / "scripts" / f"bench_{name}.py").exists():
            module = importlib.import_module(f"bench_{name}")
            run = module.run
            figures.update(run(long=args.long) if "long" in inspect.signature(run).parameters else run())
    met: dict[str, bool] = {}
    for key, (op, bound) in TARGETS.items():
        if isinstance(figures.get(key), int | float):
            met[key] = figures[key] <= bound if op == "<=" else figures[key] >= bound
    figures["targets_met"] = met
    figures["load_average_end"] = [round(x, 2) for x in os.getloadavg()]  # shared machine: read timings with it
    sys.stdout.write(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
