"""Authorization matrix over EVERY API endpoint and EVERY state-changing contract function.

The endpoints are enumerated from the application's routes and the functions from the contract's
ABI: a new endpoint or function without an entry in the matrices below fails
``test_every_route_has_a_matrix_entry`` / ``test_contract_authorization_matrix``.

API actors: anonymous (no key; also every chain-only actor such as an accreditation body or the
admin, who have no API credentials), a malformed key, issuer A's revoked key, issuer B and issuer
A. Chain actors: admin, accreditation body, issuer A, issuer B and a stranger key. Issuer A's data
is the target throughout: nobody but A reads A's unreleased data or issues, anchors or revokes
for A.

Also here: API keys are stored hashed (no table of the database holds a token), revocable
(REST API, CLI, service function; a revoked key gets 401) and compared in constant time
(``hmac.compare_digest`` on the stored hash, looked up by prefix, never by token in SQL).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account import Account
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from registry.chain import calls as registry_calls
from registry.chain.abi import Revert, registry_abi
from registry.chain.adapter import Chain
from registry.chain.model import ACCREDITOR_ROLE, Call
from registry.config import Settings
from registry.errors import AuthenticationError, TransactionFailed
from registry.service.auth import authenticate, create_api_key, revoke_api_key
from registry.service.runtime import create_app
from registry.service.store import (
    AchievementRow,
    ApiKey,
    Batch,
    CredentialRow,
    Issuer,
    KeyChange,
    PathwayRow,
    Revocation,
)
from registry.service.worker import Worker, run_until_idle
from tests.chain_fixtures import Registry
from tests.service_support import Database, add_issuer, database, service_settings


def later() -> str:
    """A date five years after the test clock's now (never expires by itself)."""
    return f"{datetime.now(UTC).year + 5}-01-01"


pytestmark = pytest.mark.e2e

# -- the API side ---------------------------------------------------------------------------

# How each route is guarded. "issuer": X-API-Key, scoped to the key's issuer. "public": no key,
# and no issuer's unreleased data in the answer. "page_issuer": the signed-in issuer's page
# (API key in a cookie). "static": files.
ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("POST", "/v1/verify"): "public",
    ("POST", "/v1/verify/batch"): "public",
    ("GET", "/v1/issuers"): "public",
    ("GET", "/.well-known/did.json"): "public",
    ("POST", "/v1/verify/stack"): "public",
    ("GET", "/issuers/{issuer_id}/did.json"): "public",
    ("GET", "/v1/revocation-reasons"): "public",
    ("GET", "/v1/issuer"): "issuer",
    ("PATCH", "/v1/issuer"): "issuer",
    ("POST", "/v1/issuer/key-changes/retry"): "issuer",
    ("POST", "/v1/achievements"): "issuer",
    ("GET", "/v1/achievements"): "issuer",
    ("GET", "/v1/achievements/{achievement_id}"): "issuer",
    ("POST", "/v1/credentials"): "issuer",
    ("POST", "/v1/credentials/bulk"): "issuer",
    ("POST", "/v1/credentials/import"): "issuer",
    ("GET", "/v1/credentials"): "issuer",
    ("GET", "/v1/credentials/{credential_id}"): "issuer",
    ("GET", "/v1/credentials/{credential_id}/file"): "issuer",
    ("POST", "/v1/credentials/{credential_id}/revoke"): "issuer",
    ("POST", "/v1/credentials/{credential_id}/reissue"): "issuer",
    ("POST", "/v1/credentials/{credential_id}/renew"): "issuer",
    ("GET", "/v1/batches"): "issuer",
    ("POST", "/v1/batches/seal"): "issuer",
    ("GET", "/v1/batches/{batch_id}"): "issuer",
    ("POST", "/v1/batches/{batch_id}/revoke"): "issuer",
    ("GET", "/v1/events"): "issuer",
    ("GET", "/v1/apikeys"): "issuer",
    ("POST", "/v1/apikeys/{key_id}/revoke"): "issuer",
    ("POST", "/v1/webhooks"): "issuer",
    ("GET", "/v1/webhooks"): "issuer",
    ("DELETE", "/v1/webhooks/{webhook_id}"): "issuer",
    ("GET", "/v1/webhooks/deliveries"): "issuer",
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"): "issuer",
    ("POST", "/v1/pathways"): "issuer",
    ("GET", "/v1/pathways"): "issuer",
    ("GET", "/v1/pathways/{pathway_id}"): "issuer",
    ("POST", "/v1/pathways/{pathway_id}/publish"): "issuer",
    ("GET", "/"): "public",
    ("GET", "/verify"): "public",
    ("POST", "/verify"): "public",
    ("GET", "/c/{credential_id}"): "public",
    ("GET", "/c/{credential_id}/credential.{fmt}"): "public",
    ("GET", "/c/{credential_id}/certificate.pdf"): "public",
    ("GET", "/c/{credential_id}/pathways/{pathway_id}"): "public",
    ("GET", "/v1/pathways/{pathway_id}/definition"): "public",
    ("GET", "/dashboard"): "page_issuer",
    ("POST", "/dashboard/login"): "page_issuer",
    ("POST", "/dashboard/logout"): "public",
    ("GET", "/v1/audit"): "public",
    ("GET", "/v1/audit.csv"): "public",
    ("GET", "/v1/audit/report.html"): "public",
    ("GET", "/audit"): "public",
    ("GET", "/static"): "static",
    ("GET", "/assets/verifier.js"): "static",
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the application serves (HEAD aside), included routers and
    mounts too."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # FastAPI before lazily included routers
        routes = list(app.routes)
    out: set[tuple[str, str]] = set()
    for route in routes:
        methods = getattr(route, "methods", None) or {"GET"}  # a Mount serves GET
        out |= {(m, str(route.path)) for m in methods if m != "HEAD"}
    return out


@dataclass
class Side:
    """One issuer's objects in the service."""

    key: str
    key_id: int
    spare_key_id: int  # revoked by the owner in the matrix
    ach: int
    ach_uri: str
    released: list[str]
    queued: list[str]
    batch_id: int
    root: str
    names: list[str]
    emails: list[str]
    issuer_id: int
    did: str
    webhook_id: int
    delivery_id: int
    pathway_id: int
    pathway_name: str


@dataclass
class Req:
    method: str
    url: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def _learner(ach: int, tag: str) -> dict[str, Any]:
    return {"achievement_id": ach, "recipient_email": f"{tag}@example.org", "recipient_name": f"Name {tag}"}


_ACH_BODY = {
    "name": "Matrix Course",
    "description": "d",
    "criteria_narrative": "c",
    "learning_outcomes": ["x"],
    "workload_ects": 1.0,
    "eqf_level": 4,
    "assessment_type": "exam",
    "participation_form": "online",
    "quality_assurance": "qa",
}


def _pathway(side: Side | SimpleNamespace, tag: str, version: int = 1) -> dict[str, Any]:
    return {
        "type": "Pathway",
        "id": f"https://example.org/pathways/{side.issuer_id}",
        "version": version,
        "name": side.pathway_name,
        "owner": side.did,
        "qualification": {"name": f"Qualification {tag}"},
        "requirements": {"id": "one", "achievement": side.ach_uri, "issuers": [side.did]},
    }


# Issuer routes: the request, aimed at the target's objects (issuer A's), and the status its owner
# gets. ``kind`` says what another issuer must see: "object" -> 404, "list" -> 200 without any of
# the target's data, "create" -> the new object is the caller's own (or 422 naming the target's
# achievement as unknown).
IssuerCase = tuple[str, Callable[[Side, str], Req], int]

ISSUER_CASES: dict[tuple[str, str], IssuerCase] = {
    # "self": about the caller only; another issuer gets its own answer (the same status).
    ("GET", "/v1/issuer"): ("self", lambda s, t: Req("GET", "/v1/issuer"), 200),
    ("PATCH", "/v1/issuer"): (
        "self",
        lambda s, t: Req("PATCH", "/v1/issuer", {"json": {"linkedin_organization_id": "4242"}}),
        200,
    ),
    ("POST", "/v1/issuer/key-changes/retry"): ("self", lambda s, t: Req("POST", "/v1/issuer/key-changes/retry"), 409),
    ("POST", "/v1/achievements"): ("create", lambda s, t: Req("POST", "/v1/achievements", {"json": _ACH_BODY}), 201),
    ("GET", "/v1/achievements"): ("list", lambda s, t: Req("GET", "/v1/achievements"), 200),
    ("GET", "/v1/achievements/{achievement_id}"): ("object", lambda s, t: Req("GET", f"/v1/achievements/{s.ach}"), 200),
    ("POST", "/v1/credentials"): (
        "create",
        lambda s, t: Req("POST", "/v1/credentials", {"json": _learner(s.ach, t)}),
        201,
    ),
    ("POST", "/v1/credentials/bulk"): (
        "create",
        lambda s, t: Req("POST", "/v1/credentials/bulk", {"json": {"credentials": [_learner(s.ach, t)]}}),
        201,
    ),
    ("POST", "/v1/credentials/import"): (
        "create",
        lambda s, t: Req(
            "POST",
            "/v1/credentials/import",
            {
                "data": {"achievement_id": str(s.ach)},
                "files": {"file": ("c.csv", f"email,name\n{t}@example.org,Name {t}\n", "text/csv")},
            },
        ),
        201,
    ),
    ("GET", "/v1/credentials"): ("list", lambda s, t: Req("GET", "/v1/credentials?limit=1000"), 200),
    ("GET", "/v1/credentials/{credential_id}"): (
        "object",
        lambda s, t: Req("GET", f"/v1/credentials/{s.queued[0]}"),
        200,
    ),
    ("GET", "/v1/credentials/{credential_id}/file"): (
        "object",
        lambda s, t: Req("GET", f"/v1/credentials/{s.released[0]}/file"),
        200,
    ),
    ("POST", "/v1/credentials/{credential_id}/revoke"): (
        "object",
        lambda s, t: Req("POST", f"/v1/credentials/{s.queued[1]}/revoke", {"json": {"reason": 1}}),
        202,
    ),
    ("POST", "/v1/credentials/{credential_id}/reissue"): (
        "object",
        lambda s, t: Req(
            "POST", f"/v1/credentials/{s.released[1]}/reissue", {"json": {"set": {"/credentialSubject/name": f"N {t}"}}}
        ),
        202,
    ),
    ("POST", "/v1/credentials/{credential_id}/renew"): (
        "object",
        lambda s, t: Req("POST", f"/v1/credentials/{s.released[2]}/renew", {"json": {"validUntil": later()}}),
        202,
    ),
    ("GET", "/v1/batches"): ("list", lambda s, t: Req("GET", "/v1/batches"), 200),
    ("POST", "/v1/batches/seal"): ("seal", lambda s, t: Req("POST", "/v1/batches/seal"), 201),
    ("GET", "/v1/batches/{batch_id}"): ("object", lambda s, t: Req("GET", f"/v1/batches/{s.batch_id}"), 200),
    ("POST", "/v1/batches/{batch_id}/revoke"): (
        "object",
        lambda s, t: Req("POST", f"/v1/batches/{s.batch_id}/revoke", {"json": {"reason": 2}}),
        202,
    ),
    ("GET", "/v1/events"): ("list", lambda s, t: Req("GET", "/v1/events?limit=1000"), 200),
    ("GET", "/v1/apikeys"): ("list", lambda s, t: Req("GET", "/v1/apikeys"), 200),
    ("POST", "/v1/apikeys/{key_id}/revoke"): (
        "object",
        lambda s, t: Req("POST", f"/v1/apikeys/{s.spare_key_id}/revoke"),
        200,
    ),
    ("POST", "/v1/webhooks"): (
        "own",
        lambda s, t: Req(
            "POST", "/v1/webhooks", {"json": {"url": f"http://127.0.0.1:9/{t}", "events": ["batch.anchored"]}}
        ),
        201,
    ),
    ("GET", "/v1/webhooks"): ("list", lambda s, t: Req("GET", "/v1/webhooks"), 200),
    ("GET", "/v1/webhooks/deliveries"): ("list", lambda s, t: Req("GET", "/v1/webhooks/deliveries"), 200),
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"): (
        "object",
        lambda s, t: Req("POST", f"/v1/webhooks/deliveries/{s.delivery_id}/replay"),
        202,
    ),
    ("DELETE", "/v1/webhooks/{webhook_id}"): (
        "object",
        lambda s, t: Req("DELETE", f"/v1/webhooks/{s.webhook_id}"),
        204,
    ),
    ("POST", "/v1/pathways"): ("owner", lambda s, t: Req("POST", "/v1/pathways", {"json": _pathway(s, t, 2)}), 201),
    ("GET", "/v1/pathways"): ("list", lambda s, t: Req("GET", "/v1/pathways"), 200),
    ("GET", "/v1/pathways/{pathway_id}"): ("object", lambda s, t: Req("GET", f"/v1/pathways/{s.pathway_id}"), 200),
    ("POST", "/v1/pathways/{pathway_id}/publish"): (
        "object",
        lambda s, t: Req("POST", f"/v1/pathways/{s.pathway_id}/publish"),
        202,
    ),
}

# Owner requests that change what later requests see run last, in this order.
_OWNER_LAST = [
    ("POST", "/v1/batches/seal"),
    ("POST", "/v1/credentials/{credential_id}/revoke"),
    ("POST", "/v1/credentials/{credential_id}/reissue"),
    ("POST", "/v1/credentials/{credential_id}/renew"),
    ("POST", "/v1/batches/{batch_id}/revoke"),
    ("POST", "/v1/apikeys/{key_id}/revoke"),
    ("DELETE", "/v1/webhooks/{webhook_id}"),
]


class Service:
    def __init__(self, http: TestClient, settings: Settings, db: Database, registry: Registry) -> None:
        self.http = http
        self.settings = settings
        self.db = db
        self.registry = registry

    def anchor(self) -> None:
        state = self.http.app.state.service  # type: ignore[attr-defined]
        run_until_idle(Worker(self.settings, self.db.engine, state.chain()))

    def side(self, which: int) -> Side:
        with Session(self.db.engine) as session:
            issuer, token, ach = add_issuer(session, self.registry, which)
            assert issuer.id is not None
            did = issuer.did
            spare, _ = create_api_key(session, issuer.id, "spare")
            session.commit()
            key_id = next(k.id for k in session.exec(select(ApiKey).where(ApiKey.issuer_id == issuer.id)))
            ach_uri = session.get(AchievementRow, ach).uri  # type: ignore[union-attr]
        assert spare.id is not None and key_id is not None
        h = {"X-API-Key": token}
        tag = f"i{which}-{secrets.token_hex(3)}"
        hook = self.http.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["credential.issued"]}, headers=h
        ).json()
        released = self.http.post(
            "/v1/credentials/bulk", json={"credentials": [_learner(ach, f"{tag}-r{i}") for i in range(3)]}, headers=h
        ).json()["ids"]
        [batch] = self.http.post("/v1/batches/seal", headers=h).json()
        queued = self.http.post(
            "/v1/credentials/bulk", json={"credentials": [_learner(ach, f"{tag}-q{i}") for i in range(3)]}, headers=h
        ).json()["ids"]
        names = [f"Name {tag}-q{i}" for i in range(3)]
        delivery = self.http.get("/v1/webhooks/deliveries", headers=h).json()[0]
        pathway_name = f"Pathway {tag}"
        draft = Side(
            token, key_id, spare.id, ach, ach_uri, [], [], 0, "", [], [], issuer.id, did, 0, 0, 0, pathway_name
        )
        pathway = self.http.post("/v1/pathways", json=_pathway(draft, tag), headers=h).json()
        if which == 2:  # B's pathway is published (public); A's stays a draft (private)
            assert self.http.post(f"/v1/pathways/{pathway['id']}/publish", headers=h).status_code == 202
        emails = [f"{tag}-q{i}@example.org" for i in range(3)] + [f"{tag}-r{i}@example.org" for i in range(3)]
        return Side(
            token,
            key_id,
            spare.id,
            ach,
            ach_uri,
            released,
            queued,
            batch["id"],
            batch["root"],
            names,
            emails,
            issuer.id,
            did,
            hook["id"],
            delivery["id"],
            pathway["id"],
            pathway_name,
        )

    def snapshot(self, issuer_id: int) -> dict[str, Any]:
        """Everything of one issuer that a request could change."""
        with Session(self.db.engine) as session:
            creds = session.exec(select(CredentialRow).where(CredentialRow.issuer_id == issuer_id)).all()
            batches = session.exec(select(Batch).where(Batch.issuer_id == issuer_id)).all()
            revs = session.exec(select(Revocation).where(Revocation.issuer_id == issuer_id)).all()
            keys = session.exec(select(ApiKey).where(ApiKey.issuer_id == issuer_id)).all()
            achs = session.exec(select(AchievementRow).where(AchievementRow.issuer_id == issuer_id)).all()
            paths = session.exec(select(PathwayRow).where(PathwayRow.issuer_id == issuer_id)).all()
            issuer = session.get(Issuer, issuer_id)
            assert issuer is not None
            changes = session.exec(select(KeyChange).where(KeyChange.issuer_id == issuer_id)).all()
            return {
                "profile": (issuer.name, issuer.url, issuer.linkedin_organization_id),
                "key_changes": sorted((k.id or 0, k.state) for k in changes),
                "credentials": sorted((c.id, c.state, c.batch_id) for c in creds),
                "batches": sorted((b.id, b.state, b.count) for b in batches),
                "revocations": sorted((r.id, r.state) for r in revs),
                "keys": sorted((k.id, k.revoked_at is None) for k in keys),
                "achievements": sorted(a.id or 0 for a in achs),
                "pathways": sorted((p.id or 0, p.digest, p.batch_id or 0) for p in paths),
            }


@pytest.fixture(scope="module")
def matrix_service(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, Side, Side]]:
    for db in database("sqlite", tmp_path_factory.mktemp("authz")):
        settings = service_settings(registry, db)
        with TestClient(create_app(settings, engine=db.engine)) as http:
            service = Service(http, settings, db, registry)
            a, b = service.side(1), service.side(2)
            service.anchor()
            yield service, a, b


def test_every_route_has_a_matrix_entry(matrix_service: tuple[Service, Side, Side]) -> None:
    service, _, _ = matrix_service
    served = app_routes(service.http.app)
    missing = sorted(served - ACCESS.keys())
    assert not missing, f"routes without an authorization matrix entry (add them to ACCESS): {missing}"
    stale = sorted(ACCESS.keys() - served)
    assert not stale, f"matrix entries for routes the app does not serve: {stale}"
    issuer_routes = {r for r, access in ACCESS.items() if access == "issuer"}
    assert issuer_routes == ISSUER_CASES.keys(), "every issuer route needs a case in ISSUER_CASES"
    # The published schema agrees: every issuer route (and only those) requires the API key.
    spec = service.http.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            secured = any("APIKeyHeader" in s for s in op.get("security", []))
            assert secured == (ACCESS[(method.upper(), path)] == "issuer"), (method, path)


def _markers(side: Side) -> list[str]:
    """Strings that only issuer ``side``'s unreleased data contains (its anchored root is public)."""
    return [*side.queued, *side.names, *side.emails, side.ach_uri, side.key[:10], side.pathway_name]


def test_issuer_api_matrix(matrix_service: tuple[Service, Side, Side]) -> None:
    service, a, b = matrix_service
    http = service.http
    with Session(service.db.engine) as session:
        revoked_key_row, revoked_token = create_api_key(session, a.issuer_id, "revoked")
        assert revoked_key_row.id is not None
        revoke_api_key(session, revoked_key_row.id)
        session.commit()
    strangers: dict[str, dict[str, str]] = {
        "anonymous": {},
        "malformed key": {"X-API-Key": "not-a-key"},
        "unknown key": {"X-API-Key": "rk_" + secrets.token_urlsafe(32)},
        "A's revoked key": {"X-API-Key": revoked_token},
        "A's key with a forged tail": {"X-API-Key": a.key[:10] + secrets.token_urlsafe(30)},
    }
    before = service.snapshot(a.issuer_id)
    results: dict[tuple[str, str, str], int] = {}
    for route, (kind, build, _) in ISSUER_CASES.items():
        for actor, headers in strangers.items():
            req = build(a, f"x{secrets.token_hex(3)}")
            r = http.request(req.method, req.url, headers=headers, **req.kwargs)
            results[(*route, actor)] = r.status_code
            assert r.status_code == 401, (route, actor, r.text)
            assert r.json()["error"]["code"] == "invalid_api_key" and r.headers["www-authenticate"] == "ApiKey"
        # Issuer B aimed at A's objects.
        req = build(a, f"b{secrets.token_hex(3)}")
        r = http.request(req.method, req.url, headers={"X-API-Key": b.key}, **req.kwargs)
        results[(*route, "issuer B")] = r.status_code
        if kind == "object":
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (route, r.text)
        elif kind == "list":
            assert r.status_code == 200, (route, r.text)
        elif kind == "own":  # B registers its own object
            assert r.status_code == 201, (route, r.text)
        elif kind == "owner":  # B cannot store a pathway that names A as its owner
            assert r.status_code == 422 and r.json()["error"]["field"] == "owner", (route, r.text)
        elif kind == "self":
            assert r.status_code == ISSUER_CASES[route][2], (route, r.text)
        elif kind == "seal":
            assert r.status_code == 201 and all(batch["root"] != a.root for batch in r.json())
        elif route == ("POST", "/v1/achievements"):
            assert r.status_code == 201
            with Session(service.db.engine) as session:
                row = session.get(AchievementRow, r.json()["id"])
                assert row is not None and row.issuer_id == b.issuer_id  # B's own, never A's
        else:  # issuing with A's achievement
            assert r.status_code == 422 and r.json()["error"]["code"] == "import_rejected", (route, r.text)
            assert f"unknown achievement {a.ach}" in r.text
        for marker in _markers(a):
            if marker not in req.url:  # "credential X not found" repeats the caller's own X
                assert marker not in r.text, (route, "issuer B sees A's data", marker)
    assert service.snapshot(a.issuer_id) == before, "a request by someone else changed issuer A's data"
    # Issuer A itself: every route works on its own objects.
    order = [r for r in ISSUER_CASES if r not in _OWNER_LAST] + _OWNER_LAST
    for route in order:
        _, build, owner_status = ISSUER_CASES[route]
        req = build(a, f"a{secrets.token_hex(3)}")
        r = http.request(req.method, req.url, headers={"X-API-Key": a.key}, **req.kwargs)
        results[(*route, "issuer A")] = r.status_code
        assert r.status_code == owner_status, (route, r.text)
        if route == ("GET", "/v1/credentials"):
            listed = {c["id"] for c in r.json()}
            assert set(a.queued) | set(a.released) <= listed and not listed & set(b.queued)
    after = service.snapshot(a.issuer_id)
    assert after != before
    # The spare key A revoked is refused from now on; A's own key still works.
    assert http.get("/v1/apikeys", headers={"X-API-Key": a.key}).status_code == 200
    assert len(results) == len(ISSUER_CASES) * (len(strangers) + 2)


def test_public_routes_and_pages_reveal_no_unreleased_data(matrix_service: tuple[Service, Side, Side]) -> None:
    service, a, b = matrix_service
    http = service.http
    released_file = http.get(f"/v1/credentials/{b.released[0]}/file", headers={"X-API-Key": b.key})
    assert released_file.status_code == 200
    cases: dict[tuple[str, str], list[tuple[Req, int]]] = {
        ("GET", "/openapi.json"): [(Req("GET", "/openapi.json"), 200)],
        ("GET", "/docs"): [(Req("GET", "/docs"), 200)],
        ("GET", "/docs/oauth2-redirect"): [(Req("GET", "/docs/oauth2-redirect"), 200)],
        ("GET", "/redoc"): [(Req("GET", "/redoc"), 200)],
        ("GET", "/healthz"): [(Req("GET", "/healthz"), 200)],
        ("GET", "/readyz"): [(Req("GET", "/readyz"), 200)],
        ("POST", "/v1/verify"): [
            (
                Req(
                    "POST",
                    "/v1/verify",
                    {"content": released_file.content, "headers": {"content-type": "application/json"}},
                ),
                200,
            )
        ],
        ("POST", "/v1/verify/batch"): [
            (
                Req(
                    "POST",
                    "/v1/verify/batch",
                    {"files": [("files", ("a.json", released_file.content, "application/json"))]},
                ),
                200,
            )
        ],
        ("GET", "/v1/issuers"): [(Req("GET", "/v1/issuers"), 200)],
        ("POST", "/v1/verify/stack"): [(Req("POST", "/v1/verify/stack", {"json": {"credentials": []}}), 422)],
        ("GET", "/.well-known/did.json"): [(Req("GET", "/.well-known/did.json"), 404)],  # no issuer for this host
        ("GET", "/issuers/{issuer_id}/did.json"): [(Req("GET", f"/issuers/{a.issuer_id}/did.json"), 200)],
        ("GET", "/v1/revocation-reasons"): [(Req("GET", "/v1/revocation-reasons"), 200)],
        ("GET", "/"): [(Req("GET", "/"), 200)],
        ("GET", "/verify"): [(Req("GET", "/verify"), 200)],
        ("POST", "/verify"): [(Req("POST", "/verify", {"data": {"credential": released_file.text}}), 200)],
        ("GET", "/c/{credential_id}"): [
            (Req("GET", f"/c/{a.queued[0]}"), 409),  # unreleased: a "not yet" page, nothing of it
            (Req("GET", f"/c/{b.released[0]}"), 200),
        ],
        ("GET", "/c/{credential_id}/credential.{fmt}"): [
            (Req("GET", f"/c/{a.queued[0]}/credential.json"), 409),
            (Req("GET", f"/c/{b.released[0]}/credential.json"), 200),
        ],
        ("GET", "/c/{credential_id}/certificate.pdf"): [
            (Req("GET", f"/c/{a.queued[0]}/certificate.pdf"), 409),
            (Req("GET", f"/c/{b.released[0]}/certificate.pdf"), 200),
        ],
        ("GET", "/c/{credential_id}/pathways/{pathway_id}"): [
            (Req("GET", f"/c/{a.queued[0]}/pathways/{b.pathway_id}"), 404),
            (Req("GET", f"/c/{b.released[0]}/pathways/{a.pathway_id}"), 404),  # A's draft
            (Req("GET", f"/c/{b.released[0]}/pathways/{b.pathway_id}"), 200),
        ],
        ("GET", "/v1/pathways/{pathway_id}/definition"): [
            (Req("GET", f"/v1/pathways/{a.pathway_id}/definition"), 404),  # a draft is not public
            (Req("GET", f"/v1/pathways/{b.pathway_id}/definition"), 200),
        ],
        ("GET", "/dashboard"): [(Req("GET", "/dashboard"), 200)],  # anonymous: the sign-in form
        ("POST", "/dashboard/login"): [
            (Req("POST", "/dashboard/login", {"data": {"api_key": "rk_" + secrets.token_urlsafe(32)}}), 401),
            (Req("POST", "/dashboard/login", {"data": {"api_key": ""}}), 401),
        ],
        ("POST", "/dashboard/logout"): [(Req("POST", "/dashboard/logout", {"follow_redirects": False}), 303)],
        ("GET", "/v1/audit"): [(Req("GET", "/v1/audit"), 200)],
        ("GET", "/v1/audit.csv"): [(Req("GET", "/v1/audit.csv"), 200)],
        ("GET", "/v1/audit/report.html"): [(Req("GET", "/v1/audit/report.html"), 200)],
        ("GET", "/audit"): [(Req("GET", "/audit"), 200)],
        ("GET", "/static"): [(Req("GET", "/static/style.css"), 200)],
        ("GET", "/assets/verifier.js"): [(Req("GET", "/assets/verifier.js"), 200)],
    }
    public = {r for r, access in ACCESS.items() if access in ("public", "static", "page_issuer")}
    assert cases.keys() == public, sorted(public ^ cases.keys())
    http.cookies.clear()
    for route, reqs in cases.items():
        for req, status in reqs:
            actors: list[dict[str, str]] = [{}]  # anonymous; and issuer B (a key changes nothing) ...
            if "audit" not in req.url:  # ... except on the audit, which is the same report for all
                actors.append({"X-API-Key": b.key})
            for headers in actors:
                kwargs = dict(req.kwargs)
                kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
                r = http.request(req.method, req.url, **kwargs)
                assert r.status_code == status, (route, req.url, r.status_code, r.text[:300])
                if route[1].startswith("/c/") and r.status_code == 409:  # "not yet", and no more
                    assert "batched" not in r.text and "queued" not in r.text, (route, r.text[:300])
                for marker in _markers(a):
                    if marker not in req.url:  # a "not found"/"not yet" may repeat the caller's own id
                        assert marker not in r.text, (route, "public answer shows A's unreleased data", marker)
                http.cookies.clear()
    # The dashboard: signed in as B, nothing of A; A's revoked key cannot sign in.
    r = http.post("/dashboard/login", data={"api_key": b.key}, follow_redirects=False)
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    assert b.key not in r.headers["set-cookie"] and b.key[3:13] not in r.headers["set-cookie"]
    session_cookie = http.cookies["registry_session"]
    page = http.get("/dashboard")
    assert page.status_code == 200 and "Other College" in page.text
    for marker in _markers(a):
        assert marker not in page.text, marker
    http.cookies.clear()
    with Session(service.db.engine) as session:
        row, token = create_api_key(session, a.issuer_id, "to revoke")
        assert row.id is not None
        revoke_api_key(session, row.id)
        session.commit()
    assert http.post("/dashboard/login", data={"api_key": token}, follow_redirects=False).status_code == 401
    # Neither a raw API key nor a forged, tampered or expired session value signs anyone in.
    key_id, expires, signature = session_cookie.removeprefix("rs_").split(".")
    for value in (
        token,
        b.key,
        f"rs_{a.key_id}.{expires}.{signature}",  # B's signature on A's key id
        f"rs_{key_id}.{int(expires) + 10**6}.{signature}",  # a longer life
        f"rs_{key_id}.{int(time.time()) - 1}.{signature}",
        f"rs_{key_id}.{expires}.{'0' * 64}",
        "rs_x.y.z",
    ):
        http.cookies.set("registry_session", value)
        page = http.get("/dashboard")
        assert "sign in" in page.text.lower() and "Other College" not in page.text, value
        for marker in _markers(a):
            assert marker not in page.text, marker
    http.cookies.clear()
    # Revoking the API key ends the sessions opened with it.
    http.cookies.set("registry_session", session_cookie)
    assert "Other College" in http.get("/dashboard").text
    with Session(service.db.engine) as session:
        b_key = session.exec(select(ApiKey).where(ApiKey.prefix == b.key[:10])).one()
        assert b_key.id is not None
        b_spare, b_spare_token = create_api_key(session, b.issuer_id, "page")
        session.commit()
        b_spare_id = b_spare.id
    r = http.post("/dashboard/login", data={"api_key": b_spare_token}, follow_redirects=False)
    assert r.status_code == 303
    assert "Other College" in http.get("/dashboard").text
    with Session(service.db.engine) as session:
        assert b_spare_id is not None
        revoke_api_key(session, b_spare_id)
        session.commit()
    assert "sign in" in http.get("/dashboard").text.lower()
    http.cookies.clear()


# -- API keys ---------------------------------------------------------------------------------


def _all_text(engine: sa.Engine) -> str:
    """Every value of every row of every table, as one string."""
    meta = sa.MetaData()
    meta.reflect(engine)
    parts: list[str] = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def test_api_keys_hashed_revocable_and_compared_in_constant_time(
    registry: Registry, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = service_settings(registry, db)
    with Session(db.engine, expire_on_commit=False) as session:
        issuer, token, _ = add_issuer(session, registry, 1)
        assert issuer.id is not None
        row, token2 = create_api_key(session, issuer.id, "second")
        row3, token3 = create_api_key(session, issuer.id, "third")
        session.commit()
    # Stored hashed: the hash is SHA-256 of the token; no column of any table holds a token.
    dump = _all_text(db.engine)
    for t in (token, token2, token3):
        assert t not in dump and t[3:] not in dump and hashlib.sha256(t.encode()).hexdigest() in dump
    # Compared in constant time: looked up by prefix, then hmac.compare_digest on the hash.
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(x: Any, y: Any) -> bool:
        calls.append((str(x), str(y)))
        return real(x, y)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module store.service calls it through
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        with Session(db.engine) as session:
            assert authenticate(session, token2).id == issuer.id
            assert (row.key_hash, hashlib.sha256(token2.encode()).hexdigest()) in calls
            calls.clear()
            forged = token2[:10] + secrets.token_urlsafe(32)  # same prefix, wrong secret
            with pytest.raises(AuthenticationError):
                authenticate(session, forged)
            assert calls and all(c[1] == hashlib.sha256(forged.encode()).hexdigest() for c in calls)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    # Parameters aside, no SQL text carries a token or its hash: lookup is by prefix.
    assert not any(token2 in s or row.key_hash in s for s in statements)
    # Revocable three ways; every one gives 401 on the next request.
    with TestClient(create_app(settings, engine=db.engine)) as http:
        for t in (token, token2, token3):
            assert http.get("/v1/credentials", headers={"X-API-Key": t}).status_code == 200
        # 1. the REST API (the issuer revokes its own key), and not another issuer's
        r = http.post(f"/v1/apikeys/{row.id}/revoke", headers={"X-API-Key": token})
        assert r.status_code == 200 and r.json()["revoked_at"] and "key_hash" not in r.text and token2 not in r.text
        again = http.post(f"/v1/apikeys/{row.id}/revoke", headers={"X-API-Key": token})
        assert again.status_code == 409
        listed = http.get("/v1/apikeys", headers={"X-API-Key": token}).json()
        assert {k["id"] for k in listed} >= {row.id, row3.id} and not any("hash" in k for k in listed)
        # 2. the CLI (the operator)
        env = {"REGISTRY_HOME": str(settings.home), **db.settings_env(), "REGISTRY_RPC_URL": registry.rpc_url}
        from registry.cli.app import app as cli

        result = CliRunner().invoke(cli, ["apikey", "revoke", token3[:10]], env=env)
        assert result.exit_code == 0, result.output
        assert token3 not in result.output
        listing = CliRunner().invoke(cli, ["apikey", "list"], env=env)
        assert listing.exit_code == 0 and "revoked" in listing.output and token not in listing.output
        for t in (token2, token3):
            r = http.get("/v1/credentials", headers={"X-API-Key": t})
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        # 3. the service function
        with Session(db.engine) as session:
            first = session.exec(select(ApiKey).where(ApiKey.label == "test")).one()
            assert first.id is not None
            revoke_api_key(session, first.id)
            session.commit()
        assert http.get("/v1/credentials", headers={"X-API-Key": token}).status_code == 401
        assert http.get("/v1/apikeys", headers={"X-API-Key": token}).status_code == 401


# -- the contract side ------------------------------------------------------------------------

# Who may call each state-changing function, as the outcome of an eth_call from each actor on
# the registry's state (issuer A has an anchored batch). "ok" succeeds; a Revert member reverts.
# A success by someone other than issuer A on A's objects is then sent for real (in an anvil
# snapshot) and must leave A's credential valid and A's records untouched.
ACTORS = ("admin", "accreditor", "issuer A", "issuer B", "stranger")
_AC = Revert.ACCESS_CONTROL_UNAUTHORIZED_ACCOUNT
CONTRACT_MATRIX: dict[str, dict[str, Revert | str]] = {
    "admitIssuer": {"admin": _AC, "accreditor": "ok", "issuer A": _AC, "issuer B": _AC, "stranger": _AC},
    "suspendIssuer": {"admin": _AC, "accreditor": "ok", "issuer A": _AC, "issuer B": _AC, "stranger": _AC},
    "reinstateIssuer": {
        "admin": _AC,
        "accreditor": Revert.ISSUER_NOT_SUSPENDED,
        "issuer A": _AC,
        "issuer B": _AC,
        "stranger": _AC,
    },
    "assignKey": {"admin": _AC, "accreditor": "ok", "issuer A": _AC, "issuer B": _AC, "stranger": _AC},
    "rotateKey": {
        "admin": Revert.UNKNOWN_KEY,
        "accreditor": Revert.UNKNOWN_KEY,
        "issuer A": "ok",
        "issuer B": "ok",
        "stranger": Revert.UNKNOWN_KEY,
    },
    "declareKeyCompromised": {
        "admin": Revert.UNAUTHORIZED_COMPROMISE_DECLARATION,
        "accreditor": "ok",
        "issuer A": Revert.UNAUTHORIZED_COMPROMISE_DECLARATION,  # a key cannot declare itself
        "issuer B": Revert.UNAUTHORIZED_COMPROMISE_DECLARATION,
        "stranger": Revert.UNAUTHORIZED_COMPROMISE_DECLARATION,
    },
    "anchor": {
        "admin": Revert.UNKNOWN_KEY,
        "accreditor": Revert.UNKNOWN_KEY,
        "issuer A": "ok",
        "issuer B": "ok",
        "stranger": Revert.UNKNOWN_KEY,
    },
    "revokeCredential": {
        "admin": Revert.UNKNOWN_KEY,
        "accreditor": Revert.UNKNOWN_KEY,
        "issuer A": "ok",
        "issuer B": "ok",
        "stranger": Revert.UNKNOWN_KEY,
    },
    "revokeCredentials": {
        "admin": Revert.UNKNOWN_KEY,
        "accreditor": Revert.UNKNOWN_KEY,
        "issuer A": "ok",
        "issuer B": "ok",
        "stranger": Revert.UNKNOWN_KEY,
    },
    "revokeBatch": {
        "admin": Revert.NOT_BATCH_ISSUER,
        "accreditor": Revert.NOT_BATCH_ISSUER,
        "issuer A": "ok",
        "issuer B": Revert.NOT_BATCH_ISSUER,
        "stranger": Revert.NOT_BATCH_ISSUER,
    },
    "supersedeCredential": {  # the successor must be in a batch of the sender's issuer (A's here)
        "admin": Revert.UNKNOWN_KEY,
        "accreditor": Revert.UNKNOWN_KEY,
        "issuer A": "ok",
        "issuer B": Revert.SUCCESSOR_NOT_ANCHORED,
        "stranger": Revert.UNKNOWN_KEY,
    },
    "setSigningKey": {  # only a key that may anchor sets its issuer's signing key
        "admin": Revert.UNKNOWN_KEY,
        "accreditor": Revert.UNKNOWN_KEY,
        "issuer A": "ok",
        "issuer B": "ok",
        "stranger": Revert.UNKNOWN_KEY,
    },
    "declareSigningKeyCompromised": {  # issuer A's signing key: the body, or A's own anchoring key
        "admin": Revert.UNAUTHORIZED_SIGNING_KEY_COMPROMISE,
        "accreditor": "ok",
        "issuer A": "ok",
        "issuer B": Revert.UNAUTHORIZED_SIGNING_KEY_COMPROMISE,
        "stranger": Revert.UNAUTHORIZED_SIGNING_KEY_COMPROMISE,
    },
    "onboardAccreditor": {"admin": "ok", "accreditor": _AC, "issuer A": _AC, "issuer B": _AC, "stranger": _AC},
    "grantRole": {"admin": "ok", "accreditor": _AC, "issuer A": _AC, "issuer B": _AC, "stranger": _AC},
    "revokeRole": {"admin": "ok", "accreditor": _AC, "issuer A": _AC, "issuer B": _AC, "stranger": _AC},
    "renounceRole": {
        "admin": Revert.ACCESS_CONTROL_BAD_CONFIRMATION,
        "accreditor": "ok",
        "issuer A": Revert.ACCESS_CONTROL_BAD_CONFIRMATION,
        "issuer B": Revert.ACCESS_CONTROL_BAD_CONFIRMATION,
        "stranger": Revert.ACCESS_CONTROL_BAD_CONFIRMATION,
    },
}


def _outcome(client: Chain, call: Call, sender: str) -> Revert | str:
    try:
        client.sender.preflight(sender, call)
    except TransactionFailed as exc:
        return exc.revert or exc.reason
    return "ok"


def _rpc(client: Chain, method: str, params: list[Any]) -> Any:
    return client.rpc.call(method, params)


def test_contract_authorization_matrix(registry: Registry) -> None:
    client = registry.client
    writes = registry_abi().mutating_functions()
    assert writes == CONTRACT_MATRIX.keys(), (
        f"functions without a matrix entry: {sorted(writes - CONTRACT_MATRIX.keys())}"
    )
    batch_a = registry.issue(4)  # issuer A's anchored batch
    root_a = bytes.fromhex(batch_a.root[2:])
    proof = json.loads(batch_a.files[0].read_text())["proof"][-1]
    digest_a, path_a = bytes.fromhex(proof["credentialDigest"][2:]), list(proof["merklePath"])
    successor = json.loads(batch_a.files[1].read_text())["proof"][-1]  # A's own, anchored
    role = ACCREDITOR_ROLE
    fresh = Account.create().address
    now = client.history.block_timestamp(client.reads.head())
    signing_key_a = client.reads.current_signing_key(registry.issuer_id)  # set when A issued
    assert signing_key_a is not None
    accounts = {
        "admin": registry.admin,
        "accreditor": registry.accreditor,
        "issuer A": registry.issuer_key,
        "issuer B": registry.issuer2_key,
        "stranger": registry.stranger,
    }
    calls: dict[str, Callable[[], Call]] = {
        "admitIssuer": lambda: registry_calls.admit_issuer("New", f"did:web:new-{secrets.token_hex(4)}.example", fresh),
        "suspendIssuer": lambda: registry_calls.suspend_issuer(registry.issuer_id),
        "reinstateIssuer": lambda: registry_calls.reinstate_issuer(registry.issuer_id),
        "assignKey": lambda: registry_calls.assign_key(registry.issuer_id, fresh),
        "rotateKey": lambda: registry_calls.rotate_key(fresh),
        "declareKeyCompromised": lambda: registry_calls.declare_key_compromised(registry.issuer_key.address, now - 1),
        "setSigningKey": lambda: registry_calls.set_signing_key(secrets.token_bytes(32)),
        "declareSigningKeyCompromised": lambda: registry_calls.declare_signing_key_compromised(signing_key_a, now - 1),
        "anchor": lambda: registry_calls.anchor(secrets.token_bytes(32), 1, b"\x00" * 32),
        "revokeCredential": lambda: registry_calls.revoke_credential(digest_a, 1),
        "revokeCredentials": lambda: registry_calls.revoke_credentials([digest_a], 1),
        "revokeBatch": lambda: registry_calls.revoke_batch(root_a, 1),
        "supersedeCredential": lambda: registry_calls.supersede_credential(
            digest_a, root_a, successor["credentialDigest"], successor["merklePath"], 1, "urn:uuid:successor"
        ),
        "onboardAccreditor": lambda: registry_calls.appoint_accreditor(
            registry.stranger.address, "Agency", "did:web:agency.example"
        ),
        "grantRole": lambda: registry_calls.grant_role(role, registry.stranger.address),
        "revokeRole": lambda: registry_calls.revoke_role(role, registry.accreditor.address),
        "renounceRole": lambda: registry_calls.renounce_role(role, registry.accreditor.address),
    }
    assert calls.keys() == CONTRACT_MATRIX.keys()
    assert all(make().function == name for name, make in calls.items())
    issuer_a_before = client.reads.issuers([registry.issuer_id])
    key_a_before = client.reads.keys_by_address([registry.issuer_key.address])
    assert client.reads.check_credential(root_a, digest_a, path_a) == 0
    got: dict[str, dict[str, Revert | str]] = {}
    for name, make in calls.items():
        got[name] = {}
        for actor in ACTORS:
            got[name][actor] = _outcome(client, make(), accounts[actor].address)
    assert got == CONTRACT_MATRIX
    # What issuer B may do on its own must not touch issuer A: send it for real, then undo.
    for name in ("rotateKey", "setSigningKey", "anchor", "revokeCredential", "revokeCredentials"):
        snap = _rpc(client, "evm_snapshot", [])
        try:
            result = client.writes.transact(registry.issuer2_key, calls[name]())
            assert client.reads.check_credential(root_a, digest_a, path_a) == 0, name  # A's credential still valid
            assert client.reads.issuers([registry.issuer_id]) == issuer_a_before
            assert client.reads.keys_by_address([registry.issuer_key.address]) == key_a_before
            if name == "anchor":
                [event] = result.events("BatchAnchored")
                assert event["issuerId"] == registry.issuer2_id  # anchored for B itself, never for A
            if name.startswith("revokeCredential"):
                [event] = result.events("CredentialRevoked")
                assert event["issuerId"] == registry.issuer2_id  # in B's namespace
                revocation = client.reads.revocations([(registry.issuer_id, digest_a)])
                assert revocation[(registry.issuer_id, "0x" + digest_a.hex())] is None
        finally:
            assert _rpc(client, "evm_revert", [snap]) is True
    # B cannot revoke A's batch even when it tries for real (the pre-flight would stop the CLI).
    assert client.reads.check_credential(root_a, digest_a, path_a) == 0
