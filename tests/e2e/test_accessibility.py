"""WCAG 2.1 A/AA in real Chromium (issue 14): axe-core (npm ``axe-core``) on every page and state
(the verifier page empty / VALID / INVALID / INDETERMINATE, the share page, a learner's pathway
progress, the dashboard signed out and in, the audit page and the HTML report of
``registry audit --format html``, the index, a 404 message page); 0 serious or critical
violations. Prints ``a11y_violations`` (any impact). And the verify flow by keyboard only: Tab to
the paste box, paste, Tab to Verify, Enter; the verdict gets the focus and is announced."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from registry.cli.app import app
from registry.core.credfile import redact
from registry.service.pathways import create_pathway, publish
from registry.service.store import AchievementRow, Issuer
from registry.service.worker import Worker, run_until_idle
from tests.chain_fixtures import Registry
from tests.e2e import test_pages
from tests.e2e.test_pages import Site
from tests.service_support import service_settings

pytestmark = pytest.mark.e2e

# The pages' fixtures: a served site with anchored credentials, Chromium, a phone-sized page.
site, browser, page = test_pages.site, test_pages.browser, test_pages.page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TOTAL: dict[str, int] = {}


def _axe(page: Any, state: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is; record the violations of ``state``; return the serious ones."""
    if not AXE.exists():
        pytest.fail(f"{AXE} missing: run `make setup` (npm ci installs axe-core)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    violations = result["violations"]
    TOTAL[state] = sum(len(v["nodes"]) for v in violations)
    for v in violations:
        print(f"a11y {state}: {v['impact']} {v['id']} ({len(v['nodes'])}): {v['help']}")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:160] for n in v["nodes"]][:5]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def _verify(page: Any, site: Site, data: dict[str, Any], verdict: str, *, trust: bool = True) -> None:
    page.goto(site.url + "/verify")
    if not trust:  # a registry the employer does not trust: never VALID
        page.locator("#trusted").fill("")
    page.locator("#credential").fill(json.dumps(data))
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == verdict


def _published_pathway(site: Site, registry: Registry) -> int:
    """A published pathway the site's credentials count toward (one requirement met, one not)."""
    with Session(site.db.engine) as session:
        issuer = session.exec(select(Issuer)).one()
        achievement = session.exec(select(AchievementRow)).one()
        row, _ = create_pathway(
            session,
            issuer,
            {
                "type": "Pathway",
                "id": "https://example.org/pathways/a11y",
                "version": 1,
                "name": "Accessible Pathway",
                "owner": issuer.did,
                "qualification": {"name": "Qualification", "credits": 10},
                "requirements": {
                    "id": "all",
                    "name": "Both",
                    "allOf": [
                        {"id": "mine", "achievement": achievement.uri, "issuers": [issuer.did]},
                        {"id": "other", "achievement": "https://other.example/a", "issuers": ["did:web:other.example"]},
                    ],
                },
            },
        )
        publish(session, issuer, row)
        session.commit()
        assert row.id is not None
        pathway_id = row.id
    run_until_idle(Worker(service_settings(registry, site.db), site.db.engine, registry.client))
    return pathway_id


def test_every_page_and_state_has_no_serious_or_critical_wcag_violation(
    site: Site, page: Any, registry: Registry, tmp_path: Path
) -> None:
    serious: dict[str, list[dict[str, Any]]] = {}

    def check(state: str) -> None:
        found = _axe(page, state)
        if found:
            serious[state] = found

    page.goto(site.url + "/")
    check("index")
    page.goto(site.url + "/verify")
    check("verify-empty")
    _verify(page, site, site.file(site.ids[0]), "VALID")
    check("verify-valid")
    tampered = site.file(site.ids[1])
    tampered["credentialSubject"]["name"] = "Somebody Else"
    _verify(page, site, tampered, "INVALID")
    check("verify-invalid")
    # A redacted v2 file whose hidden fields exclude validUntil is VALID; the indeterminate state is
    # an untrusted registry (its reason carries the `registry trust add` command).
    _verify(page, site, redact(site.file(site.ids[1]), ["/credentialSubject/result"]), "VALID")
    check("verify-redacted")
    _verify(page, site, site.file(site.ids[1]), "INDETERMINATE", trust=False)
    check("verify-indeterminate")
    # many files, a zip archive among them: the results table in its scrolling region
    archive = tmp_path / "applicants.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("cv/valid.json", json.dumps(site.file(site.ids[0])))
        z.writestr("cv/notes.txt", "not a credential")
    page.goto(site.url + "/verify")
    page.set_input_files("#files", [str(archive)])
    page.wait_for_selector("#bulk-status:has-text('Done')")
    assert page.locator("#bulk-table tbody tr").count() == 2
    check("verify-many")
    pathway_id = _published_pathway(site, registry)
    page.goto(f"{site.url}/c/{site.ids[0]}")
    assert page.locator("#pathways a").count() == 1
    check("share")
    page.goto(f"{site.url}/c/{site.ids[0]}/pathways/{pathway_id}")
    assert page.locator("#still-needed li").count() >= 1
    check("progress")
    assert page.goto(f"{site.url}/c/doesnotexist").status == 404
    check("message-404")
    page.goto(site.url + "/dashboard")
    check("login")
    page.get_by_label("API key").fill("rk_wrong")
    page.get_by_role("button", name="Sign in").click()
    check("login-error")
    page.get_by_label("API key").fill(site.key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("tr[data-batch]")
    check("dashboard")
    page.goto(site.url + "/audit")
    check("audit-page")
    report = tmp_path / "audit.html"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "--rpc",
            registry.rpc_url,
            "--registry",
            str(registry.client.registry_address),
            "--db",
            site.db.url,
            "--format",
            "html",
            "--out",
            str(report),
            "--cache",
            f"sqlite:///{tmp_path / 'audit.sqlite'}",
        ],
        env={"REGISTRY_HOME": str(registry.settings.home)},
    )
    assert result.exit_code in (0, 1) and report.exists(), result.output  # 1: a critical finding
    page.goto(report.as_uri())
    check("audit-report-file")
    print(f"a11y_violations={sum(TOTAL.values())} states={len(TOTAL)} by_state={json.dumps(TOTAL)}")
    assert not serious, json.dumps(serious, indent=1)


def test_verify_flow_by_keyboard_only(site: Site, page: Any) -> None:
    data = json.dumps(site.file(site.ids[0]))
    page.goto(site.url + "/verify")

    def focused() -> str:
        return str(
            page.evaluate("document.activeElement && (document.activeElement.id || document.activeElement.tagName)")
        )

    seen = []
    for _ in range(25):  # Tab through the page to the file input, then to the paste box
        page.keyboard.press("Tab")
        seen.append(focused())
        if seen[-1] == "credential":
            break
    assert "file" in seen and seen[-1] == "credential", seen
    page.keyboard.insert_text(data)  # what a paste does
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName === 'BUTTON' && document.activeElement.type === 'submit'"):
            break
    else:
        pytest.fail(f"Tab never reached the Verify button (last focus: {focused()})")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Verify"
    page.keyboard.press("Enter")
    page.wait_for_selector("#verdict")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'verdict'")
    assert page.locator("#verdict").inner_text() == "VALID"
    # Announced: a polite live region says the verdict; the verdict names its section.
    status = page.locator("#status")
    assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
    page.wait_for_function("document.getElementById('status').textContent.includes('VALID')")
    assert page.locator("#result").get_attribute("aria-labelledby") == "result-title"
