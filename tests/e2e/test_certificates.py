"""Printable certificates (issue 14): the PDF of a real anchored credential, from the service
(``GET /c/{id}/certificate.pdf``) and from the CLI (``registry certificate``, JSON and baked PNG),
rendered to PNG with PDFium and looked at; its text extracted with pypdf; its fonts embedded."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlmodel import Session
from typer.testing import CliRunner

from registry.cli.app import app
from registry.core.credential import eu_elements
from registry.core.csvimport import IssueRequest
from registry.issue.badges import baked_png
from registry.service.issuance import credential_file, issue
from registry.service.runtime import create_app
from registry.service.sealing import seal_due
from registry.service.store import CredentialRow
from registry.service.worker import Worker, run_until_idle
from tests.chain_fixtures import Registry, free_port
from tests.reliability_harness import wait_for
from tests.service_support import add_issuer, database, service_settings

pytestmark = pytest.mark.e2e

LEARNER = "José Núñez Ibáñez"


class Served:
    def __init__(self, url: str, cid: str, data: dict[str, Any], out: Path) -> None:
        self.url, self.cid, self.data, self.out = url, cid, data, out


@pytest.fixture(scope="module")
def served(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("certificates")
    gen = database("sqlite", tmp)
    db = next(gen)
    port = free_port()
    settings = service_settings(registry, db, public_url=f"http://127.0.0.1:{port}")
    with Session(db.engine) as session:
        issuer, _, ach = add_issuer(session, registry)
        rows = issue(
            session,
            issuer,
            [IssueRequest(achievement_id=ach, recipient_email="jose@example.org", recipient_name=LEARNER, result="A")],
        )
        session.commit()
        cid = rows[0].id
    seal_due(db.engine, settings, force=True)
    run_until_idle(Worker(settings, db.engine, registry.client))
    with Session(db.engine) as session:
        data = credential_file(session, session.get(CredentialRow, cid))  # type: ignore[arg-type]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine=db.engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the certificates' server to start")
    try:
        yield Served(f"http://127.0.0.1:{port}", cid, data, tmp)
    finally:
        server.should_exit = True
        thread.join(10)
        gen.close()


def _look_at(pdf: bytes, png: Path) -> tuple[int, int, float]:
    """Render page 1 to ``png`` (PDFium, 100 dpi); its size and the share of non-white pixels."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    assert len(document) == 1
    image = document[0].render(scale=100 / 72).to_pil().convert("L")
    image.save(png)
    histogram = image.histogram()
    inked = sum(histogram[:200]) / (image.width * image.height)
    return image.width, image.height, inked


def _text_and_fonts(pdf: bytes) -> tuple[str, list[dict[str, Any]]]:
    from pypdf import PdfReader

    page = PdfReader(io.BytesIO(pdf)).pages[0]
    fonts = []
    for ref in page["/Resources"]["/Font"].values():
        font = ref.get_object()
        descriptor = font.get("/FontDescriptor")
        if descriptor is None and "/DescendantFonts" in font:
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        descriptor = descriptor.get_object() if descriptor is not None else {}
        fonts.append(
            {
                "name": str(font["/BaseFont"]),
                "subtype": str(font["/Subtype"]),
                "embedded": any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")),
            }
        )
    return page.extract_text(), fonts


def _assert_certificate(pdf: bytes, data: dict[str, Any], png: Path, *, paper: str) -> str:
    assert pdf.startswith(b"%PDF-")
    width, height, inked = _look_at(pdf, png)
    assert width > height  # landscape
    expected = {"a4": (1169, 827), "letter": (1100, 850)}[paper]  # 297 x 210 mm, 11 x 8.5 in at 100 dpi
    assert abs(width - expected[0]) <= 2 and abs(height - expected[1]) <= 2, (width, height)
    assert 0.01 < inked < 0.5, inked  # neither blank nor a black page
    text, fonts = _text_and_fonts(pdf)
    proof = data["proof"][-1]
    achievement = data["credentialSubject"]["achievement"]
    eu = eu_elements(achievement)  # v2: creditsAvailable and an EQF alignment
    for needle in (
        LEARNER,
        data["issuer"]["name"],
        data["issuer"]["id"],
        achievement["name"],
        f"{eu['ects']:g} ECTS",
        f"EQF {eu['eqf_level']}",
        proof["registry"],
        proof["merkleRoot"],
        f"chain id {proof['chainId']}",
        "registry verify",
    ):
        assert needle in text.replace("\n", " ") or needle in text, (needle, text)
    assert fonts and all(f["embedded"] for f in fonts), fonts
    assert all("DejaVuSans" in f["name"] for f in fonts), fonts
    return text


def test_service_serves_the_certificate_pdf_a4_and_letter(served: Served) -> None:
    r = httpx.get(f"{served.url}/c/{served.cid}/certificate.pdf", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith('attachment; filename="certificate-')
    text = _assert_certificate(r.content, served.data, served.out / "certificate-a4.png", paper="a4")
    assert f"/c/{served.cid}" in text.replace("\n", "")  # the share page, also in the QR code
    letter = httpx.get(f"{served.url}/c/{served.cid}/certificate.pdf?paper=letter", timeout=30)
    _assert_certificate(letter.content, served.data, served.out / "certificate-letter.png", paper="letter")
    assert httpx.get(f"{served.url}/c/{served.cid}/certificate.pdf?paper=a3").status_code == 422
    assert httpx.get(f"{served.url}/c/doesnotexist/certificate.pdf").status_code == 404
    print(f"certificate_pdf_bytes={len(r.content)} png={served.out / 'certificate-a4.png'}")


def test_share_page_links_the_certificate(served: Served) -> None:
    html = httpx.get(f"{served.url}/c/{served.cid}").text
    assert f'href="/c/{served.cid}/certificate.pdf"' in html and "Printable certificate (PDF)" in html


def test_cli_writes_the_certificate_from_a_json_file_and_a_baked_badge(served: Served, tmp_path: Path) -> None:
    import json

    source = tmp_path / "credential.json"
    source.write_text(json.dumps(served.data, ensure_ascii=False), "utf-8")
    badge = tmp_path / "badge.png"
    badge.write_bytes(baked_png(served.data))
    runner = CliRunner()
    for i, (path, paper) in enumerate([(source, "a4"), (badge, "letter")]):
        out = tmp_path / f"cert-{i}.pdf"
        share = f"https://uni.example/c/{served.cid}"
        result = runner.invoke(
            app, ["certificate", str(path), "--out", str(out), "--paper", paper, "--share-url", share]
        )
        assert result.exit_code == 0, result.output
        assert str(out) in result.output
        text = _assert_certificate(out.read_bytes(), served.data, tmp_path / f"cert-{i}.png", paper=paper)
        assert share in text.replace("\n", "")
    # Without a share URL: no QR code, the instructions say to ask the holder for the file.
    out = tmp_path / "no-share.pdf"
    assert runner.invoke(app, ["certificate", str(source), "--out", str(out)]).exit_code == 0
    assert "Ask the holder" in _text_and_fonts(out.read_bytes())[0]
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a credential"}')
    result = runner.invoke(app, ["certificate", str(bad), "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == 3 and not (tmp_path / "x.pdf").exists()
    result = runner.invoke(app, ["certificate", str(source), "--out", str(tmp_path / "y.pdf"), "--paper", "a3"])
    assert result.exit_code == 3
