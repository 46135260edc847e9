"""Credential file, format ``credreg-proof-v1`` (see ``docs/format.md``).

A credential file is an Open Badges 3.0 ``AchievementCredential`` (W3C VC 2.0) whose ``proof``
array holds one ``CredentialRegistryAnchorProof``: the salted digest of
:mod:`registry.core.disclosure`, its OpenZeppelin StandardMerkleTree path (:mod:`registry.core.merkle`) and
the on-chain anchor. Parsing validates the file's own JSON Schema and the official OB 3.0
AchievementCredential JSON Schema (Draft 2019-09, loaded from the package; nothing is fetched),
with a compiled validator (``jsonschema-rs``) built once for the common case, a valid file; the
pure-Python ``jsonschema`` is the reference it is tested against
(``tests/unit/test_schema_differential.py``), and decides and words every rejection.
Selective disclosure (:func:`redact`) removes fields and keeps their field hashes, so the digest,
and therefore the Merkle proof and the anchor, stay valid.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import jsonschema_rs

from registry.core.credential import CONTEXTS, format_datetime
from registry.core.disclosure import (
    HASH_ALGORITHM,
    compute_digest,
    field_hashes,
    flatten,
    parse_pointer,
)
from registry.core.merkle import verify_proof
from registry.errors import CredentialFormatError, InvalidInput, RedactionError

__all__ = [
    "FORMAT",
    "MANDATORY_PATHS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "PROOF_TYPE",
    "AnchorInfo",
    "CredentialFile",
    "check_inclusion",
    "check_integrity",
    "file_schema",
    "hidden_fields",
    "make_credential_file",
    "ob3_schema",
    "parse_credential_file",
    "redact",
]

FORMAT: Final = "credreg-proof-v1"
PROOF_TYPE: Final = "CredentialRegistryAnchorProof"
MAX_FILE_BYTES: Final = 2 * 1024 * 1024
MAX_DEPTH: Final = 32
MANDATORY_PATHS: Final = (
    "/@context",
    "/type",
    "/id",
    "/issuer",
    "/validFrom",
    "/validUntil",
    "/credentialSubject/type",
    "/credentialSubject/achievement/id",
    "/credentialSubject/achievement/type",
    "/credentialSubject/achievement/name",
    "/credentialSubject/achievement/description",
    "/credentialSubject/achievement/criteria",
)
"""Fields that can never be hidden (nor any field under them, nor any object containing them)."""

_HASH_RE: Final = re.compile(r"0x[0-9a-f]{64}")
_ADDR_RE: Final = re.compile(r"0x[0-9a-f]{40}")
_SALT_RE: Final = re.compile(r"0x[0-9a-f]{32}")
_POINTER_RE: Final = re.compile(r"(/([^~/]|~[01])*)+")
_DATETIME_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_INDEX_RE: Final = re.compile(r"0|[1-9][0-9]*")
MAX_NUMBER_CHARS: Final = 64
"""Longest number literal accepted in a file (a guard against quadratic big-int parsing)."""


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


@cache
def _load_schema(name: str) -> dict[str, Any]:
    text = resources.files("registry").joinpath("schemas", *name.split("/")).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def file_schema() -> dict[str, Any]:
    """The JSON Schema of the credential file (``credential-file-v1.schema.json``)."""
    return _load_schema("credential-file-v1.schema.json")


def ob3_schema() -> dict[str, Any]:
    """The official OB 3.0 AchievementCredential JSON Schema shipped in the package."""
    return _load_schema("ob3/achievementcredential.schema.json")


def _no_retrieval(uri: str) -> Any:
    raise CredentialFormatError("format", f"the schema refers to {uri}, which is never fetched")


@cache
def _compiled() -> tuple[Any, Any]:
    """The two schemas compiled once (``jsonschema-rs``): ``$ref``s resolved inside each schema,
    nothing retrieved, and ``format`` not asserted, as the reference validator (which runs
    without a format checker)."""
    own = jsonschema_rs.Draft201909Validator(file_schema(), validate_formats=False, retriever=_no_retrieval)
    ob3 = jsonschema_rs.Draft201909Validator(ob3_schema(), validate_formats=False, retriever=_no_retrieval)
    return own, ob3


@cache
def _validators() -> tuple[Any, Any]:
    """The reference validators (pure-Python ``jsonschema``) of the file schema and the OB 3.0
    schema: what the compiled ones are tested against, and their fallback."""
    from jsonschema import Draft201909Validator

    return Draft201909Validator(file_schema()), Draft201909Validator(ob3_schema())


def _reference_error(validator: Any, data: Any) -> str | None:
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.path), list(e.path)))
    if not errors:
        return None
    err = errors[0]
    where = "/" + "/".join(str(p) for p in err.absolute_path)
    msg: str = err.message
    if len(msg) > 300:
        msg = msg[:300] + "..."
    return f"{where}: {msg}"


def _first_error(which: int, data: Any) -> str | None:
    """The first schema error (shallowest instance path) of ``data`` as "/path: message", under
    the file schema (``which`` 0) or the OB 3.0 schema (1); None when valid.

    The compiled validator answers for a valid document (the common case, in microseconds); a
    document it rejects, or cannot take, goes to the reference, which decides and words the
    error. So the outcome and the message are the reference's on every input; the compiled
    validator never accepts what the reference rejects (the differential test), and its stricter
    ECMA-262 patterns (``$`` only at the very end, ASCII ``\\d``) cost only that fallback.
    """
    try:
        if _compiled()[which].is_valid(data):
            return None
    except Exception:  # e.g. a lone surrogate in a member name: the reference decides
        pass
    return _reference_error(_validators()[which], data)


@dataclass(frozen=True)
class AnchorInfo:
    """Where and when a batch root was anchored (all hex lower-cased on construction)."""

    chain_id: int
    registry: str
    issuer_address: str
    anchor_tx: str
    anchor_block: int
    anchored_at: datetime

    def __post_init__(self) -> None:
        if type(self.chain_id) is not int or self.chain_id < 1:
            raise InvalidInput("chain_id", "must be a positive integer")
        if type(self.anchor_block) is not int or self.anchor_block < 0:
            raise InvalidInput("anchor_block", "must be a non-negative integer")
        for name, pattern in (
            ("registry", _ADDR_RE),
            ("issuer_address", _ADDR_RE),
            ("anchor_tx", _HASH_RE),
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or not pattern.fullmatch(value.lower()):
                raise InvalidInput(name, "must be 0x-prefixed hex of the right length")
            object.__setattr__(self, name, value.lower())
        format_datetime(self.anchored_at, "anchored_at")


@dataclass(frozen=True)
class CredentialFile:
    """Typed, validated view of a credential file."""

    credential: dict[str, Any]
    """The credential without its ``proof``."""
    proof: dict[str, Any]
    """The raw ``CredentialRegistryAnchorProof`` object."""
    digest: bytes
    root: bytes
    path: list[bytes]
    anchor: AnchorInfo
    salts: dict[str, str]
    redacted: list[bytes]
    hidden_paths: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The file as a JSON object (credential plus ``proof`` array)."""
        return {**copy.deepcopy(self.credential), "proof": [copy.deepcopy(self.proof)]}


def make_credential_file(
    doc: Mapping[str, Any],
    salts: Mapping[str, str],
    digest: bytes,
    root: bytes,
    path: Sequence[bytes],
    anchor: AnchorInfo,
    *,
    check: bool = True,
) -> dict[str, Any]:
    """Assemble the credential file of ``doc`` anchored under ``root``.

    With ``check`` (default) the digest is recomputed and the path verified first, so a file that
    would not verify is never produced.
    """
    credential = {k: copy.deepcopy(v) for k, v in doc.items() if k != "proof"}
    if check:
        actual = compute_digest(credential, salts)
        if actual != digest:
            raise InvalidInput("digest", "does not match the credential and its salts")
        verify_proof(root, digest, path)
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "format": FORMAT,
        "hashAlgorithm": HASH_ALGORITHM,
        "credentialDigest": _hex(digest),
        "merkleRoot": _hex(root),
        "merklePath": [_hex(p) for p in path],
        "chainId": anchor.chain_id,
        "registry": anchor.registry,
        "issuerAddress": anchor.issuer_address,
        "anchorTx": anchor.anchor_tx,
        "anchorBlock": anchor.anchor_block,
        "anchoredAt": format_datetime(anchor.anchored_at, "anchored_at"),
        "salts": dict(salts),
        "redacted": [],
        "hiddenPaths": [],
    }
    return {**credential, "proof": [proof]}


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CredentialFormatError("format", f"duplicate JSON object key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise CredentialFormatError("format", f"{name} is not valid JSON")


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise CredentialFormatError("format", f"a number has more than {MAX_NUMBER_CHARS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise CredentialFormatError("format", f"a number has more than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):
        raise CredentialFormatError("format", f"the number {text} is out of range")
    return value


def _check_tree(value: Any, depth: int = 0) -> None:
    """Depth limit, and no object shaped like an array (member names exactly "0" … "n-1").

    Such an object flattens to the same pointers as the array would, so the digest cannot tell
    ``{"a": ["x"]}`` from ``{"a": {"0": "x"}}`` (docs/format.md §2); files with one are refused.
    """
    if depth > MAX_DEPTH:
        raise CredentialFormatError("format", f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        if (
            "0" in value  # an array-shaped object has a member "0"; most objects stop here
            and all(type(k) is str and _INDEX_RE.fullmatch(k) for k in value)
            and sorted(int(k) for k in value) == list(range(len(value)))
        ):
            raise CredentialFormatError(
                "format",
                f"an object with members {sorted(value)[:3]}... is shaped like an array and would hash "
                "like one; use an array",
            )
        for v in value.values():
            _check_tree(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_tree(v, depth + 1)


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise CredentialFormatError("format", f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for v in value.values():
            _check_depth(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_depth(v, depth + 1)


def _load(data: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(data, Mapping):
        # Same rules as a file: serialise (bounded depth first) and parse the bytes strictly.
        _check_depth(data)
        try:
            data = json.dumps(data, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise CredentialFormatError("format", f"not a JSON document: {exc}") from None
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            raise CredentialFormatError("format", "the text is not valid Unicode (lone surrogate)") from None
    if not isinstance(data, bytes):
        raise CredentialFormatError("format", "expected bytes, str or a JSON object")
    if len(data) > MAX_FILE_BYTES:
        raise CredentialFormatError("format", f"file larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        parsed = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except UnicodeDecodeError:
        raise CredentialFormatError("format", "the file is not UTF-8 text") from None
    except RecursionError:
        raise CredentialFormatError("format", "JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise CredentialFormatError(
            "format", f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    except ValueError as exc:  # e.g. a number Python cannot convert
        raise CredentialFormatError("format", f"not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise CredentialFormatError("format", "a credential file must be a JSON object")
    _check_tree({k: v for k, v in parsed.items() if k != "proof"})  # and the depth of all but the proof
    if "proof" in parsed:
        _check_depth(parsed["proof"], 1)
    return parsed


def _is_pointer(text: str) -> bool:
    """``_POINTER_RE.fullmatch(text)``; a string starting with "/" without "~" always matches."""
    return (text[:1] == "/" and "~" not in text) or _POINTER_RE.fullmatch(text) is not None


def _strict(raw: dict[str, Any]) -> None:
    """Rules the JSON Schemas cannot state exactly (their regexes accept a trailing newline and
    non-ASCII digits): canonical hex, ASCII dates, sorted ``redacted``, the fixed ``@context``,
    and ``hiddenPaths`` consistent with what is disclosed."""
    proof = raw["proof"][0]
    for name, pattern in (
        ("credentialDigest", _HASH_RE),
        ("merkleRoot", _HASH_RE),
        ("anchorTx", _HASH_RE),
        ("registry", _ADDR_RE),
        ("issuerAddress", _ADDR_RE),
        ("anchoredAt", _DATETIME_RE),
    ):
        if not pattern.fullmatch(proof[name]):
            raise CredentialFormatError(f"/proof/0/{name}", "not in canonical form (lower-case hex / ISO 8601)")
    for list_name in ("merklePath", "redacted"):
        for i, h in enumerate(proof[list_name]):
            if not _HASH_RE.fullmatch(h):
                raise CredentialFormatError(f"/proof/0/{list_name}/{i}", "must be '0x' + 64 lower-case hex")
    if proof["redacted"] != sorted(proof["redacted"]):
        raise CredentialFormatError("/proof/0/redacted", "redacted field hashes must be sorted ascending")
    for pointer, salt in proof["salts"].items():
        if not _is_pointer(pointer) or not _SALT_RE.fullmatch(salt):
            raise CredentialFormatError(f"/proof/0/salts/{pointer!r}", "bad pointer or salt")
    for name in ("validFrom", "validUntil"):
        if name in raw and not _DATETIME_RE.fullmatch(raw[name]):
            raise CredentialFormatError(f"/{name}", "must be an ISO 8601 date-time with ASCII digits")
    if raw["@context"] != list(CONTEXTS):
        raise CredentialFormatError("/@context", f"must be exactly {list(CONTEXTS)}")
    hidden = proof["hiddenPaths"]
    if bool(hidden) != bool(proof["redacted"]):
        raise CredentialFormatError(
            "/proof/0/hiddenPaths",
            "hiddenPaths and redacted disagree: fields were hidden without saying which, or the reverse",
        )
    disclosed = [p for p, _ in flatten({k: v for k, v in raw.items() if k != "proof"})] if hidden else []
    for pointer in hidden:
        if not _POINTER_RE.fullmatch(pointer):
            raise CredentialFormatError("/proof/0/hiddenPaths", f"{pointer!r} is not a JSON pointer")
        if any(_is_under(p, pointer) for p in disclosed):
            raise CredentialFormatError("/proof/0/hiddenPaths", f"{pointer} is listed as hidden but is disclosed")
        for mandatory in MANDATORY_PATHS:
            if _is_under(pointer, mandatory) or _is_under(mandatory, pointer):
                raise CredentialFormatError("/proof/0/hiddenPaths", f"{mandatory} is mandatory and cannot be hidden")


def parse_credential_file(data: bytes | str | Mapping[str, Any]) -> CredentialFile:
    """Parse and validate a credential file (size, depth, file schema, OB 3.0 schema).

    Raises :class:`CredentialFormatError` saying which part is wrong and why.
    """
    raw = _load(data)
    problem = _first_error(0, raw)
    if problem is not None:
        raise CredentialFormatError("format", f"not a {FORMAT} credential file: {problem}")
    problem = _first_error(1, raw)
    if problem is not None:
        raise CredentialFormatError("format", f"not a valid Open Badges 3.0 AchievementCredential: {problem}")
    _strict(raw)
    proof: dict[str, Any] = raw["proof"][0]
    try:
        anchored_at = datetime.fromisoformat(proof["anchoredAt"].replace("Z", "+00:00"))
        anchor = AnchorInfo(
            chain_id=proof["chainId"],
            registry=proof["registry"],
            issuer_address=proof["issuerAddress"],
            anchor_tx=proof["anchorTx"],
            anchor_block=proof["anchorBlock"],
            anchored_at=anchored_at,
        )
    except (ValueError, OverflowError, InvalidInput) as exc:
        raise CredentialFormatError("/proof/0", f"bad anchor information: {exc}") from None
    credential = {k: v for k, v in raw.items() if k != "proof"}
    return CredentialFile(
        credential=credential,
        proof=proof,
        digest=bytes.fromhex(proof["credentialDigest"][2:]),
        root=bytes.fromhex(proof["merkleRoot"][2:]),
        path=[bytes.fromhex(p[2:]) for p in proof["merklePath"]],
        anchor=anchor,
        salts=dict(proof["salts"]),
        redacted=[bytes.fromhex(h[2:]) for h in proof["redacted"]],
        hidden_paths=list(proof["hiddenPaths"]),
    )


def check_integrity(cf: CredentialFile) -> bytes:
    """Recompute the digest from the disclosed fields, salts and redacted hashes.

    Returns it when it equals ``credentialDigest``; otherwise raises
    :class:`CredentialFormatError` (field ``/proof/0/credentialDigest``).
    """
    actual = compute_digest(cf.credential, cf.salts, cf.redacted)
    if actual != cf.digest:
        raise CredentialFormatError(
            "/proof/0/credentialDigest",
            f"recomputed digest {_hex(actual)} differs from {_hex(cf.digest)}: the credential, "
            "its salts or its redacted hashes were altered",
        )
    return actual


def check_inclusion(cf: CredentialFile) -> None:
    """Check that ``merklePath`` leads from ``credentialDigest`` to ``merkleRoot``.

    Raises :class:`InvalidProof` otherwise.
    """
    verify_proof(cf.root, cf.digest, cf.path)


def hidden_fields(cf: CredentialFile) -> list[str]:
    """The paths the holder chose to hide (informational ``hiddenPaths``)."""
    return list(cf.hidden_paths)


def _is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _resolve(doc: Any, tokens: list[str], pointer: str) -> tuple[Any, str | int]:
    """Return (container, key) of ``pointer`` in ``doc``; RedactionError if it does not exist."""
    parent = doc
    for depth, token in enumerate(tokens):
        last = depth == len(tokens) - 1
        if isinstance(parent, dict):
            if token not in parent:
                break
            if last:
                return parent, token
            parent = parent[token]
        elif isinstance(parent, list):
            if not token.isdigit() or int(token) >= len(parent) or str(int(token)) != token:
                break
            if last:
                return parent, int(token)
            parent = parent[int(token)]
        else:
            break
    raise RedactionError(pointer, "no such field in the credential (already hidden?)")


def redact(file_dict: Mapping[str, Any], hide: Sequence[str]) -> dict[str, Any]:
    """Hide fields of a credential file; the digest, path and anchor stay valid.

    Each path in ``hide`` is an RFC 6901 pointer to a leaf or an object member (its whole subtree
    is hidden). Array elements cannot be hidden one by one (hide the whole array); mandatory
    fields (:data:`MANDATORY_PATHS`) and fields whose removal breaks the OB 3.0 schema are
    refused with :class:`RedactionError`.
    """
    cf = parse_credential_file(file_dict)
    check_integrity(cf)
    doc = copy.deepcopy(cf.credential)
    hashes = field_hashes(doc, cf.salts)
    hidden: set[str] = set()
    for pointer in hide:
        if not isinstance(pointer, str):
            raise RedactionError(str(pointer), "a path must be a JSON pointer string")
        try:
            tokens = parse_pointer(pointer)
        except CredentialFormatError as exc:
            raise RedactionError(pointer, exc.problem) from None
        if not tokens:
            raise RedactionError(pointer, "cannot hide the whole credential")
        if tokens[0] == "proof":
            raise RedactionError(pointer, "the proof is not part of the credential")
        for mandatory in MANDATORY_PATHS:
            if _is_under(pointer, mandatory) or _is_under(mandatory, pointer):
                raise RedactionError(pointer, f"{mandatory} is mandatory and cannot be hidden")
        container, key = _resolve(doc, tokens, pointer)
        if isinstance(container, list):
            raise RedactionError(pointer, "cannot hide a single array element; hide the whole array instead")
        del container[key]
        hidden.update(p for p in hashes if _is_under(p, pointer))
        # Remove objects emptied by the redaction (they were not leaves before).
        while len(tokens) > 1:
            tokens = tokens[:-1]
            parent_pointer = "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in tokens)
            container, key = _resolve(doc, tokens, parent_pointer)
            if container[key]:
                break
            if isinstance(container, list):
                raise RedactionError(pointer, "hiding it would empty an array element; hide the whole array")
            for mandatory in MANDATORY_PATHS:
                if _is_under(mandatory, parent_pointer):
                    raise RedactionError(pointer, f"hiding it would remove mandatory {mandatory}")
            del container[key]
    remaining = {p for p, _ in flatten(doc)}
    if remaining & hidden:
        raise RedactionError(",".join(sorted(remaining & hidden)), "field still present")
    salts = {p: s for p, s in cf.salts.items() if p not in hidden}
    redacted_hashes = sorted([*cf.redacted, *(hashes[p] for p in hidden)])
    if compute_digest(doc, salts, redacted_hashes) != cf.digest:  # invariant, never expected
        raise RedactionError("", "internal error: redaction changed the credential digest")
    proof = copy.deepcopy(cf.proof)
    proof["salts"] = salts
    proof["redacted"] = [_hex(h) for h in redacted_hashes]
    proof["hiddenPaths"] = list(dict.fromkeys([*cf.hidden_paths, *hide]))
    out = {**doc, "proof": [proof]}
    problem = _first_error(1, out) or _first_error(0, out)
    if problem is not None:
        raise RedactionError(",".join(hide), f"the redacted credential would break the OB 3.0 schema: {problem}")
    return out
