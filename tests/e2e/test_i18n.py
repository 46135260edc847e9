"""Languages (issue 14): the service pages, the printable certificate and the CLI report in English
and Spanish (registry.locales: gettext catalogs read with Babel; ``?lang=`` switch, else the
switch's cookie, else ``Accept-Language``, else English), a credential's name given in several
languages shown in the page's, axe-core on the Spanish share page, and every msgid translated."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from sqlmodel import Session
from typer.testing import CliRunner

from registry import locales
from registry.cli.app import app
from registry.service.store import CredentialRow
from tests.chain_fixtures import Registry
from tests.e2e import test_page_stack, test_pages
from tests.e2e.test_accessibility import _axe, _published_pathway
from tests.e2e.test_pages import Site
from tests.e2e.test_stack import LEARNER

pytestmark = pytest.mark.e2e

# The pages' fixtures (a served site with anchored credentials, Chromium), for this module.
site, browser, page = test_pages.site, test_pages.browser, test_pages.page
# A learner's stack and its published pathway (the verifier page's stack form), for this module.
stack, published = test_page_stack.stack, test_page_stack.published

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "registry" / "service" / "api" / "templates"
PYTHON_SOURCES = [
    ROOT / "registry" / "issue" / "certificate.py",
    ROOT / "registry" / "cli" / "verify.py",
    ROOT / "registry" / "service" / "api" / "routes" / "pages.py",
    ROOT / "registry" / "locales" / "words.py",
]
# Msgids passed as variables (not literals the extractor sees): message pages, dashboard states.
DYNAMIC_MSGIDS = [
    "Verifier page not built",
    "Credential not found",
    "There is no credential at this address. Check the link.",
    "Not available yet",
    "Not found",
    "There is no published pathway or no credential at this address. Check the link.",
    "This credential has been revoked by its issuer: it no longer verifies.",
    *("queued", "batched", "released", "revoked", "pending", "submitted", "confirmed", "failed", "delivered"),
]
ES_ES = {"Accept-Language": "es-ES,es;q=0.9"}


def _html_lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found, html[:200]
    return found.group(1)


def test_every_msgid_has_a_spanish_translation() -> None:
    ids: set[tuple[str | None, str]] = set()
    for path in sorted(TEMPLATES.glob("*.html")):
        for _, msg, _, ctx in extract_from_file(
            "jinja2.ext:babel_extract", str(path), keywords=DEFAULT_KEYWORDS, options={"trimmed": "false"}
        ):
            ids.add((ctx, msg if isinstance(msg, str) else msg[0]))
    for path in PYTHON_SOURCES:
        for _, msg, _, ctx in extract_from_file("python", str(path), keywords=DEFAULT_KEYWORDS):
            ids.add((ctx, msg if isinstance(msg, str) else msg[0]))
    ids.update((None, m) for m in DYNAMIC_MSGIDS)
    assert len(ids) > 100  # the extractors did find the templates' and the code's strings
    es = locales.translations("es")
    # (No Spanish translation is the same as its English msgid today.)
    untranslated = sorted(m for ctx, m in ids if (es.pgettext(ctx, m) if ctx else es.gettext(m)) == m)
    assert not untranslated, untranslated
    # Placeholders survive translation (a lost %(name)s would raise or drop data at run time).
    from babel.messages.pofile import read_po

    with (ROOT / "registry/locales/es/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po, locale="es")
    for message in catalog:
        if message.id and isinstance(message.id, str):
            assert sorted(re.findall(r"%\(\w+\)[sd]|%[sd]", message.id)) == sorted(
                re.findall(r"%\(\w+\)[sd]|%[sd]", str(message.string))
            ), message.id
            assert not message.fuzzy, message.id


def test_language_choice_and_language_values() -> None:
    assert locales.choose(None, None) == "en"
    assert locales.choose(None, "es-ES,es;q=0.9") == "es"
    assert locales.choose(None, "fr-CH, fr;q=0.9, es;q=0.8, en;q=0.7") == "es"
    assert locales.choose(None, "de, en;q=0.1") == "en"
    assert locales.choose("en", "es") == "en" and locales.choose("es-MX", None) == "es"
    assert locales.choose("xx", "es;q=0, en") == "en"
    names = [{"@value": "Data Analysis", "@language": "en"}, {"@value": "Análisis de datos", "@language": "es-ES"}]
    assert locales.localized(names, "es") == "Análisis de datos" and locales.localized(names, "en") == "Data Analysis"
    assert locales.localized(names, "fr") == "Data Analysis"  # no French: English, the first here
    assert locales.localized({"en": "A", "es": "B"}, "es") == "B"
    assert locales.localized("Plain", "es") == "Plain" and locales.localized(None) == ""
    assert locales.format_date("2026-12-05T10:00:00Z", "es") == "5 de diciembre de 2026"
    assert locales.format_date("2026-12-05", "en") == "December 5, 2026"


def test_share_page_in_spanish_by_switch_and_by_accept_language(site: Site) -> None:
    url = f"{site.url}/c/{site.ids[0]}"
    english = httpx.get(url)
    assert english.status_code == 200 and _html_lang(english.text) == "en"
    assert "Issued by" in english.text and "Emitida por" not in english.text
    assert english.headers["content-language"] == "en"
    by_switch = httpx.get(url + "?lang=es")
    by_header = httpx.get(url, headers=ES_ES)
    for r in (by_switch, by_header):
        assert r.status_code == 200 and _html_lang(r.text) == "es", r.text[:200]
        assert r.headers["content-language"] == "es" and "Accept-Language" in r.headers["vary"]
        for needle in ("Emitida por", "certifica que", "ha obtenido", "Certificado imprimible (PDF)", "Descargas"):
            assert needle in r.text, needle
        assert "Issued by" not in r.text and "Printable certificate (PDF)" not in r.text
        assert f'href="/c/{site.ids[0]}/certificate.pdf?lang=es"' in r.text
        # Dates formatted for the language (Babel): "5 de diciembre de 2026".
        assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\d\">\d{1,2} de [a-z]+ de \d{4}</time>", r.text), r.text
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\d\">[A-Z][a-z]+ \d{1,2}, \d{4}</time>", english.text)
    # The language switch on every page, each link in its own language.
    assert 'lang="es" hreflang="es">Español</a>' in english.text
    assert 'lang="en" hreflang="en" aria-current="true">English</a>' in english.text
    # The switch is remembered (cookie) for the next page; ?lang=en goes back.
    with httpx.Client() as client:
        client.get(url + "?lang=es")
        assert _html_lang(client.get(site.url + "/").text) == "es"
        assert _html_lang(client.get(url + "?lang=en", headers=ES_ES).text) == "en"
        assert _html_lang(client.get(site.url + "/", headers=ES_ES).text) == "en"
    # A message page (404) too.
    missing = httpx.get(f"{site.url}/c/nope?lang=es")
    assert missing.status_code == 404 and "Credencial no encontrada" in missing.text


def test_a_name_given_in_several_languages_is_shown_in_the_pages(site: Site) -> None:
    """Display only: the stored document of one credential gets an achievement name and
    description as VC 2.0 language-value arrays (the share page shows, it does not verify). The
    OB 3.0 JSON Schema a credential file is validated against types them as strings, so such a
    file is not a valid credential file today: the certificate (which parses the file) refuses it
    rather than printing it, and the service would not issue it."""
    cid = site.ids[1]
    with Session(site.db.engine) as session:
        row = session.get(CredentialRow, cid)
        assert row is not None
        doc = json.loads(row.doc)
        achievement = doc["credentialSubject"]["achievement"]
        achievement["name"] = [
            {"@value": "Data Analysis", "@language": "en"},
            {"@value": "Análisis de datos", "@language": "es"},
        ]
        achievement["description"] = [
            {"@value": "Cleaning and charting data.", "@language": "en"},
            {"@value": "Limpieza y representación de datos.", "@language": "es"},
        ]
        row.doc = json.dumps(doc)
        session.add(row)
        session.commit()
    es = httpx.get(f"{site.url}/c/{cid}", headers=ES_ES).text
    en = httpx.get(f"{site.url}/c/{cid}").text
    assert "<span>Análisis de datos</span>" in es and "Limpieza y representación de datos." in es
    assert "<span>Data Analysis</span>" in en and "Cleaning and charting data." in en
    assert "@value" not in es and "@value" not in en
    assert httpx.get(f"{site.url}/c/{cid}/certificate.pdf?lang=es", timeout=30).status_code == 422


def test_progress_page_in_spanish(site: Site, registry: Registry) -> None:
    pathway_id = _published_pathway(site, registry)
    url = f"{site.url}/c/{site.ids[0]}/pathways/{pathway_id}"
    english = httpx.get(url)
    assert english.status_code == 200 and _html_lang(english.text) == "en" and "Still needed" in english.text
    for r in (httpx.get(url + "?lang=es"), httpx.get(url, headers=ES_ES)):
        assert r.status_code == 200 and _html_lang(r.text) == "es"
        for needle in ("Progreso hacia Accessible Pathway", "Todavía no está completo.", "Aún falta", "Requisitos"):
            assert needle in r.text, needle
        assert "Still needed" not in r.text and "Requirements" not in r.text
        # The learner's credential, with its issue date in Spanish.
        assert re.search(r"\d{1,2} de [a-z]+ de \d{4}</a>", r.text), r.text


def _pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\n", " ")


def test_spanish_certificate_renders(site: Site, tmp_path: Path) -> None:
    from tests.e2e.test_certificates import _look_at

    r = httpx.get(f"{site.url}/c/{site.ids[0]}/certificate.pdf?lang=es", timeout=30)
    assert r.status_code == 200 and r.headers["content-language"] == "es"
    width, height, inked = _look_at(r.content, tmp_path / "certificate-es.png")
    assert width > height and 0.01 < inked < 0.5
    text = _pdf_text(r.content)
    for needle in ("certifica que", "ha obtenido", "Cómo verificar esta credencial", "Emitida", "Créditos"):
        assert needle in text, (needle, text)
    assert "How to verify" not in text and re.search(r"\d{1,2} de [a-z]+ de \d{4}", text), text
    english = _pdf_text(httpx.get(f"{site.url}/c/{site.ids[0]}/certificate.pdf", timeout=30).content)
    assert "How to verify this credential" in english and "certifica que" not in english
    # The CLI: --lang es.
    source = tmp_path / "credential.json"
    source.write_text(json.dumps(site.file(site.ids[0]), ensure_ascii=False), "utf-8")
    out = tmp_path / "cert-es.pdf"
    result = CliRunner().invoke(app, ["certificate", str(source), "--out", str(out), "--lang", "es"])
    assert result.exit_code == 0, result.output
    assert "Pida al titular" in _pdf_text(out.read_bytes())
    _look_at(out.read_bytes(), tmp_path / "cert-es-cli.png")


def test_cli_verify_report_in_spanish(site: Site, registry: Registry, tmp_path: Path) -> None:
    source = tmp_path / "credential.json"
    source.write_text(json.dumps(site.file(site.ids[0])), "utf-8")
    env = {"REGISTRY_HOME": str(registry.settings.home), "REGISTRY_LANG": "", "LC_ALL": "", "LC_MESSAGES": ""}
    base = ["verify", "--rpc", registry.rpc_url, str(source)]
    spanish = CliRunner().invoke(app, [*base, "--lang", "es"], env={**env, "LANG": "C.UTF-8"})
    english = CliRunner().invoke(app, base, env={**env, "LANG": "C.UTF-8"})
    by_env = CliRunner().invoke(app, base, env={**env, "LANG": "es_ES.UTF-8"})
    assert spanish.exit_code == english.exit_code == by_env.exit_code == 0, spanish.output
    assert "VÁLIDA" in spanish.output and "emitida por" in spanish.output, spanish.output
    for label in ("formato", "integridad", "inclusión", "anclaje", "emisor", "pruebas comprobadas:"):
        assert label in spanish.output, (label, spanish.output)
    assert ": VALID" in english.output and "issued by" in english.output and "VÁLIDA" not in english.output
    assert by_env.output == spanish.output
    # The machine-readable output never changes with the language.
    as_json = CliRunner().invoke(app, [*base, "--json", "--lang", "es"], env=env)
    assert json.loads(as_json.stdout)["verdict"] == "VALID"


def test_spanish_share_page_has_no_serious_accessibility_violation(site: Site, page: Any) -> None:
    page.set_extra_http_headers(ES_ES)
    page.goto(f"{site.url}/c/{site.ids[0]}")
    assert page.locator("html").get_attribute("lang") == "es"
    serious = _axe(page, "share-es")
    assert not serious, json.dumps(serious, indent=2)
    page.screenshot(path=str(site.out / "share-es.png"), full_page=True)
    print(f"share_page_es_png={site.out / 'share-es.png'}")
    page.goto(f"{site.url}/?lang=es")
    assert not _axe(page, "index-es")


# The verifier page (web/verifier, served at /verify and written by `registry verifier-page`): its
# words are the `verifier` gettext domain, translated in the browser by web/verifier/src/i18n.js.
VERIFIER = ROOT / "web" / "verifier"
VERIFIER_SCRIPTS = [VERIFIER / "src" / "main.js", VERIFIER / "src" / "stackview.js"]
VERIFIER_PO = ROOT / "registry" / "locales" / "es" / "LC_MESSAGES" / "verifier.po"
JS_MSGID = re.compile(r'\bt\(\s*"((?:[^"\\]|\\.)*)"')
CONFIG = re.compile(r'<script type="application/json" id="verifier-config">(.*?)</script>', re.S)


class _MarkedText(HTMLParser):
    """The text of every element marked ``data-i18n`` (whitespace collapsed, as i18n.js does)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, bool, list[str]]] = []
        self.msgids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append((tag, "data-i18n" in dict(attrs), []))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            name, marked, text = self.open.pop()
            if marked:
                self.msgids.append(" ".join("".join(text).split()))
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1][2].append(data)


def _verifier_msgids() -> set[str]:
    """Every msgid of the verifier page: marked static text, and the literal ``t("...")`` calls."""
    parser = _MarkedText()
    parser.feed((VERIFIER / "page.html").read_text("utf-8"))
    ids = set(parser.msgids)
    for path in VERIFIER_SCRIPTS:
        source = path.read_text("utf-8")
        # Only literals: a msgid in a variable would escape this test (and the translators).
        assert not re.findall(r'\bt\(\s*[^"\s]', source), path
        ids.update(json.loads(f'"{m}"') for m in JS_MSGID.findall(source))
    return ids


def _page_config(html: str) -> dict[str, Any]:
    found = CONFIG.search(html)
    assert found, html[:300]
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def test_every_verifier_page_msgid_has_a_spanish_translation() -> None:
    from babel.messages.pofile import read_po

    from registry.verify.report import CHECK_NAMES, CheckStatus, Verdict

    ids = _verifier_msgids()
    assert len(ids) > 100 and "Verify a credential" in ids and "Report (JSON)" in ids
    # The words a report carries are all translatable: check names, statuses, verdicts.
    words = {*CHECK_NAMES, *(s.value for s in CheckStatus), *(v.value for v in Verdict), "INCOMPLETE"}
    assert words <= ids, words - ids
    es = locales.messages("es", "verifier")
    assert not sorted(ids - es.keys())
    assert not sorted(es.keys() - ids)  # no stale entry
    with VERIFIER_PO.open("rb") as po:
        catalog = read_po(po, locale="es", domain="verifier")
    for message in catalog:
        if message.id:
            assert not message.fuzzy and message.string, message.id
            assert sorted(re.findall(r"\{\w+\}", str(message.id))) == sorted(
                re.findall(r"\{\w+\}", str(message.string))
            ), message.id
    assert locales.messages("en", "verifier") == {}
    # The two domains stay apart: the pages' catalog is unchanged by the page's.
    assert locales.translations("es").gettext("Verify a credential") == "Verificar una credencial"
    assert locales.translations("es", "verifier").gettext("Chain") == "Cadena"
    with pytest.raises(ValueError, match="unknown message domain"):
        locales.messages("es", "nope")


def _verify_file(page: Any, site: Site, tmp_path: Path, button: str) -> None:
    """Choose one of the site's credential files in the open verifier page and verify it."""
    source = tmp_path / "credential.json"
    source.write_text(json.dumps(site.file(site.ids[0])), "utf-8")
    page.locator("#file").set_input_files(str(source))
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_selector("#verdict")


def test_verify_page_in_spanish(site: Site, page: Any, tmp_path: Path) -> None:
    by_switch = httpx.get(f"{site.url}/verify?lang=es")
    by_header = httpx.get(f"{site.url}/verify", headers=ES_ES)
    for r in (by_switch, by_header):
        assert r.status_code == 200 and r.headers["content-language"] == "es"
        config = _page_config(r.text)
        assert config["lang"] == "es" and config["messages"]["Verify"] == "Verificar"
        assert [(x["lang"], x["name"]) for x in config["languages"]] == [("en", "English"), ("es", "Español")]
    assert "lang=es" in by_switch.headers["set-cookie"]
    page.goto(f"{site.url}/verify?lang=es")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.title() == "Verificar una credencial"
    assert page.locator("h1").inner_text() == "Verificar una credencial"
    assert page.locator("#bulk-title").inner_text() == "Verificar muchos archivos"
    assert page.get_by_label("Archivo de la credencial (JSON) o insignia", exact=False).count() == 1
    assert page.locator("#bulk-csv").text_content() == "Descargar CSV"  # shown with a result
    switch = page.get_by_role("navigation", name="Idioma")
    assert switch.get_by_role("link", name="Español").get_attribute("aria-current") == "true"
    assert switch.get_by_role("link", name="English").get_attribute("href") == "/verify?lang=en"
    assert not _axe(page, "verify-es-empty")
    _verify_file(page, site, tmp_path, "Verificar")
    verdict = page.locator("#verdict")
    assert verdict.inner_text() == "VÁLIDA" and verdict.get_attribute("data-verdict") == "VALID"
    assert page.locator("#result-title").inner_text() == "Resultado: VÁLIDA"
    names = page.locator("#checks [data-check] strong").all_inner_texts()
    assert names[:4] == ["formato", "integridad", "inclusión", "anclaje"], names
    assert set(page.locator("#checks .status").all_inner_texts()) == {"correcto"}
    assert page.locator("#summary").inner_text() == "todas las comprobaciones son correctas"
    page.wait_for_function("document.getElementById('status').textContent === 'Hecho: VÁLIDA'")
    for term in ("Credencial", "Emisor indicado", "Emisor en la cadena", "Válida"):
        assert page.locator("dl.facts dt", has_text=term).count() >= 1, term
    assert not _axe(page, "verify-es-valid")
    page.screenshot(path=str(site.out / "verify-es.png"), full_page=True)
    # The machine-readable report is never translated.
    assert json.loads(page.locator("#report-json").text_content())["verdict"] == "VALID"
    # Accept-Language alone, in Chromium.
    page.set_extra_http_headers(ES_ES)
    page.goto(f"{site.url}/verify")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("button", name="Verificar", exact=True).count() == 1


def test_verify_page_in_english_is_unchanged(site: Site, page: Any, tmp_path: Path) -> None:
    r = httpx.get(f"{site.url}/verify")
    assert r.status_code == 200 and r.headers["content-language"] == "en"
    assert _page_config(r.text)["messages"] == {}
    page.goto(f"{site.url}/verify")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Verify a credential"
    _verify_file(page, site, tmp_path, "Verify")
    assert page.locator("#verdict").inner_text() == "VALID"
    assert page.locator("#result-title").inner_text() == "Result: VALID"
    assert page.locator("#checks [data-check] strong").all_inner_texts()[:2] == ["format", "integrity"]
    assert (
        page.get_by_role("navigation", name="Language")
        .get_by_role("link", name="English")
        .get_attribute("aria-current")
        == "true"
    )


def test_verifier_page_command_in_spanish(
    page: Any, registry: Registry, published: str, stack: dict[str, Path], tmp_path: Path
) -> None:
    """`registry verifier-page --lang es`: the file opened from disk is Spanish, with no switch
    (there is no server to switch languages), and so is a stack's result; an unknown language is
    refused by render_page."""
    from registry.errors import ConfigError
    from registry.verify.page import render_page

    out = tmp_path / "verify-es.html"
    env = {"REGISTRY_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}
    result = CliRunner().invoke(app, ["verifier-page", "--out", str(out), "--no-trust", "--lang", "es"], env=env)
    assert result.exit_code == 0, result.output
    config = _page_config(out.read_text("utf-8"))
    assert config["lang"] == "es" and config["languages"] == []
    page.goto(out.as_uri())
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("legend").all_inner_texts() == [
        "Conjunto de credenciales para una cualificación (opcional)",
        "Cadena",
    ]
    assert page.locator("#languages").count() == 0
    definition = tmp_path / "pathway.json"
    definition.write_text(published)
    page.get_by_label("URL JSON-RPC de la cadena").fill(registry.rpc_url)
    page.get_by_label("Registros de confianza", exact=False).fill(f"31337 {registry.client.registry_address}")
    page.get_by_label("Archivo de la credencial (JSON) o insignia", exact=False).set_input_files(
        [str(stack["python"]), str(stack["statistics"])]
    )
    page.get_by_label("Itinerario (JSON)").set_input_files(str(definition))
    page.get_by_label("Correo electrónico del estudiante").fill(LEARNER)
    page.get_by_role("button", name="Verificar", exact=True).click()
    page.wait_for_selector("#verdict")
    assert page.get_by_role("heading", name="Resultado del conjunto: INCOMPLETA").count() == 1
    assert page.locator("#verdict").get_attribute("data-verdict") == "INCOMPLETE"
    assert "aún no se cumplen los requisitos" in page.locator("#verdict-meaning").inner_text()
    assert page.locator("#credits-total").inner_text().startswith("Créditos contabilizados: 3 de 5")
    assert "Falta:" in page.locator("[data-requirement=elective]").first.inner_text()
    assert page.locator("#stack-checks [data-check=pathway] strong").inner_text() == "itinerario"
    assert page.locator("#status").inner_text() == "Hecho: conjunto INCOMPLETA"
    assert not _axe(page, "verifier-page-stack-es")
    english = tmp_path / "verify-en.html"
    assert CliRunner().invoke(app, ["verifier-page", "--out", str(english), "--no-trust"], env=env).exit_code == 0
    assert _page_config(english.read_text("utf-8"))["lang"] == "en"
    with pytest.raises(ConfigError, match="no verifier page in language 'fr'"):
        render_page(None, {}, lang="fr")
