"""Strict JSON for untrusted documents (credential files, pathway definitions).

Python's ``json`` accepts what other parsers read differently: duplicate member names (first or
last wins), ``NaN``/``Infinity``, numbers no other language holds. :func:`loads` refuses all of
them, so every parser sees the document we checked. Callers turn :class:`StrictJsonError` into
their own error with their own place name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_NUMBER_CHARS", "StrictJsonError", "loads", "to_bytes"]

MAX_NUMBER_CHARS = 64
"""Longest number literal read (far beyond any date, count or credit; refuses 5000-digit bombs)."""


class StrictJsonError(ValueError):
    """Why the document is refused, in words (no place: the caller names it)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # built in C; a member name seen twice leaves it shorter than the pairs
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJsonError(f"duplicate JSON object key {key!r}")
            seen.add(key)
    return out


def _no_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not valid JSON")


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise StrictJsonError(f"a number has more than {MAX_NUMBER_CHARS} digits")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise StrictJsonError(f"a number has more than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError(f"the number {text} is out of range")
    return value


def to_bytes(data: bytes | str | Mapping[str, Any], *, max_bytes: int, what: str) -> bytes:
    """The document as UTF-8 bytes (a mapping serialised first), at most ``max_bytes``."""
    if isinstance(data, Mapping):
        try:
            data = json.dumps(data, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise StrictJsonError(f"not a JSON document: {exc}") from None
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            raise StrictJsonError("the text is not valid Unicode (lone surrogate)") from None
    if not isinstance(data, bytes):
        raise StrictJsonError(f"expected bytes, str or a JSON object, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise StrictJsonError(f"{what} larger than {max_bytes} bytes")
    return data


def loads(data: bytes, *, what: str = "the document") -> Any:
    """Parse UTF-8 JSON (a leading BOM ignored) strictly; raises :class:`StrictJsonError`."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
        return json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_int, parse_float=_float
        )
    except UnicodeDecodeError:
        raise StrictJsonError(f"{what} is not UTF-8 text") from None
    except RecursionError:
        raise StrictJsonError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise StrictJsonError(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except StrictJsonError:
        raise
    except ValueError as exc:  # e.g. a number Python cannot convert
        raise StrictJsonError(f"not valid JSON: {exc}") from None
