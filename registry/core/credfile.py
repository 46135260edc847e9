"""Credential files, formats ``credreg-proof-v2`` and ``credreg-proof-v1`` (see ``docs/format.md``).

Format v2 adds, before the anchor proof, the issuer's W3C Data Integrity signature
(:mod:`registry.core.signing`), binds each redacted field hash to its pointer and supports
disclosure profiles the issuer signs in advance. Everything below holds for both formats.

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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import jsonschema_rs

from registry.core import strictjson
from registry.core.credential import CONTEXTS_V1, CONTEXTS_V2, format_datetime
from registry.core.disclosure import (
    HASH_ALGORITHM,
    HASH_ALGORITHM_V2,
    compute_digest,
    digest_version,
    field_hashes,
    flatten,
    parse_pointer,
)
from registry.core.merkle import verify_proof
from registry.core.signing import PROOF_TYPE_DI, Signer
from registry.errors import CredentialFormatError, InvalidInput, RedactionError

__all__ = [
    "FORMAT",
    "FORMAT_V2",
    "MANDATORY_PATHS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "PROFILE_NAME",
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
FORMAT_V2: Final = "credreg-proof-v2"
PROFILE_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_DISCLOSURE_RE: Final = re.compile(r"full|redacted|profile:[a-z0-9][a-z0-9-]{0,39}")
_BASE58: Final = "[1-9A-HJ-NP-Za-km-z]"
_PROOF_VALUE_RE: Final = re.compile(f"z{_BASE58}{{80,90}}")
_VM_RE: Final = re.compile(f"[A-Za-z][A-Za-z0-9+.-]*:[^\\s#]+#z{_BASE58}{{40,60}}")
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
MAX_NUMBER_CHARS: Final = strictjson.MAX_NUMBER_CHARS
"""Longest number literal accepted in a file (a guard against quadratic big-int parsing)."""


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


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
    own2 = jsonschema_rs.Draft201909Validator(file_schema(2), validate_formats=False, retriever=_no_retrieval)
    return own, ob3, own2


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
    version: int = 1
    """1 or 2 (``credreg-proof-v1`` / ``-v2``)."""
    redacted_pointers: dict[str, bytes] = field(default_factory=dict)
    """Format v2: ``{pointer: field hash}`` of the hidden leaves (``redacted`` holds the hashes)."""
    signature: dict[str, Any] | None = None
    """Format v2: the ``DataIntegrityProof``, when the file carries one."""

    @property
    def disclosure(self) -> str:
        """``full``, ``redacted`` or ``profile:<name>`` (v1 files: ``full`` or ``redacted``)."""
        value = self.proof.get("disclosure")
        return value if isinstance(value, str) else ("redacted" if self.redacted else "full")

    def hides(self, pointer: str) -> bool | None:
        """Whether ``pointer`` (or something under it) is hidden: True/False, or None when the
        format cannot tell (v1 with redacted hashes: they do not name their fields)."""
        if self.version >= 2:
            return any(_is_under(p, pointer) for p in self.redacted_pointers)
        return None if self.redacted else False

    def to_dict(self) -> dict[str, Any]:
        """The file as a JSON object (credential plus ``proof`` array)."""
        proofs = [copy.deepcopy(self.signature)] if self.signature is not None else []
        return {**copy.deepcopy(self.credential), "proof": [*proofs, copy.deepcopy(self.proof)]}


def make_credential_file(
    doc: Mapping[str, Any],
    salts: Mapping[str, str],
    digest: bytes,
    root: bytes,
    path: Sequence[bytes],
    anchor: AnchorInfo,
    *,
    check: bool = True,
    signer: Signer | None = None,
    profiles: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Assemble the credential file of ``doc`` anchored under ``root``.

    The format follows the credential's contexts: a v2 credential (VC 2.0 + OB 3.0.3 contexts)
    gets a v2 file, signed by ``signer`` (required), with one pre-signed disclosure profile per
    entry of ``profiles`` (name → pointers to hide, docs/format.md v2 §5).

    With ``check`` (default) the digest is recomputed and the path verified first, so a file that
    would not verify is never produced.
    """
    credential = {k: copy.deepcopy(v) for k, v in doc.items() if k != "proof"}
    version = digest_version(credential)
    if check:
        actual = compute_digest(credential, salts)
        if actual != digest:
            raise InvalidInput("digest", "does not match the credential and its salts")
        verify_proof(root, digest, path)
    if version == 2 and signer is None:
        raise InvalidInput("signer", "a format v2 credential file is signed by its issuer: give the issuer's signer")
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "format": FORMAT if version == 1 else FORMAT_V2,
        "hashAlgorithm": HASH_ALGORITHM if version == 1 else HASH_ALGORITHM_V2,
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
    if version == 1:
        return {**credential, "proof": [proof]}
    assert signer is not None
    proof["redacted"] = {}
    proof["disclosure"] = "full"
    signed = {}
    for name, hide in (profiles or {}).items():
        if not isinstance(name, str) or not PROFILE_NAME.fullmatch(name):
            raise InvalidInput(f"profiles.{name}", "a profile name is lower-case letters, digits and '-' (max 40)")
        try:
            reduced, _ = _hide(credential, salts, list(hide))
        except RedactionError as exc:
            raise InvalidInput(f"profiles.{name}", str(exc)) from None
        signed[name] = {"hide": list(hide), "proofValue": signer.proof_value(reduced)}
    if signed:
        proof["profiles"] = signed
    return {**credential, "proof": [signer.proof(credential), proof]}


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
        _check_depth(data)  # same rules as a file: bounded depth first, then serialised and parsed
    try:
        parsed = strictjson.loads(strictjson.to_bytes(data, max_bytes=MAX_FILE_BYTES, what="file"), what="the file")
    except strictjson.StrictJsonError as exc:
        raise CredentialFormatError("format", str(exc)) from None
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
    version = _file_version(raw)
    if version == 2 and [p.get("type") for p in raw["proof"]] not in ([PROOF_TYPE], [PROOF_TYPE_DI, PROOF_TYPE]):
        raise CredentialFormatError(
            "/proof", f"must be [{PROOF_TYPE_DI}, {PROOF_TYPE}] or [{PROOF_TYPE}] (the standard proof first)"
        )
    proof = raw["proof"][-1]
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
    redacted = proof["redacted"]
    for list_name, items in (("merklePath", proof["merklePath"]), ("redacted", redacted)):
        for i, h in enumerate(items.values() if isinstance(items, dict) else items):
            if not _HASH_RE.fullmatch(h):
                raise CredentialFormatError(f"/proof/0/{list_name}/{i}", "must be '0x' + 64 lower-case hex")
    if version == 1 and redacted != sorted(redacted):
        raise CredentialFormatError("/proof/0/redacted", "redacted field hashes must be sorted ascending")
    if version == 2:
        _strict_v2(raw, proof)
    for pointer, salt in proof["salts"].items():
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
        if any(_is_under(p, pointer) for p in disclosed):
            raise CredentialFormatError("/proof/0/hiddenPaths", f"{pointer} is listed as hidden but is disclosed")
        for mandatory in MANDATORY_PATHS:
            if _is_under(pointer, mandatory) or _is_under(mandatory, pointer):
                raise CredentialFormatError("/proof/0/hiddenPaths", f"{mandatory} is mandatory and cannot be hidden")


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
    disclosed = [p for p, _ in flatten({k: v for k, v in raw.items() if k != "proof"})]
    for pointer in redacted:
        if not _is_pointer(pointer):
            raise CredentialFormatError("/proof/redacted", f"{pointer!r} is not a JSON pointer")
        if any(_is_under(p, pointer) or _is_under(pointer, p) for p in disclosed):
            raise CredentialFormatError("/proof/redacted", f"{pointer} is both redacted and disclosed")
        for mandatory in MANDATORY_PATHS:
            if mandatory != "/validUntil" and (_is_under(pointer, mandatory) or _is_under(mandatory, pointer)):
                raise CredentialFormatError("/proof/redacted", f"{mandatory} is mandatory and cannot be hidden")
    for name, entry in proof.get("profiles", {}).items():
        for pointer in entry["hide"]:
            if not _POINTER_RE.fullmatch(pointer):
                raise CredentialFormatError(f"/proof/profiles/{name}", f"{pointer!r} is not a JSON pointer")


def _file_version(raw: Any) -> int:
    """2 when a proof of the set says ``credreg-proof-v2`` (the v2 rules then check it is the
    last one), else 1."""
    proofs = raw.get("proof") if isinstance(raw, dict) else None
    if isinstance(proofs, list) and any(isinstance(p, dict) and p.get("format") == FORMAT_V2 for p in proofs):
        return 2
    return 1


def parse_credential_file(data: bytes | str | Mapping[str, Any]) -> CredentialFile:
    """Parse and validate a credential file (size, depth, file schema, OB 3.0 schema).

    Raises :class:`CredentialFormatError` saying which part is wrong and why.
    """
    raw = _load(data)
    version = _file_version(raw)
    problem = _first_error(0 if version == 1 else 2, raw)
    if problem is not None:
        raise CredentialFormatError(
            "format", f"not a {FORMAT if version == 1 else FORMAT_V2} credential file: {problem}"
        )
    problem = _first_error(1, raw)
    if problem is not None:
        raise CredentialFormatError("format", f"not a valid Open Badges 3.0 AchievementCredential: {problem}")
    _strict(raw)
    proof: dict[str, Any] = raw["proof"][-1]
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
    redacted = proof["redacted"]
    pointers = {p: bytes.fromhex(h[2:]) for p, h in redacted.items()} if isinstance(redacted, dict) else {}
    return CredentialFile(
        credential=credential,
        proof=proof,
        digest=bytes.fromhex(proof["credentialDigest"][2:]),
        root=bytes.fromhex(proof["merkleRoot"][2:]),
        path=[bytes.fromhex(p[2:]) for p in proof["merklePath"]],
        anchor=anchor,
        salts=dict(proof["salts"]),
        redacted=list(pointers.values()) if version == 2 else [bytes.fromhex(h[2:]) for h in redacted],
        hidden_paths=list(proof["hiddenPaths"]),
        version=version,
        redacted_pointers=pointers,
        signature=raw["proof"][0] if len(raw["proof"]) == 2 else None,
    )


def check_integrity(cf: CredentialFile) -> bytes:
    """Recompute the digest from the disclosed fields, salts and redacted hashes.

    Returns it when it equals ``credentialDigest``; otherwise raises
    :class:`CredentialFormatError` (field ``/proof/0/credentialDigest``).
    """
    redacted = cf.redacted_pointers if cf.version == 2 else cf.redacted
    actual = compute_digest(cf.credential, cf.salts, redacted, version=cf.version)
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


def _hide(
    credential: Mapping[str, Any], salts: Mapping[str, str], hide: Sequence[str]
) -> tuple[dict[str, Any], set[str]]:
    """The credential without the fields under ``hide`` and the pointers of the hidden leaves
    (docs/format.md v1 §5: leaves or object members; not array elements, not mandatory fields;
    objects emptied by the removal go too). Raises :class:`RedactionError`."""
    doc = copy.deepcopy(dict(credential))
    leaves = [p for p, _ in flatten(doc)]
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
        hidden.update(p for p in leaves if _is_under(p, pointer))
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
    return doc, hidden


def redact(file_dict: Mapping[str, Any], hide: Sequence[str] = (), *, profile: str | None = None) -> dict[str, Any]:
    """Hide fields of a credential file; the digest, path and anchor stay valid.

    Each path in ``hide`` is an RFC 6901 pointer to a leaf or an object member (its whole subtree
    is hidden). Array elements cannot be hidden one by one (hide the whole array); mandatory
    fields (:data:`MANDATORY_PATHS`) and fields whose removal breaks the OB 3.0 schema are
    refused with :class:`RedactionError`.

    Format v2: the issuer's signature is removed (it covered the hidden fields) unless
    ``profile`` names a disclosure profile the issuer pre-signed, whose pointers are hidden
    (``hide`` must then be empty) and whose signature the file keeps.
    """
    cf = parse_credential_file(file_dict)
    check_integrity(cf)
    if profile is not None:
        if cf.version < 2:
            raise RedactionError(profile, "format v1 files have no disclosure profiles")
        profiles = cf.proof.get("profiles") or {}
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise RedactionError(profile, f"no such disclosure profile in this file (profiles: {known})")
        if hide:
            raise RedactionError(",".join(hide), "give either a profile or paths to hide, not both")
        hide = list(profiles[profile]["hide"])
    elif not hide:
        raise RedactionError("", "nothing to hide: give paths to hide or a profile")
    doc, hidden = _hide(cf.credential, cf.salts, hide)
    hashes = field_hashes(cf.credential, cf.salts)
    salts = {p: s for p, s in cf.salts.items() if p not in hidden}
    proof = copy.deepcopy(cf.proof)
    proof["salts"] = salts
    proof["hiddenPaths"] = list(dict.fromkeys([*cf.hidden_paths, *hide]))
    proofs: list[dict[str, Any]] = []
    if cf.version == 2:
        pointers = {**{p: _hex(h) for p, h in cf.redacted_pointers.items()}, **{p: _hex(hashes[p]) for p in hidden}}
        proof["redacted"] = dict(sorted(pointers.items()))
        if compute_digest(doc, salts, proof["redacted"], version=2) != cf.digest:  # invariant, never expected
            raise RedactionError("", "internal error: redaction changed the credential digest")
        proof.pop("profiles", None)
        if profile is not None and cf.signature is not None:
            proofs = [{**cf.signature, "proofValue": cf.proof["profiles"][profile]["proofValue"]}]
            proof["disclosure"] = f"profile:{profile}"
        else:
            proof["disclosure"] = "redacted"
    else:
        redacted_hashes = sorted([*cf.redacted, *(hashes[p] for p in hidden)])
        if compute_digest(doc, salts, redacted_hashes, version=1) != cf.digest:  # invariant, never expected
            raise RedactionError("", "internal error: redaction changed the credential digest")
        proof["redacted"] = [_hex(h) for h in redacted_hashes]
    out = {**doc, "proof": [*proofs, proof]}
    problem = _first_error(1, out) or _first_error(0 if cf.version == 1 else 2, out)
    if problem is not None:
        raise RedactionError(",".join(hide), f"the redacted credential would break the OB 3.0 schema: {problem}")
    return out
