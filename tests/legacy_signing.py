"""Files as a registry release before 2026-12-07 signed them: over the wrong canonical form its
fast path made of text holding U+2028, U+2029, U+0085, U+FFFE or U+FFFF (docs/format.md v2 §4)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import base58

from registry.core.credfile import redact
from registry.core.signing import _CONFIG_HASHES, Canonicalizer, _legacy_canonical
from registry.issue.signing import signing_key

__all__ = ["legacy_signed"]


def _legacy_value(doc: dict[str, Any], options: dict[str, Any], key: Any) -> str:
    """The proofValue a release before 2026-12-07 made of ``doc``: over its wrong canonical form."""
    canon = Canonicalizer()
    canon.canonical(doc)  # the release's template path: the shape's template is learnt first
    text = _legacy_canonical(doc, canon)
    assert text is not None
    data = _CONFIG_HASHES(doc["@context"], options) + hashlib.sha256(text.encode("utf-8")).digest()
    return "z" + base58.b58encode(key.sign(data)).decode("ascii")


def legacy_signed(file_dict: dict[str, Any], account: Any) -> dict[str, Any]:
    """``file_dict`` as such a release wrote it: its signature and each profile's over the wrong form."""
    key = signing_key(account)
    old = copy.deepcopy(file_dict)
    options = {k: v for k, v in old["proof"][0].items() if k != "proofValue"}
    credential = {k: v for k, v in old.items() if k != "proof"}
    old["proof"][0]["proofValue"] = _legacy_value(credential, options, key)
    for name, profile in old["proof"][1].get("profiles", {}).items():
        reduced = {k: v for k, v in redact(file_dict, profile=name).items() if k != "proof"}
        profile["proofValue"] = _legacy_value(reduced, options, key)
    return old
