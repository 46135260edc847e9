"""Interoperability of format v2 signatures with Digital Bazaar's VC stack (docs/format.md v2 §4).

The oracle is ``scripts/di_verify.mjs``: ``@digitalbazaar/vc`` ``verifyCredential`` with
``DataIntegrityProof`` + ``eddsa-rdfc-2022``, offline. The reference vector
``tests/assets/golden-v2/di-reference.json`` was signed by Digital Bazaar's own issuer code
(``scripts/di_sign_fixture.mjs --vector``); the Python side must reproduce its canonical N-Quads and,
Ed25519 being deterministic, its ``proofValue``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyld import jsonld

from tests.chain_fixtures import ACHIEVEMENT
from tests.cohort import synthetic_cohort
from tests.di_support import (
    DI_REFERENCE,
    DI_SIGN,
    ROOT,
    digital_bazaar_available,
    run_di_verify,
    verify_with_digital_bazaar,
)

pytestmark = pytest.mark.skipif(not digital_bazaar_available(), reason="node or the @digitalbazaar packages missing")

VECTOR: dict[str, Any] = json.loads(DI_REFERENCE.read_text("utf-8"))
ANCHOR_ADDRESS = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"
#: A CredentialRegistryAnchorProof as format v2 appends it (values need not be real here: Digital
#: Bazaar never evaluates it, which is what the tests show).
ANCHOR_PROOF: dict[str, Any] = {
    "type": "CredentialRegistryAnchorProof",
    "format": "credreg-proof-v2",
    "hashAlgorithm": "jcs-keccak256-salted-fields-v2",
    "credentialDigest": "0x" + "11" * 32,
    "merkleRoot": "0x" + "22" * 32,
    "merklePath": ["0x" + "33" * 32],
    "chainId": 31337,
    "registry": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
    "issuerAddress": ANCHOR_ADDRESS,
    "anchorTx": "0x" + "7a" * 32,
    "anchorBlock": 42,
    "anchoredAt": "2025-03-01T12:00:00Z",
    "salts": {},
    "redacted": {},
    "disclosure": "full",
}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), "utf-8")
    return path


def planned_did_document(did: str, multibase: str, *, chain_id: int = 31337) -> dict[str, Any]:
    """The issuer DID document as format v2 plans it: the signing Multikey in ``assertionMethod``
    and the anchoring address as an ``EcdsaSecp256k1RecoveryMethod2020`` (v2 §4 "Key binding")."""
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {"id": f"{did}#{multibase}", "type": "Multikey", "controller": did, "publicKeyMultibase": multibase},
            {
                "id": f"{did}#anchor",
                "type": "EcdsaSecp256k1RecoveryMethod2020",
                "controller": did,
                "blockchainAccountId": f"eip155:{chain_id}:{ANCHOR_ADDRESS}",
            },
        ],
        "assertionMethod": [f"{did}#{multibase}"],
    }


def full_file(signed: dict[str, Any]) -> dict[str, Any]:
    """The signed credential with the proof set of a v2 full file: [DataIntegrityProof, anchor]."""
    doc = copy.deepcopy(signed)
    doc["proof"] = [doc["proof"], copy.deepcopy(ANCHOR_PROOF)]
    return doc


@pytest.fixture
def vector_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "signed": _write(tmp_path / "signed.json", VECTOR["signed_credential"]),
        "full": _write(tmp_path / "full.json", full_file(VECTOR["signed_credential"])),
        "did": _write(tmp_path / "vector-did.json", VECTOR["did_document"]),
        "planned_did": _write(
            tmp_path / "planned-did.json", planned_did_document(VECTOR["did"], VECTOR["public_key_multibase"])
        ),
    }


# ---------------------------------------------------------------------------------------------
# (a) the reference vector verifies, alone and inside a v2 proof set
# ---------------------------------------------------------------------------------------------


def test_reference_vector_verifies(vector_files: dict[str, Path]) -> None:
    verdicts = verify_with_digital_bazaar([vector_files["signed"]], [vector_files["did"]])
    assert verdicts == {str(vector_files["signed"]): "VERIFIED"}


def test_proof_set_with_anchor_proof_verifies_and_anchor_proof_is_skipped(vector_files: dict[str, Path]) -> None:
    """Digital Bazaar ignores the unknown CredentialRegistryAnchorProof (it has no proofPurpose, so
    it matches no purpose and is never evaluated), in either order, with the planned DID document."""
    reordered = full_file(VECTOR["signed_credential"])
    reordered["proof"].reverse()
    anchor_first = _write(vector_files["full"].with_name("anchor-first.json"), reordered)
    report = run_di_verify([vector_files["full"], anchor_first], [vector_files["planned_did"]])
    assert report["ok"], report
    for entry in report["files"]:
        assert entry["status"] == "VERIFIED"
        results = {p["type"]: p["result"] for p in entry["proofs"]}
        assert results == {"DataIntegrityProof": "verified", "CredentialRegistryAnchorProof": "skipped"}


# ---------------------------------------------------------------------------------------------
# (b) a tampered copy fails
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        (("credentialSubject", "result", 0, "value"), "A+"),
        (("credentialSubject", "achievement", "creditsAvailable"), 8),
        (("credentialSubject", "name"), "Zoe Angstrom"),
    ],
)
def test_tampered_copy_fails(vector_files: dict[str, Path], pointer: tuple[str | int, ...], value: Any) -> None:
    doc = full_file(VECTOR["signed_credential"])
    node: Any = doc
    for step in pointer[:-1]:
        node = node[step]
    assert node[pointer[-1]] != value
    node[pointer[-1]] = value
    tampered = _write(vector_files["full"].with_name("tampered.json"), doc)
    verdicts = verify_with_digital_bazaar([tampered], [vector_files["planned_did"]])
    assert verdicts[str(tampered)] == "Invalid signature."


# ---------------------------------------------------------------------------------------------
# (c) every file our issuers write (the paths `make demo` runs; `make demo` also runs this check)
# ---------------------------------------------------------------------------------------------


def test_every_issued_file_verifies_with_digital_bazaar(registry: Any, tmp_path: Path) -> None:
    """Files of both issuers as `registry issue` writes them, and a pre-signed profile copy, verify
    in Digital Bazaar's verifier with each issuer's DID document pinned (as our service serves it
    and `registry did-document` prints it); an ad hoc redacted copy carries no signature; a
    tampered copy fails. JSON-LD drops no term of any of them."""
    from registry.core.credfile import redact
    from registry.core.signing import dropped_terms
    from registry.issue.signing import did_document, signing_public_key

    first = registry.issue(4)
    second = registry.issue(2, key=registry.issuer2_key, issuer=registry.profile(2))
    # Text pasted from a word processor: Unicode line breaks that N-Quads leaves unescaped, and a
    # noncharacter Oxigraph would escape where RDFC-1.0 does not.
    pasted_docs = list(synthetic_cohort(2, registry.profile(), ACHIEVEMENT, seed=77))
    pasted_docs[0]["credentialSubject"]["name"] = "Zed\u2028Aardvark"
    pasted_docs[1]["credentialSubject"]["achievement"]["description"] = "Line one\u2029line two\x85end\ufffe"
    pasted = registry.issue(docs=pasted_docs)
    did_docs = []
    for key, which in ((registry.issuer_key, 1), (registry.issuer2_key, 2)):
        doc = did_document(registry.profile(which).id, signing_public_key(key), 31337, key.address)
        did_docs.append(_write(tmp_path / f"did-{which}.json", doc))
    full = json.loads(first.files[0].read_text())
    profile = _write(tmp_path / "profile.json", redact(full, profile="without-result"))
    hidden = _write(tmp_path / "hidden.json", redact(full, ["/credentialSubject/name"]))
    tampered_doc = copy.deepcopy(full)
    tampered_doc["credentialSubject"]["achievement"]["creditsAvailable"] = 60
    tampered = _write(tmp_path / "tampered.json", tampered_doc)
    files = [*first.files, *second.files, *pasted.files, profile]
    for path in [*files, hidden]:
        assert dropped_terms({k: v for k, v in json.loads(path.read_text()).items() if k != "proof"}) == []
    verdicts = verify_with_digital_bazaar([*files, hidden, tampered], did_docs, skip_unsigned=True)
    assert {str(p): verdicts[str(p)] for p in files} == {str(p): "VERIFIED" for p in files}
    assert verdicts[str(hidden)].startswith("SKIPPED")
    assert verdicts[str(tampered)] == "Invalid signature."


# ---------------------------------------------------------------------------------------------
# The vector itself: reproducible, and reproduced by Python libraries byte for byte
# ---------------------------------------------------------------------------------------------


def test_vector_regenerates_identically() -> None:
    """``di_sign_fixture.mjs --vector`` on the vector re-signs its unsigned credential: same bytes."""
    out = subprocess.run(
        ["node", str(DI_SIGN), "--vector", str(DI_REFERENCE)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.stdout == DI_REFERENCE.read_text("utf-8")


def _pyld_loader(url: str, options: Any = None) -> dict[str, Any]:
    files = {
        "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
    }
    document = json.loads((ROOT / "registry" / "contexts" / files[url]).read_text("utf-8"))
    return {"contextUrl": None, "documentUrl": url, "document": document}


def _pyld_canonical(doc: dict[str, Any]) -> str:
    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _pyld_loader}
    return str(jsonld.normalize(copy.deepcopy(doc), options))


def test_pyld_reproduces_the_canonical_n_quads() -> None:
    unsigned = VECTOR["unsigned_credential"]
    proof_config = {"@context": unsigned["@context"], **VECTOR["signed_credential"]["proof"]}
    del proof_config["proofValue"]
    assert _pyld_canonical(unsigned) == VECTOR["canonical_document"]
    assert _pyld_canonical(proof_config) == VECTOR["canonical_proof_config"]


def test_python_ed25519_reproduces_the_proof_value() -> None:
    """hashData = SHA-256(proof config) ‖ SHA-256(document); Ed25519 is deterministic."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTOR["seed_hex"]))
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert "z" + base58.b58encode(b"\xed\x01" + public).decode() == VECTOR["public_key_multibase"]
    sha = hashlib.sha256
    hash_data = (
        sha(VECTOR["canonical_proof_config"].encode()).digest() + sha(VECTOR["canonical_document"].encode()).digest()
    )
    assert hash_data.hex() == VECTOR["hash_data"]
    proof = VECTOR["signed_credential"]["proof"]
    assert "z" + base58.b58encode(key.sign(hash_data)).decode() == proof["proofValue"]
    assert proof["verificationMethod"] == f"{VECTOR['did']}#{VECTOR['public_key_multibase']}"
    assert proof["created"] == VECTOR["created"]


# ---------------------------------------------------------------------------------------------
# What Digital Bazaar needs from the rest of the world (the answers behind docs/format.md v2 §4)
# ---------------------------------------------------------------------------------------------


def test_only_pinned_urls_are_loaded(vector_files: dict[str, Path]) -> None:
    doc = full_file(VECTOR["signed_credential"])
    doc["@context"].append("https://example.org/not-pinned.jsonld")
    path = _write(vector_files["full"].with_name("extra-context.json"), doc)
    verdicts = verify_with_digital_bazaar([path], [vector_files["did"]])
    assert verdicts[str(path)] == 'offline loader refused "https://example.org/not-pinned.jsonld"'
    # An issuer whose DID document was not given is refused, not resolved.
    verdicts = verify_with_digital_bazaar([vector_files["signed"]], [])
    assert verdicts[str(vector_files["signed"])].startswith(f'offline loader refused "{VECTOR["verification_method"]}"')


#: The two terms of https://w3id.org/security/suites/secp256k1recovery-2020/v2 the anchor method
#: uses, with that context's IRIs (no package in node_modules ships that context).
ANCHOR_TERMS = {
    "EcdsaSecp256k1RecoveryMethod2020": (
        "https://identity.foundation/EcdsaSecp256k1RecoverySignature2020#EcdsaSecp256k1RecoveryMethod2020"
    ),
    "blockchainAccountId": "https://w3id.org/security#blockchainAccountId",
}


def _variant(name: str) -> dict[str, Any]:
    """A variation of the planned DID document."""
    doc = planned_did_document(VECTOR["did"], VECTOR["public_key_multibase"])
    did_v1, multikey_v1 = doc["@context"]
    if name == "no multikey context":
        doc["@context"] = [did_v1]
    elif name == "key not in assertionMethod":
        doc["assertionMethod"] = [f"{VECTOR['did']}#anchor"]
    elif name == "relative key ids":
        doc["verificationMethod"][0]["id"] = "#" + VECTOR["public_key_multibase"]
        doc["assertionMethod"] = ["#" + VECTOR["public_key_multibase"]]
    elif name == "DID context not first":
        doc["@context"] = [multikey_v1, did_v1]
    elif name == "DID context not first, anchor terms defined inline":
        doc["@context"] = [multikey_v1, did_v1, ANCHOR_TERMS]
    return doc


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("no multikey context", '"key" must be a Multikey with context "https://w3id.org/security/multikey/v1".'),
        ("key not in assertionMethod", 'not authorized by controller for proof purpose "assertionMethod"'),
        ("relative key ids", 'not authorized by controller for proof purpose "assertionMethod"'),
        # Only the DID-context-first shortcut of ControllerProofPurpose keeps Digital Bazaar from
        # JSON-LD-processing the document; otherwise the undefined anchor terms fail safe mode.
        ("DID context not first", 'Safe mode validation error. (invalid property: {"property":"blockchainAccountId"'),
        ("DID context not first, anchor terms defined inline", "VERIFIED"),
    ],
)
def test_did_document_requirements(tmp_path: Path, variant: str, expected: str) -> None:
    did = _write(tmp_path / "did-variant.json", _variant(variant))
    credential = _write(tmp_path / "full.json", full_file(VECTOR["signed_credential"]))
    verdict = verify_with_digital_bazaar([credential], [did])[str(credential)]
    assert expected in verdict


def test_signed_golden_v2_files_verify(tmp_path: Path) -> None:
    """The Python signer's golden files verify in Digital Bazaar's verifier (a DID document built
    from each file's own verificationMethod); the ad-hoc redacted file has no signature to check."""
    golden = ROOT / "tests" / "assets" / "golden-v2"
    keys: dict[str, set[str]] = {}
    for path in golden.glob("*.json"):
        doc = json.loads(path.read_text("utf-8"))
        for proof in doc.get("proof", []) if isinstance(doc, dict) and path != DI_REFERENCE else []:
            if proof.get("type") == "DataIntegrityProof":
                did, multibase = proof["verificationMethod"].split("#", 1)
                keys.setdefault(did, set()).add(multibase)
    if not keys:
        pytest.skip("no signed golden-v2 files yet")
    did_docs = []
    for i, (did, multibases) in enumerate(sorted(keys.items())):
        doc = planned_did_document(did, sorted(multibases)[0])
        for multibase in sorted(multibases)[1:]:
            doc["verificationMethod"].append(
                {"id": f"{did}#{multibase}", "type": "Multikey", "controller": did, "publicKeyMultibase": multibase}
            )
            doc["assertionMethod"].append(f"{did}#{multibase}")
        did_docs.append(_write(tmp_path / f"did-{i}.json", doc))
    verdicts = verify_with_digital_bazaar([golden], did_docs, skip_unsigned=True)
    signed = {k: v for k, v in verdicts.items() if not v.startswith("SKIPPED")}
    assert signed
    assert set(signed.values()) == {"VERIFIED"}, signed
