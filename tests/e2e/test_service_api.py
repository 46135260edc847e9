"""The REST API through FastAPI's TestClient (real app, real database, real anvil): issuance,
anchoring by the worker, downloads, the public verify API, issuer scoping and every 4xx."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from registry.config import Settings
from registry.service.api.chainrounds import ChainRounds
from registry.service.api.routes import public
from registry.service.runtime import create_app
from registry.service.store import CredentialRow
from registry.service.worker import Worker, run_until_idle
from tests.chain_fixtures import Registry, free_port
from tests.service_support import Database, add_issuer, service_settings

pytestmark = pytest.mark.e2e


class Service:
    def __init__(self, client: TestClient, settings: Settings, db: Database, registry: Registry) -> None:
        self.http = client
        self.settings = settings
        self.db = db
        self.registry = registry
        with Session(db.engine) as session:
            _, self.key1, self.ach1 = add_issuer(session, registry, 1)
            _, self.key2, self.ach2 = add_issuer(session, registry, 2)

    def h(self, which: int = 1) -> dict[str, str]:
        return {"X-API-Key": self.key1 if which == 1 else self.key2}

    def anchor(self) -> None:
        state = self.http.app.state.service  # type: ignore[attr-defined]
        run_until_idle(Worker(self.settings, self.db.engine, state.chain()))

    def count(self) -> int:
        with Session(self.db.engine) as session:
            return int(session.exec(select(func.count()).select_from(CredentialRow)).one())


@pytest.fixture
def service(db: Database, registry: Registry) -> Iterator[Service]:
    settings = service_settings(registry, db, max_body_bytes=64 * 1024, max_upload_bytes=256 * 1024)
    with TestClient(create_app(settings, engine=db.engine)) as client:
        yield Service(client, settings, db, registry)


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def learners(ach: int, n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"achievement_id": ach, "recipient_email": f"p{i}@example.org", "recipient_name": f"Person {i}", "result": "B+"}
        for i in range(start, start + n)
    ]


def test_issue_anchor_download_and_verify(service: Service) -> None:
    http = service.http
    r = http.post("/v1/credentials/bulk", json={"credentials": learners(service.ach1, 12)}, headers=service.h())
    assert r.status_code == 201, r.text
    ids = r.json()["ids"]
    one = http.post("/v1/credentials", json=learners(service.ach1, 1, 99)[0], headers=service.h())
    assert one.status_code == 201 and one.json()["state"] == "queued"
    assert one.json()["share_url"] == f"http://testserver/c/{one.json()['id']}"
    early = http.get(f"/v1/credentials/{ids[0]}/file", headers=service.h())
    assert early.status_code == 409 and error_code(early) == "not_released"
    sealed = http.post("/v1/batches/seal", headers=service.h())
    assert sealed.status_code == 201 and [b["count"] for b in sealed.json()] == [13]
    assert sealed.json()[0]["state"] == "pending"
    service.anchor()
    batch = http.get(f"/v1/batches/{sealed.json()[0]['id']}", headers=service.h()).json()
    assert batch["state"] == "confirmed" and batch["anchor_tx"] and batch["anchor_block"]
    assert http.get(f"/v1/credentials/{ids[0]}", headers=service.h()).json()["state"] == "released"
    r = http.get(f"/v1/credentials/{ids[0]}/file", headers=service.h())
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert "attachment" in r.headers["content-disposition"]
    cred = r.json()
    report = http.post("/v1/verify", content=r.content, headers={"content-type": "application/json"}).json()
    assert report["verdict"] == "VALID", report["summary"]
    assert report["issuer"]["name"] == "Universidad de Ejemplo"
    cred["credentialSubject"]["result"][0]["value"] = "A+"
    bad = http.post("/v1/verify", json=cred).json()
    assert bad["verdict"] == "INVALID"
    integrity = next(c for c in bad["checks"] if c["name"] == "integrity")
    assert integrity["status"] == "fail" and "altered" in integrity["reason"]
    events = http.get("/v1/events", headers=service.h()).json()
    assert "batch.confirmed" in [e["kind"] for e in events]


def test_baked_downloads_verify(service: Service) -> None:
    pytest.importorskip("registry.core.baking", reason="registry/core/baking.py (baked badges) not present yet")
    http = service.http
    cid = http.post("/v1/credentials", json=learners(service.ach1, 1)[0], headers=service.h()).json()["id"]
    http.post("/v1/batches/seal", headers=service.h())
    service.anchor()
    png = http.get(f"/v1/credentials/{cid}/file?format=png", headers=service.h())
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = http.get(f"/v1/credentials/{cid}/file?format=svg", headers=service.h())
    assert svg.status_code == 200 and b"<svg" in svg.content
    for body, ctype in ((png.content, "image/png"), (svg.content, "image/svg+xml")):
        report = http.post("/v1/verify", content=body, headers={"content-type": ctype}).json()
        assert report["verdict"] == "VALID", report["summary"]
        # the same valid badge labelled JSON is a malformed JSON body, not a report
        r = http.post("/v1/verify", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"


def test_verify_answers_the_same_with_its_offline_checks_in_the_loop_or_in_a_thread(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small body is checked in the event loop, a large one in a worker thread
    (public.INLINE_OFFLINE_MAX_BYTES): both give the same report for the same body."""
    http = service.http
    cid = http.post("/v1/credentials", json=learners(service.ach1, 1)[0], headers=service.h()).json()["id"]
    http.post("/v1/batches/seal", headers=service.h())
    service.anchor()
    data = http.get(f"/v1/credentials/{cid}/file", headers=service.h()).content
    tampered = json.loads(data)
    tampered["credentialSubject"]["result"][0]["value"] = "A+"
    bodies = [
        (data, "application/json"),
        (json.dumps(tampered).encode(), "application/json"),
        (b'{"a": 1}', "application/json"),
        (http.get(f"/v1/credentials/{cid}/file?format=png", headers=service.h()).content, "image/png"),
    ]
    where: list[str] = []
    offline_part = public._offline_part

    def spy(*args: Any) -> Any:
        where.append(threading.current_thread().name)
        return offline_part(*args)

    monkeypatch.setattr(public, "_offline_part", spy)

    def reports() -> list[tuple[str, list[tuple[str, str, str]]]]:
        out = []
        for body, ctype in bodies:
            r = http.post("/v1/verify", content=body, headers={"content-type": ctype})
            assert r.status_code == 200, r.text
            rep = r.json()
            out.append((rep["verdict"], [(c["name"], c["status"], c["reason"]) for c in rep["checks"]]))
        return out

    monkeypatch.setattr(public, "INLINE_OFFLINE_MAX_BYTES", 1 << 30)
    in_loop = reports()
    loop_threads = set(where)
    where.clear()
    monkeypatch.setattr(public, "INLINE_OFFLINE_MAX_BYTES", 0)
    in_threads = reports()
    assert len(where) == len(bodies) and not loop_threads & set(where)  # the other path, really
    assert len(loop_threads) == 1  # the event loop's own thread
    assert in_loop == in_threads
    assert [verdict for verdict, _ in in_loop] == ["VALID", "INVALID", "INVALID", "VALID"]


def test_concurrent_verifications_share_one_round_of_chain_reads_and_answer_as_alone(service: Service) -> None:
    """Requests waiting together get their chain part in one round (one thread hand-off, one head,
    one snapshot), and each report is the one its file gets verified alone: valid, revoked,
    tampered and not a credential mixed in one round."""
    http = service.http
    ids = http.post("/v1/credentials/bulk", json={"credentials": learners(service.ach1, 3)}, headers=service.h())
    ids = ids.json()["ids"]
    http.post("/v1/batches/seal", headers=service.h())
    service.anchor()
    r = http.post(f"/v1/credentials/{ids[1]}/revoke", json={"reason": 1}, headers=service.h())
    assert r.status_code == 202
    service.anchor()
    files = [http.get(f"/v1/credentials/{i}/file", headers=service.h()).content for i in ids]
    tampered = json.loads(files[0])
    tampered["credentialSubject"]["result"][0]["value"] = "A+"
    files += [json.dumps(tampered).encode(), b'{"a": 1}']
    state = http.app.state.service  # type: ignore[attr-defined]
    verifier = state.verifier()

    def summary(report: Any) -> tuple[str, list[tuple[str, str, str]]]:
        return report.verdict.value, [(c.name, c.status.value, str(c.reason)) for c in report.checks]

    alone = [summary(verifier.verify(f, "upload")) for f in files]
    assert [verdict for verdict, _ in alone] == ["VALID", "INVALID", "VALID", "INVALID", "INVALID"]
    rounds = ChainRounds()

    async def together() -> list[Any]:
        limiter = anyio.CapacityLimiter(4)
        items = verifier.offline_part([("upload", f) for f in files * 4])
        asked = time.monotonic()
        return await asyncio.gather(*[rounds.report(verifier, i, asked, limiter) for i in items])

    reports = asyncio.run(together())
    assert [summary(r) for r in reports] == alone * 4
    assert rounds.reports == 16 and rounds.rounds == 1  # the non-credential needs no chain read

    # A round that fails fails each of its requests (as each would alone), and the next round,
    # in another event loop too, reads again.
    complete = verifier.complete

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the RPC client broke")

    verifier.complete = broken  # type: ignore[method-assign]
    try:

        async def failing() -> list[Any]:
            items = verifier.offline_part([("upload", f) for f in files[:3]])
            limiter = anyio.CapacityLimiter(4)
            calls = [rounds.report(verifier, i, time.monotonic(), limiter) for i in items]
            return await asyncio.gather(*calls, return_exceptions=True)

        failed = asyncio.run(failing())
    finally:
        verifier.complete = complete  # type: ignore[method-assign]
    assert [str(x) for x in failed] == ["the RPC client broke"] * 3
    again = asyncio.run(together())
    assert [summary(r) for r in again] == alone * 4 and rounds.rounds == 2


def test_an_issuer_never_sees_or_touches_another_issuers_data(service: Service) -> None:
    http = service.http
    cid = http.post("/v1/credentials", json=learners(service.ach1, 1)[0], headers=service.h(1)).json()["id"]
    for method, path in (
        ("GET", f"/v1/credentials/{cid}"),
        ("GET", f"/v1/credentials/{cid}/file"),
        ("GET", f"/v1/achievements/{service.ach1}"),
    ):
        r = http.request(method, path, headers=service.h(2))
        assert r.status_code == 404 and error_code(r) == "not_found", path
    r = http.post(f"/v1/credentials/{cid}/revoke", json={"reason": 1}, headers=service.h(2))
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = http.post("/v1/credentials", json=learners(service.ach1, 1)[0], headers=service.h(2))
    assert r.status_code == 422 and error_code(r) == "import_rejected"
    assert r.json()["error"]["rows"][0]["problem"] == f"unknown achievement {service.ach1}"
    assert http.get("/v1/credentials", headers=service.h(2)).json() == []
    sealed = http.post("/v1/batches/seal", headers=service.h(2)).json()
    assert sealed == []  # issuer 2 cannot seal issuer 1's queue
    assert http.get(f"/v1/credentials/{cid}", headers=service.h(1)).json()["state"] == "queued"


def test_bad_inputs_get_4xx_with_machine_readable_codes(service: Service) -> None:
    http = service.http
    r = http.get("/v1/credentials")
    assert r.status_code == 401 and error_code(r) == "invalid_api_key" and "missing" in r.json()["error"]["message"]
    r = http.get("/v1/credentials", headers={"X-API-Key": "rk_" + "x" * 43})
    assert r.status_code == 401 and "unknown or revoked" in r.json()["error"]["message"]
    r = http.post(
        "/v1/credentials", content=b'{"achievement_id": 1,', headers={**service.h(), "content-type": "application/json"}
    )
    assert r.status_code == 400 and error_code(r) == "malformed_json"
    r = http.post("/v1/verify", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and error_code(r) == "malformed_json"
    as_json = {"content-type": "application/json"}
    for body in (b'{"a": 1} trailing', b"\x89PNG\r\n\x1a\n not json", b"", b"  \n"):
        r = http.post("/v1/verify", content=body, headers=as_json)
        assert r.status_code == 400 and error_code(r) == "malformed_json", body
    r = http.post("/v1/verify", content=b'{"a": 1}', headers=as_json)  # JSON, not a credential: a report
    assert r.status_code == 200 and r.json()["verdict"] == "INVALID"
    assert r.json()["summary"].startswith("format: not a credreg-proof-v")
    r = http.post("/v1/verify", content=b'[{"a": 1}]', headers=as_json)
    assert r.status_code == 200 and r.json()["summary"] == "format: a credential file must be a JSON object"
    r = http.post(
        "/v1/credentials", json={"achievement_id": 999, "recipient_email": "a@example.org"}, headers=service.h()
    )
    assert r.status_code == 422 and error_code(r) == "import_rejected"
    r = http.post(
        "/v1/credentials", json={"achievement_id": service.ach1, "recipient_email": "not-an-email"}, headers=service.h()
    )
    assert r.status_code == 422 and r.json()["error"]["rows"][0]["field"] == "recipient_email"
    r = http.post("/v1/credentials", json={"achievement_id": "x"}, headers=service.h())
    assert r.status_code == 422 and error_code(r) == "invalid_request"
    r = http.post("/v1/achievements", json={"name": "X"}, headers=service.h())
    assert r.status_code == 422 and error_code(r) == "invalid_request"
    r = http.get("/v1/credentials/nope", headers=service.h())
    assert r.status_code == 404 and error_code(r) == "not_found"
    big = json.dumps({"credentials": learners(service.ach1, 2000)}).encode()
    assert len(big) > service.settings.max_body_bytes
    r = http.post("/v1/credentials/bulk", content=big, headers={**service.h(), "content-type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "body_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    r = http.post("/v1/credentials/bulk", content=chunks(), headers={**service.h(), "content-type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "body_too_large"
    r = http.post("/v1/credentials/bulk", json={"credentials": []}, headers=service.h())
    assert r.status_code == 422 and error_code(r) == "invalid_request"
    assert service.count() == 0


def test_csv_import_all_or_nothing_with_row_numbers(service: Service) -> None:
    http = service.http
    good = "email,name,result,valid_from\n" + "".join(
        f"learner{i}@example.org,Learner {i},pass,2025-03-01\n" for i in range(1000)
    )
    r = http.post(
        "/v1/credentials/import",
        headers=service.h(),
        data={"achievement_id": str(service.ach1)},
        files={"file": ("cohort.csv", good, "text/csv")},
    )
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 1000 and service.count() == 1000
    bad = (
        "email,name,valid_from,achievement_id\n"
        f"ok@example.org,Ok,2025-01-01,{service.ach1}\n"
        f"broken-email,Bad,2025-01-01,{service.ach1}\n"
        f"ok2@example.org,Ok,2025-13-45,{service.ach1}\n"
        f"ok3@example.org,Ok,,{service.ach2}\n"
        f",No email,,{service.ach1}\n"
    )
    r = http.post("/v1/credentials/import", headers=service.h(), files={"file": ("bad.csv", bad, "text/csv")})
    assert r.status_code == 422 and error_code(r) == "import_rejected"
    rows = {(e["row"], e["field"]) for e in r.json()["error"]["rows"]}
    assert rows == {(3, "email"), (4, "valid_from"), (6, "email")}
    assert service.count() == 1000  # nothing from the rejected file
    # A row that parses but names another issuer's achievement is caught at issuance, same row numbers.
    other = f"email,achievement_id\nfine@example.org,{service.ach1}\nx@example.org,{service.ach2}\n"
    r = http.post("/v1/credentials/import", headers=service.h(), files={"file": ("o.csv", other, "text/csv")})
    assert r.status_code == 422 and r.json()["error"]["rows"] == [
        {"row": 3, "field": "achievement_id", "problem": f"unknown achievement {service.ach2}"}
    ]
    assert service.count() == 1000
    r = http.post(
        "/v1/credentials/import",
        headers=service.h(),
        data={"achievement_id": str(service.ach1)},
        files={"file": ("h.csv", "mail,name\nx@example.org,X\n", "text/csv")},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "header"
    huge = "email\n" + "someone@example.org\n" * 20000
    r = http.post(
        "/v1/credentials/import",
        headers=service.h(),
        data={"achievement_id": str(service.ach1)},
        files={"file": ("huge.csv", huge, "text/csv")},
    )
    assert r.status_code == 413 and error_code(r) == "body_too_large"


def test_achievements_and_revocation_via_api(service: Service) -> None:
    http = service.http
    body = {
        "name": "Data Literacy",
        "description": "Reading data critically.",
        "criteria_narrative": "Project",
        "learning_outcomes": ["Read a chart"],
        "workload_ects": 1.5,
        "eqf_level": 4,
        "assessment_type": "Project",
        "participation_form": "blended",
        "quality_assurance": "Board",
    }
    r = http.post("/v1/achievements", json=body, headers=service.h())
    assert r.status_code == 201 and r.json()["uri"].startswith("https://uni.example/achievements/")
    again = http.post("/v1/achievements", json={**body, "id": r.json()["uri"]}, headers=service.h())
    assert again.status_code == 409 and error_code(again) == "achievement_exists"
    assert [a["name"] for a in http.get("/v1/achievements", headers=service.h()).json()][-1] == "Data Literacy"
    ids = http.post(
        "/v1/credentials/bulk", json={"credentials": learners(r.json()["id"], 3)}, headers=service.h()
    ).json()["ids"]
    # Revoking a queued credential needs no chain: it is simply never anchored.
    r = http.post(f"/v1/credentials/{ids[2]}/revoke", json={"reason": 1}, headers=service.h())
    assert r.status_code == 202 and r.json()["state"] == "done"
    batch = http.post("/v1/batches/seal", headers=service.h()).json()[0]
    assert batch["count"] == 2
    r = http.post(f"/v1/credentials/{ids[0]}/revoke", json={"reason": 9999}, headers=service.h())
    assert r.status_code == 422 and error_code(r) == "invalid_request"
    r = http.post(f"/v1/credentials/{ids[0]}/revoke", json={"reason": 1, "note": "wrong name"}, headers=service.h())
    assert r.status_code == 202 and r.json()["state"] == "pending"
    service.anchor()
    data = http.get(f"/v1/credentials/{ids[0]}/file", headers=service.h()).content
    report = http.post("/v1/verify", content=data, headers={"content-type": "application/json"}).json()
    assert report["verdict"] == "INVALID" and "issued in error" in report["summary"]
    r = http.post(f"/v1/credentials/{ids[0]}/revoke", json={"reason": 1}, headers=service.h())
    assert r.status_code == 409 and error_code(r) == "already_revoked"


def test_public_endpoints_health_and_openapi(service: Service) -> None:
    http = service.http
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"]["revision"] == ready.json()["checks"]["database"]["head"]
    issuers = http.get("/v1/issuers").json()
    assert [i["name"] for i in issuers[:2]] == ["Universidad de Ejemplo", "Other College"]
    assert issuers[1]["did"] == "did:web:other.example"
    body = issuers[0]["accreditor"]  # the fixture's body is named on chain
    assert body["address"] == issuers[0]["accreditedBy"] and body["name"] and body["uri"].startswith("did:")
    spec = http.get("/openapi.json").json()
    assert "/v1/verify" in spec["paths"] and "/v1/credentials/import" in spec["paths"]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert http.get("/v1/revocation-reasons").json()["1"] == "issued in error"


def test_readiness_fails_when_the_chain_is_down(db: Database, registry: Registry) -> None:
    settings = service_settings(
        registry, db, rpc_url=f"http://127.0.0.1:{free_port()}", registry_address=registry.client.registry_address
    )
    with TestClient(create_app(settings, engine=db.engine)) as http:
        r = http.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["chain"]["error"] == "chain_unavailable"
        with Session(db.engine) as session:
            _, key, ach = add_issuer(session, registry, 1)
        # Issuance keeps working while the chain is unreachable.
        r = http.post("/v1/credentials", json=learners(ach, 1)[0], headers={"X-API-Key": key})
        assert r.status_code == 201
        r = http.get("/v1/issuers")
        assert r.status_code == 503 and error_code(r) == "chain_unavailable"
