"""The web pages in real Chromium (Debian's package, driven by Playwright) against a real
uvicorn server: verify a file (VALID) in the browser without uploading it, a tampered one
(INVALID with the reason), the share page and the issuer dashboard, at a phone's viewport."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session

from registry.core.csvimport import IssueRequest
from registry.service.issuance import credential_file, issue
from registry.service.runtime import create_app
from registry.service.sealing import seal_due
from registry.service.store import CredentialRow
from registry.service.worker import Worker, run_until_idle
from tests.chain_fixtures import Registry, free_port
from tests.ci import missing
from tests.reliability_harness import wait_for
from tests.service_support import Database, add_issuer, database, service_settings

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require_browser() -> None:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    message = f"Chromium not found at {CHROMIUM} (run `make browser`, or apt-get install chromium)"
    missing(message, message + "; under CI the page tests must run")


class Site:
    def __init__(self, url: str, db: Database, key: str, ids: list[str], out: Path) -> None:
        self.url, self.db, self.key, self.ids, self.out = url, db, key, ids, out

    def file(self, cid: str) -> dict[str, Any]:
        with Session(self.db.engine) as session:
            return credential_file(session, session.get(CredentialRow, cid))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _require_browser()
    tmp = tmp_path_factory.mktemp("pages")
    gen = database("sqlite", tmp)
    db = next(gen)
    port = free_port()
    settings = service_settings(registry, db, public_url=f"http://127.0.0.1:{port}")
    with Session(db.engine) as session:
        issuer, key, ach = add_issuer(session, registry)
        rows = issue(
            session,
            issuer,
            [
                IssueRequest(
                    achievement_id=ach,
                    recipient_email=f"ada{i}@example.org",
                    recipient_name=f"Ada Lovelace {i}",
                    result="A",
                    valid_until=datetime.now(UTC).replace(microsecond=0) + timedelta(days=5 * 365) if i == 2 else None,
                )
                for i in range(3)
            ],
        )
        session.commit()
        ids = [r.id for r in rows]
    seal_due(db.engine, settings, force=True)
    run_until_idle(Worker(settings, db.engine, registry.client))
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine=db.engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the pages' server to start")
    try:
        yield Site(f"http://127.0.0.1:{port}", db, key, ids, tmp)
    finally:
        server.should_exit = True
        thread.join(10)
        gen.close()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    try:
        yield context.new_page()
    finally:
        context.close()


def _posts(page: Any) -> list[str]:
    """Record the POST requests the page makes (the verify page must make none to the server)."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    return posts


def test_verify_page_checks_a_file_in_the_browser_without_uploading_it(site: Site, page: Any) -> None:
    path = site.out / "credential.json"
    path.write_text(json.dumps(site.file(site.ids[0]), indent=2))
    posts = _posts(page)
    page.goto(site.url + "/verify")
    # Pre-filled: the service's RPC URL and its own deployment as the trusted registry.
    assert page.get_by_label("JSON-RPC URL of the chain").input_value().startswith("http://127.0.0.1:")
    assert "31337 0x" in page.locator("#trusted").input_value()
    page.get_by_label("Credential file (JSON) or baked badge (PNG, SVG)").set_input_files(str(path))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "VALID"
    assert page.locator("[data-check=integrity]").get_attribute("data-status") == "pass"
    assert "Universidad de Ejemplo" in page.locator("#issuer-on-chain").inner_text()
    assert posts and not [u for u in posts if u.startswith(site.url)], posts  # JSON-RPC only
    page.screenshot(path=str(site.out / "verify-valid.png"), full_page=True)


def test_upload_a_tampered_file_shows_invalid_with_the_reason(site: Site, page: Any) -> None:
    data = site.file(site.ids[1])
    data["credentialSubject"]["name"] = "Somebody Else"
    path = site.out / "tampered.json"
    path.write_text(json.dumps(data))
    page.goto(site.url + "/verify")
    page.locator("#file").set_input_files(str(path))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "INVALID"
    integrity = page.locator("[data-check=integrity]")
    assert integrity.get_attribute("data-status") == "fail"
    assert "altered" in integrity.inner_text()
    page.screenshot(path=str(site.out / "verify-invalid.png"), full_page=True)


def test_pasted_redacted_credential_lists_hidden_fields(site: Site, page: Any) -> None:
    from registry.core.credfile import redact

    data = redact(site.file(site.ids[2]), ["/credentialSubject/result"])
    page.goto(site.url + "/verify")
    page.get_by_label("…or paste the credential JSON").fill(json.dumps(data))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "VALID"
    assert "/credentialSubject/result" in page.locator("#hidden").inner_text()
    # Format v2 binds each hidden field hash to its pointer: a file that shows no validUntil and
    # hides none provably has no expiry (format v1 had to say INDETERMINATE; the differential
    # test's v1 corpus keeps that case).
    no_expiry = redact(site.file(site.ids[1]), ["/credentialSubject/result"])
    assert "validUntil" not in no_expiry and no_expiry["proof"][-1]["format"] == "credreg-proof-v2"
    page.goto(site.url + "/verify")
    page.get_by_label("…or paste the credential JSON").fill(json.dumps(no_expiry))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "VALID"
    assert "with no expiry" in page.locator('[data-check="validity"]').inner_text()


def test_the_old_upload_form_address_redirects_to_the_page(site: Site) -> None:
    import httpx

    r = httpx.post(site.url + "/verify", data={"credential": "{}"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/verify"


def test_share_page_has_downloads_qr_and_linkedin(site: Site, page: Any) -> None:
    cid = site.ids[0]
    response = page.goto(f"{site.url}/c/{cid}")
    assert response.status == 200
    assert "Ada Lovelace 0" in page.locator("h1").inner_text()
    assert page.locator("#accredited-by").inner_text() == "Demo Accreditation Agency did:web:accreditation.example"
    linkedin = page.locator("#linkedin").get_attribute("href")
    assert linkedin.startswith("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME")
    assert "organizationName=Universidad+de+Ejemplo" in linkedin and f"%2Fc%2F{cid}" in linkedin
    assert "issueYear=" in linkedin
    assert page.locator("figure.qr svg").count() == 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Credential file (JSON)").click()
    saved = site.out / "downloaded.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text())["proof"][-1]["credentialDigest"].startswith("0x")
    page.screenshot(path=str(site.out / "share.png"), full_page=True)
    assert page.goto(f"{site.url}/c/doesnotexist").status == 404


def test_dashboard_shows_batches_after_sign_in(site: Site, page: Any) -> None:
    page.goto(site.url + "/dashboard")
    page.get_by_label("API key").fill("rk_wrong")
    page.get_by_role("button", name="Sign in").click()
    assert "unknown or revoked API key" in page.locator("[role=alert]").inner_text()
    page.get_by_label("API key").fill(site.key)
    page.get_by_role("button", name="Sign in").click()
    row = page.locator("tr[data-batch]").first
    assert "confirmed" in row.inner_text() and "3" in row.inner_text()
    assert "block" in row.inner_text()
    page.screenshot(path=str(site.out / "dashboard.png"), full_page=True)
