"""Baked badges: a credential embedded in its badge image (Open Badges 3.0, "Baking").

Implements OB 3.0 §5.3 (Baked Badges): in a PNG the credential JSON is the text of an
*uncompressed* ``iTXt`` chunk with keyword ``openbadgecredential``; in an SVG it is the CDATA
content of an ``openbadges:credential`` element (namespace
``https://purl.imsglobal.org/ob/v3p0``) that is the first child of the root ``svg`` element.
Images are read and written through pypng's chunk API, never by hand; SVG is parsed with
defusedxml with DTDs forbidden (no entities, no external references). Any input that is not a
well-formed badge carrying one credential raises :class:`CredentialFormatError` and nothing else.
"""

from __future__ import annotations

import io
import json
import zlib
from typing import Any, Final
from xml.dom import minidom

import png
from defusedxml import DefusedXmlException
from defusedxml.minidom import parse as parse_xml

from registry.errors import CredentialFormatError

__all__ = [
    "MAX_CREDENTIAL_BYTES",
    "MAX_IMAGE_BYTES",
    "OB3_NAMESPACE",
    "PNG_KEYWORD",
    "SVG_ELEMENT",
    "badge_names",
    "bake_png",
    "bake_svg",
    "extract_if_baked",
    "extract_png",
    "extract_svg",
    "sniff",
]

OB3_NAMESPACE: Final = "https://purl.imsglobal.org/ob/v3p0"
PNG_KEYWORD: Final = b"openbadgecredential"
SVG_ELEMENT: Final = "openbadges:credential"
MAX_IMAGE_BYTES: Final = 10 * 1024 * 1024
MAX_CREDENTIAL_BYTES: Final = 1024 * 1024
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_OB2_PNG_KEYWORD: Final = b"openbadges"
_SVG_NS: Final = "http://www.w3.org/2000/svg"


# -- helpers ---------------------------------------------------------------------------------


def _fail(problem: str) -> CredentialFormatError:
    return CredentialFormatError("badge", problem)


def _credential_json(credential: dict[str, Any]) -> bytes:
    text = json.dumps(credential, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(text) > MAX_CREDENTIAL_BYTES:
        raise _fail(f"the credential is {len(text)} bytes; a baked badge holds at most {MAX_CREDENTIAL_BYTES} bytes")
    return text


def _check_image_size(data: bytes, kind: str) -> None:
    if len(data) > MAX_IMAGE_BYTES:
        raise _fail(
            f"the {kind} image is {len(data)} bytes; badge images may be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
        )


def _check_credential(payload: bytes, where: str) -> bytes:
    if len(payload) > MAX_CREDENTIAL_BYTES:
        raise _fail(
            f"the credential embedded in the {where} is {len(payload)} bytes, more than the "
            f"limit of {MAX_CREDENTIAL_BYTES} bytes"
        )
    try:
        json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(f"the credential embedded in the {where} is not UTF-8 JSON: {exc}") from exc
    except RecursionError:
        raise _fail(f"the credential embedded in the {where} is JSON nested too deeply") from None
    return payload


def badge_names(credential: dict[str, Any]) -> tuple[str, str]:
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    name = achievement.get("name") if isinstance(achievement, dict) else None
    name = name or credential.get("name") or "Credential"
    issuer = credential.get("issuer")
    issuer_name = issuer.get("name") if isinstance(issuer, dict) else issuer
    return str(name), str(issuer_name or "")


def sniff(data: bytes) -> str:
    """``"png"``, ``"svg"``, ``"pdf"`` or ``"json"``: what kind of file ``data`` looks like."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith(b"<") and b"<svg" in data[:65536]:
        return "svg"
    if head.startswith(b"%PDF-"):  # a printed certificate: never a credential, named as such
        return "pdf"
    return "json"


# -- PNG -----------------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    _check_image_size(data, "PNG")
    if not data.startswith(PNG_SIGNATURE):
        raise _fail("not a PNG image (bad signature)")
    try:
        chunks = list(png.Reader(bytes=data).chunks())
    except Exception as exc:  # pypng raises many kinds on malformed input
        raise _fail(f"malformed PNG image: {exc}") from exc
    return [(bytes(t), bytes(d)) for t, d in chunks]


def _itxt(keyword: bytes, text: bytes) -> bytes:
    # keyword NUL compression-flag compression-method language-tag NUL translated-keyword NUL text
    return keyword + b"\x00\x00\x00" + b"\x00" + b"\x00" + text


def _parse_itxt(data: bytes) -> tuple[bytes, bytes]:
    """(keyword, text) of an iTXt chunk; compressed text is inflated within the size limit."""
    keyword, sep, rest = data.partition(b"\x00")
    if not sep or len(rest) < 2:
        raise _fail("malformed iTXt chunk in the PNG image")
    flag, method = rest[0], rest[1]
    rest = rest[2:]
    _lang, sep1, rest = rest.partition(b"\x00")
    _translated, sep2, text = rest.partition(b"\x00")
    if not (sep1 and sep2):
        raise _fail("malformed iTXt chunk in the PNG image")
    if flag == 1:
        if method != 0:
            raise _fail(f"iTXt chunk uses unknown compression method {method}")
        inflater = zlib.decompressobj()
        try:
            text = inflater.decompress(text, MAX_CREDENTIAL_BYTES + 1)
        except zlib.error as exc:
            raise _fail(f"compressed iTXt chunk is corrupt: {exc}") from exc
    elif flag != 0:
        raise _fail(f"iTXt chunk has invalid compression flag {flag}")
    return keyword, text


def bake_png(credential: dict[str, Any], image: bytes) -> bytes:
    """``image`` with the credential in an iTXt chunk (default images: :mod:`registry.issue.badges`).

    Any credential already baked into the image is replaced; there is only ever one.
    """
    text = _credential_json(credential)
    chunks = _png_chunks(image)
    kept = [(t, d) for t, d in chunks if not (t == b"iTXt" and d.split(b"\x00", 1)[0] == PNG_KEYWORD)]
    end = next((i for i, (t, _) in enumerate(kept) if t == b"IEND"), len(kept))
    kept.insert(end, (b"iTXt", _itxt(PNG_KEYWORD, text)))
    out = io.BytesIO()
    png.write_chunks(out, kept)
    return out.getvalue()


def extract_png(data: bytes) -> bytes:
    """The credential JSON baked into a PNG (CredentialFormatError when there is none)."""
    found: list[bytes] = []
    ob2 = False
    for chunk_type, chunk in _png_chunks(data):
        if chunk_type == b"iTXt":
            keyword, text = _parse_itxt(chunk)
            if keyword == PNG_KEYWORD:
                found.append(text)
            elif keyword == _OB2_PNG_KEYWORD:
                ob2 = True
    if not found:
        if ob2:
            raise _fail(
                "this PNG carries an Open Badges 2.0 assertion ('openbadges' chunk), not an Open Badges 3.0 credential"
            )
        raise _fail("this PNG image has no baked credential (no iTXt chunk 'openbadgecredential')")
    if len(found) > 1:
        raise _fail(f"this PNG image has {len(found)} baked credentials; a badge carries exactly one")
    return _check_credential(found[0], "PNG image")


# -- SVG -----------------------------------------------------------------------------------------


def _parse_svg(data: bytes | str) -> minidom.Document:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    _check_image_size(raw, "SVG")
    try:
        doc = parse_xml(io.BytesIO(raw), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise _fail(f"unsafe SVG refused ({type(exc).__name__}: DTDs and entities are not allowed)") from exc
    except Exception as exc:  # expat raises ExpatError, ValueError, ...
        raise _fail(f"malformed SVG image: {exc}") from exc
    root = doc.documentElement
    if root is None or (root.localName or root.tagName) != "svg":
        raise _fail("not an SVG image (the root element is not <svg>)")
    return doc


def _credential_elements(doc: minidom.Document) -> list[minidom.Element]:
    # Iterative walk: minidom's getElementsByTagNameNS recurses, so a deeply nested SVG would
    # raise RecursionError.
    found: list[minidom.Element] = []
    stack: list[Any] = list(reversed(doc.childNodes))
    while stack:
        node = stack.pop()
        if isinstance(node, minidom.Element):
            if node.namespaceURI == OB3_NAMESPACE and node.localName == "credential":
                found.append(node)
            stack.extend(reversed(node.childNodes))
    return found


def _cdata_safe(text: str) -> str:
    # "]]>" can only occur inside a JSON string, where ">" may equally be written \u003e.
    return text.replace("]]>", "]]\\u003e")


def bake_svg(credential: dict[str, Any], svg: str) -> str:
    """``svg`` with an ``openbadges:credential`` element (default images: :mod:`registry.issue.badges`)."""
    text = _credential_json(credential).decode("utf-8")
    doc = _parse_svg(svg)
    root = doc.documentElement
    assert root is not None
    for old in _credential_elements(doc):
        parent = old.parentNode
        if parent is not None:
            parent.removeChild(old)
    root.setAttribute("xmlns:openbadges", OB3_NAMESPACE)
    element = doc.createElementNS(OB3_NAMESPACE, SVG_ELEMENT)
    element.appendChild(doc.createCDATASection(_cdata_safe(text)))
    root.insertBefore(element, root.firstChild)
    out: str = doc.documentElement.toxml() if doc.documentElement is not None else ""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + out + "\n"


def _text_of(element: minidom.Element) -> str:
    parts: list[str] = []
    for node in element.childNodes:
        if node.nodeType in (node.TEXT_NODE, node.CDATA_SECTION_NODE):
            parts.append(node.data)
        elif node.nodeType != node.COMMENT_NODE:
            raise _fail("the openbadges:credential element contains markup, not JSON")
    return "".join(parts).strip()


def extract_svg(data: bytes | str) -> bytes:
    """The credential JSON baked into an SVG (CredentialFormatError when there is none)."""
    doc = _parse_svg(data)
    elements = _credential_elements(doc)
    if not elements:
        raise _fail(
            f"this SVG image has no baked credential (no openbadges:credential element in namespace {OB3_NAMESPACE})"
        )
    if len(elements) > 1:
        raise _fail(f"this SVG image has {len(elements)} baked credentials; a badge carries exactly one")
    text = _text_of(elements[0])
    if not text:
        raise _fail("the openbadges:credential element of this SVG is empty")
    return _check_credential(text.encode("utf-8"), "SVG image")


# -- dispatch --------------------------------------------------------------------------------------


def extract_if_baked(data: bytes) -> bytes:
    """Credential JSON from a file's bytes: JSON unchanged, PNG/SVG badges unbaked."""
    kind = sniff(data)
    if kind == "png":
        return extract_png(data)
    if kind == "svg":
        return extract_svg(data)
    return data
