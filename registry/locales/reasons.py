"""The reasons of the named checks in the reader's language.

A check's reason is English text (``Check.reason``: the JSON report, the CSV, the tests and the
verdict logic see nothing else). A reason built by the verifier is a :class:`Reason`: a ``str``
equal to its English text that also carries its template (``str.format`` syntax, named
placeholders) and parameters, so a report for a person can show it in another language through
the ``messages`` catalog (``msgctxt "reason"``): the template is the msgid, and parameters that are
themselves reasons or fixed phrases (a revocation reason's name, a supersession kind) are
translated too.

A reason that is only text (read back from JSON, computed by the browser verifier, or the message
of an error raised below the verifier) is matched against the catalog's templates instead
(:func:`localize`): the same table, handed to the browser as ``{English: translation}`` by
:func:`reason_table`, is matched the same way by ``web/verifier/src/i18n.js``. Text that matches no
template is shown as it is: a missing entry degrades to English, never to a key.
"""

from __future__ import annotations

import re
import string
from functools import cache
from typing import Any, Final

from registry.locales import DEFAULT, _catalog

__all__ = ["CONTEXT", "Reason", "localize", "phrase", "reason_table"]

CONTEXT: Final = "reason"
"""The ``msgctxt`` of the reasons (and of the fixed phrases inside them) in ``messages.po``."""

_FORMATTER: Final = string.Formatter()
_MAX_DEPTH: Final = 3
_SEPARATOR: Final = "; "


class Reason(str):
    """A reason in English, ``template.format(**params)``, that remembers how it was made.

    ``Reason("expired on {date}", date="2026-01-01") == "expired on 2026-01-01"``; the template is
    the msgid of its translations (every one used in the code has a Spanish entry: a unit test
    extracts them).
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Reason:
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template = template
        self.params = params
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # pickled as itself (process pools), not re-formatted text
        return (_rebuild, (self.template, self.params))

    def in_language(self, lang: str) -> str:
        """This reason in ``lang`` (English: itself). (Not ``translate``: that is ``str``'s.)"""
        return localize(self, lang)


def _rebuild(template: str, params: dict[str, Any]) -> Reason:
    return Reason(template, **params)


def phrase(text: str) -> Reason:
    """A fixed phrase used as a parameter (``"key compromise"``), translated with the reason."""
    return Reason(text)


@cache
def reason_table(lang: str) -> dict[str, str]:
    """``{English template: translation}`` of the reasons of ``lang`` (English: empty)."""
    catalog = _catalog(lang, "messages") if lang != DEFAULT else None
    if catalog is None:
        return {}
    return {
        m.id: m.string
        for m in catalog
        if m.context == CONTEXT and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy
    }


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]


def _plain(template: str) -> str:
    """``template`` with conversions and format specs dropped (``{name!r}`` → ``{name}``): what
    fills it with values that are already text."""
    return re.sub(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}", r"{\1}", template)


@cache
def _patterns(lang: str) -> list[tuple[re.Pattern[str], str]]:
    """The templates with placeholders as anchored patterns, the most literal text first (so
    ``revoked by the issuer on {date}: {why}`` is tried before ``{problem}: {detail}``)."""
    found: list[tuple[int, re.Pattern[str], str]] = []
    for english, translated in reason_table(lang).items():
        if not _fields(english):
            continue
        parts: list[str] = []
        seen: set[str] = set()
        for literal, name, _, _ in _FORMATTER.parse(english):
            parts.append(re.escape(literal))
            if name is not None:
                parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
                seen.add(name)
        literal_length = sum(len(lit) for lit, _, _, _ in _FORMATTER.parse(english))
        found.append((literal_length, re.compile("".join(parts), re.DOTALL), _plain(translated)))
    return [(pattern, translated) for _, pattern, translated in sorted(found, key=lambda x: -x[0])]


def _from_text(text: str, lang: str, depth: int) -> str:
    """``text`` translated by matching it against the templates of ``lang`` (else unchanged)."""
    table = reason_table(lang)
    if not table or depth > _MAX_DEPTH:
        return text
    if text in table:
        return table[text]
    for pattern, translated in _patterns(lang):
        found = pattern.fullmatch(text)
        if found:
            values = {k: _from_text(v, lang, depth + 1) for k, v in found.groupdict().items()}
            try:
                return translated.format(**values)
            except (KeyError, IndexError, ValueError):  # a translation naming another placeholder
                return text
    if _SEPARATOR in text:  # several reasons in one ("a; b"): each part on its own
        return _SEPARATOR.join(_from_text(part, lang, depth + 1) for part in text.split(_SEPARATOR))
    return text


def _translated(reason: Reason, lang: str, depth: int) -> str:
    translated = reason_table(lang).get(reason.template)
    if translated is None or depth > _MAX_DEPTH:
        return _from_text(str(reason), lang, depth)
    out: list[str] = []
    try:
        for literal, name, spec, conversion in _FORMATTER.parse(translated):
            out.append(literal)
            if name is None:
                continue
            value = reason.params[name]
            text: str | None = None
            if isinstance(value, Reason):
                text = _translated(value, lang, depth + 1)
            elif isinstance(value, str):
                text = _from_text(value, lang, depth + 1)
            if text is not None and text != value:  # a translated phrase: shown as text, no !r of its own
                out.append(text)
            else:
                converted = _FORMATTER.convert_field(value, conversion) if conversion else value
                out.append(_FORMATTER.format_field(converted, spec or ""))
    except (KeyError, IndexError, ValueError):  # a translation naming a placeholder the template lacks
        return str(reason)
    return "".join(out)


def localize(reason: str, lang: str) -> str:
    """A check's reason (a :class:`Reason`, or only its text) in ``lang``; English: unchanged."""
    if lang == DEFAULT or not reason:
        return str(reason)
    if isinstance(reason, Reason):
        return _translated(reason, lang, 0)
    return _from_text(reason, lang, 0)
