"""The self-contained verifier page (one HTML file), pre-filled for its reader.

The page is built from ``web/verifier/`` by ``make setup`` into ``registry/artifacts/verifier.html``:
every check of :mod:`registry.verify` runs in the browser against the JSON-RPC URL the reader
gives, and the page loads nothing else (it works opened from disk). Whoever hands the page out
(``registry verifier-page``, the service's ``/verify``) pre-fills its form through one JSON
element: an RPC URL and the registries to trust, each with the source that trusts it, and the
page's language: its ``lang``, the words of the page in it (the ``verifier`` gettext domain of
:mod:`registry.locales`, ``{msgid: msgstr}``, translated by ``web/verifier/src/i18n.js``), the
table of the checks' reasons in it (:func:`registry.locales.reasons.reason_table`, the same
Spanish the CLI prints) and, on a served page, the links of the language switch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from registry import locales
from registry.chain.artifacts import ARTIFACT_DIR
from registry.errors import ConfigError
from registry.locales.reasons import reason_table

__all__ = ["PAGE", "render_page"]

PAGE: Final = ARTIFACT_DIR / "verifier.html"
_CONFIG_ELEMENT: Final = '<script type="application/json" id="verifier-config">{}</script>'


def _template(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"the verifier page {path} is not built: run `make setup` (it bundles web/verifier/)")
    text = path.read_text("utf-8")
    if _CONFIG_ELEMENT not in text:
        raise ConfigError(f"{path} has no configuration element: rebuild it with `make setup`")
    return text


def render_page(
    rpc: str | None,
    trusted: Mapping[int, Mapping[str, str]],
    *,
    path: Path = PAGE,
    lang: str = locales.DEFAULT,
    switch: Mapping[str, str] | None = None,
) -> str:
    """The page with its form pre-filled: ``rpc`` and ``trusted`` (chain id -> {address: source}),
    in ``lang`` (an offered language, see :data:`registry.locales.LANGUAGES`), with a language
    switch when ``switch`` (language -> link to the page in it) is given.

    The configuration is JSON inside a ``<script type="application/json">`` element, with ``<``,
    ``>`` and ``&`` escaped so no value can close the element.
    """
    if lang not in locales.LANGUAGES:
        raise ConfigError(f"no verifier page in language {lang!r}: choose one of {', '.join(locales.LANGUAGES)}")
    config = {
        "lang": lang,
        "messages": locales.messages(lang, "verifier"),
        "reasons": reason_table(lang),
        "languages": [
            {"lang": code, "name": locales.LANGUAGES[code], "href": href}
            for code, href in (switch or {}).items()
            if code in locales.LANGUAGES
        ],
        "rpc": rpc,
        "trustedRegistries": [
            {"chainId": chain_id, "address": address, "source": source}
            for chain_id, entries in sorted(trusted.items())
            for address, source in entries.items()
        ],
    }
    text = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _template(path).replace(_CONFIG_ELEMENT, _CONFIG_ELEMENT.replace("{}", text), 1)
