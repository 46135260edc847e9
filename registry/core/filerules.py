"""What a well-formed credential file is (``docs/format.md``, formats v1 and v2): the format's
names and patterns, its JSON Schemas and the rules those cannot state.

:func:`first_error` validates the file's own JSON Schema (``credential-file-v1`` or ``-v2``) or
the official OB 3.0 AchievementCredential JSON Schema (Draft 2019-09, loaded from the package;
nothing is fetched), with a compiled validator (``jsonschema-rs``) built once for the common case,
a valid file; the pure-Python ``jsonschema`` is the reference it is tested against
(``tests/unit/test_schema_differential.py``), and decides and words every rejection.
:func:`check_strict` holds the rules the schemas cannot state exactly. Parsing a file
(:func:`registry.core.credfile.parse_credential_file`) applies both.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from importlib import resources
from itertools import repeat
from typing import Any, Final

import jsonschema_rs

from registry.core.credential import CONTEXTS_V1, CONTEXTS_V2
from registry.core.disclosure import flatten
from registry.core.signing import PROOF_TYPE_DI
from registry.errors import CredentialFormatError

__all__ = [
    "ADDRESS_RE",
    "CLAIM_ID_RE",
    "FORMAT",
    "FORMAT_V2",
    "HASH_RE",
    "MANDATORY_PATHS",
    "PROFILE_NAME",
    "PROOF_TYPE",
    "SUPERSEDES_KINDS",
    "check_strict",
    "file_schema",
    "file_version",
    "first_error",
    "is_under",
    "ob3_schema",
]

FORMAT: Final = "credreg-proof-v1"
FORMAT_V2: Final = "credreg-proof-v2"
PROFILE_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_DISCLOSURE_RE: Final = re.compile(r"full|redacted|profile:[a-z0-9][a-z0-9-]{0,39}")
_BASE58: Final = "[1-9A-HJ-NP-Za-km-z]"
_PROOF_VALUE_RE: Final = re.compile(f"z{_BASE58}{{80,90}}")
_VM_RE: Final = re.compile(f"[A-Za-z][A-Za-z0-9+.-]*:[^\\s#]+#z{_BASE58}{{40,60}}")
PROOF_TYPE: Final = "CredentialRegistryAnchorProof"
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

HASH_RE: Final = re.compile(r"0x[0-9a-f]{64}")
"""A 32-byte hash in canonical form: ``0x`` and lower-case hex."""
ADDRESS_RE: Final = re.compile(r"0x[0-9a-f]{40}")
"""An address in canonical form: ``0x`` and lower-case hex."""
_SALT_RE: Final = re.compile(r"0x[0-9a-f]{32}")
_POINTER_RE: Final = re.compile(r"(/([^~/]|~[01])*)+")
CLAIM_ID_RE: Final = re.compile(r"[^\x00-\x20\x7f]{1,256}")
"""A claimed credential id: 1 to 256 characters, no spaces or control characters (it is shown in
reports, one line each)."""
SUPERSEDES_KINDS: Final = ("correction", "renewal")
"""The kinds of a ``supersedes`` claim, as the registry names them (1 and 2 on chain)."""
_DATETIME_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def is_under(path: str, prefix: str) -> bool:
    """Whether JSON pointer ``path`` is ``prefix`` or a pointer under it."""
    return path == prefix or path.startswith(prefix + "/")


@cache
def _load_schema(name: str) -> dict[str, Any]:
    text = resources.files("registry").joinpath("schemas", *name.split("/")).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def file_schema(version: int = 1) -> dict[str, Any]:
    """The JSON Schema of the credential file (``credential-file-v1.schema.json`` or ``-v2``)."""
    return _load_schema(f"credential-file-v{version}.schema.json")


def ob3_schema() -> dict[str, Any]:
    """The official OB 3.0 AchievementCredential JSON Schema shipped in the package."""
    return _load_schema("ob3/achievementcredential.schema.json")


def _no_retrieval(uri: str) -> Any:
    raise CredentialFormatError("format", f"the schema refers to {uri}, which is never fetched")


@cache
def _compiled() -> tuple[Any, Any, Any]:
    """The schemas compiled once (``jsonschema-rs``): ``$ref``s resolved inside each schema,
    nothing retrieved, and ``format`` not asserted, as the reference validator (which runs
    without a format checker). Index 0: file v1, 1: OB 3.0, 2: file v2."""
    own = jsonschema_rs.Draft201909Validator(file_schema(), validate_formats=False, retriever=_no_retrieval)
    ob3 = jsonschema_rs.Draft201909Validator(ob3_schema(), validate_formats=False, retriever=_no_retrieval)
    own2 = jsonschema_rs.Draft201909Validator(
        _quick_contains(file_schema(2)), validate_formats=False, retriever=_no_retrieval
    )
    return own, ob3, own2


_ANCHOR_TYPE: Final = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"const": "CredentialRegistryAnchorProof"}},
}


def _quick_contains(schema: dict[str, Any]) -> dict[str, Any]:
    """The v2 file schema with the same verdict on every document and one validation of the
    anchor proof instead of two (its 50-odd salts are most of the work: 43 -> 26 µs a file).

    ``proof`` says ``items: oneOf [DataIntegrityProof, CredentialRegistryAnchorProof]`` and
    ``contains: CredentialRegistryAnchorProof, maxContains: 1``. The two definitions pin
    different ``type`` constants, so where ``items`` holds, an item is valid under the anchor
    definition exactly when its ``type`` is ``CredentialRegistryAnchorProof``; ``contains`` may
    count that instead of validating every item again. Where ``items`` fails, both schemas reject.
    ``tests/unit/test_schema_differential.py`` holds the compiled validator to the reference."""
    proof = schema["properties"]["proof"]
    defs = schema["$defs"]
    for name in ("DataIntegrityProof", "CredentialRegistryAnchorProof"):
        rules = defs[name]
        if (
            rules.get("type") != "object"
            or "type" not in rules["required"]
            or rules["properties"]["type"] != {"const": name}
        ):
            raise AssertionError(f"the v2 file schema's {name} no longer pins its type: review _quick_contains")
    if proof.get("contains") != {"$ref": "#/$defs/CredentialRegistryAnchorProof"} or proof.get("items") != {
        "oneOf": [{"$ref": "#/$defs/DataIntegrityProof"}, {"$ref": "#/$defs/CredentialRegistryAnchorProof"}]
    }:
        raise AssertionError("the v2 file schema's proof rules changed: review _quick_contains")
    quick = copy.deepcopy(schema)
    quick["properties"]["proof"]["contains"] = _ANCHOR_TYPE
    return quick


@cache
def _validators() -> tuple[Any, Any, Any]:
    """The reference validators (pure-Python ``jsonschema``) of the file schemas and the OB 3.0
    schema: what the compiled ones are tested against, and their fallback."""
    from jsonschema import Draft201909Validator

    return (
        Draft201909Validator(file_schema()),
        Draft201909Validator(ob3_schema()),
        Draft201909Validator(file_schema(2)),
    )


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


def first_error(which: int, data: Any) -> str | None:
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


def _is_pointer(text: str) -> bool:
    """``_POINTER_RE.fullmatch(text)``; a string starting with "/" without "~" always matches."""
    return (text[:1] == "/" and "~" not in text) or _POINTER_RE.fullmatch(text) is not None


_SALTS_RE: Final = re.compile(r"0x[0-9a-f]{32}(?:\n0x[0-9a-f]{32})*")
_HASHES_RE: Final = re.compile(r"0x[0-9a-f]{64}(?:\n0x[0-9a-f]{64})*")


def _all_match(joined: re.Pattern[str], width: int, values: list[Any]) -> bool:
    """Whether every value is a string of ``width`` characters of the form ``joined`` repeats:
    one match over the values joined by newlines (the form holds no newline, so the length
    tells that no value brought one of its own). False says only "look one by one"."""
    if not values:
        return True
    try:
        text = "\n".join(values)
    except TypeError:
        return False
    return len(text) == (width + 1) * len(values) - 1 and joined.fullmatch(text) is not None


def _plain_pointers(pointers: list[Any]) -> bool:
    """Whether every pointer starts with "/" and holds no "~" (then it is a JSON pointer; see
    :func:`_is_pointer`). False says only "look one by one"."""
    try:
        return "~" not in "".join(pointers) and all(map(str.startswith, pointers, repeat("/")))
    except TypeError:
        return False


def check_strict(raw: dict[str, Any]) -> None:
    """Rules the JSON Schemas cannot state exactly (their regexes accept a trailing newline and
    non-ASCII digits): canonical hex, ASCII dates, sorted ``redacted``, the fixed ``@context``,
    and ``hiddenPaths`` consistent with what is disclosed."""
    version = file_version(raw)
    if version == 2 and [p.get("type") for p in raw["proof"]] not in ([PROOF_TYPE], [PROOF_TYPE_DI, PROOF_TYPE]):
        raise CredentialFormatError(
            "/proof", f"must be [{PROOF_TYPE_DI}, {PROOF_TYPE}] or [{PROOF_TYPE}] (the standard proof first)"
        )
    proof = raw["proof"][-1]
    for name, pattern in (
        ("credentialDigest", HASH_RE),
        ("merkleRoot", HASH_RE),
        ("anchorTx", HASH_RE),
        ("registry", ADDRESS_RE),
        ("issuerAddress", ADDRESS_RE),
        ("anchoredAt", _DATETIME_RE),
    ):
        if not pattern.fullmatch(proof[name]):
            raise CredentialFormatError(f"/proof/0/{name}", "not in canonical form (lower-case hex / ISO 8601)")
    redacted = proof["redacted"]
    for list_name, items in (("merklePath", proof["merklePath"]), ("redacted", redacted)):
        values = list(items.values() if isinstance(items, dict) else items)
        if _all_match(_HASHES_RE, 66, values):
            continue
        for i, h in enumerate(values):  # which one, in words
            if not HASH_RE.fullmatch(h):
                raise CredentialFormatError(f"/proof/0/{list_name}/{i}", "must be '0x' + 64 lower-case hex")
    if version == 1 and redacted != sorted(redacted):
        raise CredentialFormatError("/proof/0/redacted", "redacted field hashes must be sorted ascending")
    if version == 2:
        _strict_v2(raw, proof)
    if "supersedes" in proof:
        _strict_supersedes(proof, len(raw["proof"]) - 1)
    salts = proof["salts"]
    if not (_all_match(_SALTS_RE, 34, list(salts.values())) and _plain_pointers(list(salts))):
        for pointer, salt in salts.items():  # which one, in words
            if not _is_pointer(pointer) or not _SALT_RE.fullmatch(salt):
                raise CredentialFormatError(f"/proof/0/salts/{pointer!r}", "bad pointer or salt")
    for name in ("validFrom", "validUntil"):
        if name in raw and not _DATETIME_RE.fullmatch(raw[name]):
            raise CredentialFormatError(f"/{name}", "must be an ISO 8601 date-time with ASCII digits")
    contexts = list(CONTEXTS_V1 if version == 1 else CONTEXTS_V2)
    if raw["@context"] != contexts:
        raise CredentialFormatError("/@context", f"must be exactly {contexts}")
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
        if any(is_under(p, pointer) for p in disclosed):
            raise CredentialFormatError("/proof/0/hiddenPaths", f"{pointer} is listed as hidden but is disclosed")
        for mandatory in MANDATORY_PATHS:
            if is_under(pointer, mandatory) or is_under(mandatory, pointer):
                raise CredentialFormatError("/proof/0/hiddenPaths", f"{mandatory} is mandatory and cannot be hidden")


def _strict_supersedes(proof: dict[str, Any], index: int) -> None:
    """The optional ``supersedes`` claim (docs/format.md §4a): its digest in canonical hex and not
    this file's own, its id on one line (the schema fixes the members and the kinds)."""
    claim = proof["supersedes"]
    where = f"/proof/{index}/supersedes"
    if not HASH_RE.fullmatch(claim["credentialDigest"]):
        raise CredentialFormatError(f"{where}/credentialDigest", "must be '0x' + 64 lower-case hex")
    if claim["credentialDigest"] == proof["credentialDigest"]:
        raise CredentialFormatError(f"{where}/credentialDigest", "a credential cannot replace itself")
    if not CLAIM_ID_RE.fullmatch(claim["id"]):
        raise CredentialFormatError(f"{where}/id", "must be 1 to 256 characters without spaces or control characters")


def _strict_v2(raw: dict[str, Any], proof: dict[str, Any]) -> None:
    """Format v2 rules beyond its schema (docs/format.md v2 §5a)."""
    proofs = raw["proof"]
    if [p.get("type") for p in proofs] not in ([PROOF_TYPE], [PROOF_TYPE_DI, PROOF_TYPE]):
        raise CredentialFormatError(
            "/proof", f"must be [{PROOF_TYPE_DI}, {PROOF_TYPE}] or [{PROOF_TYPE}] (the standard proof first)"
        )
    signed = len(proofs) == 2
    redacted: dict[str, str] = proof["redacted"]
    disclosure = proof["disclosure"]
    if not _DISCLOSURE_RE.fullmatch(disclosure):
        raise CredentialFormatError("/proof/disclosure", "must be full, redacted or profile:<name> exactly")
    if signed:
        di = proofs[0]
        if not _PROOF_VALUE_RE.fullmatch(di["proofValue"]):
            raise CredentialFormatError("/proof/0/proofValue", "must be 'z' + base58btc exactly")
        if not _VM_RE.fullmatch(di["verificationMethod"]):
            raise CredentialFormatError("/proof/0/verificationMethod", "must be a DID URL ending in '#z' + base58btc")
        if not _DATETIME_RE.fullmatch(di["created"]):
            raise CredentialFormatError("/proof/0/created", "must be an ISO 8601 date-time with ASCII digits")
    for name, entry in proof.get("profiles", {}).items():
        if not _PROOF_VALUE_RE.fullmatch(entry["proofValue"]) or not PROFILE_NAME.fullmatch(name):
            raise CredentialFormatError(f"/proof/profiles/{name}", "bad profile name or proofValue")
    if disclosure == "full" and (redacted or not signed):
        raise CredentialFormatError("/proof/disclosure", "a full file hides nothing and carries the issuer's signature")
    if disclosure == "redacted" and (not redacted or signed):
        raise CredentialFormatError(
            "/proof/disclosure",
            "a redacted file hides fields and cannot carry the issuer's signature (it covered them)",
        )
    if disclosure.startswith("profile:") and (not redacted or not signed):
        raise CredentialFormatError(
            "/proof/disclosure", "a profile file hides fields and carries the profile's signature"
        )
    if "profiles" in proof and disclosure != "full":
        raise CredentialFormatError("/proof/profiles", "only a full file lists disclosure profiles")
    # A full file redacts nothing: its pointers are only listed when there is something to compare.
    disclosed = [p for p, _ in flatten({k: v for k, v in raw.items() if k != "proof"})] if redacted else []
    for pointer in redacted:
        if not _is_pointer(pointer):
            raise CredentialFormatError("/proof/redacted", f"{pointer!r} is not a JSON pointer")
        if any(is_under(p, pointer) or is_under(pointer, p) for p in disclosed):
            raise CredentialFormatError("/proof/redacted", f"{pointer} is both redacted and disclosed")
        for mandatory in MANDATORY_PATHS:
            if mandatory != "/validUntil" and (is_under(pointer, mandatory) or is_under(mandatory, pointer)):
                raise CredentialFormatError("/proof/redacted", f"{mandatory} is mandatory and cannot be hidden")
    for name, entry in proof.get("profiles", {}).items():
        for pointer in entry["hide"]:
            if not _POINTER_RE.fullmatch(pointer):
                raise CredentialFormatError(f"/proof/profiles/{name}", f"{pointer!r} is not a JSON pointer")


def file_version(raw: Any) -> int:
    """2 when a proof of the set says ``credreg-proof-v2`` (the v2 rules then check it is the
    last one), else 1."""
    proofs = raw.get("proof") if isinstance(raw, dict) else None
    if isinstance(proofs, list) and any(isinstance(p, dict) and p.get("format") == FORMAT_V2 for p in proofs):
        return 2
    return 1
