"""schemathesis against the service's OpenAPI schema, over real HTTP.

``serve`` starts the FastAPI app with uvicorn on loopback, against a real anvil (a deployed
registry from ``tests.chain_fixtures``) and a migrated SQLite database, with one issuer and its
API key. ``fuzz`` generates positive and negative cases for every operation from the published
schema, sends each anonymously and with the issuer's key, and counts server errors (5xx).
Used by ``tests/e2e/test_api_fuzz.py`` (fast) and ``scripts/bench_tamper.py``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from sqlmodel import Session

from registry.service.runtime import serve_in_background
from tests.chain_fixtures import Registry, free_port
from tests.service_support import add_issuer, database, service_settings


@dataclass
class Service:
    base_url: str
    api_key: str
    achievement_id: int
    credential_file: dict[str, Any]


@contextmanager
def serve(registry: Registry, tmp: Path) -> Iterator[Service]:
    """The service on a free loopback port; one issuer with a key, one achievement, one file."""
    db_iter = database("sqlite", tmp)
    assert isinstance(db_iter, Generator)
    db = next(db_iter)
    try:
        with Session(db.engine) as session:
            _, token, ach = add_issuer(session, registry)
        settings_ = service_settings(registry, db, worker_in_process=False)
        port = free_port()
        server, thread = serve_in_background(settings_, port=port)
        try:
            file = json.loads(registry.issue(2).files[0].read_text())
            yield Service(f"http://127.0.0.1:{port}", token, ach, file)
        finally:
            server.should_exit = True
            thread.join(15)
    finally:
        db_iter.close()


@dataclass
class FuzzResult:
    cases: int
    server_errors: int
    by_status: dict[int, int]
    by_operation: dict[str, int]
    failures: list[dict[str, Any]]
    seconds: float


def fuzz(service: Service, examples_per_operation: int = 25, seed: int = 0) -> FuzzResult:
    """Every operation x (positive, negative) x (anonymous, issuer key); 5xx are failures."""
    raw = requests.get(f"{service.base_url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(raw)
    session = requests.Session()
    statuses: Counter[int] = Counter()
    per_op: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    auths: list[dict[str, str]] = [{}, {"X-API-Key": service.api_key}]

    def send(case: Any, auth: dict[str, str]) -> None:
        label = f"{case.operation.method.upper()} {case.operation.path}"
        headers = {**(case.headers or {}), **auth}
        try:
            response = case.call(base_url=service.base_url, session=session, headers=headers, timeout=30)
        except requests.RequestException as exc:  # a dropped connection is a server failure too
            statuses[599] += 1
            failures.append({"operation": label, "error": repr(exc)[:300]})
            return
        statuses[response.status_code] += 1
        per_op[label] += 1
        if response.status_code >= 500:
            failures.append(
                {
                    "operation": label,
                    "status": response.status_code,
                    "body": response.text[:300],
                    "curl": case.as_curl_command(headers=headers)[:600],
                }
            )

    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append({"schema_error": repr(result)[:300]})
            continue
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            run = given(case=strategy, auth=st.sampled_from(auths))(send)
            run = settings(
                max_examples=examples_per_operation,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(run)
            with contextlib.suppress(Unsatisfiable):  # no negative case for an operation without parameters
                run()
    cases = sum(statuses.values())
    return FuzzResult(
        cases=cases,
        server_errors=sum(n for s, n in statuses.items() if s >= 500),
        by_status=dict(sorted(statuses.items())),
        by_operation=dict(sorted(per_op.items())),
        failures=failures,
        seconds=round(time.perf_counter() - t0, 1),
    )
