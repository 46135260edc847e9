"""Languages (issue 14): the service pages, the printable certificate and the CLI report in English
and Spanish (registry.locales: gettext catalogs read with Babel; ``?lang=`` switch, else the
switch's cookie, else ``Accept-Language``, else English), a credential's name given in several
languages shown in the page's, axe-core on the Spanish share page, and every msgid translated."""

from __future__ import annotations

import io
import json
import re
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
from tests.e2e import test_pages
from tests.e2e.test_accessibility import _axe, _published_pathway
from tests.e2e.test_pages import Site

pytestmark = pytest.mark.e2e

# The pages' fixtures (a served site with anchored credentials, Chromium), for this module.
site, browser, page = test_pages.site, test_pages.browser, test_pages.page

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "registry" / "service" / "api" / "templates"
PYTHON_SOURCES = [
    ROOT / "registry" / "issue" / "certificate.py",
    ROOT / "registry" / "cli" / "verify.py",
    ROOT / "registry" / "service" / "api" / "routes" / "pages.py",
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
