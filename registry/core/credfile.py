"""Credential files, formats ``credreg-proof-v2`` and ``credreg-proof-v1`` (see ``docs/format.md``).

Format v2 adds, before the anchor proof, the issuer's W3C Data Integrity signature
(:mod:`registry.core.signing`), binds each redacted field hash to its pointer and supports
disclosure profiles the issuer signs in advance. Everything below holds for both formats.

A credential file is an Open Badges 3.0 ``AchievementCredential`` (W3C VC 2.0) whose ``proof``
array holds one ``CredentialRegistryAnchorProof``: the salted digest of
:mod:`registry.core.disclosure`, its OpenZeppelin StandardMerkleTree path (:mod:`registry.core.merkle`) and
the on-chain anchor. Parsing reads strict JSON of bounded size and depth, then validates the
file's own JSON Schema, the official OB 3.0 AchievementCredential JSON Schema and the rules the
schemas cannot state (:mod:`registry.core.filerules`).
Selective disclosure (:func:`redact`) removes fields and keeps their field hashes, so the digest,
and therefore the Merkle proof and the anchor, stay valid.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from registry.core import strictjson
from registry.core.baking import sniff
from registry.core.credential import format_datetime
from registry.core.disclosure import (
    HASH_ALGORITHM,
    HASH_ALGORITHM_V2,
    compute_digest,
    digest_version,
    field_hashes,
    flatten,
    parse_pointer,
)
from registry.core.filerules import (
    ADDRESS_RE,
    CLAIM_ID_RE,
    FORMAT,
    FORMAT_V2,
    HASH_RE,
    MANDATORY_PATHS,
    PROFILE_NAME,
    PROOF_TYPE,
    SUPERSEDES_KINDS,
    check_strict,
    file_version,
    first_error,
    is_under,
)
from registry.core.merkleproof import verify_proof
from registry.core.signing import Signer
from registry.errors import CredentialFormatError, InvalidInput, RedactionError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "AnchorInfo",
    "CredentialFile",
    "check_inclusion",
    "check_integrity",
    "hidden_fields",
    "make_credential_file",
    "parse_credential_file",
    "redact",
    "with_supersedes",
]

MAX_FILE_BYTES: Final = 2 * 1024 * 1024
MAX_DEPTH: Final = 32
_INDEX_RE: Final = re.compile(r"0|[1-9][0-9]*")
MAX_NUMBER_CHARS: Final = strictjson.MAX_NUMBER_CHARS
"""Longest number literal accepted in a file (a guard against quadratic big-int parsing)."""


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


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
            ("registry", ADDRESS_RE),
            ("issuer_address", ADDRESS_RE),
            ("anchor_tx", HASH_RE),
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
    def supersedes(self) -> dict[str, str] | None:
        """The claim that this credential replaces another (``{id, credentialDigest, kind}``,
        docs/format.md §4a), or None."""
        claim = self.proof.get("supersedes")
        return dict(claim) if isinstance(claim, dict) else None

    @property
    def disclosure(self) -> str:
        """``full``, ``redacted`` or ``profile:<name>`` (v1 files: ``full`` or ``redacted``)."""
        value = self.proof.get("disclosure")
        return value if isinstance(value, str) else ("redacted" if self.redacted else "full")

    def hides(self, pointer: str) -> bool | None:
        """Whether ``pointer`` (or something under it) is hidden: True/False, or None when the
        format cannot tell (v1 with redacted hashes: they do not name their fields)."""
        if self.version >= 2:
            return any(is_under(p, pointer) for p in self.redacted_pointers)
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


def with_supersedes(file_dict: Mapping[str, Any], *, old_id: str, old_digest: bytes | str, kind: str) -> dict[str, Any]:
    """The credential file with a ``supersedes`` claim in its anchor proof (docs/format.md §4a):
    this credential replaces credential ``old_id`` (digest ``old_digest``, 32 bytes or 0x-hex) by
    a ``kind`` (``correction`` or ``renewal``).

    The claim lies outside the digest and the signature, so issuing it changes neither; a
    verifier believes it only when the registry records that supersession. Raises
    :class:`InvalidInput` naming the bad argument (``file`` a file that is not a credential file
    or already carries a claim); ``file_dict`` is never changed.
    """
    cf = parse_credential_file(file_dict)
    if cf.supersedes is not None:
        raise InvalidInput("file", f"already claims to replace {cf.supersedes['id']}")
    if kind not in SUPERSEDES_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(SUPERSEDES_KINDS)}")
    if not isinstance(old_id, str) or not CLAIM_ID_RE.fullmatch(old_id):
        raise InvalidInput("old_id", "must be 1 to 256 characters without spaces or control characters")
    if isinstance(old_digest, bytes) and len(old_digest) == 32:
        digest = _hex(old_digest)
    elif isinstance(old_digest, str) and HASH_RE.fullmatch(old_digest.lower()):
        digest = old_digest.lower()
    else:
        raise InvalidInput("old_digest", "must be 32 bytes or '0x' + 64 hex digits")
    if digest == cf.proof["credentialDigest"]:
        raise InvalidInput("old_digest", "is this credential's own digest: a credential cannot replace itself")
    out = cf.to_dict()
    out["proof"][-1]["supersedes"] = {"id": old_id, "credentialDigest": digest, "kind": kind}
    parse_credential_file(out)  # invariant: the claim as made here is well-formed
    return out


_CONTAINERS: Final = (dict, list)
"""What the depth walks descend into (a tuple, not ``dict | list``: that builds a union per test)."""


def _check_tree(value: Any, depth: int = 0) -> None:
    """Depth limit, and no object shaped like an array (member names exactly "0" … "n-1").

    Such an object flattens to the same pointers as the array would, so the digest cannot tell
    ``{"a": ["x"]}`` from ``{"a": {"0": "x"}}`` (docs/format.md §2); files with one are refused.
    """
    _check_nesting(value, depth, array_shapes=True)


def _check_depth(value: Any, depth: int = 0) -> None:
    """Depth limit only (the proof's maps may look like arrays: a profile may be named "0")."""
    _check_nesting(value, depth, array_shapes=False)


def _check_nesting(value: Any, depth: int, *, array_shapes: bool) -> None:
    if depth > MAX_DEPTH:
        raise CredentialFormatError("format", f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        if (
            array_shapes
            and "0" in value  # an array-shaped object has a member "0"; most objects stop here
            and all(type(k) is str and _INDEX_RE.fullmatch(k) for k in value)
            and sorted(int(k) for k in value) == list(range(len(value)))
        ):
            raise CredentialFormatError(
                "format",
                f"an object with members {sorted(value)[:3]}... is shaped like an array and would hash "
                "like one; use an array",
            )
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return
    if depth >= MAX_DEPTH and children:  # its members sit deeper than the limit, scalars too
        raise CredentialFormatError("format", f"JSON nested deeper than {MAX_DEPTH} levels")
    for v in children:
        if isinstance(v, _CONTAINERS):  # a scalar ends its branch: no call for it
            _check_nesting(v, depth + 1, array_shapes=array_shapes)


_PDF_PROBLEM: Final = (
    "a PDF, not a credential file: a printed certificate is a readable copy and proves nothing; verify the "
    "credential file (.json) or the baked badge (.png, .svg) it was printed from"
)


def _load(data: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(data, Mapping):
        _check_depth(data)  # same rules as a file: bounded depth first, then serialised and parsed
    try:
        parsed = strictjson.loads(strictjson.to_bytes(data, max_bytes=MAX_FILE_BYTES, what="file"), what="the file")
    except strictjson.StrictJsonError as exc:
        if isinstance(data, bytes) and sniff(data) == "pdf":  # a printed certificate sent for its file
            raise CredentialFormatError("format", _PDF_PROBLEM) from None
        raise CredentialFormatError("format", str(exc)) from None
    if not isinstance(parsed, dict):
        raise CredentialFormatError("format", "a credential file must be a JSON object")
    _check_tree({k: v for k, v in parsed.items() if k != "proof"})  # and the depth of all but the proof
    if "proof" in parsed:
        _check_depth(parsed["proof"], 1)
    return parsed


def parse_credential_file(data: bytes | str | Mapping[str, Any]) -> CredentialFile:
    """Parse and validate a credential file (size, depth, file schema, OB 3.0 schema).

    Raises :class:`CredentialFormatError` saying which part is wrong and why.
    """
    raw = _load(data)
    version = file_version(raw)
    problem = first_error(0 if version == 1 else 2, raw)
    if problem is not None:
        raise CredentialFormatError(
            "format", f"not a {FORMAT if version == 1 else FORMAT_V2} credential file: {problem}"
        )
    problem = first_error(1, raw)
    if problem is not None:
        raise CredentialFormatError("format", f"not a valid Open Badges 3.0 AchievementCredential: {problem}")
    check_strict(raw)
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
            if is_under(pointer, mandatory) or is_under(mandatory, pointer):
                raise RedactionError(pointer, f"{mandatory} is mandatory and cannot be hidden")
        container, key = _resolve(doc, tokens, pointer)
        if isinstance(container, list):
            raise RedactionError(pointer, "cannot hide a single array element; hide the whole array instead")
        del container[key]
        hidden.update(p for p in leaves if is_under(p, pointer))
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
                if is_under(mandatory, parent_pointer):
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
    problem = first_error(1, out) or first_error(0 if cf.version == 1 else 2, out)
    if problem is not None:
        raise RedactionError(",".join(hide), f"the redacted credential would break the OB 3.0 schema: {problem}")
    return out
