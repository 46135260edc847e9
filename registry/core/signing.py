"""Issuer signatures: W3C Data Integrity ``DataIntegrityProof`` with cryptosuite ``eddsa-rdfc-2022``
(docs/format.md v2 §4), the proof Open Badges 3.0 conformance and standard wallets check.

Libraries, no hand-written canonicalisation or curve code: ``pyld`` turns JSON-LD into RDF and is
the reference RDFC-1.0 (URDNA2015) canonicaliser; ``pyoxigraph`` (Oxigraph's Rust RDFC-1.0) relabels
blank nodes fast; ``cryptography`` signs with Ed25519 and ``PyNaCl`` (libsodium) verifies (in about
half of OpenSSL's time, and refusing the small-order keys and points that let any message verify
under OpenSSL's check); ``based58`` (Rust's ``bs58``) encodes and decodes multibase (1.7 µs for a
signature, against 28 µs for the pure-Python ``base58``).

Speed: expanding a credential with pyld costs ~8 ms. A batch's credentials share their shape
(keys, types, numbers) and differ in strings, so :class:`Canonicalizer` converts each *shape* to
N-Quads once with pyld, every string replaced by a unique placeholder, and for each credential
substitutes the escaped strings and lets Oxigraph assign the canonical blank-node labels. Anything
the template cannot reproduce exactly (a string in an IRI position that is not a plain absolute
IRI, control characters, a placeholder pyld did not emit verbatim, an Oxigraph parse error) takes
the pyld path. ``tests/unit/test_signing_equivalence.py`` proves both paths byte-equal with
Hypothesis. Contexts come from ``registry/contexts`` only: a context URL we do not ship is an error.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final

import based58
import pyoxigraph as ox
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from registry.core.credential import CONTEXT_OB3, CONTEXT_VC2
from registry.errors import InvalidInput

__all__ = [
    "CRYPTOSUITE",
    "PROOF_TYPE_DI",
    "Canonicalizer",
    "SignatureCheck",
    "Signer",
    "UnsupportedContext",
    "check_signature",
    "derive_signing_key",
    "dropped_terms",
    "multibase_base58btc",
    "public_key_from_multibase",
    "public_key_multibase",
    "reference_canonical",
]

PROOF_TYPE_DI: Final = "DataIntegrityProof"
CRYPTOSUITE: Final = "eddsa-rdfc-2022"
PROOF_PURPOSE: Final = "assertionMethod"
HKDF_INFO: Final = b"credential-registry/ed25519-signing-key/v1"
_MULTIKEY_PREFIX: Final = b"\xed\x01"
_CONTEXT_FILES: Final = {
    CONTEXT_VC2: "credentials-v2.jsonld",
    CONTEXT_OB3: "ob-v3p0-context-3.0.3.json",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr-v2p0-context-2.0.1.json",
}
_PLACEHOLDER: Final = "urn:x-credreg-placeholder:"
_UNDEFINED: Final = "urn:x-credreg-undefined-term:"
_STRUCTURAL_KEYS: Final = frozenset({"@context", "type", "@type"})
_ABSOLUTE_IRI: Final = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:[^\s<>\"{}|\\^`]*")
# Characters the template path hands to pyld: controls (escaped alike by neither side) and the
# noncharacters U+FFFE and U+FFFF, which Oxigraph writes as \uFFFE/\uFFFF where RDFC-1.0 (pyld,
# rdf-canonize) keeps them as they are.
_UNSAFE_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_MAX_TEMPLATES: Final = 256
_MAX_TWINS: Final = 8


class UnsupportedContext(InvalidInput):
    """A JSON-LD context this package does not ship (contexts are never fetched)."""


@cache
def _context_document(url: str) -> Any:
    name = _CONTEXT_FILES.get(url)
    if name is None:
        raise UnsupportedContext("@context", f"{url} is not a context this verifier ships (contexts are never fetched)")
    return json.loads(resources.files("registry").joinpath("contexts", name).read_text("utf-8"))


def _jsonld() -> Any:
    """pyld's processor, imported on first use: pyld imports an HTTP client (for remote documents,
    which our loader never fetches), and a verifier of v1 files should not pay for it."""
    from pyld import jsonld

    return jsonld


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    return {"contextUrl": None, "documentUrl": url, "document": _context_document(url)}


@cache
def _context_terms() -> frozenset[str]:
    """Every term any shipped context defines (scoped contexts included): a string whose IRI
    scheme is one of them could be a compact IRI, so the template never substitutes it."""
    terms: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not key.startswith("@"):
                    terms.add(key)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for url in _CONTEXT_FILES:
        walk(_context_document(url))
    return frozenset(terms)


def _require_contexts(doc: Mapping[str, Any]) -> None:
    """Refuse, before pyld sees it, a document naming a context we do not ship."""
    contexts = doc.get("@context")
    for url in contexts if isinstance(contexts, list) else [contexts]:
        if isinstance(url, str):
            _context_document(url)


def reference_canonical(doc: Mapping[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of ``doc`` computed by pyld alone (the reference; slow)."""
    _require_contexts(doc)
    out = _jsonld().normalize(
        copy.deepcopy(dict(doc)),
        {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _loader, "safe": False},
    )
    return str(out)


_NULL_STAND_IN: Final = "urn:x-credreg-null"


def _nulls_filled(value: Any) -> Any:
    """``value`` with every ``null`` member (other than a keyword's) replaced by an absolute IRI
    string: expansion drops a null member before its term is looked up, so an undefined term
    with a null value would escape :func:`dropped_terms`, while a JSON-LD processor in safe
    mode (Digital Bazaar's) refuses it all the same."""
    if isinstance(value, dict):
        return {
            k: (_NULL_STAND_IN if v is None and not k.startswith("@") else _nulls_filled(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_nulls_filled(v) for v in value]
    return value


def dropped_terms(doc: Mapping[str, Any]) -> list[str]:
    """JSON-LD's silent failures, made loud: the terms of ``doc`` its contexts do not define
    and the ``@id`` values that are not absolute IRIs (pyld has no safe mode; JSON-LD drops
    both). Expands once with a catch-all ``@vocab``/``@base`` and reports what lands there."""
    _require_contexts(doc)
    probe = _nulls_filled(dict(doc))  # a fresh copy: every dict and list is rebuilt
    contexts = probe.get("@context")
    if not isinstance(contexts, list):
        contexts = [contexts]
    probe["@context"] = [*contexts, {"@vocab": _UNDEFINED, "@base": _UNDEFINED + "relative/"}]
    expanded = _jsonld().expand(probe, {"documentLoader": _loader})
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith(_UNDEFINED):
                    found.add(key[len(_UNDEFINED) :])
                if key in ("@id", "@type") and isinstance(value, str | list):
                    for item in value if isinstance(value, list) else [value]:
                        if isinstance(item, str) and item.startswith(_UNDEFINED):
                            found.add(item[len(_UNDEFINED) :])
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(expanded)
    return sorted(found)


# ----------------------------------------------------------------------------------------------
# Canonicalisation with per-shape templates
# ----------------------------------------------------------------------------------------------


def _shape(value: Any, key: str | None, strings: list[str]) -> Any:
    """A hashable description of ``value`` with every non-structural string taken out (appended
    to ``strings`` in document order) and everything else kept."""
    if isinstance(value, dict):
        return ("{", tuple((k, _shape(v, k, strings)) for k, v in value.items()))
    if isinstance(value, list):
        return ("[", tuple(_shape(v, key, strings) for v in value))
    if isinstance(value, str):
        if key in _STRUCTURAL_KEYS:
            return ("s", value)
        strings.append(value)
        return "?"
    return (type(value).__name__, value)


def _with_placeholders(value: Any, key: str | None, counter: list[int]) -> Any:
    if isinstance(value, dict):
        return {k: _with_placeholders(v, k, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_placeholders(v, key, counter) for v in value]
    if isinstance(value, str) and key not in _STRUCTURAL_KEYS:
        counter[0] += 1
        return f"{_PLACEHOLDER}{counter[0] - 1}"
    return value


def _escape_literal(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r").replace('"', '\\"')
    )


@dataclass(frozen=True)
class _Template:
    parts: tuple[str, ...]
    """N-Quads text split around the slots: ``parts[0] slot0 parts[1] slot1 ...``."""
    slots: tuple[tuple[int, bool], ...]
    """Per slot: the index of the string it takes and whether it is an IRI (else a literal)."""


_SLOT_RE: Final = re.compile(r'"' + re.escape(_PLACEHOLDER) + r'(\d+)"|<' + re.escape(_PLACEHOLDER) + r"(\d+)>")


def _build_template(doc: Mapping[str, Any], count: int) -> _Template | None:
    probe = _with_placeholders(dict(doc), None, [0])
    nquads = str(_jsonld().to_rdf(probe, {"format": "application/n-quads", "documentLoader": _loader}))
    parts: list[str] = []
    slots: list[tuple[int, bool]] = []
    last = 0
    for match in _SLOT_RE.finditer(nquads):
        parts.append(nquads[last : match.start()])
        index = int(match.group(1) or match.group(2))
        if index >= count:
            return None
        slots.append((index, match.group(2) is not None))
        last = match.end()
    parts.append(nquads[last:])
    if any(_PLACEHOLDER in part for part in parts):  # emitted in a form we cannot substitute
        return None
    return _Template(tuple(parts), tuple(slots))


def _twins(doc: Any) -> int:
    """The largest number of id-less JSON objects sharing one shallow signature: RDFC-1.0's cost
    grows with the factorial of such groups, so a verifier bounds it (as rdf-canonize's
    ``maxWorkFactor`` does). An object's signature is its members with nested objects blanked;
    only objects with equal key sets can share one, so the JSON text is made only for those."""

    def shallow(obj: dict[str, Any]) -> str:
        return json.dumps(
            {k: ("{}" if isinstance(v, dict) else v) for k, v in obj.items()}, sort_keys=True, default=str
        )

    most = 0
    for members in _keyset_groups(doc).values():
        if len(members) <= most:
            continue
        if len(members) == 1:
            most = 1
            continue
        counts: dict[str, int] = {}
        for obj in members:
            sig = shallow(obj)
            counts[sig] = counts.get(sig, 0) + 1
        most = max(most, *counts.values())
    return most


def _twin_bound(doc: Any) -> int:
    """The largest number of id-less JSON objects sharing one key set: at least :func:`_twins`
    (objects with one shallow signature share their keys), and known from the shape alone (a
    shape keeps every member name), so a batch's credentials need it once."""
    return max(map(len, _keyset_groups(doc).values()), default=0)


def _keyset_groups(doc: Any) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """The id-less JSON objects of ``doc``, grouped by their sorted member names."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "id" not in node and "@id" not in node:
                groups.setdefault(tuple(sorted(node)), []).append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return groups


class TooManyTwins(InvalidInput):
    """A credential repeats one id-less structure more often than RDFC-1.0 can label cheaply."""


class Canonicalizer:
    """RDFC-1.0 canonical N-Quads of credentials, fast for credentials of a shape seen before.

    Thread-safe; keeps at most a few hundred templates (least recently built dropped first).
    """

    def __init__(self) -> None:
        self._templates: dict[Any, _Template | None] = {}
        self._undefined: dict[Any, list[str]] = {}
        self._twin_bounds: dict[Any, int] = {}
        self._lock = threading.Lock()
        self.fast = 0
        self.slow = 0

    def canonical(self, doc: Mapping[str, Any]) -> str:
        """RDFC-1.0 canonical N-Quads of ``doc`` (byte-equal to :func:`reference_canonical`)."""
        return self.checked(doc)[0]

    def checked(self, doc: Mapping[str, Any], *, max_twins: int | None = None) -> tuple[str, list[str]]:
        """The canonical N-Quads of ``doc`` and its :func:`dropped_terms` (terms JSON-LD would drop
        silently). Both once per shape: a shape's terms are its own, and a string in an IRI position
        that is not an absolute IRI (which JSON-LD drops too) never takes the template path, so
        such a document is checked on its own.

        ``max_twins``: :class:`TooManyTwins` first when :func:`_twins` of ``doc`` exceeds it (the
        verifier's work bound); counted only for a shape whose :func:`_twin_bound` exceeds it."""
        strings: list[str] = []
        key = _shape(doc, None, strings)
        if max_twins is not None:
            with self._lock:
                bound = self._twin_bounds.get(key)
            if bound is None:
                bound = _twin_bound(doc)
                with self._lock:
                    if len(self._twin_bounds) >= _MAX_TEMPLATES:
                        self._twin_bounds.pop(next(iter(self._twin_bounds)))
                    self._twin_bounds[key] = bound
            if bound > max_twins and _twins(doc) > max_twins:
                raise TooManyTwins(
                    "credential", "the credential repeats one structure too often to canonicalise safely"
                )
        _require_contexts(doc)
        with self._lock:
            known = key in self._templates
            template = self._templates.get(key)
            undefined = self._undefined.get(key)
        if not known:
            try:
                template = _build_template(doc, len(strings))
            except UnsupportedContext:
                raise
            except Exception:  # pyld refuses the shape: the reference path will say why
                template = None
            with self._lock:
                if len(self._templates) >= _MAX_TEMPLATES:
                    self._templates.pop(next(iter(self._templates)))
                self._templates[key] = template
        if template is not None:
            text = self._fill(template, strings)
            dataset = _relabelled(text) if text is not None else None
            if dataset is not None:
                self.fast += 1
                if undefined is None:
                    undefined = [t for t in dropped_terms(doc) if not t.startswith("relative/")]
                    with self._lock:
                        if len(self._undefined) >= _MAX_TEMPLATES:
                            self._undefined.pop(next(iter(self._undefined)))
                        self._undefined[key] = undefined
                # str() is Oxigraph's N-Quads serialisation (one quad a line), without the
                # writer machinery of ox.serialize: a quarter of its cost, same lines. Lines
                # end at "\n" only: a literal may hold U+2028, U+2029 or U+0085 unescaped,
                # where str.splitlines would cut a quad in two.
                lines = str(dataset).split("\n")
                return "".join(sorted(line + "\n" for line in lines if line)), undefined
        self.slow += 1
        return reference_canonical(doc), dropped_terms(doc)

    def template(self, key: Any) -> _Template | None:
        """The template of the shape ``key`` (:func:`_shape`) if one is held, else None."""
        with self._lock:
            return self._templates.get(key)

    @staticmethod
    def _fill(template: _Template, strings: list[str], unsafe: re.Pattern[str] | None = None) -> str | None:
        """The template's N-Quads with ``strings`` in its slots, or None when one cannot go there;
        ``unsafe``: the characters to hand to pyld instead of :data:`_UNSAFE_CHARS` (not cached)."""
        out = [template.parts[0]]
        rendered: dict[tuple[str, bool], Any] = _RENDERED if unsafe is None else {}
        for (index, is_iri), part in zip(template.slots, template.parts[1:], strict=True):
            value = strings[index]
            text = rendered.get((value, is_iri), _UNSEEN)
            if text is _UNSEEN:
                text = _render(value, is_iri, unsafe or _UNSAFE_CHARS)
                if len(rendered) >= _MAX_RENDERED:
                    rendered.clear()
                rendered[(value, is_iri)] = text
            if text is None:
                return None
            out.append(text)
            out.append(part)
        return "".join(out)


_UNSEEN: Final = object()
_RENDERED: dict[tuple[str, bool], Any] = {}
"""``(string, in an IRI position)`` -> its N-Quads term, or None when the template path cannot take
it: the files of a batch repeat most of their strings, so each is checked and escaped once."""
_MAX_RENDERED: Final = 65_536


def _render(value: str, is_iri: bool, unsafe: re.Pattern[str] = _UNSAFE_CHARS) -> str | None:
    if unsafe.search(value):
        return None
    if is_iri:
        if not _ABSOLUTE_IRI.fullmatch(value) or value.split(":", 1)[0] in _context_terms() or value.startswith("_:"):
            return None
        return f"<{value}>"
    return f'"{_escape_literal(value)}"'


def _relabelled(nquads: str) -> ox.Dataset | None:
    """The dataset of ``nquads`` with RDFC-1.0's blank-node labels (Oxigraph); None when Oxigraph
    refuses the text (the caller then takes pyld's path)."""
    try:
        dataset = ox.Dataset(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    except (SyntaxError, ValueError):
        return None
    return dataset


_DEFAULT: Final = Canonicalizer()


# Releases before 2026-12-07 canonicalised text holding one of these characters wrongly on their
# template path (lines cut by str.splitlines at U+2028, U+2029 and U+0085; U+FFFE and U+FFFF as
# Oxigraph escapes them). What they signed is rebuilt only to name that mistake in a reason.
_LEGACY_TEXT: Final = re.compile("[\u2028\u2029\x85\ufffe\uffff]")
_LEGACY_UNSAFE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LEGACY_REASON: Final = (
    "the issuer's signature was made over a wrong canonical form of text holding U+2028, U+2029, U+0085, U+FFFE "
    "or U+FFFF, by a registry release before 2026-12-07: standard verifiers refuse it. The content, anchor and "
    "inclusion proof are sound: the issuer signs the file again (registry resign, or a fresh download from the "
    "issuer's service), with no new issuance"
)


def _legacy_canonical(doc: Mapping[str, Any], canon: Canonicalizer) -> str | None:
    """The N-Quads such a release signed ``doc`` over, or None when it would not have taken its
    template path (it then signed the correct form) or ``canon`` holds no template of its shape
    (checking the signature just made one: a failing file never costs a pyld run of its own)."""
    strings: list[str] = []
    template = canon.template(_shape(doc, None, strings))
    if template is None:
        return None
    text = Canonicalizer._fill(template, strings, _LEGACY_UNSAFE)
    dataset = _relabelled(text) if text is not None else None
    if dataset is None:
        return None
    return "".join(sorted(str(dataset).splitlines(keepends=True)))  # the old, wrong, line split


def _signed_by_a_legacy_release(
    unsecured: Mapping[str, Any], proof: Mapping[str, Any], public: bytes, signature: bytes, canon: Canonicalizer
) -> bool:
    if not _LEGACY_TEXT.search(json.dumps(unsecured, ensure_ascii=False)):
        return False
    canonical = _legacy_canonical(unsecured, canon)
    if canonical is None:
        return False
    data = _CONFIG_HASHES(unsecured.get("@context"), proof) + hashlib.sha256(canonical.encode("utf-8")).digest()
    return _ed25519_verifies(public, signature, data)


# ----------------------------------------------------------------------------------------------
# Keys
# ----------------------------------------------------------------------------------------------


def derive_signing_key(anchoring_private_key: bytes) -> Ed25519PrivateKey:
    """The issuer's Ed25519 signing key, derived from its anchoring key (HKDF-SHA256, empty salt,
    info ``credential-registry/ed25519-signing-key/v1``; 32 bytes = the Ed25519 seed)."""
    if not isinstance(anchoring_private_key, bytes) or len(anchoring_private_key) != 32:
        raise InvalidInput("private_key", "must be the 32-byte anchoring private key")
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(anchoring_private_key)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_multibase(public_key: bytes) -> str:
    """Multikey ``publicKeyMultibase``: ``z`` + base58btc(0xed01 ‖ 32-byte Ed25519 key)."""
    if len(public_key) != 32:
        raise InvalidInput("public_key", "an Ed25519 public key has 32 bytes")
    return multibase_base58btc(_MULTIKEY_PREFIX + public_key)


def public_key_from_multibase(value: str) -> bytes:
    """The 32-byte Ed25519 key of a Multikey ``publicKeyMultibase`` (raises InvalidInput)."""
    if not isinstance(value, str):
        raise InvalidInput("verificationMethod", "the key must be a base58btc multibase value starting with 'z'")
    return _public_key(value)


def _b58encode(data: bytes) -> str:
    """base58btc (Bitcoin alphabet) of ``data``."""
    return str(based58.b58encode(data).decode("ascii"))


def multibase_base58btc(data: bytes) -> str:
    """Multibase base58btc of ``data``: ``"z"`` + base58btc (keys, signatures, digests)."""
    return "z" + _b58encode(data)


def _b58decode(text: str) -> bytes:
    """The bytes of base58btc ``text``; ValueError for any character outside the alphabet
    (whitespace and non-ASCII included: nothing is stripped)."""
    return bytes(based58.b58decode(text.encode("ascii")))


_verifying_key = lru_cache(maxsize=1024)(VerifyKey)
"""The key object of 32 raw public key bytes (memoised: a batch, or a service's day, names few
keys; the objects are immutable and verify from any thread)."""


def _ed25519_verifies(public: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``public``'s Ed25519 signature of ``data`` (RFC 8032, libsodium's
    check: also false for a small-order or non-canonical key or ``R``, and for ``S`` >= L)."""
    try:
        _verifying_key(public).verify(data, signature)
    except BadSignatureError:
        return False
    return True


@lru_cache(maxsize=1024)
def _public_key(value: str) -> bytes:
    """:func:`public_key_from_multibase` of a string (memoised: a batch names one key)."""
    if not value.startswith("z") or len(value) > 64:
        raise InvalidInput("verificationMethod", "the key must be a base58btc multibase value starting with 'z'")
    try:
        raw = _b58decode(value[1:])
    except ValueError:
        raise InvalidInput("verificationMethod", "the key is not valid base58btc") from None
    if len(raw) != 34 or raw[:2] != _MULTIKEY_PREFIX:
        raise InvalidInput("verificationMethod", "the key is not an Ed25519 Multikey (0xed01 + 32 bytes)")
    return raw[2:]


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# ----------------------------------------------------------------------------------------------
# Signing and verifying
# ----------------------------------------------------------------------------------------------


def _proof_config(context: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    config = {k: v for k, v in options.items() if k != "proofValue"}
    return {"@context": copy.deepcopy(context), **config}


class _ConfigHashes:
    """SHA-256 of canonical proof configurations: a batch signs with one configuration."""

    def __init__(self) -> None:
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, context: Any, options: Mapping[str, Any]) -> bytes:
        # The key holds what the configuration is made of (no copy of the contexts per call).
        key = json.dumps([context, {k: v for k, v in options.items() if k != "proofValue"}], sort_keys=True)
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            config = _proof_config(context, options)
            found = hashlib.sha256(reference_canonical(config).encode("utf-8")).digest()
            with self._lock:
                if len(self._cache) >= _MAX_TEMPLATES:
                    self._cache.clear()
                self._cache[key] = found
        return found


_CONFIG_HASHES: Final = _ConfigHashes()


class UndefinedTerms(InvalidInput):
    """A credential uses terms its contexts do not define: JSON-LD would drop them, so a signature
    would not cover what the file shows (standard verifiers refuse such credentials)."""


def _hash_data(
    credential: Mapping[str, Any], options: Mapping[str, Any], canon: Canonicalizer, max_twins: int | None = None
) -> bytes:
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    canonical, undefined = canon.checked(unsecured, max_twins=max_twins)
    doc_hash = hashlib.sha256(canonical.encode("utf-8")).digest()
    if undefined:
        raise UndefinedTerms(
            "credential",
            f"uses terms its JSON-LD contexts do not define (a signature would not cover them): {', '.join(undefined)}",
        )
    return _CONFIG_HASHES(unsecured.get("@context"), options) + doc_hash


class Signer:
    """Signs credentials of one issuer with one ``created`` time (a batch)."""

    def __init__(
        self, key: Ed25519PrivateKey, issuer_id: str, created: str, canonicalizer: Canonicalizer | None = None
    ) -> None:
        self._key = key
        self.public_key = _raw_public(key)
        self.verification_method = f"{issuer_id}#{public_key_multibase(self.public_key)}"
        self.options: dict[str, Any] = {
            "type": PROOF_TYPE_DI,
            "cryptosuite": CRYPTOSUITE,
            "created": created,
            "verificationMethod": self.verification_method,
            "proofPurpose": PROOF_PURPOSE,
        }
        self._canon = canonicalizer or _DEFAULT

    def proof_value(self, credential: Mapping[str, Any]) -> str:
        signature = self._key.sign(_hash_data(credential, self.options, self._canon))
        return multibase_base58btc(signature)

    def proof(self, credential: Mapping[str, Any]) -> dict[str, Any]:
        """The ``DataIntegrityProof`` of ``credential`` (its ``proof`` member, if any, ignored)."""
        return {**self.options, "proofValue": self.proof_value(credential)}


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of checking one DataIntegrityProof offline (the chain binding is checked apart)."""

    ok: bool
    reason: str
    public_key: bytes | None = None
    legacy: bool = False
    """The signature is the issuer's, over the wrong canonical form a release before 2026-12-07
    made of text holding one of five characters (docs/format.md v2 §4): the content is sound, and
    signing it again (:mod:`registry.issue.resign`) gives a signature standard verifiers accept."""


def check_signature(
    credential: Mapping[str, Any], proof: Mapping[str, Any], canonicalizer: Canonicalizer | None = None
) -> SignatureCheck:
    """Verify ``proof`` (a DataIntegrityProof, eddsa-rdfc-2022) over ``credential`` without its
    ``proof``. The verification method must be ``issuer.id#<Multikey>``. Never raises for bad
    input: the reason says what is wrong."""
    if proof.get("type") != PROOF_TYPE_DI or proof.get("cryptosuite") != CRYPTOSUITE:
        return SignatureCheck(False, f"not a {PROOF_TYPE_DI} with cryptosuite {CRYPTOSUITE}")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        return SignatureCheck(False, f"proofPurpose must be {PROOF_PURPOSE}")
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    method = proof.get("verificationMethod")
    if not isinstance(issuer_id, str) or not isinstance(method, str) or not method.startswith(issuer_id + "#"):
        return SignatureCheck(False, f"the signing key {method!r} is not a key of the issuer {issuer_id!r}")
    try:
        public = public_key_from_multibase(method[len(issuer_id) + 1 :])
    except InvalidInput as exc:
        return SignatureCheck(False, str(exc))
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        return SignatureCheck(False, "proofValue must be base58btc multibase (starting with 'z')", public)
    try:
        signature = _b58decode(value[1:])
    except ValueError:
        return SignatureCheck(False, "proofValue is not valid base58btc", public)
    if len(signature) != 64:
        return SignatureCheck(False, "proofValue is not a 64-byte Ed25519 signature", public)
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    try:
        data = _hash_data(unsecured, proof, canonicalizer or _DEFAULT, max_twins=_MAX_TWINS)
    except TooManyTwins as exc:
        return SignatureCheck(False, exc.problem, public)
    except (UnsupportedContext, UndefinedTerms) as exc:
        return SignatureCheck(False, str(exc), public)
    except Exception as exc:  # pyld: malformed JSON-LD
        return SignatureCheck(False, f"the credential is not valid JSON-LD: {exc}", public)
    if not _ed25519_verifies(public, signature, data):
        if _signed_by_a_legacy_release(unsecured, proof, public, signature, canonicalizer or _DEFAULT):
            return SignatureCheck(False, _LEGACY_REASON, public, legacy=True)
        return SignatureCheck(
            False, "the issuer's signature does not match: the credential was changed after it was signed", public
        )
    return SignatureCheck(True, "the issuer's Ed25519 signature (eddsa-rdfc-2022) verifies", public)
