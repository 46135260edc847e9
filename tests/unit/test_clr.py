"""CLR 2.0 transcripts (registry.core.clr): built from real signed v2 credential files, valid under
1EdTech's ClrCredential schema, components returned unchanged, bad input refused with reasons, and
what an eddsa-rdfc-2022 signature over a CLR can and cannot cover."""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from _golden import ACHIEVEMENT, ANCHOR, ISSUER
from _golden_v2 import GOLDEN, signer
from jsonschema import Draft201909Validator

from registry.core.clr import (
    CLR_CONTEXTS,
    CLR_SCHEMA_ID,
    CONTEXT_CLR,
    MAX_COMPONENTS,
    InvalidClr,
    build_clr,
    clr_schema,
    components_of,
    validate_clr,
)
from registry.core.credential import CONTEXT_OB3, CONTEXT_VC2, build_credential
from registry.core.credfile import (
    check_inclusion,
    check_integrity,
    make_credential_file,
    parse_credential_file,
)
from registry.core.disclosure import compute_digest, salt_fields
from registry.core.filerules import file_schema, ob3_schema
from registry.core.merkle import MerkleTree
from registry.core.pathway import Pathway, load_pathway
from registry.core.signing import (
    Canonicalizer,
    Signer,
    check_signature,
    derive_signing_key,
    dropped_terms,
    reference_canonical,
)
from registry.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
CONTEXT_FILE = ROOT / "registry/contexts/clr-v2p0-context-2.0.1.json"
SCHEMA_FILE = ROOT / "registry/schemas/clr/clr_v2p0_clrcredential_schema.json"
CONTEXT_SHA256 = "880f1902d4158f2f33ce06af41b90719977cd1ea337a9de2e41edb3ff5e543d6"
SCHEMA_SHA256 = "59d778659204b0bd593e9e2ab1683fb6f688e339885c44019f606ed6feb4caee"
LEARNER = "ada.lovelace@example.org"
COURSES = [
    ("data-literacy", "Data Literacy for Researchers"),
    ("statistics", "Applied Statistics"),
    ("ml-basics", "Machine Learning Basics"),
]
ACH = [f"https://uni.example/achievements/{slug}" for slug, _ in COURSES]
CLR_ISSUER = {"id": "did:web:uni.example", "type": ["Profile"], "name": "Example University"}
CLR_ID = "urn:uuid:3f0c5e3a-9d1b-4c7e-8a2f-1b2c3d4e5f60"
PATHWAY_ID = "https://uni.example/pathways/data-science"


@cache
def _batch_json() -> str:
    """Three signed, anchored v2 credential files of one learner, one batch (one Merkle tree)."""
    rng = random.Random(20261205).randbytes
    docs = [
        build_credential(
            achievement=ACHIEVEMENT.model_copy(update={"id": aid, "name": title}),
            issuer=ISSUER,
            recipient_email=LEARNER,
            recipient_name="Ada Lovelace",
            valid_from=datetime(2025, 2, 28, 9, 0, 0, tzinfo=UTC),
            result="A",
            rng=rng,
        )
        for aid, (_, title) in zip(ACH, COURSES, strict=True)
    ]
    salts = [salt_fields(doc, rng=rng) for doc in docs]
    digests = [compute_digest(doc, s) for doc, s in zip(docs, salts, strict=True)]
    tree = MerkleTree.build(digests)
    files = [
        make_credential_file(doc, s, d, tree.root, tree.proof(i), ANCHOR, signer=signer())
        for i, (doc, s, d) in enumerate(zip(docs, salts, digests, strict=True))
    ]
    return json.dumps(files)


def components() -> list[dict[str, Any]]:
    return list(json.loads(_batch_json()))


def _clr(comps: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "issuer": CLR_ISSUER,
        "subject_identifier": None,
        "clr_id": CLR_ID,
        "valid_from": "2026-01-31T12:00:00Z",
        "name": "Transcript of Ada Lovelace",
    }
    args.update(kw)
    return build_clr(components() if comps is None else comps, **args)


def _node(requirement: dict[str, Any], ids: list[int]) -> dict[str, Any]:
    """A requirement in the pathway format (docs/pathways.md) from a shorthand: ``{"achievement"}``,
    ``{"allOf"}``, ``{"anyOf"}`` (at least one of) and ``{"atLeast", "of"}``."""
    ids[0] += 1
    node: dict[str, Any] = {"id": f"r{ids[0]}"}
    if "achievement" in requirement:
        return {**node, "achievement": requirement["achievement"], "issuers": [CLR_ISSUER["id"]]}
    if "allOf" in requirement:
        return {**node, "allOf": [_node(c, ids) for c in requirement["allOf"]]}
    at_least, children = (
        (1, requirement["anyOf"]) if "anyOf" in requirement else (requirement["atLeast"], requirement["of"])
    )
    return {**node, "atLeast": at_least, "of": [_node(c, ids) for c in children]}


def _pathway(requirement: dict[str, Any], **kw: Any) -> Pathway:
    return load_pathway(
        {
            "type": "Pathway",
            "id": PATHWAY_ID,
            "version": 1,
            "name": "Data Science Certificate",
            "owner": CLR_ISSUER["id"],
            "qualification": {"name": "Certificate in Data Science", "eqfLevel": 6},
            "requirements": _node(requirement, [0]),
            **kw,
        }
    )


def _dumps(items: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(item) for item in items]


# -- the specification data ------------------------------------------------------------------------


def test_shipped_context_and_schema_are_the_pinned_published_documents() -> None:
    """The CLR context is byte for byte 1EdTech's 2.0.1 document (sha256 pinned in the README and
    here); the schema is the published ClrCredential schema, a valid Draft 2019-09 schema."""
    readme = (ROOT / "registry/schemas/clr/README.md").read_text("utf-8")
    assert hashlib.sha256(CONTEXT_FILE.read_bytes()).hexdigest() == CONTEXT_SHA256
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert CONTEXT_SHA256 in readme and SCHEMA_SHA256 in readme
    assert clr_schema() == json.loads(SCHEMA_FILE.read_text("utf-8"))
    assert clr_schema()["$id"] == CLR_SCHEMA_ID
    Draft201909Validator.check_schema(clr_schema())
    assert CLR_CONTEXTS == (CONTEXT_VC2, CONTEXT_CLR, CONTEXT_OB3)
    context = json.loads(CONTEXT_FILE.read_text("utf-8"))["@context"]
    assert {"ClrCredential", "ClrSubject", "Association"} <= set(context)
    assert "partial" in context["ClrCredential"]["@context"]  # 2.0.1, not the older stub


# -- building and reading ---------------------------------------------------------------------------


def test_a_transcript_of_three_signed_v2_files_follows_the_clr_schema() -> None:
    comps = components()
    for c in comps:  # real, verifiable v2 files
        cf = parse_credential_file(json.dumps(c).encode())
        assert cf.version == 2 and cf.signature is not None
        check_inclusion(cf)
    clr = _clr(comps)
    assert not list(Draft201909Validator(clr_schema()).iter_errors(clr))
    validate_clr(json.loads(json.dumps(clr)))
    assert clr["@context"] == list(CLR_CONTEXTS)
    assert clr["type"] == ["VerifiableCredential", "ClrCredential"]
    assert clr["id"] == CLR_ID and clr["issuer"] == CLR_ISSUER
    subject = clr["credentialSubject"]
    assert subject["type"] == ["ClrSubject"]
    assert subject["identifier"] == comps[0]["credentialSubject"]["identifier"]
    assert [a["id"] for a in subject["achievement"]] == ACH
    assert subject["achievement"] == [c["credentialSubject"]["achievement"] for c in comps]
    assert "association" not in subject


def test_components_come_back_unchanged_and_still_verify() -> None:
    comps = components()
    clr = _clr(comps)
    assert _dumps(clr["credentialSubject"]["verifiableCredential"]) == _dumps(comps)
    back = components_of(json.loads(json.dumps(clr)))
    assert _dumps(back) == _dumps(comps)
    for c in back:
        assert not list(Draft201909Validator(ob3_schema()).iter_errors(c))
        assert not list(Draft201909Validator(file_schema(2)).iter_errors(c))
        cf = parse_credential_file(json.dumps(c).encode())
        assert "0x" + check_integrity(cf).hex() == c["proof"][1]["credentialDigest"]
        check_inclusion(cf)
        assert cf.signature is not None and check_signature(cf.credential, cf.signature).ok


def test_inputs_and_outputs_are_copies() -> None:
    comps = components()
    clr = _clr(comps)
    before = json.dumps(clr)
    comps[0]["name"] = "changed after building"
    comps[1]["credentialSubject"]["identifier"].clear()
    components_of(clr)[2]["proof"].clear()
    assert json.dumps(clr) == before


def test_an_explicit_identifier_and_a_single_embedded_credential() -> None:
    comps = components()
    ident = [dict(comps[1]["credentialSubject"]["identifier"][0])]
    clr = _clr(comps, subject_identifier=ident)
    assert clr["credentialSubject"]["identifier"] == ident
    single = copy.deepcopy(clr)
    single["credentialSubject"]["verifiableCredential"] = comps[0]  # the schema's compacted form
    validate_clr(single)
    assert _dumps(components_of(single)) == _dumps([comps[0]])


def test_identical_achievements_are_listed_once() -> None:
    comps = components()
    twin = copy.deepcopy(comps[0])
    twin["id"] = "urn:uuid:00000000-0000-4000-8000-000000000001"  # a second award of the same achievement
    clr = _clr([comps[0], twin, comps[1]])
    assert [a["id"] for a in clr["credentialSubject"]["achievement"]] == ACH[:2]
    assert len(components_of(clr)) == 3


def test_a_pathway_adds_the_qualification_and_its_associations() -> None:
    requirement = {
        "allOf": [
            {"achievement": ACH[0]},
            {"anyOf": [{"achievement": ACH[1]}, {"achievement": "https://uni.example/achievements/not-earned"}]},
            {"atLeast": 1, "of": [{"achievement": ACH[2]}, {"achievement": "https://uni.example/achievements/x"}]},
        ]
    }
    clr = _clr(pathway=_pathway(requirement))
    assert not list(Draft201909Validator(clr_schema()).iter_errors(clr))
    subject = clr["credentialSubject"]
    qid = PATHWAY_ID + "#qualification"
    assert subject["achievement"][-1] == {
        "id": qid,
        "type": ["Achievement"],
        "name": "Certificate in Data Science",
        "description": "The qualification awarded for completing the pathway Data Science Certificate (version 1).",
        "criteria": {
            "narrative": "Requires all of: Data Literacy for Researchers (from did:web:uni.example); (at least 1 "
            "of: Applied Statistics (from did:web:uni.example); https://uni.example/achievements/not-earned (from "
            "did:web:uni.example)); (at least 1 of: Machine Learning Basics (from did:web:uni.example); "
            "https://uni.example/achievements/x (from did:web:uni.example))."
        },
    }
    assert subject["association"] == [
        {"type": "Association", "associationType": "isPartOf", "sourceId": aid, "targetId": qid} for aid in ACH
    ]
    assert [a["id"] for a in subject["achievement"][:-1]] == ACH


# -- refusals ---------------------------------------------------------------------------------------

Case = Callable[[list[dict[str, Any]]], dict[str, Any]]

BAD_BUILDS: list[tuple[str, Case, str]] = [
    ("no components", lambda c: {"comps": []}, r"^components: a CLR needs at least one credential"),
    ("components a string", lambda c: {"comps": "[]"}, r"^components: must be a list of credentials"),
    ("component a string", lambda c: {"comps": [c[0], "x"]}, r"^components\[1\]: must be a credential .*not a string"),
    ("component a list", lambda c: {"comps": [c[0], [c[1]]]}, r"^components\[1\]: .*not an array"),
    ("too many", lambda c: {"comps": [c[0]] * (MAX_COMPONENTS + 1)}, r"^components: 1001 credentials; .* at most 1000"),
    ("duplicate", lambda c: {"comps": [c[0], c[1], c[0]]}, r"^components\[2\]: the credential urn:uuid:.* already in"),
    (
        "no achievement",
        lambda c: {"comps": [{**c[0], "credentialSubject": {"type": ["AchievementSubject"]}}]},
        r"^components\[0\]: has no credentialSubject.achievement",
    ),
    ("not JSON", lambda c: {"comps": [{**c[0], "x": float("nan")}]}, r"^components\[0\]: is not plain JSON"),
    ("issuer untyped", lambda c: {"issuer": {"id": "did:web:u.example", "name": "U"}}, r"^issuer: type must include"),
    ("issuer without id", lambda c: {"issuer": {"type": "Profile", "name": "U"}}, r"^issuer: needs an id"),
    ("issuer without name", lambda c: {"issuer": {**CLR_ISSUER, "name": " "}}, r"^issuer: needs a name"),
    ("clr_id not a urn:uuid", lambda c: {"clr_id": "https://uni.example/clr/1"}, r"^clr_id: must be a lower-case"),
    ("clr_id upper case", lambda c: {"clr_id": CLR_ID.upper().replace("URN:UUID", "urn:uuid")}, r"^clr_id: "),
    ("clr_id of a component", lambda c: {"clr_id": c[0]["id"]}, r"^clr_id: is the id of one of the credentials"),
    ("date only", lambda c: {"valid_from": "2026-01-31"}, r"^valid_from: must be an RFC 3339 date-time"),
    ("no time zone", lambda c: {"valid_from": "2026-01-31T12:00:00"}, r"^valid_from: must be an RFC 3339"),
    ("no such day", lambda c: {"valid_from": "2026-02-30T12:00:00Z"}, r"^valid_from: .* is not a real date"),
    ("blank name", lambda c: {"name": "  "}, r"^name: a CLR needs a name"),
    ("empty identifier", lambda c: {"subject_identifier": []}, r"^subject_identifier: the learner needs at least one"),
    ("identifier a string", lambda c: {"subject_identifier": ["x"]}, r"^subject_identifier\[0\]: must be an Identity"),
    (
        "no identifier to copy",
        lambda c: {"comps": [{**c[0], "credentialSubject": {"achievement": c[0]["credentialSubject"]["achievement"]}}]},
        r"^subject_identifier: not given, and the first credential names no identifier",
    ),
    ("pathway not a Pathway", lambda c: {"pathway": {"id": PATHWAY_ID}}, r"^pathway: must be a pathway definition"),
    (
        "names nothing earned",
        lambda c: {"pathway": _pathway({"achievement": "https://uni.example/achievements/other"})},
        r"^pathway: its requirements name none of the achievements",
    ),
]


@pytest.mark.parametrize(("case", "message"), [(c, m) for _, c, m in BAD_BUILDS], ids=[n for n, _, _ in BAD_BUILDS])
def test_build_refuses_bad_input_naming_the_field(case: Case, message: str) -> None:
    kw = case(components())
    comps = kw.pop("comps", None)
    with pytest.raises(InvalidClr, match=message):
        _clr(comps, **kw)


def test_the_result_is_checked_against_the_clr_schema() -> None:
    """What only the official schema knows is still refused by build_clr, with the path."""
    comps = components()
    del comps[1]["validFrom"]
    with pytest.raises(
        InvalidInput,
        match=r"^clr: does not follow the 1EdTech CLR 2.0 ClrCredential schema: "
        r"/credentialSubject/verifiableCredential/1: 'validFrom' is a required property",
    ):
        _clr(comps)


def _edit(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    clr = _clr(pathway=_pathway({"allOf": [{"achievement": a} for a in ACH]}))
    mutate(clr)
    return clr


SCHEMA_VIOLATIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no name", lambda d: d.pop("name"), r"/: 'name' is a required property"),
    ("not a ClrCredential", lambda d: d.update(type=["VerifiableCredential"]), r"/type: .* not valid under any"),
    (
        "contexts out of order",
        lambda d: d.update({"@context": [CONTEXT_VC2, CONTEXT_OB3, CONTEXT_CLR]}),
        r"/@context/1: 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json' does not match",
    ),
    (
        "association type as a list",
        lambda d: d["credentialSubject"]["association"][0].update(type=["Association"]),
        r"/credentialSubject/association/0/type: \['Association'\] is not valid",
    ),
    (
        "unknown association type",
        lambda d: d["credentialSubject"]["association"][1].update(associationType="isFriendOf"),
        r"/credentialSubject/association/1/associationType: 'isFriendOf' is not one of",
    ),
    (
        "no credential embedded",
        lambda d: d["credentialSubject"].update(verifiableCredential=[]),
        r"/credentialSubject/verifiableCredential: \[\] should be non-empty",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [(m, e) for _, m, e in SCHEMA_VIOLATIONS], ids=[n for n, _, _ in SCHEMA_VIOLATIONS]
)
def test_validate_clr_names_the_violation(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(InvalidClr, match=r"^clr: does not follow the 1EdTech CLR 2.0 ClrCredential schema: " + message):
        validate_clr(_edit(mutate))


def test_validate_clr_refuses_a_non_object() -> None:
    with pytest.raises(InvalidClr, match=r"^clr: must be a JSON object, not list"):
        validate_clr([_clr()])


def _subject(clr: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {**clr, "credentialSubject": {**clr["credentialSubject"], **kw}}


def _without_vc(clr: dict[str, Any]) -> dict[str, Any]:
    return {
        **clr,
        "credentialSubject": {k: v for k, v in clr["credentialSubject"].items() if k != "verifiableCredential"},
    }


NOT_CLRS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("a list", lambda d: [d], r"^clr: must be a JSON object, not list"),
    ("a credential file", lambda d: json.loads((GOLDEN / "credential.json").read_text()), r"^type: .*'ClrCredential'"),
    ("untyped", lambda d: {k: v for k, v in d.items() if k != "type"}, r"^type: a CLR's type must include"),
    ("no subject", lambda d: {**d, "credentialSubject": "learner"}, r"^credentialSubject: a CLR needs a ClrSubject"),
    ("nothing embedded", _without_vc, r"^credentialSubject/verifiableCredential: a CLR must embed at least one"),
    ("empty", lambda d: _subject(d, verifiableCredential=[]), r"must embed at least one credential"),
    (
        "a component not an object",
        lambda d: _subject(d, verifiableCredential=[d["credentialSubject"]["verifiableCredential"][0], "jwt"]),
        r"^credentialSubject/verifiableCredential/1: must be a credential \(JSON object\), not a string",
    ),
    (
        "too many",
        lambda d: _subject(d, verifiableCredential=[{}] * (MAX_COMPONENTS + 1)),
        r"^credentialSubject/verifiableCredential: 1001 credentials; at most 1000 are read",
    ),
]


@pytest.mark.parametrize(("make", "message"), [(m, e) for _, m, e in NOT_CLRS], ids=[n for n, _, _ in NOT_CLRS])
def test_components_of_refuses_what_is_not_a_clr(make: Callable[[dict[str, Any]], Any], message: str) -> None:
    with pytest.raises(InvalidClr, match=message):
        components_of(make(_clr()))


# -- signing ----------------------------------------------------------------------------------------


def _standard_credentials() -> list[dict[str, Any]]:
    """Credentials as any OB 3.0 wallet holds them, each with a DataIntegrityProof only: Digital
    Bazaar's reference vector and our golden v2 file without its anchor proof."""
    vector = json.loads((GOLDEN / "di-reference.json").read_text())["signed_credential"]
    full = json.loads((GOLDEN / "credential.json").read_text())
    return [vector, {**full, "proof": [full["proof"][0]]}]


def test_a_clr_of_standard_credentials_is_signed_and_verifies() -> None:
    comps = _standard_credentials()
    for c in comps:
        proof = c["proof"][0] if isinstance(c["proof"], list) else c["proof"]
        assert check_signature(c, proof).ok
    clr = _clr(comps, pathway=_pathway({"anyOf": [{"achievement": "https://uni.example/achievements/data-literacy"}]}))
    assert dropped_terms(clr) == []  # every term, associations included, means something in JSON-LD
    assert Canonicalizer().canonical(clr) == reference_canonical(clr)
    key = Signer(derive_signing_key(b"\x07" * 32), CLR_ISSUER["id"], "2026-01-31T12:00:00Z")
    signed = {**clr, "proof": [key.proof(clr)]}
    validate_clr(signed)
    assert check_signature(signed, signed["proof"][0]).ok
    assert _dumps(components_of(signed)) == _dumps(comps)
    # the CLR's signature covers the embedded credentials, their proofs included
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["verifiableCredential"][1]["credentialSubject"]["result"][0]["value"] = "B"
    assert not check_signature(changed, signed["proof"][0]).ok
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["verifiableCredential"][0]["proof"]["created"] = "2025-03-02T12:00:00Z"
    assert not check_signature(changed, signed["proof"][0]).ok


def test_a_clr_of_v2_files_cannot_carry_an_rdfc_signature() -> None:
    """Inside a CLR the components' proofs are part of the signed document, and no JSON-LD context
    defines CredentialRegistryAnchorProof's terms: JSON-LD would drop them, so the signer refuses
    (UndefinedTerms) rather than sign what it cannot cover. Nothing else is undefined."""
    clr = _clr()
    dropped = dropped_terms(clr)
    assert {"CredentialRegistryAnchorProof", "credentialDigest", "merkleRoot", "salts"} <= set(dropped)
    di_only = copy.deepcopy(clr)
    for c in di_only["credentialSubject"]["verifiableCredential"]:
        c["proof"] = [p for p in c["proof"] if p["type"] == "DataIntegrityProof"]
    assert dropped_terms(di_only) == []
    key = Signer(derive_signing_key(b"\x07" * 32), CLR_ISSUER["id"], "2026-01-31T12:00:00Z")
    with pytest.raises(InvalidInput, match="CredentialRegistryAnchorProof"):
        key.proof(clr)
