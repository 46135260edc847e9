"""Stacks in the self-contained verifier page (issue 12): `credentialRegistry.verifyStack` in real
Chromium, opened from file:// and reading a real anvil through its JSON-RPC URL only, against
Python's `verify_stack(...).model_dump(mode="json")`: the same verdict, every check status, the
same per-requirement result, for a complete stack, a missing file, a revoked component, the wrong
learner, an unpublished or edited pathway, an unreachable RPC and bad definitions; and the form."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from registry.core.credential import build_credential
from registry.core.pathway import InvalidPathway, Leaf, load_pathway, pathway_digest
from registry.core.stacking import Component, evaluate
from registry.issue.pathway import publish_pathway
from registry.verify import VerificationPolicy, Verifier
from registry.verify.stack import verify_stack
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.e2e.test_accessibility import _axe
from tests.e2e.test_stack import LEARNER, achievement_id, award, pathway_doc

pytestmark = pytest.mark.e2e

UNREACHABLE = "http://127.0.0.1:9/"
EXAMPLE = Path(__file__).parents[1] / "data" / "pathways" / "data-analyst.json"


@pytest.fixture(scope="module")
def stack(registry: Registry) -> dict[str, Path]:
    return {
        "python": award(registry, "python", 1),
        "statistics": award(registry, "statistics", 2),
        "ml": award(registry, "ml", 2),
        "sql": award(registry, "sql", 1),
    }


@pytest.fixture(scope="module")
def published(registry: Registry) -> str:
    """The pathway's definition (JSON text, as a holder would hand it over), published by its owner."""
    text = json.dumps(pathway_doc(registry), indent=2)
    publish_pathway(registry.client, registry.issuer_key, load_pathway(text))
    return text


def in_page(
    page: Any, registry: Registry, definition: str, paths: list[Path], learner: str | None, rpc: str
) -> dict[str, Any]:
    options = {
        "rpc": rpc,
        "trustedRegistries": [{"chainId": 31337, "address": registry.client.registry_address}],
        "learner": learner,
    }
    files = [{"source": p.name, "data": p.read_text()} for p in paths]
    return page.evaluate(  # type: ignore[no-any-return]
        "([p, f, o]) => window.credentialRegistry.verifyStack(p, f, o)", [definition, files, options]
    )


def in_python(registry: Registry, definition: str, paths: list[Path], learner: str | None, rpc: str) -> dict[str, Any]:
    verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=rpc)
    report = verify_stack(
        verifier, load_pathway(definition), [(p.name, p.read_bytes()) for p in paths], learner=learner
    )
    return report.model_dump(mode="json")


def statuses(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["name"], c["status"]) for c in report["checks"]]


def stack_check(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in report["checks"] if c["name"] == name]
    return found  # type: ignore[no-any-return]


def agree(
    page: Any,
    registry: Registry,
    definition: str,
    paths: list[Path],
    *,
    learner: str | None = LEARNER,
    rpc: str | None = None,
) -> dict[str, Any]:
    """The page's stack report, after checking it agrees with Python's: verdict, every check status
    (the stack's and each component's), the pathway facts, the per-requirement result."""
    url = rpc or registry.rpc_url
    js = in_page(page, registry, definition, paths, learner, url)
    py = in_python(registry, definition, paths, learner, url)
    assert js["verdict"] == py["verdict"], (js["summary"], py["summary"])
    assert statuses(js) == statuses(py), (js["checks"], py["checks"])
    for name in ("pathway", "learner", "rule"):
        mine, theirs = stack_check(js, name), stack_check(py, name)
        if mine["status"] != "indeterminate" or name == "rule":
            assert mine["reason"] == theirs["reason"]
            assert mine["details"] == theirs["details"]
    assert js["pathway"] == py["pathway"]
    assert js["result"] == py["result"]
    assert [(c["source"], c["verdict"], statuses(c)) for c in js["components"]] == [
        (c["source"], c["verdict"], statuses(c)) for c in py["components"]
    ]
    if js["verdict"] in ("VALID", "INCOMPLETE"):
        assert js["summary"] == py["summary"]
    return js


def test_a_complete_stack_is_valid(
    page: Any, registry: Registry, published: str, stack: dict[str, Path], requested: list[str]
) -> None:
    report = agree(page, registry, published, [stack["python"], stack["statistics"], stack["ml"]])
    assert report["verdict"] == "VALID", report["summary"]
    assert [c["status"] for c in report["checks"]] == ["pass"] * 3
    assert "anchored by its owner Universidad de Ejemplo" in stack_check(report, "pathway")["reason"]
    by_id = {n["id"]: n for n in report["result"]["nodes"]}
    assert by_id["elective"]["satisfied_by"] == [stack["ml"].name]
    assert report["pathway"]["digest"] == "0x" + pathway_digest(load_pathway(published)).hex()
    # The page talked to nothing but the RPC URL (and its own file).
    others = [u for u in requested if not u.startswith(("file://", registry.rpc_url, UNREACHABLE))]
    assert others == []


def test_a_missing_file_is_incomplete_naming_the_requirement(
    page: Any, registry: Registry, published: str, stack: dict[str, Path]
) -> None:
    report = agree(page, registry, published, [stack["python"], stack["statistics"]])
    assert report["verdict"] == "INCOMPLETE"
    assert stack_check(report, "rule")["status"] == "indeterminate"
    elective = next(n for n in report["result"]["nodes"] if n["id"] == "elective")
    assert not elective["satisfied"] and achievement_id("ml") in elective["missing"][0]
    assert achievement_id("ml") in report["summary"]


def test_extra_and_repeated_components(page: Any, registry: Registry, published: str, stack: dict[str, Path]) -> None:
    elsewhere = award(registry, "python", 2)  # the pathway takes Python only from the university
    paths = [stack["python"], stack["statistics"], stack["ml"], stack["sql"], elsewhere]
    report = agree(page, registry, published, paths)
    assert report["verdict"] == "VALID"
    [unused] = report["result"]["unused"]
    assert unused["key"] == elsewhere.name and "counts only from" in unused["reason"]
    repeated = agree(page, registry, published, [stack["python"], stack["python"], stack["statistics"]])
    assert repeated["verdict"] == "INVALID"
    assert "duplicate component" in stack_check(repeated, "rule")["reason"]


def test_a_revoked_component_is_invalid(page: Any, registry: Registry, published: str, stack: dict[str, Path]) -> None:
    revoked = award(registry, "sql", 1, email=LEARNER.capitalize())  # another credential, the same learner
    revoked = revoked.rename(revoked.with_name("revoked-sql.json"))
    digest = json.loads(revoked.read_text())["proof"][-1]["credentialDigest"]
    registry.client.writes.revoke_credentials(registry.issuer_key, [digest], 1)
    report = agree(page, registry, published, [stack["python"], stack["statistics"], revoked])
    assert report["verdict"] == "INVALID"
    assert f"{revoked.name} is INVALID" in report["summary"] and "revocation" in report["summary"]


def test_the_wrong_learner_is_invalid(page: Any, registry: Registry, published: str, stack: dict[str, Path]) -> None:
    paths = [stack["python"], stack["statistics"], stack["ml"]]
    report = agree(page, registry, published, paths, learner="eve@example.org")
    assert report["verdict"] == "INVALID"
    assert stack_check(report, "learner")["status"] == "fail"
    assert stack_check(report, "learner")["details"]["files"] == [p.name for p in paths]
    # The e-mail is compared as Python does: trimmed, any case.
    assert agree(page, registry, published, paths, learner="  ADA@example.org ")["verdict"] == "VALID"
    unbound = agree(page, registry, published, paths, learner=None)
    assert unbound["verdict"] == "INDETERMINATE"  # cannot tell whose stack it is


def test_an_unpublished_pathway_is_invalid(
    page: Any, registry: Registry, published: str, stack: dict[str, Path]
) -> None:
    draft = json.dumps(pathway_doc(registry, version=2))  # never anchored
    report = agree(page, registry, draft, [stack["python"], stack["statistics"], stack["ml"]])
    assert report["verdict"] == "INVALID"
    assert "is not anchored" in stack_check(report, "pathway")["reason"]


def test_a_pathway_edited_after_publishing_is_invalid(
    page: Any, registry: Registry, published: str, stack: dict[str, Path]
) -> None:
    edited = json.loads(published)
    edited["requirements"]["allOf"][2]["of"].append(
        {"id": "easy", "achievement": achievement_id("easy"), "issuers": [registry.profile(1).id]}
    )  # same id and version, one more elective: another rule, another digest
    report = agree(page, registry, json.dumps(edited), [stack["python"], stack["statistics"], stack["ml"]])
    assert report["verdict"] == "INVALID"
    assert stack_check(report, "pathway")["status"] == "fail"
    # Key order and spacing are not edits: the same digest, still VALID.
    respaced = json.dumps(json.loads(published), sort_keys=True, separators=(",", ":"))
    assert agree(page, registry, respaced, [stack["python"], stack["statistics"], stack["ml"]])["verdict"] == "VALID"


def test_an_unreachable_rpc_is_indeterminate(
    page: Any, registry: Registry, published: str, stack: dict[str, Path]
) -> None:
    report = agree(page, registry, published, [stack["python"], stack["statistics"], stack["ml"]], rpc=UNREACHABLE)
    assert report["verdict"] == "INDETERMINATE"
    assert stack_check(report, "pathway")["status"] == "indeterminate"
    assert "could not read the chain" in stack_check(report, "pathway")["reason"]


def refusal(page: Any, definition: str) -> dict[str, Any] | None:
    """How the page refuses a definition: the error's name, field and message (None if accepted)."""
    return page.evaluate(  # type: ignore[no-any-return]
        """([d]) => { try { window.credentialRegistry.loadPathway(d); return null; }
                      catch (e) { return {name: e.name, field: e.field, message: e.message}; } }""",
        [definition],
    )


def test_bad_pathway_definitions_are_refused_with_python_s_error(
    page: Any, registry: Registry, published: str, stack: dict[str, Path]
) -> None:
    good = json.loads(published)
    leaf = ["requirements", "allOf", 0]
    first = good["requirements"]["allOf"][0]

    def edited(path: list[Any], key: str, value: Any) -> str:
        doc = json.loads(published)
        here = doc
        for part in path:
            here = here[part]
        if value is KeyError:
            del here[key]
        else:
            here[key] = value
        return json.dumps(doc)

    cases = [
        "",
        "{",
        "[]",
        "NaN",
        published.replace('"type": "Pathway"', '"type": "Pathway", "type": "Pathway"', 1),
        published.replace('"version": 1', '"version": 1.0', 1),
        published.replace('"atLeast": 1', '"atLeast": 1.0', 1),
        edited([], "version", 0),
        edited([], "owner", KeyError),
        edited([], "extra", 1),
        edited([], "owner", good["owner"].upper()),
        edited([], "id", "no scheme"),
        edited(["qualification"], "eqfLevel", 9),
        edited(["qualification"], "credits", 0),
        edited(leaf, "issuers", []),
        edited(leaf, "issuers", [good["owner"], good["owner"]]),
        edited(leaf, "id", "all"),
        edited(leaf, "allOf", []),
        edited(["requirements", "allOf", 2], "atLeast", 3),
        edited(["requirements"], "allOf", [*good["requirements"]["allOf"], good["requirements"]["allOf"][0]]),
        json.dumps({**good, "requirements": {"id": "c", "credits": 10, "from": [{**first, "credits": 5}]}}),
        json.dumps({**good, "requirements": {"id": "c", "credits": 2, "from": [{**first, "credits": 3}]}}),
        json.dumps({**good, "requirements": {"id": "x", "allOf": []}}),
    ]
    for case in cases:
        try:
            load_pathway(case)
        except InvalidPathway as exc:
            expected = {"name": "InvalidPathway", "field": exc.field, "message": str(exc)}
        else:
            raise AssertionError(f"Python accepts {case!r}")
        got = refusal(page, case)
        assert got is not None, f"the page accepts {case!r}"
        assert got["field"] == expected["field"], (got, expected)
        if "not valid JSON" not in expected["message"]:
            assert got == expected
    # verifyStack refuses a bad definition before reading any file or the chain: never a verdict.
    error = page.evaluate(
        """async ([p, f, o]) => { try { return await window.credentialRegistry.verifyStack(p, f, o); }
                                  catch (e) { return {error: e.message}; } }""",
        ['{"type": "Pathway"}', [stack["python"].read_text()], {"rpc": registry.rpc_url, "learner": LEARNER}],
    )
    assert error == {"error": "'id' is a required property"}


def test_the_digest_and_the_evaluation_agree_with_python(page: Any) -> None:
    text = EXAMPLE.read_text()
    assert page.evaluate("([t]) => window.credentialRegistry.pathwayDigest(t)", [text]) == (
        "0x990792d4233990f2c1d85ab3a6bff8ff4114edd483feb0f40f62267b8f231d10"
    )
    pathway = load_pathway(text)
    leaves = [(n.achievement, issuer) for _, n in pathway.nodes() if isinstance(n, Leaf) for issuer in n.issuers]
    rng = random.Random(12)
    for round_ in range(40):
        components = []
        for i in range(rng.randint(0, 9)):
            achievement, issuer = rng.choice(leaves)
            if rng.random() < 0.15:
                achievement += "-other"
            if rng.random() < 0.1:
                issuer = "did:web:elsewhere.example"
            components.append(
                Component(
                    key=f"f{round_}-{i}.json",
                    achievement_id=achievement,
                    issuer_id=issuer,
                    credential_id=f"urn:uuid:{round_}-{i}",
                    digest="0x" + rng.randbytes(32).hex(),
                    credits=rng.choice([None, 0.0, 1.5, 2.0, 3.0, 5.0, 7.25]),
                    eqf_level=rng.choice([None, 4, 5, 6]),
                )
            )
        py = evaluate(pathway, components).to_json()
        js = page.evaluate(
            "([t, c]) => window.credentialRegistry.evaluatePathway(t, c)", [text, [vars(c) for c in components]]
        )
        assert js == py


def test_the_form_verifies_a_stack(
    page: Any, registry: Registry, published: str, stack: dict[str, Path], tmp_path: Path
) -> None:
    definition = tmp_path / "pathway.json"
    definition.write_text(published)
    page.reload()
    page.wait_for_function("() => window.credentialRegistry !== undefined")
    page.get_by_label("JSON-RPC URL of the chain").fill(registry.rpc_url)
    page.get_by_label("Trusted registries (one per line: chain id and contract address)").fill(
        f"31337 {registry.client.registry_address}"
    )
    files = page.get_by_label("Credential file (JSON) or baked badge (PNG, SVG)")
    files.set_input_files([str(stack["python"]), str(stack["statistics"])])
    page.get_by_label("Pathway (JSON)").set_input_files(str(definition))
    page.get_by_label("Learner e-mail").fill(LEARNER)
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "INCOMPLETE"
    assert "not met yet" in page.locator("#verdict-meaning").inner_text()
    elective = page.locator("[data-requirement=elective]").first
    assert elective.get_attribute("data-satisfied") == "false"
    assert "Missing:" in elective.inner_text() and achievement_id("ml") in elective.inner_text()
    python = page.locator("[data-requirement=python]")
    assert stack["python"].name in python.inner_text()
    assert "Credits counted: 3 of 5" in page.locator("#credits-total").inner_text()
    assert page.locator("#stack-checks [data-check=pathway]").get_attribute("data-status") == "pass"
    assert page.locator("#stack-files > li").count() == 2
    assert page.get_by_role("heading", name="Stack result: INCOMPLETE").count() == 1
    # WCAG 2.1 A/AA (axe-core, as test_accessibility): nothing serious in the stack's result.
    assert _axe(page, "verifier-page-stack-incomplete") == []
    # One more file: the stack is complete.
    files.set_input_files([str(stack["python"]), str(stack["statistics"]), str(stack["ml"])])
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_function("() => document.querySelector('#verdict')?.textContent === 'VALID'")
    assert page.locator("#status").inner_text() == "Done: stack VALID"
    # A definition that is not one: a clear error, no verdict.
    definition.write_text('{"type": "Pathway", "version": 1.0}')
    page.get_by_label("Pathway (JSON)").set_input_files(str(definition))
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_function("() => document.querySelector('#status').textContent.startsWith('Error')")
    assert "not a valid pathway definition" in page.locator("#status").inner_text()
    assert page.locator("#result").is_hidden()


def test_a_valid_file_stating_negative_credits_fails_the_rule_never_crashes(
    page: Any, registry: Registry, published: str, stack: dict[str, Path]
) -> None:
    """A file can be VALID on its own and still state what no pathway counts (here -1 ECTS, which
    the issuer anchored and signed): the stack's rule fails, naming the file, in Python and the page."""
    achievement = ACHIEVEMENT.model_copy(update={"id": achievement_id("python"), "name": "Python for Data Work"})
    doc = build_credential(
        achievement=achievement,
        issuer=registry.profile(1),
        recipient_email=LEARNER,
        recipient_name="Ada Lovelace",
        valid_from=datetime(2026, 1, 10, tzinfo=UTC),
        result="A",
    )
    doc["credentialSubject"]["achievement"]["creditsAvailable"] = -1
    odd = registry.issue(docs=[doc], key=registry.issuer_key, issuer=registry.profile(1)).files[0]
    alone = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(odd.read_text())
    assert alone.verdict.value == "VALID", alone.summary
    report = agree(page, registry, published, [odd, stack["statistics"], stack["ml"]])
    assert report["verdict"] == "INVALID"
    rule = stack_check(report, "rule")
    assert rule["status"] == "fail" and odd.name in rule["reason"] and "credits" in rule["reason"], rule
