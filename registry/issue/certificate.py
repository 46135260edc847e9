"""Printable certificates: a one-page landscape PDF (A4 or US Letter) of a credential file.

The page names the issuer (name and DID), the learner (when the file discloses the name), the
achievement (name, description), its credits and level (ECTS / EQF, the EU micro-credential
elements of the achievement), the dates, a QR code of the share page, and how to verify the
*file* (the PDF itself proves nothing: it is a readable copy, the credential file is what verifies).

Made with ReportLab (canvas API, PDF 1.4). The text face is DejaVu Sans (Latin with extended
Latin, Greek and Cyrillic), read from the copy matplotlib ships, so the result never depends on
the fonts of the machine; the glyphs used are embedded as TrueType subsets. The output is
byte-for-byte reproducible for the same input (``invariant``: no creation time, fixed file id).

Languages (``lang``): the fixed words come from the gettext catalogs of :mod:`registry.locales`,
dates are formatted for the language with Babel, and a ``name``/``description`` the issuer gave in
several languages (VC 2.0 §11.1 value objects or a language map) is shown in the certificate's.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

import segno
from reportlab.lib.pagesizes import A4, LETTER, landscape
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from registry.core.credential import eu_elements
from registry.core.credfile import parse_credential_file
from registry.errors import InvalidInput
from registry.locales import DEFAULT, format_date, localized, normalise, translator

__all__ = ["PAPER_SIZES", "CertificateText", "certificate_text", "render_certificate"]

Paper = Literal["a4", "letter"]
PAPER_SIZES: Final[dict[str, tuple[float, float]]] = {"a4": landscape(A4), "letter": landscape(LETTER)}
REGULAR: Final = "DejaVuSans"
BOLD: Final = "DejaVuSans-Bold"
INK: Final = (0.10, 0.10, 0.10)
MUTED: Final = (0.33, 0.33, 0.33)
ACCENT: Final = (0.11, 0.31, 0.85)
ALERT: Final = (0.64, 0.09, 0.10)


@cache
def _register_fonts() -> None:
    """Register DejaVu Sans (regular, bold) from matplotlib's data folder, once per process."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(REGULAR, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))


def _text(value: Any, lang: str = DEFAULT) -> str:
    """A plain value, a language map (``{"en": ..., "es": ...}``) or language-value objects as one
    string in ``lang`` when there are several ('' for none)."""
    return localized(value, lang)


def _date(value: Any, lang: str = DEFAULT) -> str:
    return format_date(_text(value), lang)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else _text(value)


@dataclass(frozen=True)
class CertificateText:
    """What the certificate says, taken from a credential file (no layout)."""

    issuer_name: str
    issuer_did: str
    learner: str | None
    achievement: str
    description: str
    facts: list[tuple[str, str]]
    credential_id: str
    chain_id: int
    registry: str
    root: str
    anchor_tx: str
    anchor_block: int
    instructions: list[str]
    lang: str = DEFAULT


def certificate_text(
    credential: bytes | str | Mapping[str, Any],
    *,
    share_url: str | None = None,
    verify_url: str | None = None,
    lang: str = DEFAULT,
) -> CertificateText:
    """Parse ``credential`` (validated like any credential file) and collect the certificate's text.

    ``share_url``: where the credential can be downloaded (its share page); ``verify_url``: a
    verifier page; ``lang``: the language of the words, dates and multilingual names. Raises
    :class:`~registry.errors.CredentialFormatError` for a file that is not a credential file.
    """
    lang = normalise(lang) or DEFAULT
    _ = translator(lang)
    cf = parse_credential_file(credential)
    cred = cf.credential
    issuer = cred.get("issuer")
    issuer_name = _text(issuer.get("name"), lang) if isinstance(issuer, Mapping) else ""
    issuer_did = _text(issuer.get("id")) if isinstance(issuer, Mapping) else _text(issuer)
    subject = cred.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, Mapping) else {}
    facts: list[tuple[str, str]] = []
    elements = eu_elements(achievement)  # format v1 extension terms or v2 Open Badges terms
    ects, eqf = elements["ects"], elements["eqf_level"]
    if ects is not None:
        facts.append((_("Credits"), f"{_number(ects)} ECTS"))
    if eqf is not None:
        facts.append((_("Level"), f"EQF {_number(eqf)}"))
    results = subject.get("result")
    if isinstance(results, list) and results and isinstance(results[0], Mapping) and results[0].get("value"):
        facts.append((_("Result"), _text(results[0]["value"], lang)))
    facts.append((_("Issued"), _date(cred.get("validFrom"), lang)))
    if cred.get("validUntil"):
        facts.append((_("Valid until"), _date(cred.get("validUntil"), lang)))
    facts.append((_("Anchored"), _date(cf.proof.get("anchoredAt"), lang)))
    anchor = cf.anchor
    get = (
        _("Download the credential file (JSON) or badge image from %s") % share_url
        if share_url
        else _("Ask the holder for the credential file (JSON) or the baked badge image (PNG, SVG)")
    )
    page = (
        _("open %s (or a page from `registry verifier-page`)") % verify_url
        if verify_url
        else _("open the verifier page (`registry verifier-page --out verify.html`)")
    )
    instructions = [
        _("%s. This printout is a readable copy; the file is what verifies.") % get,
        _(
            "Command line: `registry verify credential.json` (exit code 0 = VALID, 1 = INVALID, "
            "2 = INDETERMINATE); it reads the blockchain only, not the issuer's server."
        ),
        _("In a browser: %s and drop the file; the checks run in your browser, the file is not uploaded.") % page,
        _(
            "The anchor to expect: chain id %(chain)s, registry %(registry)s, batch root %(root)s, "
            "transaction %(tx)s (block %(block)s)."
        )
        % {
            "chain": anchor.chain_id,
            "registry": anchor.registry,
            "root": cf.proof["merkleRoot"],
            "tx": anchor.anchor_tx,
            "block": anchor.anchor_block,
        },
    ]
    return CertificateText(
        issuer_name=issuer_name,
        issuer_did=issuer_did,
        learner=_text(subject.get("name"), lang) or None,
        achievement=_text(achievement.get("name"), lang) or _text(cred.get("name"), lang) or _("Credential"),
        description=_text(achievement.get("description"), lang),
        facts=facts,
        credential_id=_text(cred.get("id")),
        chain_id=anchor.chain_id,
        registry=anchor.registry,
        root=str(cf.proof["merkleRoot"]),
        anchor_tx=anchor.anchor_tx,
        anchor_block=anchor.anchor_block,
        instructions=instructions,
        lang=lang,
    )


class _Writer:
    """Centred and wrapped text on a canvas, top to bottom."""

    def __init__(self, c: Canvas, left: float, width: float, top: float, *, draw: bool = True) -> None:
        self.c, self.left, self.width, self.y, self.draw = c, left, width, top, draw

    def lines(
        self,
        text: str,
        *,
        font: str = REGULAR,
        size: float = 11,
        colour: tuple[float, float, float] = INK,
        centre: bool = True,
        max_lines: int = 4,
        gap: float = 0.35,
        width: float | None = None,
    ) -> None:
        if not text:
            return
        width = width or self.width
        wrapped = simpleSplit(text, font, size, width)
        if len(wrapped) > max_lines:
            wrapped = wrapped[:max_lines]
            last = wrapped[-1]
            while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
                last = last[:-1]
            wrapped[-1] = last.rstrip() + "…"
        self.c.setFillColorRGB(*colour)
        self.c.setFont(font, size)
        for line in wrapped:
            self.y -= size * 1.2
            if not self.draw:
                continue
            if centre:
                self.c.drawCentredString(self.left + self.width / 2, self.y, line)
            else:
                self.c.drawString(self.left, self.y, line)
        self.y -= size * gap


def _qr(c: Canvas, url: str, x: float, y: float, size: float) -> None:
    """The QR code of ``url`` as vector squares, ``size`` points wide, bottom-left at (x, y)."""
    rows = list(segno.make(url, error="m").matrix_iter(scale=1, border=2))
    cell = size / len(rows)
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(rows):
        for col, dark in enumerate(row):
            if dark:
                c.rect(x + col * cell, y + size - (r + 1) * cell, cell + 0.05, cell + 0.05, stroke=0, fill=1)


def _main_block(w: _Writer, info: CertificateText, notice: str | None) -> None:
    _ = translator(info.lang)
    if notice:
        w.lines(notice, font=BOLD, size=13, colour=ALERT, max_lines=2)
    w.lines(info.issuer_name, font=BOLD, size=18, colour=ACCENT, max_lines=2, gap=0.1)
    w.lines(info.issuer_did, size=9, colour=MUTED, max_lines=1, gap=1.6)
    w.lines(_("certifies that") if info.learner else _("certifies that the holder of this credential"), size=12)
    if info.learner:
        w.lines(info.learner, font=BOLD, size=28, max_lines=2, gap=0.6)
    w.lines(_("has achieved"), size=12, gap=0.6)
    w.lines(info.achievement, font=BOLD, size=22, max_lines=2, gap=0.5)
    w.lines(info.description, size=11, colour=MUTED, max_lines=3, gap=1.2, width=w.width * 0.85)
    w.lines("  ·  ".join(f"{k}: {v}" for k, v in info.facts), font=BOLD, size=11, max_lines=2)


def render_certificate(
    credential: bytes | str | Mapping[str, Any],
    *,
    paper: str = "a4",
    share_url: str | None = None,
    verify_url: str | None = None,
    notice: str | None = None,
    lang: str = DEFAULT,
) -> bytes:
    """The certificate of ``credential`` as PDF bytes.

    ``paper``: ``a4`` or ``letter`` (landscape either way). ``share_url``: the QR code and the
    instructions point there (no QR code without it). ``notice``: a line in red at the top (e.g.
    that the credential was revoked), already in ``lang``. ``lang``: ``en`` or ``es``
    (:data:`registry.locales.LANGUAGES`; another falls back to English).
    """
    if paper not in PAPER_SIZES:
        raise InvalidInput("paper", f"must be one of {', '.join(PAPER_SIZES)}, not {paper!r}")
    info = certificate_text(credential, share_url=share_url, verify_url=verify_url, lang=lang)
    _ = translator(info.lang)
    _register_fonts()
    width, height = PAPER_SIZES[paper]
    buffer = io.BytesIO()
    # initialFontName: else ReportLab puts Helvetica (a font never embedded) in the resources.
    # (types-reportlab 5.0.0.20261008 types it as a float: a mistake in the stub.)
    c = Canvas(
        buffer,
        pagesize=(width, height),
        invariant=True,
        pageCompression=True,
        lang=info.lang,
        initialFontName=REGULAR,  # type: ignore[arg-type]
    )
    title = f"{info.achievement} – {info.learner}" if info.learner else info.achievement
    c.setTitle(title)
    c.setAuthor(info.issuer_name or info.issuer_did)
    c.setSubject(_("Certificate of a blockchain-anchored credential (%s)") % info.credential_id)
    c.setCreator("credential-registry")

    margin = 28.0
    c.setStrokeColorRGB(*ACCENT)
    c.setLineWidth(3)
    c.rect(margin, margin, width - 2 * margin, height - 2 * margin)
    c.setLineWidth(0.8)
    c.rect(margin + 6, margin + 6, width - 2 * margin - 12, height - 2 * margin - 12)

    inner = margin + 30
    band_top = margin + 22 + 118
    top = height - margin - 24
    # Measure the main block once, then draw it centred in the space above the bottom band.
    dry = _Writer(c, inner, width - 2 * inner, top, draw=False)
    _main_block(dry, info, notice)
    spare = max(0.0, (dry.y - (band_top + 12)) / 2)
    _main_block(_Writer(c, inner, width - 2 * inner, top - spare), info, notice)

    # Bottom band: the verification instructions on the left, the QR code on the right.
    qr_size = 96.0 if share_url else 0.0
    c.setStrokeColorRGB(*MUTED)
    c.setLineWidth(0.4)
    c.line(inner, band_top + 6, width - inner, band_top + 6)
    text_width = width - 2 * inner - (qr_size + 24 if share_url else 0)
    v = _Writer(c, inner, text_width, band_top)
    v.lines(_("How to verify this credential"), font=BOLD, size=9.5, centre=False, max_lines=1, gap=0.3)
    for number, step in enumerate(info.instructions, 1):
        v.lines(f"{number}. {step}", size=7.6, colour=INK, centre=False, max_lines=3, gap=0.25)
    c.setFont(REGULAR, 7)
    c.setFillColorRGB(*MUTED)
    c.drawString(inner, margin + 14, _("Credential %s") % info.credential_id)
    if share_url:
        qx, qy = width - inner - qr_size, band_top - qr_size - 4
        _qr(c, share_url, qx, qy, qr_size)
        c.setFont(REGULAR, 7)
        c.setFillColorRGB(*MUTED)
        c.drawCentredString(qx + qr_size / 2, qy - 9, _("Scan to open the share page"))
    c.showPage()
    c.save()
    return buffer.getvalue()
