"""Format v2 signatures (registry.core.signing): the fast canonicaliser is byte-equal to pyld's
RDFC-1.0, JSON-LD drops nothing from our credentials, keys and signatures behave."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import base58
import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.core.credential import CONTEXT_OB3, CONTEXT_VC2, build_credential
from registry.core.signing import (
    _CONFIG_HASHES,
    _UNSAFE_CHARS,
    Canonicalizer,
    Signer,
    _b58decode,
    _b58encode,
    _legacy_canonical,
    check_signature,
    derive_signing_key,
    dropped_terms,
    public_key_from_multibase,
    public_key_multibase,
    reference_canonical,
)
from registry.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
ISSUER = {"id": "did:web:uni.example", "name": "Example University", "url": "https://uni.example"}
ACHIEVEMENT = {
    "id": "https://uni.example/achievements/data-literacy",
    "name": "Data Literacy",
    "description": "Reading, cleaning and presenting data.",
    "criteria_narrative": "Pass the final project.",
    "learning_outcomes": ["Clean a data set", "Explain a chart"],
    "workload_ects": 5.0,
    "eqf_level": 6,
    "assessment_type": "Project with oral defence",
    "participation_form": "blended",
    "quality_assurance": "Accredited by the national agency.",
}
T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def _doc(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "achievement": ACHIEVEMENT,
        "issuer": ISSUER,
        "recipient_email": "ada@example.org",
        "recipient_name": "Ada Lovelace",
        "valid_from": T0,
        "valid_until": T0 + timedelta(days=365),
        "result": "A",
    }
    args.update(kw)
    return build_credential(**args)


# Text that exercises N-Quads escaping (quotes, backslashes, tabs, newlines), non-ASCII, and the
# control characters the fast path hands to pyld.
_TEXT = st.text(
    # U+2028, U+2029 and U+0085 are line breaks to str.splitlines, not to N-Quads; Oxigraph
    # escapes U+FFFE and U+FFFF, RDFC-1.0 does not.
    alphabet=st.sampled_from(list('abcXYZ 09"\\\t\n\r\x01\x1c\x7f\x85\u2028\u2029\ufffe\uffffé€𝄞<>{}:/#_')),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() != "")
_IRI = st.one_of(
    st.builds(lambda s: f"https://uni.example/a/{s}", st.text("abcxyz019-._~", min_size=1, max_size=8)),
    st.builds(lambda s: f"urn:example:{s}", st.text("abc019:", min_size=1, max_size=8)),
    _TEXT,  # not an IRI at all: pyld drops it, the fast path must notice and agree
)


@st.composite
def credentials(draw: st.DrawFn) -> dict[str, Any]:
    ach = dict(ACHIEVEMENT)
    ach["name"] = draw(_TEXT)
    ach["description"] = draw(_TEXT)
    ach["learning_outcomes"] = draw(st.lists(_TEXT, min_size=1, max_size=4))
    ach["quality_assurance"] = draw(_TEXT)
    ach["assessment_type"] = draw(_TEXT)
    doc = _doc(
        achievement=ach,
        recipient_name=draw(st.one_of(st.none(), _TEXT)),
        result=draw(st.one_of(st.none(), _TEXT)),
        rng=lambda n: draw(st.binary(min_size=n, max_size=n)),
    )
    # Vary IRI positions directly (the model would refuse non-IRIs; JSON-LD must agree anyway).
    doc["credentialSubject"]["achievement"]["id"] = draw(_IRI)
    if draw(st.booleans()):
        doc["issuer"]["url"] = draw(_IRI)
    if draw(st.booleans()):
        doc["credentialSubject"]["achievement"]["creditsAvailable"] = draw(
            st.floats(min_value=0.5, max_value=60, allow_nan=False, allow_infinity=False)
        )
    if draw(st.booleans()):
        doc["credentialSubject"]["achievement"]["alignment"].append(
            copy.deepcopy(doc["credentialSubject"]["achievement"]["alignment"][-1])
        )
    return doc


CANON = Canonicalizer()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials())
def test_fast_canonicalisation_is_byte_equal_to_pyld(doc: dict[str, Any]) -> None:
    assert CANON.canonical(doc) == reference_canonical(doc)


def test_the_fast_path_serves_a_batch() -> None:
    canon = Canonicalizer()
    docs = [_doc(recipient_email=f"learner{i}@example.org", recipient_name=f"Learner {i}") for i in range(40)]
    for doc in docs:
        assert canon.canonical(doc) == reference_canonical(doc)
    assert canon.fast == 40 and canon.slow == 0


@pytest.mark.parametrize("brk", ["\u2028", "\u2029", "\x85"])
def test_a_unicode_line_break_in_a_string_keeps_its_quad_whole(brk: str) -> None:
    # Text pasted from a word processor can hold U+2028; N-Quads leaves it unescaped, so the fast
    # path must not cut lines where str.splitlines would (a signature no standard verifier accepts).
    canon = Canonicalizer()
    doc = _doc(recipient_email="l@example.org", recipient_name=f"Zed{brk}Aardvark")
    assert canon.canonical(doc) == reference_canonical(doc)
    assert canon.fast == 1 and canon.slow == 0


def test_a_signature_over_the_old_wrong_form_is_named_not_accepted() -> None:
    # What releases before 2026-12-07 signed for text holding U+2028 (the quad cut in two): the
    # check still fails, but says what happened instead of "changed after it was signed".
    key = derive_signing_key(b"\x05" * 32)
    signer = Signer(key, ISSUER["id"], "2026-01-31T12:00:00Z")
    doc = _doc(recipient_email="l@example.org", recipient_name="Zed\u2028Aardvark")
    assert _legacy_canonical(doc, Canonicalizer()) is None  # no template of the shape held: not rebuilt
    canon = Canonicalizer()
    canon.canonical(doc)
    legacy = _legacy_canonical(doc, canon)
    assert legacy is not None and legacy != reference_canonical(doc)
    data = _CONFIG_HASHES(doc["@context"], signer.options) + hashlib.sha256(legacy.encode("utf-8")).digest()
    proof = {**signer.options, "proofValue": "z" + base58.b58encode(key.sign(data)).decode("ascii")}
    check = check_signature(doc, proof)
    assert not check.ok and check.legacy and "before 2026-12-07" in check.reason and "registry resign" in check.reason
    changed = {**doc, "name": doc["name"] + " (changed)"}
    assert check_signature(changed, proof).reason.endswith("changed after it was signed")
    assert check_signature(doc, signer.proof(doc)).ok  # signed today: the standard form


def test_every_character_is_written_as_rdfc_writes_it() -> None:
    # Each code point (surrogates aside) in a literal: the template path (Oxigraph's writer) or,
    # where the two writers differ, pyld's, always RDFC-1.0's bytes. Oxigraph is asked directly for
    # the code points it escapes; each must be one the template path hands to pyld.
    s, p = ox.NamedNode("https://e.example/s"), ox.NamedNode("https://e.example/p")
    escaped_by_both = {"\t", "\n", "\r"}  # ECHARs in both writers (the template escapes them too)
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if ch not in str(ox.Dataset([ox.Quad(s, p, ox.Literal(ch))])) and ch not in escaped_by_both:
            assert _UNSAFE_CHARS.search(ch), f"U+{cp:04X}: Oxigraph escapes it, the template path keeps it"
    for ch in ["\ufffe", "\uffff", "\x0b", "\u2028", "\u00e9"]:
        doc = _doc(recipient_email="l@example.org", recipient_name=f"A{ch}B")
        assert Canonicalizer().canonical(doc) == reference_canonical(doc)


def test_json_ld_drops_nothing_from_a_v2_credential() -> None:
    assert dropped_terms(_doc()) == []
    assert dropped_terms(_doc(result=None, recipient_name=None)) == []


def test_dropped_terms_are_reported() -> None:
    doc = _doc()
    doc["workloadEcts"] = 5
    doc["credentialSubject"]["achievement"]["eqfLevel"] = 6
    doc["credentialSubject"]["achievement"]["id"] = "not-an-iri"
    assert dropped_terms(doc) == ["eqfLevel", "relative/not-an-iri", "workloadEcts"]


def test_v1_credentials_lean_on_the_private_context() -> None:
    with pytest.raises(InvalidInput, match="never fetched"):
        dropped_terms(_doc(version=1))


def test_contexts_are_the_npm_packages_copies() -> None:
    """The shipped contexts are byte for byte (as JSON) the ones Digital Bazaar's and the DCC's
    npm packages carry: the documents their verifiers load."""
    modules = ROOT / "node_modules"
    vc2 = json.loads((modules / "@digitalbazaar/credentials-context/contexts/v2.jsonld").read_text())
    assert json.loads((ROOT / "registry/contexts/credentials-v2.jsonld").read_text()) == vc2
    ob3 = json.loads((ROOT / "registry/contexts/ob-v3p0-context-3.0.3.json").read_text())
    assert ob3 == json.loads((ROOT.parent / "shared/standards/ob3/context-3.0.3.json").read_text())
    assert CONTEXT_VC2.endswith("/v2") and CONTEXT_OB3.endswith("context-3.0.3.json")


def test_keys_derive_deterministically_and_encode_as_multikey() -> None:
    a = derive_signing_key(b"\x01" * 32)
    b = derive_signing_key(b"\x01" * 32)
    signer_a = Signer(a, ISSUER["id"], "2026-01-31T12:00:00Z")
    signer_b = Signer(b, ISSUER["id"], "2026-01-31T12:00:00Z")
    assert signer_a.public_key == signer_b.public_key
    assert Signer(derive_signing_key(b"\x02" * 32), ISSUER["id"], "x").public_key != signer_a.public_key
    mb = public_key_multibase(signer_a.public_key)
    assert mb.startswith("z6Mk") and public_key_from_multibase(mb) == signer_a.public_key
    with pytest.raises(InvalidInput):
        derive_signing_key(b"short")
    for bad in ("6Mk", "z0OIl", "z" + "1" * 60):
        with pytest.raises(InvalidInput):
            public_key_from_multibase(bad)


@settings(max_examples=300, deadline=None)
@given(zeros=st.integers(min_value=0, max_value=4), data=st.binary(max_size=96))
def test_base58_agrees_with_the_pure_python_package(zeros: int, data: bytes) -> None:
    """based58 (compiled) encodes and decodes as the ``base58`` package, leading zero bytes
    (``1``s) included."""
    raw = b"\x00" * zeros + data
    text = base58.b58encode(raw).decode("ascii")
    assert _b58encode(raw) == text
    assert _b58decode(text) == raw


@pytest.mark.parametrize("bad", ["0", "O", "I", "l", "2 ", " 2", "2\n", "2\x00", "\u00fc", "+/"])
def test_base58_refuses_what_is_outside_the_alphabet(bad: str) -> None:
    """Outside the alphabet is a ValueError; unlike ``base58`` nothing is stripped first, so a
    signature with a trailing blank is refused rather than read."""
    with pytest.raises(ValueError):
        _b58decode(bad)
    doc = _doc()
    proof = Signer(derive_signing_key(b"\x03" * 32), ISSUER["id"], "2026-01-31T12:00:00Z").proof(doc)
    found = check_signature(doc, {**proof, "proofValue": proof["proofValue"] + bad})
    assert not found.ok and "proofValue" in found.reason


def test_a_signature_verifies_and_any_change_breaks_it() -> None:
    doc = _doc()
    signer = Signer(derive_signing_key(b"\x03" * 32), ISSUER["id"], "2026-01-31T12:00:00Z")
    proof = signer.proof(doc)
    assert proof["verificationMethod"].startswith("did:web:uni.example#z6Mk")
    assert check_signature(doc, proof).ok
    assert check_signature({**doc, "proof": [proof]}, proof).ok  # the proof member is not signed
    changed = copy.deepcopy(doc)
    changed["credentialSubject"]["result"][0]["value"] = "B"
    assert not check_signature(changed, proof).ok
    assert not check_signature(doc, {**proof, "created": "2026-02-01T00:00:00Z"}).ok
    other_issuer = copy.deepcopy(doc)
    other_issuer["issuer"]["id"] = "did:web:evil.example"
    assert "not a key of the issuer" in check_signature(other_issuer, proof).reason
    assert not check_signature(doc, {**proof, "proofValue": "z" + "1" * 86}).ok
    assert not check_signature(doc, {**proof, "cryptosuite": "ecdsa-rdfc-2019"}).ok


def test_a_credential_repeating_one_structure_is_not_canonicalised() -> None:
    doc = _doc()
    twin = {"type": ["Alignment"], "targetName": "x", "targetUrl": "urn:x:1", "targetType": "ext:X"}
    doc["credentialSubject"]["achievement"]["alignment"] = [dict(twin) for _ in range(12)]
    signer = Signer(derive_signing_key(b"\x04" * 32), ISSUER["id"], "2026-01-31T12:00:00Z")
    check = check_signature(doc, signer.proof(doc))
    assert not check.ok and "too often" in check.reason


def test_many_objects_with_one_key_set_but_different_values_are_canonicalised() -> None:
    # Twelve alignments share their member names (the shape's bound is over the limit) but no two
    # are equal: the exact count decides, and the signature verifies, on both paths.
    doc = _doc()
    doc["credentialSubject"]["achievement"]["alignment"] = [
        {"type": ["Alignment"], "targetName": f"x{i}", "targetUrl": f"urn:x:{i}", "targetType": "ext:X"}
        for i in range(12)
    ]
    signer = Signer(derive_signing_key(b"\x04" * 32), ISSUER["id"], "2026-01-31T12:00:00Z")
    canon = Canonicalizer()
    for _ in range(2):  # the second time from the shape's cached bound
        check = check_signature(doc, signer.proof(doc), canon)
        assert check.ok, check.reason
    assert canon.fast == 2 and canon.slow == 0


def test_digital_bazaar_reference_vector() -> None:
    """Ed25519 is deterministic: for DB's seed, document and proof options, our proofValue must be
    the one @digitalbazaar/vc produced (tests/assets/golden-v2/di-reference.json)."""
    vector = json.loads((ROOT / "tests/assets/golden-v2/di-reference.json").read_text())
    signed = vector["signed_credential"]
    di = signed["proof"][0] if isinstance(signed["proof"], list) else signed["proof"]
    key = derive_seed_key(bytes.fromhex(vector["seed_hex"]))
    signer = Signer(
        key, signed["issuer"]["id"] if isinstance(signed["issuer"], dict) else signed["issuer"], di["created"]
    )
    assert signer.verification_method == di["verificationMethod"]
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    assert unsigned == vector["unsigned_credential"]
    assert reference_canonical(unsigned) == vector["canonical_document"]
    assert Canonicalizer().canonical(unsigned) == vector["canonical_document"]
    assert signer.proof_value(unsigned) == di["proofValue"]
    assert check_signature(unsigned, di).ok


def derive_seed_key(seed: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


def test_undefined_terms_are_refused_when_signing_and_verifying() -> None:
    doc = _doc()
    signer = Signer(derive_signing_key(b"\x06" * 32), ISSUER["id"], "2026-01-31T12:00:00Z")
    proof = signer.proof(doc)
    extra = copy.deepcopy(doc)
    extra["credentialSubject"]["favouriteColour"] = "blue"
    with pytest.raises(InvalidInput, match="favouriteColour"):
        signer.proof(extra)
    check = check_signature(extra, proof)
    assert not check.ok and "favouriteColour" in check.reason
    # the same shape again comes from the cache, with the same answer
    assert "favouriteColour" in check_signature(extra, proof).reason
    # a null value too: expansion drops the member before looking its term up, but Digital
    # Bazaar's safe mode refuses it (found by the page differential's field_add class)
    nulled = copy.deepcopy(doc)
    nulled["credentialSubject"]["honours"] = None
    assert "honours" in check_signature(nulled, proof).reason
    defined = copy.deepcopy(doc)
    defined["credentialSubject"]["name"] = None  # a defined term: nothing undefined, only a changed document
    assert check_signature(defined, proof).reason == (
        "the issuer's signature does not match: the credential was changed after it was signed"
    )
