"""The ``supersedes`` claim of the anchor proof (docs/format.md §4a): the shape files accept, every
malformed variant refused (by the schema or by the strict rules, compiled and reference schema
validators alike), and ``with_supersedes`` that issuing code adds the claim with."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry.core import filerules
from registry.core.credfile import check_inclusion, check_integrity, parse_credential_file, redact, with_supersedes
from registry.core.signing import check_signature
from registry.errors import CredentialFormatError, InvalidInput
from tests.unit._core_fixtures import credential_file

GOLDEN_V2 = Path(__file__).resolve().parents[1] / "assets" / "golden-v2"
V1 = credential_file()
V2 = json.loads((GOLDEN_V2 / "credential.json").read_text())
OLD_DIGEST = "0x" + "5a" * 32
CLAIM = {"id": "urn:uuid:0f5b7a52-8a1e-4a55-9d59-2d3c1b1f0a11", "credentialDigest": OLD_DIGEST, "kind": "correction"}


def _claimed(base: dict[str, Any], claim: Any) -> dict[str, Any]:
    """``base`` with ``claim`` put in its anchor proof as is (no checks)."""
    data = copy.deepcopy(base)
    data["proof"][-1]["supersedes"] = copy.deepcopy(claim)
    return data


@pytest.mark.parametrize("base", [V1, V2], ids=["v1", "v2"])
@pytest.mark.parametrize("kind", ["correction", "renewal"])
def test_a_well_formed_claim_is_accepted_and_changes_no_proof(base: dict[str, Any], kind: str) -> None:
    data = _claimed(base, {**CLAIM, "kind": kind})
    cf = parse_credential_file(json.dumps(data).encode())
    assert cf.supersedes == {**CLAIM, "kind": kind}
    assert check_integrity(cf) == parse_credential_file(base).digest  # outside the digest
    check_inclusion(cf)
    if cf.signature is not None:  # and outside the issuer's signature
        assert check_signature(cf.credential, cf.signature).ok
    assert cf.to_dict() == data


@pytest.mark.parametrize("base", [V1, V2], ids=["v1", "v2"])
def test_files_without_a_claim_have_none(base: dict[str, Any]) -> None:
    assert parse_credential_file(base).supersedes is None


def test_a_redacted_copy_keeps_the_claim() -> None:
    for base in (V1, V2):
        data = with_supersedes(base, old_id=CLAIM["id"], old_digest=OLD_DIGEST, kind="renewal")
        hidden = redact(data, ["/credentialSubject/name"])
        assert hidden["proof"][-1]["supersedes"] == {**CLAIM, "kind": "renewal"}
        assert parse_credential_file(hidden).supersedes == data["proof"][-1]["supersedes"]


def _remove(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda c: c.pop(name)


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda c: c.__setitem__(name, value)


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "no id": (_remove("id"), r"'id' is a required property"),
    "no digest": (_remove("credentialDigest"), r"'credentialDigest' is a required property"),
    "no kind": (_remove("kind"), r"'kind' is a required property"),
    "another member": (_set("reason", "typo"), r"Additional properties are not allowed \('reason'"),
    "kind unknown": (_set("kind", "upgrade"), r"supersedes/kind: 'upgrade' is not one of"),
    "kind capitalised": (_set("kind", "Correction"), r"supersedes/kind: 'Correction' is not one of"),
    "kind as the chain's number": (_set("kind", 1), r"supersedes/kind: 1 is not one of"),
    "digest upper-case": (_set("credentialDigest", "0x" + "5A" * 32), r"supersedes/credentialDigest: '0x5A"),
    "digest too short": (_set("credentialDigest", "0x" + "5a" * 31), r"supersedes/credentialDigest"),
    "digest without 0x": (_set("credentialDigest", "5a" * 32), r"supersedes/credentialDigest"),
    "digest not a string": (_set("credentialDigest", 5), r"supersedes/credentialDigest: 5 is not of type"),
    "digest with a final newline": (
        _set("credentialDigest", OLD_DIGEST + "\n"),
        r"supersedes/credentialDigest: must be '0x' \+ 64 lower-case hex",
    ),
    "id empty": (_set("id", ""), r"supersedes/id: '' should be non-empty|is too short"),
    "id too long": (_set("id", "u" * 257), r"supersedes/id: .* is too long"),
    "id not a string": (_set("id", ["urn:x"]), r"supersedes/id: \['urn:x'\] is not of type"),
    "id with a space": (_set("id", "urn:uuid:1 2"), r"supersedes/id: must be 1 to 256 characters"),
    "id with a final newline": (_set("id", "urn:uuid:12\n"), r"supersedes/id: must be 1 to 256 characters"),
    "id with a control character": (_set("id", "urn:\x1b[2Jx"), r"supersedes/id: must be 1 to 256 characters"),
}


STRICT = "must be"
"""The strict rules' refusals (the same words in both formats); the schema's are worded by the
reference validator: under v1 at the claim's member, under v2 at ``/proof`` (its items are a
``oneOf``, so the validator cannot tell which proof was meant, and shows the proof set)."""
V2_SCHEMA = r"^format: not a credreg-proof-v2 credential file: /proof: \[\{'type': 'DataIntegrityProof'"


@pytest.mark.parametrize("base", [V1, V2], ids=["v1", "v2"])
@pytest.mark.parametrize("name", list(MALFORMED))
def test_each_malformed_claim_is_refused(base: dict[str, Any], name: str) -> None:
    change, message = MALFORMED[name]
    claim = copy.deepcopy(CLAIM)
    change(claim)
    if base is V2 and STRICT not in message:
        message = V2_SCHEMA
    with pytest.raises(CredentialFormatError, match=message):
        parse_credential_file(_claimed(base, claim))


@pytest.mark.parametrize("claim", ["urn:uuid:1", ["urn:uuid:1", OLD_DIGEST], None, {}], ids=repr)
def test_a_claim_that_is_not_an_object_is_refused(claim: Any) -> None:
    v1_schema = r"^format: not a credreg-proof-v1 credential file: /proof/0/supersedes"
    with pytest.raises(CredentialFormatError, match=v1_schema):
        parse_credential_file(_claimed(V1, claim))
    with pytest.raises(CredentialFormatError, match=V2_SCHEMA):
        parse_credential_file(_claimed(V2, claim))


@pytest.mark.parametrize("base", [V1, V2], ids=["v1", "v2"])
def test_a_claim_to_replace_itself_is_refused(base: dict[str, Any]) -> None:
    own = base["proof"][-1]["credentialDigest"]
    index = len(base["proof"]) - 1
    with pytest.raises(CredentialFormatError, match=rf"^/proof/{index}/supersedes/credentialDigest: .*replace itself"):
        parse_credential_file(_claimed(base, {**CLAIM, "credentialDigest": own}))


@pytest.mark.parametrize("name", list(MALFORMED))
def test_the_compiled_schema_validator_refuses_what_the_reference_refuses(name: str) -> None:
    """The parser asks the compiled validator first: it must never accept a claim the reference
    refuses (the strict rules then refuse what both let through: a final newline, a space)."""
    change, _ = MALFORMED[name]
    for base, which in ((V1, 0), (V2, 2)):
        claim = copy.deepcopy(CLAIM)
        change(claim)
        data = _claimed(base, claim)
        reference = filerules._validators()[which].is_valid(data)
        assert filerules._compiled()[which].is_valid(data) <= reference


def test_with_supersedes_adds_the_claim_to_the_anchor_proof() -> None:
    out = with_supersedes(V2, old_id=CLAIM["id"], old_digest=bytes.fromhex(OLD_DIGEST[2:]), kind="correction")
    assert out["proof"][0] == V2["proof"][0]  # the issuer's signature is untouched
    assert out["proof"][1] == {**V2["proof"][1], "supersedes": CLAIM}
    assert {k: v for k, v in out.items() if k != "proof"} == {k: v for k, v in V2.items() if k != "proof"}
    upper = with_supersedes(V1, old_id=CLAIM["id"], old_digest=OLD_DIGEST.upper().replace("0X", "0x"), kind="renewal")
    assert upper["proof"][0]["supersedes"] == {**CLAIM, "kind": "renewal"}  # hex in canonical form


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "upgrade"}, r"^kind: must be one of correction, renewal"),
        ({"kind": 1}, r"^kind: must be one of"),
        ({"old_id": ""}, r"^old_id: must be 1 to 256 characters"),
        ({"old_id": "a b"}, r"^old_id: must be 1 to 256 characters"),
        ({"old_id": "u" * 257}, r"^old_id: "),
        ({"old_digest": b"\x01" * 31}, r"^old_digest: must be 32 bytes or '0x' \+ 64 hex digits"),
        ({"old_digest": "0x" + "zz" * 32}, r"^old_digest: "),
        ({"old_digest": V2["proof"][1]["credentialDigest"]}, r"^old_digest: is this credential's own digest"),
    ],
)
def test_with_supersedes_refuses_bad_arguments_and_changes_nothing(arguments: dict[str, Any], message: str) -> None:
    before = copy.deepcopy(V2)
    with pytest.raises(InvalidInput, match=message):
        with_supersedes(V2, **{"old_id": CLAIM["id"], "old_digest": OLD_DIGEST, "kind": "correction", **arguments})
    assert before == V2


def test_with_supersedes_refuses_a_second_claim_and_a_broken_file() -> None:
    once = with_supersedes(V2, old_id=CLAIM["id"], old_digest=OLD_DIGEST, kind="correction")
    with pytest.raises(InvalidInput, match=rf"^file: already claims to replace {CLAIM['id']}"):
        with_supersedes(once, old_id="urn:uuid:other", old_digest="0x" + "6b" * 32, kind="renewal")
    broken = copy.deepcopy(V1)
    broken["proof"][0]["merkleRoot"] = "0x12"
    with pytest.raises(CredentialFormatError, match=r"merkleRoot"):
        with_supersedes(broken, old_id=CLAIM["id"], old_digest=OLD_DIGEST, kind="correction")


def test_the_published_schemas_are_the_shipped_ones() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    for version in (1, 2):
        published = json.loads((docs / f"credential-file-v{version}.schema.json").read_text())
        assert published == filerules.file_schema(version)
        assert published["$defs"]["Supersedes"]["properties"]["kind"]["enum"] == list(filerules.SUPERSEDES_KINDS)
