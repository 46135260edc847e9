"""The service's audit endpoints and page: the auditor against the service's own chain and DB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.service.api.routes import audit as audit_routes
from registry.service.runtime import create_app
from registry.service.worker import Worker, run_until_idle
from tests.chain_fixtures import Registry, deploy_fixture
from tests.service_support import Database, add_issuer, service_settings

pytestmark = pytest.mark.e2e


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A chain of its own per database: an audit sees every batch ever anchored on its chain."""
    yield from deploy_fixture(tmp_path)


@pytest.fixture
def http(db: Database, registry: Registry) -> Iterator[tuple[TestClient, str]]:
    settings = service_settings(registry, db)
    with Session(db.engine) as session:
        _, key, ach = add_issuer(session, registry, 1)
    with TestClient(create_app(settings, engine=db.engine)) as client:
        learners = [
            {"achievement_id": ach, "recipient_email": f"a{i}@example.org", "recipient_name": f"A {i}"}
            for i in range(5)
        ]
        assert (
            client.post("/v1/credentials/bulk", json={"credentials": learners}, headers={"X-API-Key": key}).status_code
            == 201
        )
        assert client.post("/v1/batches/seal", headers={"X-API-Key": key}).status_code == 201
        state = client.app.state.service  # type: ignore[attr-defined]
        run_until_idle(Worker(settings, db.engine, state.chain()))
        audit_routes._reports.clear()
        yield client, key


def test_audit_api_page_and_downloads(http: tuple[TestClient, str], registry: Registry) -> None:
    client, _ = http
    clean = client.get("/v1/audit")
    assert clean.status_code == 200, clean.text
    report = clean.json()
    assert report["findings"] == []
    assert "database" in report["checks_run"]
    assert report["database"]["batches_recorded"] == 1

    rogue = registry.issue(2)  # the issuer's key used outside the service
    audit_routes._reports.clear()
    dirty = client.get("/v1/audit", params={"issuer": "1"}).json()
    assert [f["code"] for f in dirty["findings"]] == ["rogue-root"]
    assert dirty["findings"][0]["root"] == rogue.root

    page = client.get("/audit")
    assert page.status_code == 200
    assert "rogue-root" in page.text and "<svg" in page.text and "Issuer dashboard" in page.text
    file = client.get("/v1/audit/report.html")
    assert file.headers["content-disposition"].startswith("attachment")
    assert file.text.startswith("<!doctype html>")
    csv = client.get("/v1/audit.csv")
    assert csv.headers["content-type"].startswith("text/csv") and ",rogue-root," in csv.text
    assert client.get("/v1/audit", params={"issuer": "did:web:nobody.example"}).status_code == 404
    assert "/v1/audit" in client.get("/openapi.json").json()["paths"]
