"""Issuer identity: the one canonical form of an issuer identifier (DID Core, did:web).

:func:`canonical_issuer_id` is the definition. A DID keeps the form its method specifies; for
``did:web`` (W3C did:web method) the host is lower-cased and an internationalised domain takes its
ASCII (punycode) form through the ``idna`` package (IDNA 2008 with UTS #46 mapping), a port is
encoded as ``%3A`` and path segments are separated by ``:``. A bare domain or an http(s) URL
becomes that ``did:web``. So ``uni.example``, ``https://uni.example/``, `` UNI.example `` and
``did:web:UNI.example`` are all ``did:web:uni.example``: one identity, one string, which the
registry contract then keeps unique. No DNS is ever consulted: the chain's directory is the trust
anchor, the string only has to match.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote, unquote, urlsplit

import idna

from registry.errors import InvalidInput

__all__ = ["canonical_issuer_id", "is_canonical_issuer_id", "issuer_did"]

_METHOD_RE: Final = re.compile(r"[a-z0-9]+")
_MSI_RE: Final = re.compile(r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+(?::(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+)*")
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")
_HOST_PORT_RE: Final = re.compile(r"(.+?)%3[Aa](.*)")
_SEGMENT_SAFE: Final = "-._~!$&'()*+,;=@"
_FIELD: Final = "issuer"


def _refuse(value: str, problem: str) -> InvalidInput:
    return InvalidInput(_FIELD, f"{value!r} is not an issuer identifier: {problem}")


def _host(value: str, host: str) -> str:
    """The ASCII, lower-case form of a domain name (IDNA 2008, UTS #46 mapping)."""
    host = host.rstrip(".")
    if not host:
        raise _refuse(value, "no domain name")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise _refuse(value, f"the domain {host!r} is not a valid domain name ({exc})") from None
    return ascii_host


def _port(value: str, port: str) -> int:
    if not _PORT_RE.fullmatch(port) or not 0 < int(port) < 65536:
        raise _refuse(value, f"invalid port {port!r}")
    return int(port)


def _segment(value: str, raw: str) -> str:
    """One path segment, percent-decoded then re-encoded (upper-case hex, RFC 3986)."""
    text = unquote(raw, errors="strict")
    if not text or "/" in text or ":" in text or any(ch.isspace() for ch in text):
        raise _refuse(value, f"invalid path segment {raw!r}")
    return quote(text, safe=_SEGMENT_SAFE)


def _did_web(value: str, host: str, port: int | None, path: list[str]) -> str:
    ident = _host(value, host) + (f"%3A{port}" if port is not None else "")
    return ":".join(["did:web", ident, *(_segment(value, p) for p in path)])


def _from_did(value: str, text: str) -> str:
    scheme, _, rest = text.partition(":")
    method, sep, msi = rest.partition(":")
    if scheme.lower() != "did" or not sep:
        raise _refuse(value, "a DID is did:<method>:<identifier>")
    if method.lower() == "web":
        parts = msi.split(":")
        if not msi or any(not p for p in parts):
            raise _refuse(value, "did:web needs a domain and no empty segment")
        found = _HOST_PORT_RE.fullmatch(parts[0])
        host, port = (found.group(1), found.group(2)) if found else (parts[0], None)
        return _did_web(value, unquote(host), _port(value, port) if port else None, parts[1:])
    if not _METHOD_RE.fullmatch(method):
        raise _refuse(value, "the DID method name must be lower-case letters and digits (DID Core)")
    if not _MSI_RE.fullmatch(msi):
        raise _refuse(value, "the method-specific identifier has characters DID Core does not allow")
    return f"did:{method}:{msi}"


def _from_url(value: str, text: str) -> str:
    url = urlsplit(text if "://" in text else "https://" + text)
    if url.scheme.lower() not in ("http", "https"):
        raise _refuse(value, "only a DID, a domain or an http(s) URL names an issuer")
    if url.query or url.fragment or url.username or url.password:
        raise _refuse(value, "a URL naming an issuer has no query, fragment or credentials")
    try:
        port = url.port
    except ValueError:
        raise _refuse(value, "invalid port") from None
    if port is not None and port < 1:
        raise _refuse(value, "invalid port")
    return _did_web(value, url.hostname or "", port, [p for p in url.path.split("/") if p])


def canonical_issuer_id(value: str) -> str:
    """The canonical form of an issuer identifier (a DID, a domain or an http(s) URL).

    Raises :class:`InvalidInput` (field ``issuer``) for anything that names no issuer.
    """
    text = value.strip()
    if not text:
        raise _refuse(value, "empty")
    if any(ch.isspace() for ch in text):
        raise _refuse(value, "contains whitespace")
    try:
        if text[:4].lower() == "did:":
            return _from_did(value, text)
        return _from_url(value, text)
    except InvalidInput:
        raise
    except ValueError as exc:  # urllib's refusals (bad IPv6 brackets, NFKC netloc), bad %-escapes
        raise _refuse(value, str(exc)) from None


def is_canonical_issuer_id(value: str) -> bool:
    """Whether ``value`` is already in canonical form (what the registry contract admits)."""
    try:
        return canonical_issuer_id(value) == value
    except InvalidInput:
        return False


def issuer_did(uri: str) -> str:
    """The identifier credentials must carry as ``issuer.id`` for a directory entry's URI.

    The canonical form where the URI has one; a legacy entry whose URI has none keeps its
    trimmed string (so it can only ever match itself).
    """
    try:
        return canonical_issuer_id(uri)
    except InvalidInput:
        return uri.strip()
