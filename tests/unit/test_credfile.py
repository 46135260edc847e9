"""Credential file v1: parsing, schemas, integrity, inclusion, selective disclosure."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from _core_fixtures import ANCHOR, ROOT, credential_file
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft201909Validator

from registry.core.credfile import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    check_inclusion,
    check_integrity,
    hidden_fields,
    make_credential_file,
    parse_credential_file,
    redact,
)
from registry.core.disclosure import flatten
from registry.core.filerules import MANDATORY_PATHS, file_schema, ob3_schema
from registry.errors import CredentialFormatError, InvalidInput, InvalidProof, RedactionError

FILE = credential_file()
OPTIONAL = [
    "/name",
    "/credentialSubject/name",
    "/credentialSubject/result",
    "/credentialSubject/identifier",
    "/credentialSubject/achievement/learningOutcomes",
    "/credentialSubject/achievement/workloadEcts",
    "/credentialSubject/achievement/eqfLevel",
    "/credentialSubject/achievement/creditsAvailable",
    "/credentialSubject/achievement/qualityAssurance",
    "/credentialSubject/achievement/achievementType",
]


def _file() -> dict[str, Any]:
    return copy.deepcopy(FILE)


def test_round_trip_and_checks() -> None:
    cf = parse_credential_file(json.dumps(FILE).encode())
    assert check_integrity(cf) == cf.digest
    check_inclusion(cf)
    assert cf.anchor == ANCHOR
    assert cf.anchor.registry == "0x5fbdb2315678afecb367f032d93f642f64180aa3"
    assert cf.to_dict() == FILE
    proof = FILE["proof"][0]
    assert proof["type"] == "CredentialRegistryAnchorProof"
    assert proof["format"] == "credreg-proof-v1"
    assert proof["anchoredAt"] == "2025-03-01T00:00:00Z"
    assert hidden_fields(cf) == [] and proof["redacted"] == []


def test_file_validates_against_both_schemas_as_published() -> None:
    assert not list(Draft201909Validator(ob3_schema()).iter_errors(FILE))
    assert not list(Draft201909Validator(file_schema()).iter_errors(FILE))
    published = json.loads((Path(ROOT) / "docs/credential-file-v1.schema.json").read_text())
    assert published == file_schema()
    shipped = Path(ROOT) / "registry/schemas/ob3/achievementcredential.schema.json"
    assert json.loads(shipped.read_text()) == ob3_schema()


def test_make_refuses_inconsistent_inputs() -> None:
    cf = parse_credential_file(FILE)
    with pytest.raises(InvalidInput, match=r"^digest: does not match"):
        make_credential_file(cf.credential, cf.salts, b"\x00" * 32, cf.root, cf.path, ANCHOR)
    with pytest.raises(InvalidProof, match=r"does not lead"):
        make_credential_file(cf.credential, cf.salts, cf.digest, b"\x00" * 32, cf.path, ANCHOR)
    with pytest.raises(InvalidInput, match=r"^anchor_tx: "):
        type(ANCHOR)(**{**ANCHOR.__dict__, "anchor_tx": "0x12"})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["proof"][0].update(merkleRoot="0x" + "AB" * 32), "merkleRoot"),
        (lambda f: f["proof"][0].update(chainId="1"), "chainId"),
        (lambda f: f["proof"][0].update(extra=1), "Additional properties"),
        (lambda f: f["proof"][0].pop("salts"), "'salts' is a required property"),
        (lambda f: f.update(proof=f["proof"][0]), "/proof"),
        (lambda f: f["proof"].append(copy.deepcopy(f["proof"][0])), "/proof"),
        (lambda f: f["proof"][0].update(format="credreg-proof-v2"), "credreg-proof-v2"),
        (lambda f: f["proof"][0].update(merklePath=["0x" + "00" * 32] * 65), "merklePath"),
        (lambda f: f.pop("issuer"), "'issuer' is a required property"),
        (lambda f: f.update(type=["VerifiableCredential"]), "Open Badges 3.0"),
        (lambda f: f["credentialSubject"].pop("achievement"), "Open Badges 3.0"),
        (lambda f: f.update(validFrom="yesterday"), "validFrom"),
    ],
)
def test_parse_rejects_malformed_files(mutate: Any, message: str) -> None:
    f = _file()
    mutate(f)
    with pytest.raises(CredentialFormatError, match=message):
        parse_credential_file(f)


def test_parse_rejects_bad_json() -> None:
    with pytest.raises(CredentialFormatError, match=r"not valid JSON"):
        parse_credential_file(b"{")
    with pytest.raises(CredentialFormatError, match=r"duplicate JSON object key 'id'"):
        parse_credential_file(b'{"id": "a", "id": "b"}')
    with pytest.raises(CredentialFormatError, match=r"NaN is not valid JSON"):
        parse_credential_file(b'{"x": NaN}')
    with pytest.raises(CredentialFormatError, match=r"not UTF-8"):
        parse_credential_file(b'{"x": "\xff"}')
    with pytest.raises(CredentialFormatError, match=r"must be a JSON object"):
        parse_credential_file(b"[]")
    with pytest.raises(CredentialFormatError, match=f"larger than {MAX_FILE_BYTES}"):
        parse_credential_file(b" " * (MAX_FILE_BYTES + 1))
    deep: Any = "x"
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(CredentialFormatError, match=r"nested deeper"):
        parse_credential_file({**_file(), "deep": deep})


def test_a_pdf_is_named_as_such() -> None:
    """A printed certificate sent in place of its file (a real PDF, binary or plain ASCII) is refused
    with a reason that says what to send instead; other bad input keeps its own reason."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    page = Canvas(out, invariant=True)
    page.drawString(72, 720, "Certificate of completion")
    page.save()
    binary = out.getvalue()
    assert binary.startswith(b"%PDF-")
    ascii_only = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    for pdf in (binary, ascii_only, b"\n  " + ascii_only):
        with pytest.raises(CredentialFormatError, match=r"^format: a PDF, not a credential file: .*\(\.json\)"):
            parse_credential_file(pdf)
    with pytest.raises(CredentialFormatError, match=r"not valid JSON"):
        parse_credential_file(b"%PDX-1.4")


def test_tampering_is_detected() -> None:
    f = _file()
    f["credentialSubject"]["achievement"]["eqfLevel"] = 7
    with pytest.raises(CredentialFormatError, match=r"recomputed digest .* differs"):
        check_integrity(parse_credential_file(f))
    f = _file()
    f["proof"][0]["credentialDigest"] = "0x" + "00" * 32
    cf = parse_credential_file(f)
    with pytest.raises(CredentialFormatError, match=r"^/proof/0/credentialDigest: recomputed"):
        check_integrity(cf)
    with pytest.raises(InvalidProof, match=r"does not lead"):
        check_inclusion(cf)
    f = _file()
    f["credentialSubject"]["extra"] = "added"
    with pytest.raises(CredentialFormatError, match=r"^/credentialSubject/extra: disclosed field"):
        check_integrity(parse_credential_file(f))


def test_redaction_keeps_digest_and_inclusion() -> None:
    red = redact(FILE, ["/credentialSubject/name", "/credentialSubject/result"])
    cf = parse_credential_file(red)
    assert check_integrity(cf) == parse_credential_file(FILE).digest
    check_inclusion(cf)
    assert "name" not in red["credentialSubject"] and "result" not in red["credentialSubject"]
    assert len(cf.redacted) == 3  # name, result/0/type/0, result/0/value
    assert cf.redacted == sorted(cf.redacted)
    assert not any(p.startswith("/credentialSubject/result") for p in cf.salts)
    assert hidden_fields(cf) == ["/credentialSubject/name", "/credentialSubject/result"]
    again = redact(red, ["/credentialSubject/identifier"])
    cf2 = parse_credential_file(again)
    assert check_integrity(cf2) == cf.digest
    assert hidden_fields(cf2)[-1] == "/credentialSubject/identifier"
    assert not list(Draft201909Validator(ob3_schema()).iter_errors(again))


def test_redaction_removes_emptied_objects() -> None:
    f = _file()
    # Re-issue with a nested extension object whose only member we hide.
    cf = parse_credential_file(f)
    doc = copy.deepcopy(cf.credential)
    doc["credentialSubject"]["extensions"] = {"inner": {"note": "private"}}
    from registry.core.disclosure import compute_digest, salt_fields
    from registry.core.merkle import MerkleTree

    salts = salt_fields(doc)
    digest = compute_digest(doc, salts)
    tree = MerkleTree.build([digest])
    g = make_credential_file(doc, salts, digest, tree.root, [], ANCHOR)
    red = redact(g, ["/credentialSubject/extensions/inner/note"])
    assert "extensions" not in red["credentialSubject"]
    check_integrity(parse_credential_file(red))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/issuer/name", "/issuer is mandatory"),
        ("/validFrom", "/validFrom is mandatory"),
        ("/credentialSubject/achievement", "mandatory"),
        ("/credentialSubject", "mandatory"),
        ("/credentialSubject/achievement/criteria/narrative", "criteria is mandatory"),
        ("/credentialSubject/identifier/0", "cannot hide a single array element"),
        ("/credentialSubject/identifier/0/type", "OB 3.0 schema"),
        ("/credentialSubject/result/0/type", "OB 3.0 schema"),
        ("/credentialSubject/nothing", "no such field"),
        ("/proof/0/salts", "not part of the credential"),
        ("", "whole credential"),
        ("name", "must be empty or start with '/'"),
    ],
)
def test_redaction_refusals(path: str, message: str) -> None:
    with pytest.raises(RedactionError, match=message):
        redact(FILE, [path])


def test_redaction_refuses_tampered_input() -> None:
    f = _file()
    f["credentialSubject"]["name"] = "Eve"
    with pytest.raises(CredentialFormatError, match=r"recomputed digest"):
        redact(f, ["/credentialSubject/result"])


def test_mandatory_list_is_as_specified() -> None:
    assert "/credentialSubject/achievement/criteria" in MANDATORY_PATHS
    assert len(MANDATORY_PATHS) == 12


@given(st.sets(st.sampled_from(OPTIONAL), min_size=1))
@settings(max_examples=40, deadline=None)
def test_any_allowed_redaction_keeps_the_digest(hide: set[str]) -> None:
    red = redact(FILE, sorted(hide))
    cf = parse_credential_file(red)
    assert check_integrity(cf) == parse_credential_file(FILE).digest
    check_inclusion(cf)
    remaining = {p for p, _ in flatten(cf.credential)}
    assert not any(r == h or r.startswith(h + "/") for r in remaining for h in hide)
    assert set(cf.salts) == remaining


@given(st.sampled_from(range(3)), st.integers(0, 255))
@settings(max_examples=30, deadline=None)
def test_tampered_redacted_hash_or_salt_changes_digest(which: int, bit: int) -> None:
    red = redact(FILE, ["/credentialSubject/name", "/credentialSubject/result"])
    proof = red["proof"][0]
    if which == 0:
        h = bytearray.fromhex(proof["redacted"][0][2:])
        h[bit // 8] ^= 1 << (bit % 8)
        proof["redacted"][0] = "0x" + h.hex()
        proof["redacted"].sort()  # stay in canonical order, so the digest check is what refuses it
    elif which == 1:
        key = sorted(proof["salts"])[bit % len(proof["salts"])]
        s = bytearray.fromhex(proof["salts"][key][2:])
        s[(bit // 8) % 16] ^= 1 << (bit % 8)
        proof["salts"][key] = "0x" + s.hex()
    else:
        proof["redacted"] = proof["redacted"][1:]
    with pytest.raises(CredentialFormatError, match=r"recomputed digest"):
        check_integrity(parse_credential_file(red))


def test_pointer_pattern_has_no_catastrophic_backtracking() -> None:
    """Found by the verifier page's differential run: the schema's pointer pattern
    ``^(/([^~]|~[01])*)+$`` backtracked exponentially on a run of ``/`` ending in a bad ``~`` (24
    characters took 1.3 s, doubling per character). ``[^~/]`` accepts exactly the same pointers."""
    f = _file()
    f["proof"][0]["salts"]["/" * 60 + "~"] = "0x" + "00" * 16
    with pytest.raises(CredentialFormatError, match="does not match"):
        parse_credential_file(json.dumps(f))
