"""The share page verifies (issue 14): ``/c/{id}`` runs the verifier library
(``/assets/verifier.js``, web/verifier/src/lib.js) in real Chromium against a real anvil, with the
RPC and trusted registries the ``/verify`` page offers, and shows the live verdict, each check and
when it was checked; the stored data stays. Revoked on chain: INVALID with the reason.
Unreachable RPC: INDETERMINATE. No public RPC or no library: the "unavailable" notice. Spanish
words, axe-core, and the LinkedIn link with the issuer's ``organizationId``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlmodel import Session, select
from typer.testing import CliRunner

from registry.cli.app import app
from registry.config import Settings
from registry.service.api.routes import pages
from registry.service.runtime import create_app
from registry.service.store import Issuer
from tests.chain_fixtures import Registry, free_port
from tests.e2e import test_pages
from tests.e2e.test_accessibility import _axe
from tests.e2e.test_pages import Site
from tests.reliability_harness import wait_for
from tests.service_support import service_settings

pytestmark = pytest.mark.e2e

# The pages' fixtures (a served site with anchored credentials, Chromium), for this module.
site, browser, page = test_pages.site, test_pages.browser, test_pages.page

LIVE_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def dead_rpc_site(site: Site, registry: Registry) -> Iterator[str]:
    """The same database served again, offering pages an RPC address where nothing listens."""
    port = free_port()
    settings = service_settings(
        registry,
        site.db,
        public_url=f"http://127.0.0.1:{port}",
        public_rpc_url=f"http://127.0.0.1:{free_port()}",
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine=site.db.engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the second pages' server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _live(page: Any) -> dict[str, Any]:
    """The live section once the script has rendered its result: verdict, checks, checked-at."""
    page.wait_for_selector("#live-verdict", timeout=LIVE_TIMEOUT_MS)
    checks = {
        li.get_attribute("data-check"): {
            "status": li.get_attribute("data-status"),
            "label": li.locator("strong").inner_text(),
            "shown": li.locator(".status").inner_text(),
            "reason": li.locator("p").inner_text(),
        }
        for li in page.locator("#live-checks li.check").all()
    }
    return {
        "verdict": page.locator("#live-verdict").get_attribute("data-verdict"),
        "verdict_text": page.locator("#live-verdict").inner_text(),
        "class": page.locator("#live-verdict").get_attribute("class"),
        "summary": page.locator("#live-summary").inner_text(),
        "checks": checks,
        "checked_at": page.locator("#live-checked-at time").get_attribute("datetime"),
        "checked_text": page.locator("#live-checked-at").inner_text(),
    }


def _stored_data_shown(page: Any, holder: str) -> None:
    assert holder in page.locator("h1").inner_text()
    assert page.locator("dl.facts").count() == 1
    assert "Universidad de Ejemplo" in page.locator("dl.facts").inner_text()


def test_share_page_shows_the_live_result_with_every_check(site: Site, page: Any) -> None:
    cid = site.ids[1]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    assert page.goto(f"{site.url}/c/{cid}").status == 200
    section = page.locator("#live")
    assert section.locator("h2").inner_text() == "Checked now, on the blockchain"
    assert page.locator("#live-result").get_attribute("aria-live") == "polite"
    live = _live(page)
    assert live["verdict"] == "VALID" and live["verdict_text"] == "VALID"
    assert live["class"] == "verdict valid"
    assert live["summary"] == "The blockchain confirms this credential now: every check passed."
    order = ["format", "integrity", "inclusion", "anchor", "issuer", "signature", "revocation", "validity"]
    assert list(live["checks"]) == [n for n in order if n in live["checks"]]  # the verifier's order
    assert {"format", "integrity", "inclusion", "anchor", "issuer", "revocation", "validity"} <= set(live["checks"])
    assert all(c["status"] == "pass" and c["shown"] == "pass" and c["reason"] for c in live["checks"].values())
    assert "this service's own deployment" in live["checks"]["issuer"]["reason"]
    assert live["checked_at"] and live["checked_text"].startswith("Checked at ")
    # The stored data is still there, and the page's only other traffic is the file and the library.
    _stored_data_shown(page, "Ada Lovelace 1")
    assert any(u.endswith(f"/c/{cid}/credential.json") for u in requests)
    assert any("/assets/verifier.js?v=" in u for u in requests)
    # No inline executable script: the configuration is a JSON element (a strict CSP stays possible).
    inline = page.evaluate("() => [...document.scripts].filter(s => !s.src && s.type !== 'application/json').length")
    assert inline == 0
    page.screenshot(path=str(site.out / "share-live.png"), full_page=True)
    serious = _axe(page, "share page, live VALID")
    assert not serious, serious


def test_spanish_share_page_shows_the_live_words_in_spanish(site: Site, page: Any) -> None:
    assert page.goto(f"{site.url}/c/{site.ids[1]}?lang=es").status == 200
    assert page.locator("#live h2").inner_text() == "Comprobada ahora, en la cadena de bloques"
    live = _live(page)
    assert live["verdict"] == "VALID" and live["verdict_text"] == "VÁLIDA"
    assert live["summary"].startswith("La cadena de bloques confirma ahora esta credencial")
    assert live["checks"]["revocation"]["label"] == "revocación"
    assert live["checks"]["integrity"]["shown"] == "correcto"
    assert live["checked_text"].startswith("Comprobada el ")
    # The verifier's reasons in Spanish too (registry.locales.reasons); none is left marked English.
    assert live["checks"]["revocation"]["reason"] == "ni la credencial ni su lote están revocados"
    assert page.locator("#live-checks li p[lang]").count() == 0
    serious = _axe(page, "share page es, live VALID")
    assert not serious, serious


def test_unreachable_rpc_is_indeterminate_and_the_stored_data_stays(site: Site, dead_rpc_site: str, page: Any) -> None:
    assert page.goto(f"{dead_rpc_site}/c/{site.ids[1]}").status == 200
    live = _live(page)
    assert live["verdict"] == "INDETERMINATE" and live["class"] == "verdict indeterminate"
    assert live["checks"]["anchor"]["status"] == "indeterminate"
    assert not [n for n, c in live["checks"].items() if c["status"] == "fail"]
    _stored_data_shown(page, "Ada Lovelace 1")
    serious = _axe(page, "share page, live INDETERMINATE")
    assert not serious, serious


def test_no_public_rpc_or_no_library_says_the_live_check_is_unavailable(
    site: Site, page: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"{site.url}/c/{site.ids[1]}"
    monkeypatch.setattr(Settings, "public_rpc", lambda self: None)
    assert page.goto(url).status == 200
    notice = page.locator("#live-unavailable").inner_text()
    assert notice.startswith("Live check unavailable: this server publishes no public blockchain RPC address")
    assert page.locator("#share-live-config").count() == 0 and page.locator("#live-verdict").count() == 0
    _stored_data_shown(page, "Ada Lovelace 1")
    monkeypatch.undo()
    monkeypatch.setattr(pages, "VERIFIER_LIB", tmp_path / "verifier-lib.js")
    assert page.goto(url).status == 200
    assert page.locator("#live-unavailable").inner_text() == (
        "Live check unavailable: the verifier is not built on this server."
    )
    missing = httpx.get(f"{site.url}/assets/verifier.js")
    assert missing.status_code == 503 and "make setup" in missing.text


def test_the_library_is_served_with_a_long_cache(site: Site) -> None:
    first = httpx.get(f"{site.url}/assets/verifier.js")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/javascript")
    assert "window.credentialRegistry" in first.text or "credentialRegistry" in first.text
    assert "verify-form" not in first.text  # the library, not the page's UI
    html = httpx.get(f"{site.url}/c/{site.ids[1]}").text
    src = html.split('src="/assets/verifier.js?v=', 1)[1].split('"', 1)[0]
    pinned = httpx.get(f"{site.url}/assets/verifier.js?v={src}")
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert pinned.content == first.content


def test_linkedin_link_has_the_organization_id_when_the_issuer_has_one(site: Site, page: Any) -> None:
    url = f"{site.url}/c/{site.ids[1]}"
    page.goto(url)
    href = page.locator("#linkedin").get_attribute("href")
    assert "organizationName=Universidad+de+Ejemplo" in href and "organizationId" not in href
    with Session(site.db.engine) as session:
        issuer = session.exec(select(Issuer)).one()
        issuer.linkedin_organization_id = "1337"
        session.add(issuer)
        session.commit()
    try:
        page.goto(url)
        href = page.locator("#linkedin").get_attribute("href")
        assert "organizationId=1337" in href and "organizationName" not in href
        assert "certUrl=" in href and "issueYear=" in href
    finally:
        with Session(site.db.engine) as session:
            issuer = session.exec(select(Issuer)).one()
            issuer.linkedin_organization_id = None
            session.add(issuer)
            session.commit()


def test_issuer_add_takes_a_linkedin_organization_id_of_digits_only(registry: Registry, tmp_path: Path) -> None:
    env = {
        "REGISTRY_HOME": str(registry.settings.home),
        "REGISTRY_RPC_URL": registry.rpc_url,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    add = ["issuer", "add", "Universidad de Ejemplo", "did:web:uni.example", "--dev-key", "issuer"]
    refused = runner.invoke(app, [*add, "--linkedin-org", "abc"], env=env)
    assert refused.exit_code == 3, refused.output
    assert "linkedin_org" in refused.output and "digits only" in refused.output
    assert runner.invoke(app, [*add, "--linkedin-org", "12 34"], env=env).exit_code == 3
    added = runner.invoke(app, [*add, "--linkedin-org", "90210"], env=env)
    assert added.exit_code == 0, added.output
    from sqlalchemy import create_engine

    engine = create_engine(env["REGISTRY_DATABASE_URL"])
    try:
        with Session(engine) as session:
            assert session.exec(select(Issuer)).one().linkedin_organization_id == "90210"
    finally:
        engine.dispose()


def test_revoked_on_chain_the_share_page_says_invalid_with_the_reason(
    site: Site, registry: Registry, page: Any
) -> None:
    cid = site.ids[0]
    url = f"{site.url}/c/{cid}"
    page.goto(url)
    assert _live(page)["verdict"] == "VALID"
    digest = site.file(cid)["proof"][-1]["credentialDigest"]
    registry.client.writes.revoke_credentials(registry.issuer_key, [digest], 1)
    page.reload()
    live = _live(page)
    assert live["verdict"] == "INVALID" and live["class"] == "verdict invalid"
    revocation = live["checks"]["revocation"]
    assert revocation["status"] == "fail" and "revoked" in revocation["reason"].lower()
    assert live["summary"] == "A check failed: this credential does not verify now."
    _stored_data_shown(page, "Ada Lovelace 0")  # the stored data stays beside the live verdict
    serious = _axe(page, "share page, live INVALID")
    assert not serious, serious
