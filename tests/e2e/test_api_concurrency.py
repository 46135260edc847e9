"""Many concurrent API clients against a real uvicorn on loopback, on SQLite and PostgreSQL.

Sixteen clients issue into one issuer (single and bulk requests) while two more keep sealing
batches: every 201 corresponds to exactly one stored credential, nothing else is stored, no
request fails, and every credential ends up in exactly one batch whose count matches.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.service.runtime import serve_in_background
from registry.service.store import Batch, CredentialRow
from tests.chain_fixtures import Registry, free_port
from tests.service_support import Database, add_issuer, service_settings

pytestmark = pytest.mark.e2e

CLIENTS = 16
REQUESTS_PER_CLIENT = 12
BULK = 3
SEALERS = 2


@pytest.fixture
def server(db: Database, registry: Registry) -> Iterator[tuple[str, Database, Registry]]:
    port = free_port()
    settings = service_settings(registry, db, port=port)
    srv, thread = serve_in_background(settings, port=port)
    try:
        yield f"http://127.0.0.1:{port}", db, registry
    finally:
        srv.should_exit = True
        thread.join(15)


def test_concurrent_clients_lose_nothing(server: tuple[str, Database, Registry]) -> None:
    base, db, registry = server
    with Session(db.engine) as session:
        issuer, key, ach = add_issuer(session, registry, 1)
        other, other_key, other_ach = add_issuer(session, registry, 2)
        issuer_id, other_id = issuer.id, other.id
    headers = {"X-API-Key": key}
    statuses: Counter[int] = Counter()
    accepted: list[str] = []
    problems: list[str] = []
    lock = threading.Lock()
    issuing_done = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for i in range(REQUESTS_PER_CLIENT):
                tag = f"c{n}-{i}"
                try:
                    if i % 2:
                        body: Any = {
                            "credentials": [
                                {"achievement_id": ach, "recipient_email": f"{tag}-{j}@example.org"}
                                for j in range(BULK)
                            ]
                        }
                        r = http.post("/v1/credentials/bulk", json=body)
                        ids = r.json()["ids"] if r.status_code == 201 else []
                    else:
                        r = http.post(
                            "/v1/credentials", json={"achievement_id": ach, "recipient_email": f"{tag}@example.org"}
                        )
                        ids = [r.json()["id"]] if r.status_code == 201 else []
                except httpx.HTTPError as exc:
                    with lock:
                        problems.append(f"{tag}: {exc!r}")
                    continue
                with lock:
                    statuses[r.status_code] += 1
                    accepted.extend(ids)
                    if r.status_code != 201:
                        problems.append(f"{tag}: {r.status_code} {r.text[:200]}")

    def sealer() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            while not issuing_done.is_set():
                r = http.post("/v1/batches/seal")
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code != 201:
                        problems.append(f"seal: {r.status_code} {r.text[:200]}")

    def bystander() -> None:  # the other issuer works at the same time
        with httpx.Client(base_url=base, headers={"X-API-Key": other_key}, timeout=60) as http:
            for i in range(REQUESTS_PER_CLIENT):
                r = http.post(
                    "/v1/credentials", json={"achievement_id": other_ach, "recipient_email": f"o{i}@example.org"}
                )
                r2 = http.get("/v1/credentials", params={"limit": 1000})
                with lock:
                    statuses[r.status_code] += 1
                    statuses[r2.status_code] += 1
                    if r.status_code != 201 or r2.status_code != 200:
                        problems.append(f"bystander: {r.status_code} {r2.status_code}")

    with ThreadPoolExecutor(CLIENTS + SEALERS + 1) as pool:
        sealers = [pool.submit(sealer) for _ in range(SEALERS)]
        side = pool.submit(bystander)
        clients = [pool.submit(client, n) for n in range(CLIENTS)]
        for f in clients:
            f.result()
        issuing_done.set()
        for f in [*sealers, side]:
            f.result()

    assert not problems, problems[:10]
    assert not any(s >= 500 for s in statuses), statuses
    expected = CLIENTS * (REQUESTS_PER_CLIENT // 2 + (REQUESTS_PER_CLIENT // 2) * BULK)
    assert len(accepted) == expected and len(set(accepted)) == expected
    # Seal what is still queued, then check every credential is in exactly one batch.
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        assert http.post("/v1/batches/seal").status_code == 201
    with Session(db.engine) as session:
        rows = session.exec(select(CredentialRow).where(CredentialRow.issuer_id == issuer_id)).all()
        assert sorted(r.id for r in rows) == sorted(accepted)  # every 201 stored once, nothing else
        assert all(r.batch_id is not None and r.state == "batched" for r in rows)
        per_batch = Counter(r.batch_id for r in rows)
        batches = session.exec(select(Batch).where(Batch.issuer_id == issuer_id)).all()
        assert {b.id: b.count for b in batches} == dict(per_batch)
        assert len({b.root for b in batches}) == len(batches)
        theirs = session.exec(
            select(sa.func.count()).select_from(CredentialRow).where(col(CredentialRow.issuer_id) == other_id)
        ).one()
        assert theirs == REQUESTS_PER_CLIENT
