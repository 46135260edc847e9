"""Pathways in the issuer service (real app, SQLite and PostgreSQL, real anvil, the real worker):
versions created and published by their owner, anchored like any batch and accepted by the
trustless stack verifier; versions never change once published; bad definitions are refused
and store nothing; the learner's progress page by share link."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from registry.audit.auditor import Auditor
from registry.audit.cache import AuditCache
from registry.audit.report import AuditReport
from registry.config import Settings
from registry.core.pathway import load_pathway, pathway_digest
from registry.service.audit_records import ServiceDatabase
from registry.service.runtime import create_app
from registry.service.store import Batch, CredentialRow, Issuer, PathwayRow
from registry.verify import VerificationPolicy, Verifier
from registry.verify.stack import StackVerdict, verify_stack
from tests.chain_fixtures import Registry
from tests.e2e import test_service_api as api
from tests.service_support import Database, service_settings

pytestmark = pytest.mark.e2e


class Service(api.Service):
    """The REST API tests' two-issuer service, with both issuers' DIDs and achievement ids."""

    def __init__(self, client: TestClient, settings: Settings, db: Database, registry: Registry) -> None:
        super().__init__(client, settings, db, registry)
        with Session(db.engine) as session:
            one, two = session.exec(select(Issuer).order_by(col(Issuer.id))).all()  # this test's database
            self.did1, self.did2, self.name2 = one.did, two.did, two.name
        self.uri1 = self.http.get(f"/v1/achievements/{self.ach1}", headers=self.h(1)).json()["uri"]
        self.uri2 = self.http.get(f"/v1/achievements/{self.ach2}", headers=self.h(2)).json()["uri"]

    def issue(self, which: int, email: str) -> str:
        ach = self.ach1 if which == 1 else self.ach2
        body = {"achievement_id": ach, "recipient_email": email, "recipient_name": email.split("@")[0]}
        r = self.http.post("/v1/credentials", json=body, headers=self.h(which))
        assert r.status_code == 201, r.text
        assert self.http.post("/v1/batches/seal", headers=self.h(which)).status_code == 201
        return str(r.json()["id"])

    def pathway(self, version: int = 1, **changes: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": "Pathway",
            "id": "https://uni.example/pathways/service-test",
            "version": version,
            "name": "Service Test Certificate",
            "owner": self.did1,
            "qualification": {"name": "Certificate in Testing", "eqfLevel": 5, "credits": 2},
            "requirements": {
                "id": "all",
                "name": "Both courses",
                "allOf": [
                    {"id": "one", "name": "Course one", "achievement": self.uri1, "issuers": [self.did1]},
                    {"id": "two", "name": "Course two", "achievement": self.uri2, "issuers": [self.did2]},
                ],
            },
        }
        doc.update(changes)
        return doc

    def rows(self, table: Any) -> int:
        with Session(self.db.engine) as session:
            return int(session.exec(select(func.count()).select_from(table)).one())


@pytest.fixture
def service(db: Database, registry: Registry) -> Iterator[Service]:
    settings = service_settings(registry, db)
    with TestClient(create_app(settings, engine=db.engine)) as client:
        yield Service(client, settings, db, registry)


def test_create_publish_and_verify_a_stack_against_the_published_version(service: Service) -> None:
    http = service.http
    r = http.post("/v1/pathways", json=service.pathway(), headers=service.h())
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["state"] == "draft" and created["version"] == 1
    assert created["digest"] == "0x" + pathway_digest(load_pathway(service.pathway())).hex()
    # Same content again: nothing new. A draft may still be replaced.
    again = http.post("/v1/pathways", content=json.dumps(service.pathway(), indent=2), headers=service.h())
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    renamed = http.post("/v1/pathways", json=service.pathway(name="Service Test Cert."), headers=service.h())
    assert renamed.status_code == 201 and renamed.json()["id"] == created["id"]
    assert renamed.json()["digest"] != created["digest"]
    http.post("/v1/pathways", json=service.pathway(), headers=service.h())  # back to the first text
    assert http.get(f"/v1/pathways/{created['id']}/definition").status_code == 404  # drafts are not public

    r = http.post(f"/v1/pathways/{created['id']}/publish", headers=service.h())
    assert r.status_code == 202 and r.json()["state"] == "publishing"
    assert (
        http.post(f"/v1/pathways/{created['id']}/publish", headers=service.h()).json()["batch_id"]
        == r.json()["batch_id"]
    )
    service.anchor()
    published = http.get(f"/v1/pathways/{created['id']}", headers=service.h()).json()
    assert published["state"] == "published" and published["anchor"]["block"] >= 1
    on_chain = service.registry.client.reads.batches([created["digest"]])[created["digest"]]
    assert on_chain is not None and on_chain.issuer_id == service.registry.issuer_id and on_chain.count == 1

    # A published version never changes; the next version is a new row.
    changed = http.post("/v1/pathways", json=service.pathway(name="Other"), headers=service.h())
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "pathway_version_published"
    assert "create version 2 instead" in changed.json()["error"]["message"]
    v2 = http.post("/v1/pathways", json=service.pathway(version=2, name="Other"), headers=service.h())
    assert v2.status_code == 201 and v2.json()["id"] != created["id"]
    assert [p["version"] for p in http.get("/v1/pathways", headers=service.h()).json()] == [1, 2]

    # The public definition is what the trustless verifier checks a stack against.
    definition = http.get(f"/v1/pathways/{created['id']}/definition")
    assert definition.status_code == 200 and definition.headers["x-pathway-digest"] == created["digest"]
    pathway = load_pathway(definition.content)
    ids = [service.issue(1, "ada@example.org"), service.issue(2, "ada@example.org")]
    service.anchor()
    files = [(i, http.get(f"/c/{i}/credential.json").text) for i in ids]
    policy = VerificationPolicy(trusted=service.registry.trust)
    verifier = Verifier(policy, rpc_url=service.registry.rpc_url)
    report = verify_stack(verifier, pathway, files, learner="ada@example.org")
    assert report.verdict is StackVerdict.VALID, report.model_dump_json(indent=1)
    # The draft version 2 was never anchored: a stack checked against it is INVALID.
    draft = load_pathway(service.pathway(version=2, name="Other"))
    assert verify_stack(verifier, draft, files, learner="ada@example.org").verdict is StackVerdict.INVALID


def test_bad_definitions_are_refused_and_store_nothing(service: Service) -> None:
    http = service.http
    before = service.rows(PathwayRow), service.rows(Batch)
    unknown = service.pathway()
    unknown["requirements"]["allOf"][0]["achievement"] = "https://uni.example/achievements/none"
    cyclic = service.pathway()
    cyclic["requirements"]["allOf"][1]["id"] = "all"  # two requirements with one id
    cases: list[tuple[bytes | dict[str, Any], int, str]] = [
        (service.pathway(owner=service.did2), 422, "owner"),
        (unknown, 422, "/requirements/allOf/0/achievement"),
        (cyclic, 422, "/requirements"),
        (b'{"type": "Pathway", "type": "Pathway"}', 422, "duplicate"),
        (b"not json", 422, ""),
        ({**service.pathway(), "version": 0}, 422, "version"),
    ]
    for body, status, needle in cases:
        kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
        r = http.post("/v1/pathways", headers=service.h(), **kwargs)
        assert r.status_code == status, (body, r.text)
        assert needle in json.dumps(r.json()["error"]), (needle, r.text)
    # Another issuer's pathway id is taken; another issuer's versions are not found.
    mine = http.post("/v1/pathways", json=service.pathway(), headers=service.h()).json()
    theirs = copy.deepcopy(service.pathway(owner=service.did2, version=3))
    theirs["requirements"]["allOf"] = theirs["requirements"]["allOf"][1:]
    r = http.post("/v1/pathways", json=theirs, headers=service.h(2))
    assert r.status_code == 409 and r.json()["error"]["code"] == "pathway_taken"
    assert http.get(f"/v1/pathways/{mine['id']}", headers=service.h(2)).status_code == 404
    assert http.post(f"/v1/pathways/{mine['id']}/publish", headers=service.h(2)).status_code == 404
    assert http.post("/v1/pathways", json=service.pathway()).status_code == 401
    assert (service.rows(PathwayRow), service.rows(Batch)) == (before[0] + 1, before[1])


def test_progress_page_by_share_link(service: Service) -> None:
    http = service.http
    row = http.post("/v1/pathways", json=service.pathway(), headers=service.h()).json()
    http.post(f"/v1/pathways/{row['id']}/publish", headers=service.h())
    ada = [service.issue(1, "ada@example.org"), service.issue(2, "ADA@example.org ")]
    bob = service.issue(1, "bob@example.org")
    service.anchor()
    with Session(service.db.engine) as session:
        refs = {c.id: c.learner_ref for c in session.exec(select(CredentialRow))}
    assert refs[ada[0]] == refs[ada[1]] != refs[bob] and "ada@" not in str(refs[ada[0]]).lower()

    share = http.get(f"/c/{bob}")
    assert share.status_code == 200
    link = f"/c/{bob}/pathways/{row['id']}"
    assert f'href="{link}"' in share.text and "Service Test Certificate" in share.text
    page = http.get(link)
    assert page.status_code == 200
    assert "Not complete yet." in page.text and '<h2 id="still-needed-title">Still needed</h2>' in page.text
    assert 'data-requirement="one" data-satisfied="true"' in page.text
    assert 'data-requirement="two" data-satisfied="false"' in page.text
    assert f'Offered by: <span class="providers">{service.name2}</span>' in page.text
    # nobody else's credentials: not her name as a word (a random hash on the page may contain "ada")
    assert not re.search(r"\bada\b", page.text, re.IGNORECASE) and not any(c in page.text for c in ada)

    done = http.get(f"/c/{ada[1]}/pathways/{row['id']}")
    assert "Complete: every requirement is met." in done.text
    assert f'href="/c/{ada[0]}"' in done.text and f'href="/c/{ada[1]}"' in done.text
    # A revoked credential no longer counts (once the revocation is done).
    assert http.post(f"/v1/credentials/{ada[1]}/revoke", json={"reason": 1}, headers=service.h(2)).status_code == 202
    service.anchor()
    assert "Not complete yet" in http.get(f"/c/{ada[0]}/pathways/{row['id']}").text
    # Unknown pathways, unpublished versions and unknown credentials: 404 pages, no detail.
    draft = http.post("/v1/pathways", json=service.pathway(version=5), headers=service.h()).json()
    for url in (f"/c/{bob}/pathways/{draft['id']}", f"/c/{bob}/pathways/999", f"/c/nope/pathways/{row['id']}"):
        assert http.get(url).status_code == 404


def test_the_audit_labels_pathway_publications(service: Service, tmp_path: Path) -> None:
    """The auditor reconciles a pathway's publication with the issuer's records (no finding), labels
    it from the database, or from the definition given (`--pathway`) when auditing without one, and
    does not count it as a credential."""
    http = service.http
    row = http.post("/v1/pathways", json=service.pathway(), headers=service.h()).json()
    http.post(f"/v1/pathways/{row['id']}/publish", headers=service.h())
    service.issue(1, "ada@example.org")
    service.anchor()
    label = "https://uni.example/pathways/service-test version 1 (Service Test Certificate)"

    def audit(records: bool, **options: Any) -> AuditReport:
        cache = AuditCache(f"sqlite:///{tmp_path / f'audit-{records}.sqlite'}")
        db = ServiceDatabase(engine=service.db.engine) if records else None
        try:
            return Auditor(service.registry.client, cache).run(records=db, check_bytecode=False, **options)
        finally:
            cache.close()
            if db is not None:
                db.close()

    for report in (audit(True), audit(False, pathways=[load_pathway(service.pathway())])):
        [published] = [b for b in report.batches if b.root == row["digest"]]
        assert published.pathway == label
        uni = next(i for i in report.issuers if i.issuer_id == service.registry.issuer_id)
        assert uni.pathways == 1 and uni.credentials == sum(
            b.count for b in report.batches if b.issuer_id == uni.issuer_id and b.pathway is None
        )
        [entry] = [e for e in uni.timeline if e.details.get("root") == row["digest"]]
        assert entry.kind == "pathway_published" and label in entry.summary
        assert not [f for f in report.findings if f.details.get("root") == row["digest"]]
    unlabelled = audit(False)
    assert [b.pathway for b in unlabelled.batches if b.root == row["digest"]] == [None]
