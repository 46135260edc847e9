"""Salted per-field credential digest, versions 1 and 2 (``jcs-keccak256-salted-fields-v1``/``-v2``).

Version 2 (format v2, chosen by the credential's ``@context``, see :func:`digest_version`) differs
in step 4 only: ``credentialDigest = keccak256(p_1 ‖ h_1 ‖ … ‖ p_n ‖ h_n)`` with the fields ordered
by pointer and ``p_i = keccak256(pointer_i)``, so each redacted hash is bound to its pointer.

Normative algorithm (see ``docs/format.md``):

1. Flatten the credential, without its top-level ``proof``, into fields ``(pointer, value)``: one
   per leaf, where a leaf is a scalar (string, number, boolean, null), an empty object or an empty
   array; arrays are walked by index. ``pointer`` is an RFC 6901 JSON Pointer.
2. Each field gets its own fresh 16-byte random salt, written ``"0x" + 32 lower-case hex``.
3. ``field_hash = keccak256(JCS([salt, pointer, value]))`` with JCS = RFC 8785.
4. ``credentialDigest = keccak256(concat(sorted(field hashes)))`` over the hashes of the disclosed
   fields and the redacted ones, sorted ascending bytewise.

The hot path serialises ``[salt, pointer, value]`` itself for strings, integers, booleans, null and
empty containers (byte-identical to the ``rfc8785`` package, which a property test pins) and calls
``rfc8785`` for floats.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from itertools import repeat
from json.encoder import encode_basestring
from typing import Any, Final

import rfc8785

from registry.core.credential import CONTEXTS_V2
from registry.core.keccak import keccak256_bytes
from registry.errors import CredentialFormatError

__all__ = [
    "HASH_ALGORITHM",
    "HASH_ALGORITHM_V2",
    "SALT_BYTES",
    "Field",
    "FieldTails",
    "compute_digest",
    "digest_version",
    "encode_field",
    "escape_pointer_token",
    "field_hash",
    "field_hashes",
    "flatten",
    "fresh_digest",
    "parse_pointer",
    "pointer_hash",
    "salt_fields",
]

HASH_ALGORITHM: Final = "jcs-keccak256-salted-fields-v1"
HASH_ALGORITHM_V2: Final = "jcs-keccak256-salted-fields-v2"
_V2_CONTEXT: Final = list(CONTEXTS_V2)
SALT_BYTES: Final = 16
_SALT_RE: Final = re.compile(r"0x[0-9a-f]{32}")
_HASH_RE: Final = re.compile(r"0x[0-9a-f]{64}")
_MAX_SAFE_INT: Final = 2**53 - 1
_kb = keccak256_bytes
_dumps_str = json.JSONEncoder(ensure_ascii=False).encode


def _encode_str(pointer: str, value: str) -> bytes:
    """RFC 8785 bytes of a JSON string (same escapes as JCS: ``"``, ``\\``, controls)."""
    try:
        return encode_basestring(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CredentialFormatError(pointer, f"value cannot be canonicalised: {exc}") from None


Field = tuple[str, Any]
"""A flattened field: (RFC 6901 pointer, leaf value)."""

Rng = Callable[[int], bytes]


def escape_pointer_token(token: str) -> str:
    """Escape one reference token for an RFC 6901 pointer (``~`` -> ``~0``, ``/`` -> ``~1``)."""
    return token.replace("~", "~0").replace("/", "~1")


def parse_pointer(pointer: str) -> list[str]:
    """Split an RFC 6901 pointer into unescaped reference tokens ("" is the whole document)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise CredentialFormatError(pointer, "a JSON pointer must be empty or start with '/'")
    if re.search(r"~(?![01])", pointer):
        raise CredentialFormatError(pointer, "invalid '~' escape in JSON pointer")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


_INDEX_TOKENS: Final = tuple(str(i) for i in range(1024))


def _walk(obj: Mapping[str, Any], prefix: str, out: list[Field]) -> None:
    append = out.append
    for key, val in obj.items():
        if type(key) is not str:
            raise CredentialFormatError(prefix, f"object key {key!r} is not a string")
        if "~" in key or "/" in key:
            key = escape_pointer_token(key)
        p = prefix + "/" + key
        t = type(val)
        if t is dict and val:
            _walk(val, p, out)
        elif t is list and val:
            _walk_list(val, p, out)
        else:
            append((p, val))


def _walk_list(arr: list[Any], prefix: str, out: list[Field]) -> None:
    append = out.append
    tokens = _INDEX_TOKENS
    for i, val in enumerate(arr):
        p = prefix + "/" + (tokens[i] if i < 1024 else str(i))
        t = type(val)
        if t is dict and val:
            _walk(val, p, out)
        elif t is list and val:
            _walk_list(val, p, out)
        else:
            append((p, val))


def flatten(doc: Mapping[str, Any]) -> list[Field]:
    """All fields of ``doc`` except the top-level ``proof``, in document order."""
    if not isinstance(doc, dict):
        raise CredentialFormatError("", "a credential must be a JSON object")
    out: list[Field] = []
    if "proof" in doc:
        doc = {k: v for k, v in doc.items() if k != "proof"}
    _walk(doc, "", out)
    return out


def _encode_value(pointer: str, value: Any) -> bytes:
    t = type(value)
    try:
        if t is str:
            return _dumps_str(value).encode("utf-8")
        if value is True:
            return b"true"
        if value is False:
            return b"false"
        if value is None:
            return b"null"
        if t is int:
            if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
                return str(value).encode("ascii")
            return rfc8785.dumps(value)  # raises IntegerDomainError
        if t is float:
            return rfc8785.dumps(value)
        if (t is dict or t is list) and not value:
            return b"{}" if t is dict else b"[]"
    except (UnicodeEncodeError, rfc8785.CanonicalizationError) as exc:
        raise CredentialFormatError(pointer, f"value cannot be canonicalised: {exc}") from None
    raise CredentialFormatError(pointer, f"unsupported JSON value of type {t.__name__}")


def encode_field(salt: str, pointer: str, value: Any) -> bytes:
    """RFC 8785 bytes of ``[salt, pointer, value]`` (the field hash preimage)."""
    try:
        ptr = _dumps_str(pointer).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CredentialFormatError(pointer, f"pointer cannot be canonicalised: {exc}") from None
    return b'["' + salt.encode("ascii") + b'",' + ptr + b"," + _encode_value(pointer, value) + b"]"


def field_hash(salt: str, pointer: str, value: Any) -> bytes:
    """``keccak256(JCS([salt, pointer, value]))``."""
    if not isinstance(salt, str) or not _SALT_RE.fullmatch(salt):
        raise CredentialFormatError(pointer, "salt must be '0x' followed by 32 lower-case hex")
    return _kb(encode_field(salt, pointer, value))


def salt_fields(doc: Mapping[str, Any], rng: Rng = os.urandom) -> dict[str, str]:
    """A fresh 16-byte salt for every field of ``doc``: ``{pointer: "0x" + 32 hex}``."""
    pointers = [p for p, _ in flatten(doc)]
    raw = rng(SALT_BYTES * len(pointers))
    if len(raw) != SALT_BYTES * len(pointers):
        raise ValueError("rng returned the wrong number of bytes")
    hx = raw.hex()
    return {p: "0x" + hx[32 * i : 32 * i + 32] for i, p in enumerate(pointers)}


def field_hashes(doc: Mapping[str, Any], salts: Mapping[str, str]) -> dict[str, bytes]:
    """``{pointer: field hash}`` for every disclosed field of ``doc``.

    Every leaf must have exactly one salt and every salt must name a leaf; otherwise
    :class:`CredentialFormatError` names the offending pointer.
    """
    out = _cached_field_hashes(doc, salts)
    if out is None:
        out = {}
        for pointer, value in flatten(doc):
            salt = salts.get(pointer)
            if salt is None:
                raise CredentialFormatError(pointer, "disclosed field has no salt in proof.salts")
            out[pointer] = field_hash(salt, pointer, value)
    if len(out) != len(salts):
        extra = sorted(set(salts) - set(out))
        raise CredentialFormatError(extra[0], "proof.salts has a salt for a field that is not in the credential")
    return out


_VERIFY_TAILS: Final = threading.local()


def _cached_field_hashes(doc: Mapping[str, Any], salts: Mapping[str, str]) -> dict[str, bytes] | None:
    """:func:`field_hashes` through the preimage tails of :class:`FieldTails` (one per thread,
    kept across calls: the files a verifier checks repeat most of their fields), with the hashing
    in C. None when a field or salt is wrong: the caller's reference loop then reports the first
    problem exactly as it always has."""
    if not isinstance(doc, dict):
        return None
    cache: FieldTails | None = getattr(_VERIFY_TAILS, "cache", None)
    if cache is None:
        cache = _VERIFY_TAILS.cache = FieldTails()
    if "proof" in doc:
        doc = {k: v for k, v in doc.items() if k != "proof"}
    ptrs: list[str] = []
    tails: list[bytes] = []
    try:
        cache.walk(doc.items(), cache.members, "", ptrs, tails)
        chosen = [salts[p] for p in ptrs]
    except (TypeError, UnicodeEncodeError, KeyError, CredentialFormatError):
        return None
    if not all(type(salt) is str and _SALT_RE.fullmatch(salt) for salt in chosen):
        return None
    heads = [b'["' + salt.encode("ascii") for salt in chosen]
    return dict(zip(ptrs, map(_kb, map(bytes.__add__, heads, tails)), strict=True))


def _parse_hash(item: bytes | str, where: str) -> bytes:
    if isinstance(item, bytes):
        if len(item) != 32:
            raise CredentialFormatError(where, "a redacted field hash must be 32 bytes")
        return item
    if isinstance(item, str) and _HASH_RE.fullmatch(item):
        return bytes.fromhex(item[2:])
    raise CredentialFormatError(where, "a redacted field hash must be '0x' + 64 lower-case hex")


def _digest_of(hashes: list[bytes]) -> bytes:
    hashes.sort()
    return _kb(b"".join(hashes))


def digest_version(doc: Mapping[str, Any]) -> int:
    """2 for a format v2 credential (exactly the VC 2.0 and OB 3.0.3 contexts), else 1."""
    return 2 if doc.get("@context") == _V2_CONTEXT else 1


@lru_cache(maxsize=65_536)
def pointer_hash(pointer: str) -> bytes:
    """``keccak256(UTF-8(pointer))`` (memoised: a batch repeats its pointers)."""
    return _kb(pointer.encode("utf-8"))


def digest_v2(pairs: Mapping[str, bytes]) -> bytes:
    """Version 2 step 4: keccak256 over ``keccak256(pointer) ‖ fieldHash``, ordered by pointer
    (Python orders ``str`` by code point, which is the UTF-8 byte order)."""
    return _kb(b"".join(pointer_hash(p) + pairs[p] for p in sorted(pairs)))


def compute_digest(
    doc: Mapping[str, Any],
    salts: Mapping[str, str],
    redacted: Sequence[bytes | str] | Mapping[str, bytes | str] = (),
    *,
    version: int | None = None,
) -> bytes:
    """The 32-byte ``credentialDigest`` of ``doc`` with its ``salts`` and ``redacted`` hashes.

    ``version`` defaults to :func:`digest_version` of ``doc``; version 2 takes ``redacted`` as
    ``{pointer: field hash}``, version 1 as a list of field hashes.
    """
    if (version or digest_version(doc)) == 2:
        pairs = field_hashes(doc, salts)
        if not isinstance(redacted, Mapping):
            if redacted:
                raise CredentialFormatError("/proof/redacted", "must map each hidden pointer to its field hash")
            redacted = {}
        for pointer, item in redacted.items():
            if pointer in pairs:
                raise CredentialFormatError(pointer, "is both disclosed and redacted")
            pairs[pointer] = _parse_hash(item, pointer)
        try:
            return digest_v2(pairs)
        except UnicodeEncodeError:  # a lone surrogate in a redacted pointer: it names no field
            raise CredentialFormatError("/proof/redacted", "a redacted pointer is not valid Unicode") from None
    if isinstance(redacted, Mapping):
        raise CredentialFormatError("/proof/redacted", "format v1 lists redacted field hashes in an array")
    disclosed = field_hashes(doc, salts)
    hashes = list(disclosed.values())
    hashes.extend(_parse_hash(h, f"/proof/0/redacted/{i}") for i, h in enumerate(redacted))
    if len(set(hashes)) != len(hashes):
        raise CredentialFormatError("/proof/0/redacted", "a field hash appears more than once")
    return _digest_of(hashes)


# --- batch fast path (used by registry.issue.prepare) -------------------------------------------
#
# The preimage of a field is ``["0x<salt>",<JCS(pointer)>,<JCS(value)>]``: RFC 8785 serialises an
# array as "[" + ",".join(JCS(element)) + "]" without whitespace, and a salt (0x + hex) needs no
# escaping, so the preimage is ``b'["0x' + salt + tail`` with ``tail = b'",' + JCS(pointer) + b","
# + JCS(value) + b"]"``. Tails are cached per pointer and value, because a cohort repeats most
# values (contexts, issuer, achievement); a pointer whose values keep changing (ids, names, hashes)
# stops caching after _VOLATILE_AFTER distinct values and has its tails built directly.
# tests/unit/test_perf_equivalence.py checks every tail against ``rfc8785.dumps``.

_CACHE_LIMIT: Final = 262_144
_VOLATILE_AFTER: Final = 256
_STR_TAIL_END: Final = b"]"


class _Leaf:
    """Per-pointer state: the pointer, ``b'",' + JCS(pointer) + b","`` and a tail cache.

    ``cache`` is ``None`` once the pointer turned out to be volatile.
    """

    __slots__ = ("cache", "head", "owner", "pointer")

    def __init__(self, pointer: str, owner: FieldTails) -> None:
        self.owner = owner
        self.pointer = pointer
        self.head = b'",' + _encode_str(pointer, pointer) + b","
        self.cache: dict[Any, bytes] | None = {}

    def tail(self, value: Any) -> bytes:
        """``b'",' + JCS(pointer) + b"," + JCS(value) + b"]"`` (cached unless volatile)."""
        t = type(value)
        cache = self.cache
        key = value if t is str else (value, t) if t is not dict and t is not list else (None, t)
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                return hit
        encoded = _encode_str(self.pointer, value) if t is str else _encode_value(self.pointer, value)
        out = self.head + encoded + _STR_TAIL_END
        if cache is not None:
            if len(cache) >= _VOLATILE_AFTER:
                self.cache = None
            else:
                cache[key] = out
                self.owner.cached += 1
        return out

    def str_tails(self, values: Sequence[str]) -> list[bytes]:
        """``[tail(v) for v in values]`` for values that are all exactly ``str``, with the cache
        look-ups and the encoding of uncached values run in C (``map``).

        Raises ``UnicodeEncodeError`` for a lone surrogate (the caller falls back to the
        per-credential path, which reports it as a :class:`CredentialFormatError`).
        """
        cache = self.cache
        if cache is not None:
            out: list[bytes | None] = list(map(cache.get, values))
            if None not in out:
                return out  # type: ignore[return-value]
            tail = self.tail
            return [t if t is not None else tail(v) for t, v in zip(out, values, strict=True)]
        encoded = map(str.encode, map(encode_basestring, values))
        return list(map(bytes.__add__, map(self.head.__add__, encoded), repeat(_STR_TAIL_END)))


_EMPTY: Final[dict[Any, tuple[str, _Leaf]]] = {}
_Tables = dict[str, dict[Any, tuple[str, _Leaf]]]


class FieldTails:
    """Canonical preimage tails cached across the credentials of a batch (memory-bounded).

    Per container pointer: {member name or array index -> (child pointer, _Leaf)}, one table for
    objects and one for arrays (so a non-string member name never finds an array index's entry).
    One instance serves one batch (or one chunk of it) in one process.
    """

    __slots__ = ("cached", "indices", "members")

    def __init__(self) -> None:
        self.members: _Tables = {}
        self.indices: _Tables = {}
        self.cached = 0  # tails held by all _Leaf caches of this instance

    def leaf(self, pointer: str) -> _Leaf:
        """A fresh tail cache for ``pointer`` that counts towards this instance's bound."""
        return _Leaf(pointer, self)

    def _child(self, tables: _Tables, prefix: str, token: Any) -> tuple[str, _Leaf]:
        if len(tables) > _CACHE_LIMIT or self.cached > _CACHE_LIMIT:  # bound the memory of the caches
            self.members.clear()
            self.indices.clear()
            self.cached = 0
        table = tables.get(prefix)
        if table is None:
            table = tables[prefix] = {}
        if tables is self.indices:
            pointer = prefix + "/" + str(token)
        elif type(token) is str:
            pointer = prefix + "/" + escape_pointer_token(token)
        else:
            raise CredentialFormatError(prefix, f"object key {token!r} is not a string")
        entry = table[token] = (pointer, _Leaf(pointer, self))
        return entry

    def walk(self, items: Any, tables: _Tables, prefix: str, ptrs: list[str], tails: list[bytes]) -> None:
        """Like :func:`_walk` over ``items`` (``dict.items()`` with ``tables=self.members`` or
        ``enumerate(list)`` with ``tables=self.indices``): emit the pointers and preimage tails of
        the leaves."""
        names = tables.get(prefix, _EMPTY)
        for key, val in items:
            entry = names.get(key)
            if entry is None:
                entry = self._child(tables, prefix, key)
                names = tables[prefix]
            p, leaf = entry
            t = type(val)
            if t is str:
                ptrs.append(p)
                cache = leaf.cache
                if cache is not None:
                    tails.append(cache.get(val) or leaf.tail(val))
                else:
                    tails.append(leaf.head + encode_basestring(val).encode("utf-8") + b"]")
            elif t is dict and val:
                self.walk(val.items(), self.members, p, ptrs, tails)
            elif t is list and val:
                self.walk(enumerate(val), self.indices, p, ptrs, tails)
            else:
                ptrs.append(p)
                tails.append(leaf.tail(val))


_PREIMAGE_HEAD: Final = b'["0x'
_SALT_SEP: Final = b':["0x'


def fresh_digest(
    doc: Mapping[str, Any], rng: Rng, tails_cache: FieldTails | None = None
) -> tuple[tuple[str, ...], bytes, bytes]:
    """Salt every field of ``doc`` freshly and digest it in one pass.

    ``tails_cache``: canonical pieces shared by the credentials of a batch (pass one
    :class:`FieldTails` for the whole batch; without it every call starts cold).

    Returns ``(pointers, raw salt bytes (16 per field, in pointer order), digest)``; the same
    digest as :func:`compute_digest` with those salts. The per-field concatenation and hashing run
    in C (``map``) to keep the interpreter out of the hot loop.
    """
    if not isinstance(doc, dict):
        raise CredentialFormatError("", "a credential must be a JSON object")
    if "proof" in doc:
        doc = {k: v for k, v in doc.items() if k != "proof"}
    ptrs: list[str] = []
    tails: list[bytes] = []
    try:
        cache = FieldTails() if tails_cache is None else tails_cache
        cache.walk(doc.items(), cache.members, "", ptrs, tails)
    except (TypeError, UnicodeEncodeError):  # a non-JSON value: report it like the reference path
        for pointer, value in flatten(doc):
            _encode_value(pointer, value)
        raise
    n = len(ptrs)
    if n == 0:
        return (), b"", _kb(b"")
    raw = rng(SALT_BYTES * n)
    if len(raw) != SALT_BYTES * n:
        raise ValueError("rng returned the wrong number of bytes")
    # b'["0x' + hex(salt_i) for every field, split in C: hex with a ':' after every 16 bytes.
    heads = (_PREIMAGE_HEAD + raw.hex(":", SALT_BYTES).encode("ascii").replace(b":", _SALT_SEP)).split(b":")
    if digest_version(doc) == 2:
        return (
            tuple(ptrs),
            raw,
            digest_v2(dict(zip(ptrs, map(_kb, map(bytes.__add__, heads, tails)), strict=True))),
        )
    hashes = sorted(map(_kb, map(bytes.__add__, heads, tails)))
    return tuple(ptrs), raw, _kb(b"".join(hashes))
