"""Sign-in sessions and request limits of the service (real app, real database, real anvil):
a genuine page session that outlives its 8 hours (the clock moved with time-machine, the cookie
sent as is, so only the server's expiry check can refuse it), ``max_bulk``, and CSV import errors
with nothing issued."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from registry.service.auth import open_page_session, page_session_issuer
from registry.service.runtime import create_app
from registry.service.store import CredentialRow
from tests.chain_fixtures import Registry
from tests.service_support import Database, add_issuer, service_settings

pytestmark = pytest.mark.e2e

MAX_BULK = 3
SESSION_TTL = 8 * 3600  # what /dashboard/login grants


class Service:
    def __init__(self, http: TestClient, db: Database, registry: Registry) -> None:
        self.http = http
        self.db = db
        with Session(db.engine) as session:
            _, self.key, self.ach = add_issuer(session, registry, 1)

    def count(self) -> int:
        with Session(self.db.engine) as session:
            return int(session.exec(select(func.count()).select_from(CredentialRow)).one())


@pytest.fixture
def service(db: Database, registry: Registry) -> Iterator[Service]:
    settings = service_settings(registry, db, max_bulk=MAX_BULK)
    with TestClient(create_app(settings, engine=db.engine)) as http:
        yield Service(http, db, registry)


def _dashboard(service: Service, cookie: str) -> str:
    """The dashboard with this session value sent as is (the client's cookie jar, which would drop
    an expired cookie by itself, is bypassed)."""
    service.http.cookies.clear()
    page = service.http.get("/dashboard", headers={"Cookie": f"registry_session={cookie}"})
    assert page.status_code == 200
    return str(page.text)


def _signed_in(text: str) -> bool:
    return "Universidad de Ejemplo" in text and "sign in" not in text.lower()


def test_a_page_session_ends_after_its_lifetime(service: Service) -> None:
    r = service.http.post("/dashboard/login", data={"api_key": service.key}, follow_redirects=False)
    assert r.status_code == 303
    cookie = service.http.cookies["registry_session"]
    assert _signed_in(_dashboard(service, cookie))
    now = datetime.now(UTC)
    with time_machine.travel(now + timedelta(seconds=SESSION_TTL - 120), tick=False):
        assert _signed_in(_dashboard(service, cookie)), "the session ended early"
    with time_machine.travel(now + timedelta(seconds=SESSION_TTL + 120), tick=False):
        assert not _signed_in(_dashboard(service, cookie)), "an expired session still signs in"
        # a fresh sign-in works at that moment: it is the session that expired, not the key
        fresh = service.http.post("/dashboard/login", data={"api_key": service.key}, follow_redirects=False)
        assert _signed_in(_dashboard(service, fresh.cookies["registry_session"]))


def test_session_values_expire_at_their_ttl(db: Database, registry: Registry) -> None:
    with Session(db.engine) as session:
        issuer, token, _ = add_issuer(session, registry, 2)
        now = datetime.now(UTC)
        with time_machine.travel(now, tick=False):
            _, value = open_page_session(session, token, ttl=60)
            assert page_session_issuer(session, value) == issuer
        with time_machine.travel(now + timedelta(seconds=59), tick=False):
            assert page_session_issuer(session, value) == issuer
        with time_machine.travel(now + timedelta(seconds=61), tick=False):
            assert page_session_issuer(session, value) is None


def _learners(ach: int, n: int) -> list[dict[str, Any]]:
    return [{"achievement_id": ach, "recipient_email": f"b{i}@example.org", "result": "B"} for i in range(n)]


def test_bulk_requests_are_limited_to_max_bulk(service: Service) -> None:
    headers = {"X-API-Key": service.key}
    over = service.http.post(
        "/v1/credentials/bulk", json={"credentials": _learners(service.ach, MAX_BULK + 1)}, headers=headers
    )
    assert over.status_code == 422, over.text
    assert over.json()["error"]["field"] == "credentials"
    assert f"at most {MAX_BULK} per request" in over.text
    assert service.count() == 0  # all or nothing
    ok = service.http.post(
        "/v1/credentials/bulk", json={"credentials": _learners(service.ach, MAX_BULK)}, headers=headers
    )
    assert ok.status_code == 201, ok.text
    assert service.count() == MAX_BULK


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (b"email\n\xff\xfeb@example.org\n", "file", "not UTF-8"),
        (b"", "file", "empty CSV"),
        (b"email,name\n", "file", "header but no learners"),
        (b"email\nb@example.org\n", "achievement_id", "give achievement_id"),
        (b"email,achievement_id\nb@example.org,\xd9\xa3\n", "achievement_id", "is not an achievement id"),
        (b"email,valid_until\nb@example.org,next week\n", "valid_until", "is not a date"),
        (b"email,name\nb@example.org,A\x07B\n", "name", "control characters"),
    ],
    ids=["not-utf8", "empty", "no-learners", "no-achievement", "arabic-digit-id", "bad-date", "control-char"],
)
def test_csv_import_errors_name_the_field_and_issue_nothing(
    service: Service, body: bytes, field: str, problem: str
) -> None:
    form = {} if b"achievement_id" in body or problem == "give achievement_id" else {"achievement_id": str(service.ach)}
    r = service.http.post(
        "/v1/credentials/import",
        headers={"X-API-Key": service.key},
        data=form,
        files={"file": ("learners.csv", body, "text/csv")},
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    fields = {error.get("field"), *(row.get("field") for row in error.get("rows", []))}
    assert field in fields, error
    assert problem in r.text, error
    assert service.count() == 0
