#!/usr/bin/env python3
"""Benchmark of the auditor: read and reconcile 10,000 anchored batches (first run and resumed).

A private anvil gets a registry and one issuer; 10,000 batches are anchored with automine off
(transactions sent in JSON-RPC batches from anvil's unlocked development account, one block
mined per few hundred), and an issuer database records the same 10,000 batches. Then
``Auditor.run`` reads the history from the deployment block, replays it, reconciles it with the
database and checks the bytecode; the second run resumes from the cache. Prints JSON.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCHES = int(os.environ.get("BENCH_AUDIT_BATCHES", "10000"))
PER_BLOCK = 300


def _anchor_many(client: Any, issuer: str, roots: list[bytes], counts: list[int]) -> None:
    """Send every anchor transaction without waiting for receipts; mine PER_BLOCK per block."""
    from registry.chain import calls as registry_calls

    start_nonce = client.sender.nonce(issuer)
    client.rpc.batch([("evm_setAutomine", [False])])
    try:
        for begin in range(0, len(roots), PER_BLOCK):
            calls = []
            for i in range(begin, min(begin + PER_BLOCK, len(roots))):
                data = "0x" + registry_calls.anchor(roots[i], counts[i], bytes(32)).data.hex()
                tx = {
                    "from": issuer,
                    "to": client.registry_address,
                    "data": data,
                    "gas": hex(120_000),
                    "nonce": hex(start_nonce + i),
                }
                calls.append(("eth_sendTransaction", [tx]))
            client.rpc.batch(calls)
            client.rpc.batch([("evm_mine", [])])
    finally:
        client.rpc.batch([("evm_setAutomine", [True])])
    last = client.reads.batches([roots[-1]])["0x" + roots[-1].hex()]
    if last is None:
        raise RuntimeError("the last batch was not anchored")


def _record(
    db_url: str, issuer_address: str, chain_id: int, registry: str, roots: list[bytes], counts: list[int]
) -> None:
    import sqlalchemy as sa

    from registry.service.store import Batch, Issuer, make_engine, session_scope, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    with session_scope(engine) as session:
        session.add(
            Issuer(
                name="Bench University",
                did="did:web:bench.example",
                key_source="dev:issuer",
                key_address=issuer_address,
            )
        )
    rows = [
        {
            "issuer_id": 1,
            "state": "confirmed",
            "root": "0x" + r.hex(),
            "count": c,
            "metadata_hash": "0x" + "00" * 32,
            "chain_id": chain_id,
            "registry_address": registry,
            "attempts": 0,
        }
        for r, c in zip(roots, counts, strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch.__table__), rows)  # type: ignore[attr-defined]
    engine.dispose()


def run() -> dict[str, Any]:
    from registry.audit.auditor import Auditor
    from registry.audit.cache import AuditCache
    from registry.chain.adapter import Chain
    from registry.chain.admin import deploy_registry
    from registry.chain.devkeys import dev_account
    from registry.config import Settings
    from registry.service.audit_records import open_issuer_records
    from tests.chain_fixtures import start_anvil

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp_name:
        tmp = Path(tmp_name)
        chain = start_anvil(tmp / "chain")
        try:
            settings = Settings(home=tmp / "home", rpc_url=chain.rpc_url)
            client = Chain(chain.rpc_url, timeout=60)
            admin = dev_account("admin", 31337)
            record = deploy_registry(settings, client, admin)
            accreditor = dev_account("accreditor", 31337)
            client.writes.grant_accreditor(admin, accreditor.address)
            issuer = dev_account("issuer", 31337)
            client.writes.admit_issuer(accreditor, "Bench University", "did:web:bench.example", issuer.address)
            roots = [secrets.token_bytes(32) for _ in range(BATCHES)]
            counts = [1 + (i * 7919) % 1000 for i in range(BATCHES)]
            t0 = time.perf_counter()
            _anchor_many(client, issuer.address, roots, counts)
            setup_s = time.perf_counter() - t0
            db_url = f"sqlite:///{tmp / 'issuer.db'}"
            assert client.registry_address is not None
            _record(db_url, issuer.address, client.reads.chain_id(), client.registry_address, roots, counts)

            def audit_once() -> tuple[float, Any]:
                cache = AuditCache(f"sqlite:///{tmp / 'audit.sqlite'}")
                records = open_issuer_records(db_url)
                try:
                    start = time.perf_counter()
                    report = Auditor(client, cache, from_block=int(record["block"])).run(records=records, sources=ROOT)
                    return time.perf_counter() - start, report
                finally:
                    cache.close()
                    records.close()

            first_s, first = audit_once()
            resumed_s, resumed = audit_once()
            if len(first.batches) != BATCHES or first.critical or resumed.critical:
                raise RuntimeError(f"unexpected audit result: {first.summary} / {resumed.summary}")
            return {
                "audit_batches": BATCHES,
                "audit_10k_batches_s": round(first_s, 3),
                "audit_10k_batches_first_s": round(first_s, 3),
                "audit_10k_batches_resumed_s": round(resumed_s, 3),
                "audit_events_read": first.events,
                "audit_log_pages_first": first.pages,
                "audit_findings": len(first.findings),
                "audit_setup_anchor_s": round(setup_s, 3),
            }
        finally:
            chain.down()


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
