"""Credential file format v2 (docs/format.md, Format v2): pointer-bound digest, proof set,
redaction without and with a pre-signed profile, strict rules, golden vectors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from _golden_v2 import GOLDEN, build, signer
from jsonschema import Draft201909Validator

from registry.core.credential import CONTEXTS_V2, eu_elements
from registry.core.credfile import (
    check_inclusion,
    check_integrity,
    make_credential_file,
    parse_credential_file,
    redact,
)
from registry.core.disclosure import flatten
from registry.core.filerules import file_schema, ob3_schema
from registry.core.keccak import keccak256
from registry.core.signing import check_signature, dropped_terms
from registry.errors import CredentialFormatError, InvalidInput, RedactionError

ROOT = Path(__file__).resolve().parents[2]
FULL = json.loads((GOLDEN / "credential.json").read_text())
REDACTED = json.loads((GOLDEN / "credential-redacted.json").read_text())
PROFILE = json.loads((GOLDEN / "credential-profile-without-result.json").read_text())
PINS = json.loads((GOLDEN / "pins.json").read_text())


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


def test_builder_still_reproduces_the_golden_files() -> None:
    out = build()
    assert out["file"] == FULL and out["redacted"] == REDACTED and out["profile"] == PROFILE
    assert out["digest"] == PINS["credentialDigest"] and out["root"] == PINS["merkleRoot"]


@pytest.mark.parametrize("data", [FULL, REDACTED, PROFILE], ids=["full", "redacted", "profile"])
def test_golden_files_parse_and_verify_offline(data: dict[str, Any]) -> None:
    cf = parse_credential_file(json.dumps(data).encode())
    assert cf.version == 2
    assert check_integrity(cf).hex() == PINS["credentialDigest"][2:]
    check_inclusion(cf)
    assert not list(Draft201909Validator(ob3_schema()).iter_errors(data))
    assert not list(Draft201909Validator(file_schema(2)).iter_errors(data))
    assert dropped_terms(cf.credential) == []
    if cf.signature is not None:
        assert check_signature(cf.credential, cf.signature).ok
        assert cf.signature["verificationMethod"] == PINS["verificationMethod"]


def test_the_digest_is_the_documented_algorithm() -> None:
    """docs/format.md v2 §2, literally, from the golden file's own salts."""
    cf = parse_credential_file(FULL)
    fields = sorted(flatten(cf.credential), key=lambda f: f[0].encode("utf-8"))
    preimage = b"".join(keccak256(p.encode("utf-8")) + keccak256(rfc8785.dumps([cf.salts[p], p, v])) for p, v in fields)
    assert "0x" + keccak256(preimage).hex() == PINS["credentialDigest"]


def test_the_proof_set_and_disclosure_of_each_file() -> None:
    assert [p["type"] for p in FULL["proof"]] == ["DataIntegrityProof", "CredentialRegistryAnchorProof"]
    assert FULL["@context"] == list(CONTEXTS_V2)
    assert FULL["proof"][1]["disclosure"] == "full" and "without-result" in FULL["proof"][1]["profiles"]
    assert [p["type"] for p in REDACTED["proof"]] == ["CredentialRegistryAnchorProof"]
    assert REDACTED["proof"][0]["disclosure"] == "redacted"
    assert set(REDACTED["proof"][0]["redacted"]) == {"/credentialSubject/name"}
    assert "name" not in REDACTED["credentialSubject"]
    assert PROFILE["proof"][1]["disclosure"] == "profile:without-result"
    assert "result" not in PROFILE["credentialSubject"] and "profiles" not in PROFILE["proof"][1]


def test_eu_elements_are_open_badges_terms_and_read_back() -> None:
    ach = FULL["credentialSubject"]["achievement"]
    assert not {"eqfLevel", "workloadEcts", "learningOutcomes", "participationForm"} & set(ach)
    elements = eu_elements(ach)
    assert elements["eqf_level"] == 6 and elements["ects"] == 5
    assert elements["participation_form"] == "blended"
    assert elements["learning_outcomes"] == ["Read and critique charts", "Clean tabular data", "Explain sampling bias"]
    assert elements["assessment_type"] == "Written exam and project"
    assert elements["quality_assurance"].startswith("Reviewed by")


def test_a_hidden_field_is_bound_to_its_pointer() -> None:
    cf = parse_credential_file(REDACTED)
    assert cf.hides("/validUntil") is False and cf.hides("/credentialSubject/name") is True
    relabelled = _copy(REDACTED)
    proof = relabelled["proof"][0]
    proof["redacted"] = {"/credentialSubject/nickname": proof["redacted"]["/credentialSubject/name"]}
    with pytest.raises(CredentialFormatError, match="credentialDigest"):
        check_integrity(parse_credential_file(relabelled))
    dropped = _copy(REDACTED)
    dropped["proof"][0]["redacted"] = {}
    dropped["proof"][0]["hiddenPaths"] = []
    with pytest.raises(CredentialFormatError):
        check_integrity(parse_credential_file(dropped))


def test_a_tampered_field_fails_both_proofs() -> None:
    tampered = _copy(FULL)
    tampered["credentialSubject"]["result"][0]["value"] = "A+"
    cf = parse_credential_file(tampered)
    with pytest.raises(CredentialFormatError):
        check_integrity(cf)
    assert cf.signature is not None and not check_signature(cf.credential, cf.signature).ok


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["proof"].reverse(), "standard proof first"),
        (lambda f: f["proof"].pop(0), "full file"),
        (lambda f: f["proof"][1].update(disclosure="redacted"), "redacted file"),
        (lambda f: f["@context"].append("https://w3id.org/credential-registry/microcredential/v1"), "@context"),
        (lambda f: f["proof"][0].update(proofPurpose="authentication"), "credreg-proof-v2"),
        (lambda f: f["proof"][1].update(redacted=["0x" + "00" * 32]), "credreg-proof-v2"),
    ],
)
def test_strict_v2_rules(mutate: Any, message: str) -> None:
    data = _copy(FULL)
    mutate(data)
    with pytest.raises(CredentialFormatError, match=message):
        parse_credential_file(data)


def test_mandatory_fields_cannot_be_redacted_or_claimed_hidden() -> None:
    with pytest.raises(RedactionError, match="mandatory"):
        redact(FULL, ["/validUntil"])
    data = _copy(REDACTED)
    data["proof"][0]["redacted"]["/issuer/name"] = "0x" + "00" * 32
    with pytest.raises(CredentialFormatError, match=r"both redacted and disclosed|mandatory"):
        parse_credential_file(data)


def test_profiles_and_ad_hoc_redaction_rules() -> None:
    with pytest.raises(RedactionError, match="no such disclosure profile"):
        redact(FULL, profile="without-everything")
    with pytest.raises(RedactionError, match="not both"):
        redact(FULL, ["/credentialSubject/name"], profile="without-result")
    with pytest.raises(RedactionError, match="nothing to hide"):
        redact(FULL)
    # A profile file redacted further loses the profile's signature too.
    again = redact(PROFILE, ["/credentialSubject/name"])
    assert [p["type"] for p in again["proof"]] == ["CredentialRegistryAnchorProof"]
    assert again["proof"][0]["disclosure"] == "redacted"
    check_integrity(parse_credential_file(again))


def test_the_signer_of_the_vectors_is_the_anvil_issuer_key() -> None:
    assert signer().verification_method == PINS["verificationMethod"]


def test_a_v2_file_cannot_be_made_without_the_issuers_signer() -> None:
    cf = parse_credential_file(FULL)
    from _golden_v2 import ANCHOR

    with pytest.raises(InvalidInput, match="signer"):
        make_credential_file(cf.credential, cf.salts, cf.digest, cf.root, cf.path, ANCHOR)
    with pytest.raises(InvalidInput, match="profiles"):
        make_credential_file(
            cf.credential,
            cf.salts,
            cf.digest,
            cf.root,
            cf.path,
            ANCHOR,
            signer=signer(),
            profiles={"Bad Name": ["/name"]},
        )
