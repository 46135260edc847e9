"""Languages of the human-readable text: service pages, printable certificates, CLI reports.

English is the source language (the msgids); each other language has gettext catalogs
``<lang>/LC_MESSAGES/<domain>.po`` beside this module, read at run time with Babel
(:func:`babel.messages.pofile.read_po`) and compiled in memory once per process, so there is no
build step and no ``.mo`` file to keep in step with its ``.po``. Two domains: ``messages`` (the
service's pages, certificates, CLI reports) and ``verifier`` (the words of the self-contained
verifier page, handed to its script as one ``{msgid: msgstr}`` object by :func:`messages`).

Also here: choosing a language (``?lang=`` switch, else ``Accept-Language``, else English) and
picking the value of a credential's ``name``/``description`` in a language when the issuer gave
several (VC 2.0 §11.1 "Language and Base Direction": ``{"@value": ..., "@language": ...}`` objects,
arrays of them, or a JSON-LD language map ``{"en": ..., "es": ...}``). Display only: the
credential itself is never changed.
"""

from __future__ import annotations

import gettext as _gettext
import io
import os
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_format_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = [
    "DEFAULT",
    "DOMAINS",
    "LANGUAGES",
    "choose",
    "format_date",
    "from_environment",
    "localized",
    "messages",
    "normalise",
    "translations",
    "translator",
]

DEFAULT: Final = "en"
LANGUAGES: Final[dict[str, str]] = {"en": "English", "es": "Español"}
"""The languages offered, each named in itself (for the language switch)."""

_HERE: Final = Path(__file__).resolve().parent
DOMAINS: Final = ("messages", "verifier")


def normalise(tag: str | None) -> str | None:
    """The offered language of a tag (``es``, ``es-ES``, ``es_ES.UTF-8`` → ``es``), else None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split(".")[0].split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def _accepted(header: str) -> list[str]:
    """The tags of an ``Accept-Language`` header, best first (q=0 dropped, ties in order)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def choose(requested: str | None = None, accept_language: str | None = None) -> str:
    """The language of a response: ``requested`` (a switch such as ``?lang=es``) when offered,
    else the best offered language of ``accept_language`` (Babel's ``Locale.negotiate``, then the
    primary subtag: ``es-MX`` gets ``es``), else English."""
    chosen = normalise(requested)
    if chosen:
        return chosen
    if accept_language:
        tags = [t.replace("-", "_") for t in _accepted(accept_language) if t != "*"]
        locale = Locale.negotiate(tags, list(LANGUAGES), sep="_")
        if locale is not None and locale.language in LANGUAGES:
            return locale.language
        for tag in tags:
            found = normalise(tag)
            if found:
                return found
    return DEFAULT


def from_environment(explicit: str | None = None) -> str:
    """The language of a command: ``explicit`` (``--lang``), else ``REGISTRY_LANG``, else the
    POSIX ``LC_ALL``/``LC_MESSAGES``/``LANG``, else English."""
    for value in (explicit, os.environ.get("REGISTRY_LANG"), *map(os.environ.get, ("LC_ALL", "LC_MESSAGES", "LANG"))):
        found = normalise(value)
        if found:
            return found
    return DEFAULT


def _catalog(lang: str, domain: str) -> Catalog | None:
    """The parsed ``.po`` of ``lang`` in ``domain`` (None for English or a language without one)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown message domain {domain!r}: expected one of {', '.join(DOMAINS)}")
    path = _HERE / lang / "LC_MESSAGES" / f"{domain}.po"
    if lang == DEFAULT or not path.is_file():
        return None
    with path.open("rb") as po:
        return read_po(po, locale=lang)


@cache
def translations(lang: str, domain: str = "messages") -> _gettext.NullTranslations:
    """The catalog of ``lang`` (English, or a language without a catalog: the msgids themselves)."""
    catalog = _catalog(lang, domain)
    if catalog is None:
        return _gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return Translations(buffer)


@cache
def messages(lang: str, domain: str = "verifier") -> dict[str, str]:
    """The translated messages of ``lang`` in ``domain`` as ``{msgid: msgstr}``, for a script
    that translates in the browser (English: empty, the msgids are the text). Left out, as
    msgfmt does: fuzzy and untranslated entries, and those with a context or plural forms."""
    catalog = _catalog(lang, domain)
    if catalog is None:
        return {}
    return {
        m.id: m.string
        for m in catalog
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy and not m.context
    }


def translator(lang: str) -> Callable[[str], str]:
    """``gettext`` of ``lang``: the translation of a msgid, or the msgid when it has none."""
    return translations(lang).gettext


def _pick(entries: list[tuple[str | None, Any]], lang: str) -> Any:
    """The value in ``lang`` (exact tag or same primary subtag), else one with no language
    (the default), else English, else the first."""
    for wanted in (lambda t: t is not None and t.lower() == lang.lower(), lambda t: normalise(t) == normalise(lang)):
        for tag, value in entries:
            if wanted(tag):
                return value
    for tag, value in entries:
        if tag is None:
            return value
    for tag, value in entries:
        if normalise(tag) == DEFAULT:
            return value
    return entries[0][1] if entries else None


def localized(value: Any, lang: str = DEFAULT) -> str:
    """A ``name``/``description`` as one string in ``lang`` when the issuer gave it in several
    languages ('' for none). Accepts a plain string, a value object ``{"@value", "@language"}``,
    an array of those (or of strings: no language), or a language map ``{"en": ..., "es": ...}``."""
    entries: list[tuple[str | None, Any]] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, Mapping) and "@value" in item:
            tag = item.get("@language")
            entries.append((tag if isinstance(tag, str) else None, item["@value"]))
        elif isinstance(item, Mapping):  # a language map
            entries.extend((str(k), v) for k, v in item.items() if k != "@none")
            if "@none" in item:
                entries.append((None, item["@none"]))
        elif item is not None:
            entries.append((None, item))
    chosen = _pick(entries, lang)
    return "" if chosen is None else str(chosen).strip()


def format_date(value: Any, lang: str = DEFAULT, *, fmt: str = "long") -> str:
    """An ISO 8601 date or date-time (or a ``date``) as a date in ``lang`` (``5 December 2026``,
    ``5 de diciembre de 2026``); a value that is not a date comes back as it is."""
    when: date
    if isinstance(value, datetime):
        when = value.date()
    elif isinstance(value, date):
        when = value
    else:
        text = "" if value is None else str(value).strip()
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            return text
    try:
        return _babel_format_date(when, format=fmt, locale=lang)
    except (UnknownLocaleError, ValueError):
        return when.isoformat()
