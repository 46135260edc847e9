"""Pathways (registry.core.pathway): the definition format and its checks, the digest, and the
evaluation of real credentials (built by build_credential, v1 and v2) against the example pathway
tests/data/pathways/data-analyst.json."""

from __future__ import annotations

import copy
import json
import random
import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft201909Validator

from registry.core.credential import Achievement, IssuerProfile, build_credential
from registry.core.keccak import keccak256, keccak256_hex
from registry.core.pathway import (
    DIGEST_DOMAIN,
    ID_PATTERN,
    MAX_DEPTH,
    MAX_NODES,
    PATHWAY_ID_PATTERN,
    URI_PATTERN,
    AtLeast,
    CreditsFrom,
    InvalidPathway,
    Pathway,
    load_pathway,
    pathway_digest,
    pathway_schema,
)
from registry.core.stacking import MAX_COMPONENTS, Component, PathwayResult, component_of, evaluate
from registry.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILE = ROOT / "tests/data/pathways/data-analyst.json"
SCHEMA_FILE = ROOT / "registry/schemas/pathway-v1.schema.json"
EXAMPLE: dict[str, Any] = json.loads(EXAMPLE_FILE.read_text())
EXAMPLE_DIGEST = "0x990792d4233990f2c1d85ab3a6bff8ff4114edd483feb0f40f62267b8f231d10"
"""Pinned: changing how a pathway is hashed changes every anchored pathway's identity."""

UNI = "did:web:uni.example"
COLLEGE = "did:web:college.example"
TRAINING = "did:web:training.example"
OTHER = "did:web:other.example"
A = "https://uni.example/achievements/"
LITERACY, STATS, SQL, VIS, PROJECT, INTERNSHIP = (
    A + n for n in ("data-literacy", "statistics", "sql", "visualisation", "project", "internship")
)
PYTHON = "https://training.example/achievements/python"


def _pathway(mutate: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    if mutate is not None:
        mutate(doc)
    return doc


def _node(doc: dict[str, Any], *path: int) -> dict[str, Any]:
    """The requirement at child indexes ``path`` under the root (whatever kind each level is)."""
    node = doc["requirements"]
    for i in path:
        node = next(node[k] for k in ("allOf", "of", "from") if k in node)[i]
    return node


def credential(
    achievement: str, issuer: str, ects: float | None = 5, *, seed: int = 1, version: int = 2
) -> dict[str, Any]:
    """A real credential document; ``ects=None`` removes the credits it states (as a redaction would)."""
    doc = build_credential(
        achievement=Achievement(
            id=achievement,
            name=achievement.rsplit("/", 1)[-1].title(),
            description="A micro-credential.",
            criteria_narrative="Pass the exam.",
            learning_outcomes=["Do the thing"],
            workload_ects=ects or 1,
            eqf_level=6 if ects != 3 else 5,
            assessment_type="Written exam",
            participation_form="online",
            quality_assurance="Quality Assurance Board",
        ),
        issuer=IssuerProfile(id=issuer, name=issuer.rsplit(":", 1)[-1]),
        recipient_email="ada.lovelace@example.org",
        valid_from=datetime(2025, 2, 1, tzinfo=UTC),
        rng=random.Random(seed).randbytes,
        version=version,  # type: ignore[arg-type]
    )
    if ects is None:
        achievement_json = doc["credentialSubject"]["achievement"]
        achievement_json.pop("creditsAvailable")
        achievement_json.pop("workloadEcts", None)
    return doc


def comp(
    key: str, achievement: str, issuer: str = UNI, ects: float | None = 5, *, seed: int = 0, version: int = 2
) -> Component:
    doc = credential(achievement, issuer, ects, seed=seed or zlib.crc32(key.encode()), version=version)
    return component_of(key, doc, keccak256_hex(json.dumps(doc, sort_keys=True).encode()))


def complete_set() -> list[Component]:
    return [
        comp("literacy.json", LITERACY),
        comp("stats.json", STATS, COLLEGE),
        comp("sql.json", SQL),
        comp("python.json", PYTHON, TRAINING),
        comp("project.json", PROJECT),
    ]


def node(result: PathwayResult, node_id: str) -> dict[str, Any]:
    return next(n for n in result.to_json()["nodes"] if n["id"] == node_id)


# ----------------------------------------------------------------------------------------------
# The definition: schema, model and example file
# ----------------------------------------------------------------------------------------------


def test_example_file_follows_the_schema_and_the_model() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft201909Validator.check_schema(schema)
    assert not list(Draft201909Validator(schema).iter_errors(EXAMPLE))
    assert pathway_schema() == schema  # the packaged copy is the file
    pathway = load_pathway(EXAMPLE_FILE.read_bytes())
    assert pathway == Pathway.model_validate(EXAMPLE) == load_pathway(EXAMPLE) == load_pathway(pathway)
    assert rfc8785.dumps(pathway.to_json()) == rfc8785.dumps(EXAMPLE)  # nothing lost or added by the model
    assert [n.id for _, n in pathway.nodes()] == [
        "all",
        "core",
        "data-literacy",
        "statistics",
        "electives",
        "sql",
        "python",
        "visualisation",
        "practice",
        "project",
        "internship",
    ]


def test_schema_and_model_state_the_same_patterns_and_bounds() -> None:
    defs = pathway_schema()["$defs"]
    assert defs["RequirementId"]["pattern"] == ID_PATTERN
    assert defs["Leaf"]["properties"]["achievement"]["pattern"] == URI_PATTERN
    assert pathway_schema()["properties"]["id"]["pattern"] == PATHWAY_ID_PATTERN
    assert defs["Requirements"]["maxItems"] == MAX_NODES == defs["AtLeast"]["properties"]["atLeast"]["maximum"]


def test_model_validation_alone_checks_the_rules() -> None:
    doc = _pathway(lambda d: _node(d, 1).update(id="core"))
    with pytest.raises(InvalidPathway, match=r"'core' is used twice"):
        Pathway.model_validate(doc)


def _deep(levels: int) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        req: dict[str, Any] = {"id": "leaf", "achievement": LITERACY, "issuers": [UNI]}
        for i in range(levels - 1):
            req = {"id": f"n{i}", "allOf": [req]}
        d["requirements"] = req
        d["qualification"].pop("credits")

    return mutate


def _wide(count: int) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        leaves = [{"id": f"l{i}", "achievement": f"urn:x:{i}", "issuers": [UNI]} for i in range(count - 1)]
        d["requirements"] = {"id": "root", "allOf": leaves}
        d["qualification"].pop("credits")

    return mutate


def test_bounds_accept_up_to_the_limit() -> None:
    load_pathway(_pathway(_deep(MAX_DEPTH)))
    load_pathway(_pathway(_wide(MAX_NODES)))


BAD = {
    "schema: unknown key": (lambda d: d.update(extra=1), "", r"'extra' was unexpected"),
    "schema: wrong type": (lambda d: d.update(type="Course"), "/type", r"'Pathway' was expected"),
    "schema: version 0": (lambda d: d.update(version=0), "/version", r"less than the minimum of 1"),
    "model: version 1.0": (lambda d: d.update(version=1.0), "/version", r"valid integer"),
    "schema: id with a fragment": (lambda d: d.update(id="https://uni.example/p#x"), "/id", r"does not match"),
    "schema: eqfLevel 9": (lambda d: d["qualification"].update(eqfLevel=9), "/qualification/eqfLevel", r"maximum"),
    "schema: bad requirement id": (
        lambda d: _node(d, 0).update(id="-core"),
        "/requirements/allOf/0/id",
        r"does not match",
    ),
    "model: requirement id with a newline": (
        lambda d: _node(d, 0).update(id="core\n"),
        "/requirements/allOf/0/id",
        r"should match pattern",
    ),
    "schema: leaf without issuers": (
        lambda d: _node(d, 0, 0).pop("issuers"),
        "/requirements/allOf/0/allOf/0",
        r"'issuers' is a required property",
    ),
    "schema: atLeast without of": (lambda d: _node(d, 1).pop("of"), "/requirements/allOf/1", r"'of' is a required"),
    "schema: leaf with credits 0": (
        lambda d: _node(d, 0, 0).update(credits=0),
        "/requirements/allOf/0/allOf/0/credits",
        r"less than or equal to the minimum of 0",
    ),
    "two kinds in one node": (
        lambda d: _node(d, 1, 0).update(allOf=[]),
        "/requirements/allOf/1/of/0",
        r"exactly one of .*found \['achievement', 'allOf'\]",
    ),
    "no kind": (lambda d: _node(d, 1, 0).pop("achievement"), "/requirements/allOf/1/of/0", r"exactly one of.*none"),
    "empty issuers": (
        lambda d: _node(d, 0, 1).update(issuers=[]),
        "/requirements/allOf/0/allOf/1/issuers",
        r"^is empty: list at least one issuer$",
    ),
    "the same issuer twice in one leaf": (
        lambda d: _node(d, 0, 1).update(issuers=[UNI, UNI]),
        "/requirements/allOf/0/allOf/1/issuers",
        r"non-unique",
    ),
    "empty allOf": (
        lambda d: d["requirements"].update(allOf=[]),
        "/requirements/allOf",
        r"list at least one requirement",
    ),
    "empty of": (lambda d: _node(d, 1).update(of=[]), "/requirements/allOf/1/of", r"list at least one requirement"),
    "empty from": (
        lambda d: _node(d, 2).update({"from": []}),
        "/requirements/allOf/2/from",
        r"at least one requirement",
    ),
    "atLeast 0": (lambda d: _node(d, 1).update(atLeast=0), "/requirements/allOf/1/atLeast", r"minimum of 1"),
    "atLeast more than of": (
        lambda d: _node(d, 1).update(atLeast=4),
        "/requirements/allOf/1/atLeast",
        r"^can never be met: at least 4 of 3 requirement\(s\)$",
    ),
    "credits out of reach": (
        lambda d: (_node(d, 2, 0).update(credits=2), _node(d, 2, 1).update(credits=2.5)),
        "/requirements/allOf/2/credits",
        r"^can never be met: 5 credits, but the achievements under it count for 4.5 at most$",
    ),
    "qualification credits out of reach": (
        lambda d: (_node(d, 2, 1).update(credits=1), d["qualification"].update(credits=31.5)),
        "/qualification/credits",
        r"^can never be met: 31.5 credits, but all the achievements of the pathway count for 31 at most$",
    ),
    "duplicate requirement id": (
        lambda d: _node(d, 1, 2).update(id="sql"),
        "/requirements/allOf/1/of/2/id",
        r"^a requirement id names one requirement: 'sql' is used twice \(first at /requirements/allOf/1/of/0\)$",
    ),
    "cycle by id reuse": (
        lambda d: _node(d, 0, 0).update(id="all"),
        "/requirements/allOf/0/allOf/0/id",
        r"'all' is used twice \(first at /requirements\)",
    ),
    "one (achievement, issuer) pair in two leaves": (
        lambda d: _node(d, 1, 2).update(achievement=STATS, issuers=[COLLEGE]),
        "/requirements/allOf/1/of/2/issuers/0",
        r"^ambiguous: the achievement https://uni.example/achievements/statistics from did:web:college.example is "
        r"also named by the requirement at /requirements/allOf/0/allOf/1, so one credential could count twice$",
    ),
    "non-canonical owner": (
        lambda d: d.update(owner="https://UNI.example/"),
        "/owner",
        r"^'https://UNI.example/' is not a canonical issuer id: write 'did:web:uni.example'$",
    ),
    "non-canonical issuer": (
        lambda d: _node(d, 0, 1).update(issuers=[UNI, "did:web:College.Example"]),
        "/requirements/allOf/0/allOf/1/issuers/1",
        r"^'did:web:College.Example' is not a canonical issuer id: write 'did:web:college.example'$",
    ),
    "no issuer at all": (
        lambda d: _node(d, 0, 1).update(issuers=["mailto:x@y.example"]),
        "/requirements/allOf/0/allOf/1/issuers/0",
        r"not an issuer identifier",
    ),
    "too deep": (
        _deep(MAX_DEPTH + 1),
        "/requirements" + "/allOf/0" * MAX_DEPTH,
        rf"^requirements nest at most {MAX_DEPTH} levels deep$",
    ),
    "too many nodes": (
        _wide(MAX_NODES + 1),
        f"/requirements/allOf/{MAX_NODES - 1}",
        rf"^a pathway has at most {MAX_NODES} requirements$",
    ),
}


@pytest.mark.parametrize(("mutate", "pointer", "message"), BAD.values(), ids=BAD.keys())
def test_bad_definitions_are_refused_at_their_pointer(
    mutate: Callable[[dict[str, Any]], Any], pointer: str, message: str
) -> None:
    doc = _pathway(mutate)
    for data in (doc, json.dumps(doc).encode()):
        with pytest.raises(InvalidPathway, match=re.escape(pointer) or None) as caught:
            load_pathway(data)
        assert caught.value.field == pointer and re.search(message, caught.value.problem)
        assert isinstance(caught.value, InvalidInput) and caught.value.exit_code == 3


STRICT = {
    "duplicate key": (b'{"type": "Pathway", "type": "Pathway"}', r"duplicate JSON object key 'type'"),
    "NaN": (b'{"version": NaN}', r"NaN is not valid JSON"),
    "Infinity": (b'{"version": -Infinity}', r"-Infinity is not valid JSON"),
    "overflowing number": (b'{"version": 1e999}', r"out of range"),
    "not an object": (b"[]", r"a pathway definition is a JSON object"),
    "not UTF-8": (b'{"name": "\xff"}', r"not UTF-8"),
    "not JSON": (b"{'type': 1}", r"not valid JSON \(line 1, column 2\)"),
    "too deep for JSON": (b"[" * 100_000, r"nested too deeply|not valid JSON"),
    "too large": (b" " * (256 * 1024 + 1), r"a pathway definition larger than 262144 bytes"),
    "lone surrogate": ('{"name": "\ud800"}', r"not valid Unicode"),
    "NaN in a dict": ({"version": float("nan")}, r"not a JSON document"),
    "not JSON in a dict": ({"version": {1, 2}}, r"not a JSON document"),
    "not a document": (42, r"expected bytes, str or a JSON object, not int"),
}


@pytest.mark.parametrize(("data", "message"), STRICT.values(), ids=STRICT.keys())
def test_json_is_parsed_strictly(data: Any, message: str) -> None:
    with pytest.raises(InvalidPathway, match=message) as caught:
        load_pathway(data)
    assert caught.value.field == ""


def test_a_bom_and_any_spacing_are_accepted() -> None:
    assert load_pathway(b"\xef\xbb\xbf" + json.dumps(EXAMPLE, indent=4).encode()) == load_pathway(EXAMPLE)


# ----------------------------------------------------------------------------------------------
# The digest
# ----------------------------------------------------------------------------------------------


def test_digest_is_pinned_and_domain_separated() -> None:
    pathway = load_pathway(EXAMPLE)
    digest = pathway_digest(pathway)
    assert len(digest) == 32 and "0x" + digest.hex() == EXAMPLE_DIGEST
    body = rfc8785.dumps(EXAMPLE)
    assert digest == keccak256(DIGEST_DOMAIN + body) != keccak256(body)
    assert len(DIGEST_DOMAIN + body) > 64  # a Merkle leaf hashes 32 bytes, a node 64: never this preimage


def test_equal_definitions_have_equal_digests() -> None:
    reordered = json.dumps(dict(reversed(list(EXAMPLE.items()))), indent=3).encode()
    as_floats = _pathway(lambda d: (_node(d, 0, 0).update(credits=5.0), d["qualification"].update(credits=25.0)))
    digests = {pathway_digest(load_pathway(data)) for data in (EXAMPLE, reordered, as_floats)}
    assert digests == {bytes.fromhex(EXAMPLE_DIGEST[2:])}


EDITS = {
    "version bump": lambda d: d.update(version=2),
    "name": lambda d: d.update(name="Data Analyst Certificate (2026)"),
    "description removed": lambda d: d.pop("description"),
    "qualification credits": lambda d: d["qualification"].update(credits=20),
    "a leaf's credits": lambda d: _node(d, 0, 0).update(credits=6),
    "an issuer added": lambda d: _node(d, 0, 0).update(issuers=[UNI, COLLEGE]),
    "atLeast": lambda d: _node(d, 1).update(atLeast=1),
    "child order": lambda d: _node(d, 1)["of"].reverse(),
    "a requirement name": lambda d: _node(d, 1).update(name="Electives"),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_any_edit_changes_the_digest(edit: Callable[[dict[str, Any]], Any]) -> None:
    assert "0x" + pathway_digest(load_pathway(_pathway(edit))).hex() != EXAMPLE_DIGEST


# ----------------------------------------------------------------------------------------------
# Components
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_component_of_reads_v1_and_v2_credentials(version: int) -> None:
    doc = credential(STATS, "https://College.example/", 3, version=version)
    c = component_of("stats.json", doc, "0x" + "AB" * 32)
    assert (c.key, c.achievement_id, c.issuer_id, c.credential_id) == ("stats.json", STATS, COLLEGE, doc["id"])
    assert (c.digest, c.credits, c.eqf_level) == ("0x" + "ab" * 32, 3.0, 5)
    hidden = credential(STATS, COLLEGE, None, version=version)
    assert component_of("hidden.json", hidden, "0x" + "00" * 32).credits is None


BAD_CREDENTIALS = {
    "no id": (lambda d: d.pop("id"), "c.json#/id", r"no id"),
    "no issuer": (lambda d: d.pop("issuer"), "c.json#/issuer/id", r"names no issuer"),
    "bad issuer": (lambda d: d["issuer"].update(id="not an issuer"), "c.json#/issuer/id", r"whitespace"),
    "no achievement": (
        lambda d: d["credentialSubject"].pop("achievement"),
        "c.json#/credentialSubject/achievement/id",
        r"names no achievement",
    ),
    "credits as text": (
        lambda d: d["credentialSubject"]["achievement"].update(creditsAvailable="5"),
        "c.json#/credentialSubject/achievement/creditsAvailable",
        r"finite number of ECTS credits",
    ),
    "negative credits": (
        lambda d: d["credentialSubject"]["achievement"].update(creditsAvailable=-1),
        "c.json#/credentialSubject/achievement/creditsAvailable",
        r"0 or more",
    ),
}


@pytest.mark.parametrize(("mutate", "field", "message"), BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
def test_component_of_refuses_what_it_cannot_read(
    mutate: Callable[[dict[str, Any]], Any], field: str, message: str
) -> None:
    doc = credential(STATS, UNI)
    mutate(doc)
    with pytest.raises(InvalidInput, match=message) as caught:
        component_of("c.json", doc, "0x" + "00" * 32)
    assert caught.value.field == field


def test_component_of_refuses_a_bad_digest_and_components_refuse_bad_fields() -> None:
    with pytest.raises(InvalidInput, match=r"64 hex digits"):
        component_of("c.json", credential(STATS, UNI), "ab" * 32)
    with pytest.raises(InvalidInput, match=r"not a canonical issuer id"):
        Component("k", STATS, "uni.example", "urn:x", "0x" + "00" * 32)
    with pytest.raises(InvalidInput, match=r"EQF level"):
        Component("k", STATS, UNI, "urn:x", "0x" + "00" * 32, 5.0, 9)
    with pytest.raises(InvalidInput, match=r"non-empty string"):
        Component("", STATS, UNI, "urn:x", "0x" + "00" * 32)


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------


def test_a_complete_stack() -> None:
    result = evaluate(load_pathway(EXAMPLE), complete_set())
    assert result.complete and result.missing == [] and result.unused == []
    assert (result.total_credits, result.credits_required, result.max_eqf_level) == (25, 25, 6)
    assert result.pathway_digest == EXAMPLE_DIGEST
    assert all(n.satisfied for n in result.nodes if n.id not in ("visualisation", "internship"))
    assert node(result, "electives")["satisfied_by"] == ["sql.json", "python.json"]
    assert node(result, "all")["satisfied_by"] == [c.key for c in complete_set()]
    assert node(result, "statistics")["pointer"] == "/requirements/allOf/0/allOf/1"
    assert node(result, "statistics")["parent"] == "core"
    assert json.loads(json.dumps(result.to_json())) == result.to_json()


def test_an_incomplete_stack_says_precisely_what_is_missing() -> None:
    result = evaluate(load_pathway(EXAMPLE), [comp("stats.json", STATS, UNI, 4), comp("sql.json", SQL)])
    assert not result.complete
    assert result.missing == [
        f"achievement {LITERACY} (Data Literacy) from {UNI}",
        f"1 more of: achievement {PYTHON} (Python for Data) from {TRAINING}; "
        f"achievement {VIS} (Visualisation) from {UNI}",
        f"5 more credits from: achievement {PROJECT} (Capstone project) from {UNI} [5 credits]; "
        f"achievement {INTERNSHIP} (Internship) from {UNI}",
        "16 more credits in all for the qualification (25 needed, 9 counted)",
    ]
    assert node(result, "statistics")["missing"] == [] and node(result, "statistics")["credits"] == 4
    assert node(result, "core")["missing"] == [f"achievement {LITERACY} (Data Literacy) from {UNI}"]
    assert node(result, "practice") | {"missing": None} == {
        "id": "practice",
        "name": "Practice",
        "kind": "credits",
        "pointer": "/requirements/allOf/2",
        "parent": "all",
        "satisfied": False,
        "satisfied_by": [],
        "missing": None,
        "credits": 0,
        "credits_required": 5,
    }
    assert [n.id for n in result.nodes] == [n.id for _, n in load_pathway(EXAMPLE).nodes()]


def test_at_least() -> None:
    pathway = load_pathway(EXAMPLE)
    one = evaluate(pathway, [comp("vis.json", VIS)])
    assert node(one, "electives")["missing"] == [
        f"1 more of: achievement {SQL} (SQL) from {UNI}; achievement {PYTHON} (Python for Data) from {TRAINING}"
    ]
    three = evaluate(pathway, [comp("vis.json", VIS), comp("sql.json", SQL), comp("py.json", PYTHON, TRAINING)])
    electives = node(three, "electives")
    assert electives["satisfied"] and electives["satisfied_by"] == ["sql.json", "py.json", "vis.json"]
    assert electives["credits"] == 15  # every credential under it counts, not only the two needed


def test_credits_from_leaves_with_and_without_declared_credits() -> None:
    pathway = load_pathway(EXAMPLE)

    def practice(*components: Component) -> dict[str, Any]:
        return node(evaluate(pathway, list(components)), "practice")

    # the project declares 5: a credential stating 3 counts 3; the internship declares nothing: its 2 count
    mixed = practice(comp("p.json", PROJECT, ects=3), comp("i.json", INTERNSHIP, ects=2))
    assert mixed["satisfied"] and mixed["credits"] == 5 and mixed["satisfied_by"] == ["p.json", "i.json"]
    # never more than the leaf declares; the leaf's value when the credential states none
    assert practice(comp("p.json", PROJECT, ects=6))["credits"] == 5
    assert practice(comp("p.json", PROJECT, ects=None))["credits"] == 5
    # neither says: the credential meets its leaf but counts for nothing
    none = evaluate(pathway, [comp("i.json", INTERNSHIP, ects=None)])
    assert node(none, "internship")["satisfied"] and node(none, "practice")["credits"] == 0
    assert practice(comp("i.json", INTERNSHIP, ects=4.5))["missing"] == [
        f"0.5 more credits from: achievement {PROJECT} (Capstone project) from {UNI} [5 credits]"
    ]
    both = practice(comp("p.json", PROJECT, ects=1), comp("i.json", INTERNSHIP, ects=1))
    assert both["missing"] == ["3 more credits (every achievement under it already counts)"]


def test_two_providers_for_one_achievement() -> None:
    pathway = load_pathway(EXAMPLE)
    for issuer in (UNI, COLLEGE):
        result = evaluate(pathway, [comp("stats.json", STATS, issuer)])
        assert node(result, "statistics")["satisfied_by"] == ["stats.json"]
    result = evaluate(pathway, [comp("stats.json", STATS, OTHER)])
    assert not node(result, "statistics")["satisfied"]
    assert result.to_json()["unused"] == [
        {
            "key": "stats.json",
            "reason": f"the achievement {STATS} counts only from {COLLEGE}, {UNI}, not from {OTHER}",
            "requirement": None,
        }
    ]


def test_extra_and_unused_components() -> None:
    components = [
        *complete_set(),
        comp("stats-uni.json", STATS, UNI),
        comp("cooking.json", "https://uni.example/achievements/cooking"),
    ]
    result = evaluate(load_pathway(EXAMPLE), components)
    assert result.complete and node(result, "statistics")["satisfied_by"] == ["stats.json"]
    assert [u.to_json() for u in result.unused] == [
        {
            "key": "stats-uni.json",
            "reason": "requirement 'statistics' is already met by 'stats.json'",
            "requirement": "statistics",
        },
        {
            "key": "cooking.json",
            "reason": "no requirement names the achievement https://uni.example/achievements/cooking",
            "requirement": None,
        },
    ]


def test_qualification_credits_shortfall() -> None:
    components = complete_set()
    components[0] = comp("literacy.json", LITERACY, ects=3)
    result = evaluate(load_pathway(EXAMPLE), components)
    assert node(result, "all")["satisfied"] and not result.complete
    assert result.total_credits == 23 and result.max_eqf_level == 6
    assert result.missing == ["2 more credits in all for the qualification (25 needed, 23 counted)"]
    without = load_pathway(_pathway(lambda d: d["qualification"].pop("credits")))
    assert evaluate(without, components).complete


def test_the_same_credential_twice_is_refused() -> None:
    pathway = load_pathway(EXAMPLE)
    first = comp("a.json", STATS)
    renamed = Component("b.json", first.achievement_id, first.issuer_id, first.credential_id, "0x" + "11" * 32)
    same_digest = Component("c.json", first.achievement_id, first.issuer_id, "urn:uuid:other", first.digest)
    same_key = Component("a.json", SQL, UNI, "urn:uuid:sql", "0x" + "22" * 32)
    for second, what in ((renamed, "credential id"), (same_digest, "digest"), (same_key, "key")):
        with pytest.raises(
            InvalidInput, match=rf"^components/1: duplicate component: '[abc].json' has the {what} of 'a.json'$"
        ) as caught:
            evaluate(pathway, [first, second])
        assert caught.value.field == "components/1"


def test_evaluate_refuses_what_it_cannot_evaluate() -> None:
    pathway = load_pathway(EXAMPLE)
    with pytest.raises(InvalidInput, match=r"must be a Pathway"):
        evaluate(EXAMPLE, [])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"must be a list of Components"):
        evaluate(pathway, "a.json")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"components/0: must be a Component"):
        evaluate(pathway, [{"key": "a.json"}])  # type: ignore[list-item]
    many = [Component(f"k{i}", f"urn:x:{i}", UNI, f"urn:c:{i}", f"0x{i:064x}") for i in range(MAX_COMPONENTS + 1)]
    with pytest.raises(InvalidInput, match=rf"at most {MAX_COMPONENTS}"):
        evaluate(pathway, many)
    assert not evaluate(pathway, []).complete


# ----------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------

POOL_ACHIEVEMENTS = [LITERACY, STATS, SQL, VIS, PROJECT, INTERNSHIP, PYTHON, A + "cooking"]
POOL_ISSUERS = [UNI, COLLEGE, TRAINING, OTHER]
component_specs = st.lists(
    st.tuples(
        st.sampled_from(POOL_ACHIEVEMENTS),
        st.sampled_from(POOL_ISSUERS),
        st.one_of(st.none(), st.floats(0, 60, allow_nan=False)),
        st.one_of(st.none(), st.integers(1, 8)),
    ),
    max_size=14,
)


def _components(specs: list[tuple[str, str, float | None, int | None]]) -> list[Component]:
    return [
        Component(f"c{i}.json", a, issuer, f"urn:uuid:{i}", f"0x{i:064x}", credits, level)
        for i, (a, issuer, credits, level) in enumerate(specs)
    ]


@given(component_specs)
@settings(max_examples=150, deadline=None)
def test_evaluation_is_consistent_for_any_components(specs: list[tuple[str, str, float | None, int | None]]) -> None:
    pathway = load_pathway(EXAMPLE)
    components = _components(specs)
    result = evaluate(pathway, components)
    out = result.to_json()
    assert json.loads(json.dumps(out)) == out
    leaves = [n for n in result.nodes if n.kind == "achievement"]
    counted = [k for n in leaves for k in n.satisfied_by]
    assert sorted(counted + [u.key for u in result.unused]) == sorted(c.key for c in components)  # each once
    assert all(n.satisfied == (not n.missing) for n in result.nodes)
    assert result.total_credits == pytest.approx(sum(n.credits for n in leaves))
    assert result.max_eqf_level == max(
        (c.eqf_level for c in components if c.key in counted and c.eqf_level is not None), default=None
    )
    if result.complete:
        assert all(n.satisfied for n in result.nodes if n.parent == "all")
        assert result.total_credits >= 25
    assert result.complete == (result.nodes[0].satisfied and result.total_credits >= 25)
    _check_node_rules(pathway, result)


def _check_node_rules(pathway: Pathway, result: PathwayResult) -> None:
    """Every group's verdict follows from its children's (allOf: all, atLeast: n, credits: N)."""
    definitions = {n.id: n for _, n in pathway.nodes()}
    for n in result.nodes:
        children = [c for c in result.nodes if c.parent == n.id]
        rule = definitions[n.id]
        if n.kind == "allOf":
            assert n.satisfied == all(c.satisfied for c in children)
        elif n.kind == "atLeast":
            assert isinstance(rule, AtLeast) and n.satisfied == (sum(c.satisfied for c in children) >= rule.at_least)
        elif n.kind == "credits":
            assert isinstance(rule, CreditsFrom) and n.satisfied == (n.credits >= rule.credits)
        if children:
            assert n.credits == pytest.approx(sum(c.credits for c in children))
            assert n.satisfied_by == [k for c in children for k in c.satisfied_by]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = ["id", "name", "achievement", "issuers", "credits", "allOf", "atLeast", "of", "from", "version", "owner"]


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_any_damaged_definition_is_refused_or_loaded_never_crashes(data: st.DataObject) -> None:
    doc = copy.deepcopy(EXAMPLE)
    for _ in range(data.draw(st.integers(1, 3))):
        # walk to a random object of the definition and set, replace or delete one of its keys
        target: Any = doc
        while True:
            children = [
                v for v in (target.values() if isinstance(target, dict) else target) if isinstance(v, dict | list)
            ]
            if not children or data.draw(st.booleans()):
                break
            target = data.draw(st.sampled_from(children))
        key = data.draw(st.sampled_from(KEYS) | st.text(max_size=5))
        if isinstance(target, list):
            target.append(data.draw(json_values))
        elif data.draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = data.draw(json_values)
    try:
        pathway = load_pathway(doc)
    except InvalidPathway as exc:
        assert exc.field == "" or exc.field.startswith("/")
        return
    _check_node_rules(pathway, evaluate(pathway, _components(data.draw(component_specs))))


@st.composite
def random_pathways(draw: st.DrawFn) -> dict[str, Any]:
    """A random tree of every kind of requirement, one achievement ``urn:a:<i>`` per leaf."""
    ids = iter(range(MAX_NODES))
    credits = st.one_of(st.none(), st.sampled_from([1, 2.5, 5, 10]))

    def build(depth: int) -> dict[str, Any]:
        i = next(ids)
        kind = draw(st.sampled_from(["leaf", "leaf", "allOf", "atLeast", "credits"])) if depth < 4 else "leaf"
        if kind == "leaf":
            leaf = {
                "id": f"n{i}",
                "achievement": f"urn:a:{i}",
                "issuers": draw(st.sets(st.sampled_from(POOL_ISSUERS), min_size=1)),
            }
            leaf["issuers"] = sorted(leaf["issuers"])
            if (worth := draw(credits)) is not None:
                leaf["credits"] = worth
            return leaf
        children = [build(depth + 1) for _ in range(draw(st.integers(1, 3)))]
        if kind == "allOf":
            return {"id": f"n{i}", "allOf": children}
        if kind == "atLeast":
            return {"id": f"n{i}", "atLeast": draw(st.integers(1, len(children))), "of": children}
        return {"id": f"n{i}", "credits": draw(st.sampled_from([1, 5, 12.5])), "from": children}

    qualification: dict[str, Any] = {"name": "Q"}
    if draw(st.booleans()):
        qualification["credits"] = draw(st.sampled_from([1, 10, 30]))
    return {
        "type": "Pathway",
        "id": "urn:p:1",
        "version": 1,
        "name": "P",
        "owner": UNI,
        "qualification": qualification,
        "requirements": build(1),
    }


@given(
    random_pathways(),
    st.lists(st.tuples(st.integers(0, 40), st.sampled_from(POOL_ISSUERS), st.floats(0, 20)), max_size=20),
)
@settings(max_examples=150, deadline=None)
def test_random_pathways_evaluate_by_their_rules(doc: dict[str, Any], specs: list[tuple[int, str, float]]) -> None:
    try:
        pathway = load_pathway(doc)
    except InvalidPathway as exc:  # only an unreachable credit target can make a random tree wrong
        assert exc.problem.startswith("can never be met") and exc.field.endswith("/credits")
        return
    components = _components([(f"urn:a:{a}", issuer, worth, None) for a, issuer, worth in specs])
    result = evaluate(pathway, components)
    _check_node_rules(pathway, result)
    counted = [k for n in result.nodes if n.kind == "achievement" for k in n.satisfied_by]
    assert sorted(counted + [u.key for u in result.unused]) == sorted(c.key for c in components)
