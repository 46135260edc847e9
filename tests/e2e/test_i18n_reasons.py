"""The checks' reasons in Spanish (issue 14; registry/locales/reasons.py), on a real anvil: the
CLI report of a revoked, a superseded and a tampered file with ``--lang es`` gives each reason in
Spanish (the JSON report keeps the English), and in real Chromium the verifier page (``/verify``)
and the share page's live check show a revoked credential's reason in Spanish."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from registry.cli.app import app
from registry.locales.reasons import localize
from tests.chain_fixtures import Registry
from tests.e2e import test_page_stack, test_pages
from tests.e2e.test_pages import Site
from tests.e2e.test_stack import LEARNER
from tests.page_differential import supersede

pytestmark = pytest.mark.e2e

# The pages' fixtures (a served site with anchored credentials, Chromium), for this module.
site, browser, page = test_pages.site, test_pages.browser, test_pages.page
# A learner's stack and its published pathway, for this module.
stack, published = test_page_stack.stack, test_page_stack.published

ENGLISH_PASSES = (
    "well-formed credential file",
    "credential digest recomputed",
    "the Merkle path leads",
    "batch root anchored",
    "issued by",
    "valid from",
)
SPANISH_PASSES = (
    "archivo de credencial bien formado",
    "recalculado a partir de los campos revelados",
    "la ruta de Merkle lleva",
    "raíz del lote anclada en la cadena",
    "emitida por",
    "válida desde",
)
ENV = {"REGISTRY_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}
ES_ES = {"Accept-Language": "es-ES,es;q=0.9"}
TIMEOUT_MS = 30_000


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def _digest(data: dict[str, Any]) -> str:
    return str(data["proof"][-1]["credentialDigest"])


def _verify(registry: Registry, path: Path, *args: str) -> Any:
    env = {**ENV, "REGISTRY_HOME": str(registry.settings.home)}
    return CliRunner().invoke(app, ["verify", "--rpc", registry.rpc_url, str(path), *args], env=env)


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), "utf-8")
    return path


def test_cli_reports_a_revoked_a_superseded_and_a_tampered_file_in_spanish(registry: Registry, tmp_path: Path) -> None:
    old = [_load(p) for p in registry.issue(4).files]
    new = [_load(p) for p in registry.issue(1).files]
    registry.client.writes.revoke_credentials(registry.issuer_key, [_digest(old[0])], 3)
    _, superseded_at = supersede(registry, old[1], new[0], "correction")
    day = datetime.fromtimestamp(superseded_at, UTC).date().isoformat()
    tampered = copy.deepcopy(old[2])
    tampered["credentialSubject"]["name"] = "Eve Mallory"

    revoked = _verify(registry, _write(tmp_path, "revoked.json", old[0]), "--lang", "es")
    assert revoked.exit_code == 1, revoked.output
    assert "NO VÁLIDA" in revoked.output
    line = next(x for x in revoked.output.splitlines() if "revocación" in x)
    assert "revocada por el emisor el " in line and line.endswith(": mala conducta académica o profesional"), line
    assert "revoked by the issuer" not in revoked.output
    # Every reason of the report is Spanish: no English reason is left.
    for english in ENGLISH_PASSES:
        assert english not in revoked.output, (english, revoked.output)
    for spanish in SPANISH_PASSES:
        assert spanish in revoked.output, (spanish, revoked.output)

    superseded = _verify(registry, _write(tmp_path, "superseded.json", old[1]), "--lang", "es")
    assert superseded.exit_code == 1, superseded.output
    assert f"reemplazada por {new[0]['id']} el {day}: corrección" in superseded.output, superseded.output

    bad = _verify(registry, _write(tmp_path, "tampered.json", tampered), "--lang", "es")
    assert bad.exit_code == 1, bad.output
    text = " ".join(bad.output.split())  # the terminal may wrap long lines
    assert "el contenido no coincide con el resumen (digest) anclado" in text, bad.output
    assert "El archivo se modificó después de su emisión." in text, bad.output
    assert "la firma del emisor no coincide: la credencial se modificó después de firmarse" in text, bad.output

    # English stays as it was, and the JSON report keeps the English reasons whatever the language.
    english = _verify(registry, tmp_path / "revoked.json")
    assert ": academic or professional misconduct" in english.output and "revocada" not in english.output
    as_json = _verify(registry, tmp_path / "revoked.json", "--json", "--lang", "es")
    report = json.loads(as_json.stdout)
    reason = next(c["reason"] for c in report["checks"] if c["name"] == "revocation")
    assert reason.startswith("revoked by the issuer on ") and reason.endswith(": academic or professional misconduct")


def test_cli_stack_report_in_spanish(
    registry: Registry, published: str, stack: dict[str, Path], tmp_path: Path
) -> None:
    definition = tmp_path / "pathway.json"
    definition.write_text(published, "utf-8")
    env = {**ENV, "REGISTRY_HOME": str(registry.settings.home)}
    base = ["verify", "--rpc", registry.rpc_url, "--pathway", str(definition), "--lang", "es"]
    files = [str(stack["python"]), str(stack["statistics"]), str(stack["ml"])]
    complete = CliRunner().invoke(app, [*base, "--learner", LEARNER, *files], env=env)
    assert complete.exit_code == 0, complete.output
    text = " ".join(complete.output.split())
    assert "anclado por su propietario" in text and "en el bloque" in text, complete.output
    assert f"todos los componentes legibles indican al estudiante {LEARNER}" in text, complete.output
    assert "se cumplen los requisitos de " in text and " créditos)" in text, complete.output
    partial = CliRunner().invoke(app, [*base, "--learner", LEARNER, *files[:2]], env=env)
    assert partial.exit_code == 6, partial.output
    assert partial.output.splitlines()[-1].startswith("aún no está completo: "), partial.output
    unbound = CliRunner().invoke(app, [*base, *files], env=env)
    assert unbound.exit_code == 2, unbound.output
    text = " ".join(unbound.output.split())
    # the summary too: the check's label and its reason in Spanish
    assert "estudiante: no se indicó el estudiante: revele una vez su correo electrónico (--learner)" in text, text


def _verify_on_page(page: Any, path: Path, button: str) -> None:
    page.locator("#file").set_input_files(str(path))
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_selector("#verdict", timeout=TIMEOUT_MS)


def test_pages_show_a_revoked_credentials_reason_in_spanish(
    site: Site, registry: Registry, page: Any, tmp_path: Path
) -> None:
    cid = site.ids[1]
    data = site.file(cid)
    registry.client.writes.revoke_credentials(registry.issuer_key, [_digest(data)], 5)
    path = _write(tmp_path, "credential.json", data)

    # The verifier page, served in Spanish: the reasons computed in the browser are Spanish.
    page.goto(f"{site.url}/verify?lang=es")
    _verify_on_page(page, path, "Verificar")
    assert page.locator("#verdict").get_attribute("data-verdict") == "INVALID"
    revocation = page.locator('#checks [data-check="revocation"] p').inner_text()
    assert revocation.startswith("revocada por el emisor el "), revocation
    assert revocation.endswith(": retirada a petición del titular"), revocation
    summary = page.locator("#summary").inner_text()
    assert summary.startswith("revocación: revocada por el emisor el "), summary
    # The machine-readable report keeps the English; every reason shown is the Spanish of one.
    report = json.loads(page.locator("#report-json").text_content())
    english = next(c["reason"] for c in report["checks"] if c["name"] == "revocation")
    assert english.endswith(": withdrawn at the holder's request"), english
    for check in report["checks"]:
        shown = page.locator(f'#checks [data-check="{check["name"]}"] p').inner_text()
        assert shown == localize(check["reason"], "es") != check["reason"], (shown, check["reason"])
    issuer = page.locator('#checks [data-check="issuer"] p').inner_text()
    assert issuer.endswith("registro de confianza según los registros de confianza indicados en esta página"), issuer
    page.screenshot(path=str(site.out / "verify-es-revoked.png"), full_page=True)

    # A tampered file: the integrity and signature reasons the browser computed, in Spanish.
    tampered = copy.deepcopy(site.file(site.ids[2]))
    tampered["credentialSubject"]["name"] = "Eve Mallory"
    page.goto(f"{site.url}/verify?lang=es")
    _verify_on_page(page, _write(tmp_path, "tampered.json", tampered), "Verificar")
    report = json.loads(page.locator("#report-json").text_content())
    failed = {c["name"]: c["reason"] for c in report["checks"] if c["status"] == "fail"}
    assert {"integrity", "signature"} <= failed.keys(), failed
    for name, reason in failed.items():
        shown = page.locator(f'#checks [data-check="{name}"] p').inner_text()
        assert shown == localize(reason, "es") != reason, (shown, reason)
    assert (
        "El archivo se modificó después de su emisión."
        in page.locator('#checks [data-check="integrity"] p').inner_text()
    )

    # In English the page is as before.
    page.goto(f"{site.url}/verify?lang=en")
    _verify_on_page(page, path, "Verify")
    shown = page.locator('#checks [data-check="revocation"] p').inner_text()
    assert shown == english

    # The share page's live check (the verifier library in the page), by Accept-Language.
    page.set_extra_http_headers(ES_ES)
    page.goto(f"{site.url}/c/{cid}?lang=es")
    page.wait_for_selector("#live-verdict", timeout=TIMEOUT_MS)
    assert page.locator("#live-verdict").get_attribute("data-verdict") == "INVALID"
    live = page.locator('#live-checks [data-check="revocation"] p')
    assert live.inner_text() == revocation
    assert live.get_attribute("lang") is None  # translated: no longer marked as English
    anchor = page.locator('#live-checks [data-check="anchor"] p').inner_text()
    assert anchor.startswith("raíz del lote anclada en la cadena"), anchor
