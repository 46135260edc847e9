"""Salted per-field credential digest, version 1 (``jcs-keccak256-salted-fields-v1``).

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
import operator
import os
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any, Final

import rfc8785
import sha3

from registry.errors import CredentialFormatError

__all__ = [
    "HASH_ALGORITHM",
    "SALT_BYTES",
    "Field",
    "compute_digest",
    "encode_field",
    "escape_pointer_token",
    "field_hash",
    "field_hashes",
    "flatten",
    "parse_pointer",
    "salt_fields",
]

HASH_ALGORITHM: Final = "jcs-keccak256-salted-fields-v1"
SALT_BYTES: Final = 16
_SALT_RE: Final = re.compile(r"0x[0-9a-f]{32}")
_HASH_RE: Final = re.compile(r"0x[0-9a-f]{64}")
_MAX_SAFE_INT: Final = 2**53 - 1
_k = sha3.keccak_256
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
    return _k(encode_field(salt, pointer, value)).digest()  # type: ignore[no-any-return]


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
    fields = flatten(doc)
    out: dict[str, bytes] = {}
    for pointer, value in fields:
        salt = salts.get(pointer)
        if salt is None:
            raise CredentialFormatError(pointer, "disclosed field has no salt in proof.salts")
        out[pointer] = field_hash(salt, pointer, value)
    if len(out) != len(salts):
        extra = sorted(set(salts) - set(out))
        raise CredentialFormatError(extra[0], "proof.salts has a salt for a field that is not in the credential")
    return out


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
    return _k(b"".join(hashes)).digest()  # type: ignore[no-any-return]


def compute_digest(
    doc: Mapping[str, Any],
    salts: Mapping[str, str],
    redacted: Sequence[bytes | str] = (),
) -> bytes:
    """The 32-byte ``credentialDigest`` of ``doc`` with its ``salts`` and ``redacted`` hashes."""
    disclosed = field_hashes(doc, salts)
    hashes = list(disclosed.values())
    hashes.extend(_parse_hash(h, f"/proof/0/redacted/{i}") for i, h in enumerate(redacted))
    if len(set(hashes)) != len(hashes):
        raise CredentialFormatError("/proof/0/redacted", "a field hash appears more than once")
    return _digest_of(hashes)


# --- batch fast path (used by registry.pipeline) -------------------------------------------

_CACHE_LIMIT: Final = 262_144
_suffix_cache: dict[tuple[Any, ...], bytes] = {}
_PREIMAGE_HEAD: Final = b'["0x'
_digest_method = operator.methodcaller("digest")


_child_pointers: dict[str, dict[Any, str]] = {}


def _children(prefix: str) -> dict[Any, str]:
    """Per-prefix cache of child pointers, so equal pointers are one shared ``str`` object."""
    table = _child_pointers.get(prefix)
    if table is None:
        if len(_child_pointers) > _CACHE_LIMIT:
            _child_pointers.clear()
        table = _child_pointers[prefix] = {}
    return table


def _walk_suffixes(obj: Mapping[str, Any], prefix: str, ptrs: list[str], sufs: list[bytes]) -> None:
    """Like :func:`_walk`, but emit pointers and cached ``",pointer,value]`` preimage tails."""
    names = _children(prefix)
    for key, val in obj.items():
        p = names.get(key)
        if p is None:
            if type(key) is not str:
                raise CredentialFormatError(prefix, f"object key {key!r} is not a string")
            p = names[key] = prefix + "/" + escape_pointer_token(key)
        t = type(val)
        if t is dict and val:
            _walk_suffixes(val, p, ptrs, sufs)
        elif t is list and val:
            _walk_suffixes_list(val, p, ptrs, sufs)
        else:
            ptrs.append(p)
            k = (p, val) if t is str else (p, None, t) if (t is dict or t is list) else (p, val, t)
            sufs.append(_suffix_cache.get(k) or _suffix(k))


def _walk_suffixes_list(arr: list[Any], prefix: str, ptrs: list[str], sufs: list[bytes]) -> None:
    names = _children(prefix)
    for i, val in enumerate(arr):
        p = names.get(i)
        if p is None:
            p = names[i] = prefix + "/" + str(i)
        t = type(val)
        if t is dict and val:
            _walk_suffixes(val, p, ptrs, sufs)
        elif t is list and val:
            _walk_suffixes_list(val, p, ptrs, sufs)
        else:
            ptrs.append(p)
            k = (p, val) if t is str else (p, None, t) if (t is dict or t is list) else (p, val, t)
            sufs.append(_suffix_cache.get(k) or _suffix(k))


_pointer_json: dict[str, bytes] = {}


def _suffix(key: tuple[Any, ...]) -> bytes:
    """``",<pointer>,<value>]`` bytes for a cache key of :func:`_walk_keys` (and cache it)."""
    pointer = key[0]
    ptr = _pointer_json.get(pointer)
    if ptr is None:
        if len(_pointer_json) > _CACHE_LIMIT:
            _pointer_json.clear()
        ptr = _pointer_json[pointer] = _encode_str(pointer, pointer)
    if len(key) == 2:
        value = _encode_str(pointer, key[1])
    else:
        t = key[2]
        value = _encode_value(pointer, t() if t is dict or t is list else key[1])
    suffix = b'",' + ptr + b"," + value + b"]"
    if len(_suffix_cache) > _CACHE_LIMIT:
        _suffix_cache.clear()
    _suffix_cache[key] = suffix
    return suffix


def _fresh_digest(doc: Mapping[str, Any], rng: Rng) -> tuple[tuple[str, ...], bytes, bytes]:
    """Salt every field of ``doc`` freshly and digest it in one pass.

    Returns ``(pointers, raw salt bytes (16 per field, in pointer order), digest)``. The
    ``",pointer,value]`` tail of each preimage is cached because cohorts share most values, and
    the per-field hashing runs in C (``map``) to keep the interpreter out of the hot loop.
    """
    if not isinstance(doc, dict):
        raise CredentialFormatError("", "a credential must be a JSON object")
    if "proof" in doc:
        doc = {k: v for k, v in doc.items() if k != "proof"}
    ptrs: list[str] = []
    suffixes: list[bytes] = []
    try:
        _walk_suffixes(doc, "", ptrs, suffixes)
    except TypeError:  # an unhashable non-JSON value: report it like the reference path does
        for pointer, value in flatten(doc):
            _encode_value(pointer, value)
        raise
    n = len(ptrs)
    raw = rng(SALT_BYTES * n)
    if len(raw) != SALT_BYTES * n:
        raise ValueError("rng returned the wrong number of bytes")
    salts = struct.unpack("32s" * n, raw.hex().encode("ascii")) if n else ()
    heads = map(_PREIMAGE_HEAD.__add__, salts)
    hashes = sorted(map(_digest_method, map(_k, map(bytes.__add__, heads, suffixes))))
    return tuple(ptrs), raw, _k(b"".join(hashes)).digest()
