"""Stacks verified as a whole against an anchored pathway, on a real anvil (issue 12)."""

from __future__ import annotations

import json
import random
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from registry.chain import calls
from registry.core.credential import build_credential
from registry.core.pathway import Pathway, load_pathway, pathway_digest
from registry.errors import InvalidInput
from registry.issue.pathway import publish_pathway
from registry.verify import CheckStatus, VerificationPolicy, Verifier
from registry.verify.stack import StackVerdict, verify_stack
from tests.chain_fixtures import ACHIEVEMENT, Registry

pytestmark = pytest.mark.e2e

LEARNER = "ada@example.org"
COURSES = {
    "python": ("Python for Data Work", 1),
    "statistics": ("Applied Statistics", 2),
    "ml": ("Machine Learning Basics", 2),
    "sql": ("Databases and SQL", 1),
}


def achievement_id(slug: str) -> str:
    return f"https://uni.example/achievements/{slug}"


def pathway_doc(registry: Registry, version: int = 1) -> dict[str, Any]:
    uni, other = registry.profile(1).id, registry.profile(2).id
    return {
        "type": "Pathway",
        "id": "https://uni.example/pathways/data-analyst",
        "version": version,
        "name": "Data Analyst Certificate",
        "owner": uni,
        "qualification": {"name": "Certificate in Data Analysis", "eqfLevel": 5, "credits": 5},
        "requirements": {
            "id": "all",
            "allOf": [
                {"id": "python", "achievement": achievement_id("python"), "issuers": [uni]},
                {"id": "statistics", "achievement": achievement_id("statistics"), "issuers": [uni, other]},
                {
                    "id": "elective",
                    "atLeast": 1,
                    "of": [
                        {"id": "ml", "achievement": achievement_id("ml"), "issuers": [other]},
                        {"id": "sql", "achievement": achievement_id("sql"), "issuers": [uni]},
                    ],
                },
            ],
        },
    }


def award(registry: Registry, slug: str, which: int, email: str = LEARNER) -> Path:
    """One anchored, signed v2 file of ``slug`` for ``email`` from issuer ``which``."""
    name, ects = COURSES[slug]
    achievement = ACHIEVEMENT.model_copy(update={"id": achievement_id(slug), "name": name, "workload_ects": ects})
    doc = build_credential(
        achievement=achievement,
        issuer=registry.profile(which),
        recipient_email=email,
        recipient_name="Ada Lovelace",
        valid_from=datetime(2026, 1, 10, tzinfo=UTC),
        result="A",
        rng=random.Random(f"{slug}{which}{email}").randbytes,
    )
    key = registry.issuer_key if which == 1 else registry.issuer2_key
    batch = registry.issue(docs=[doc], key=key, issuer=registry.profile(which))
    return batch.files[0]


@pytest.fixture(scope="module")
def stack(registry: Registry) -> dict[str, Path]:
    return {
        "python": award(registry, "python", 1),
        "statistics": award(registry, "statistics", 2),
        "ml": award(registry, "ml", 2),
        "sql": award(registry, "sql", 1),
    }


@pytest.fixture(scope="module")
def pathway(registry: Registry) -> Pathway:
    p = load_pathway(pathway_doc(registry))
    published = publish_pathway(registry.client, registry.issuer_key, p)
    assert published.tx_hash is not None
    again = publish_pathway(registry.client, registry.issuer_key, p)  # idempotent
    assert again.tx_hash is None and again.digest == published.digest
    return p


def run(registry: Registry, pathway: Pathway, paths: list[Path], learner: str | None = LEARNER) -> Any:
    verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
    files = [(p.name, p.read_bytes()) for p in paths]
    return verify_stack(verifier, pathway, files, learner=learner)


def test_a_complete_stack_is_valid(registry: Registry, pathway: Pathway, stack: dict[str, Path]) -> None:
    report = run(registry, pathway, [stack["python"], stack["statistics"], stack["ml"]])
    assert report.verdict is StackVerdict.VALID, report.summary
    assert [c.status for c in report.checks] == [CheckStatus.PASS] * 3
    assert "anchored by its owner Universidad de Ejemplo" in report.check("pathway").reason
    result = report.result
    assert result["complete"] and result["total_credits"] == 5
    by_id = {n["id"]: n for n in result["nodes"]}
    assert by_id["elective"]["satisfied_by"] == [stack["ml"].name]
    assert all(r.verdict.value == "VALID" for r in report.components)
    assert report.pathway["digest"].startswith("0x") and report.pathway["block"] > 0


def test_a_missing_component_is_incomplete_naming_it(
    registry: Registry, pathway: Pathway, stack: dict[str, Path]
) -> None:
    report = run(registry, pathway, [stack["python"], stack["statistics"]])
    assert report.verdict is StackVerdict.INCOMPLETE, report.summary
    assert "Machine Learning" in report.summary or achievement_id("ml") in report.summary
    assert not report.result["complete"]


def test_the_wrong_learner_is_invalid(registry: Registry, pathway: Pathway, stack: dict[str, Path]) -> None:
    other = award(registry, "ml", 2, email="eve@example.org")
    report = run(registry, pathway, [stack["python"], stack["statistics"], other])
    assert report.verdict is StackVerdict.INVALID
    assert report.check("learner").status is CheckStatus.FAIL and other.name in report.check("learner").reason
    unbound = run(registry, pathway, [stack["python"], stack["statistics"], stack["ml"]], learner=None)
    assert unbound.verdict is StackVerdict.INDETERMINATE  # cannot tell whose stack it is


def test_a_repeated_component_is_invalid(registry: Registry, pathway: Pathway, stack: dict[str, Path]) -> None:
    report = run(registry, pathway, [stack["python"], stack["python"], stack["statistics"], stack["ml"]])
    assert report.verdict is StackVerdict.INVALID
    assert report.check("rule").status is CheckStatus.FAIL and "duplicate" in report.check("rule").reason


def test_an_unpublished_pathway_is_invalid(registry: Registry, pathway: Pathway, stack: dict[str, Path]) -> None:
    draft = load_pathway(pathway_doc(registry, version=2))  # never anchored
    report = run(registry, draft, [stack["python"], stack["statistics"], stack["ml"]])
    assert report.verdict is StackVerdict.INVALID
    assert "is not anchored" in report.check("pathway").reason
    with pytest.raises(InvalidInput, match="only the owner publishes"):
        publish_pathway(registry.client, registry.issuer2_key, draft)


def test_a_revoked_component_is_invalid_naming_it(registry: Registry, pathway: Pathway, stack: dict[str, Path]) -> None:
    revoked = award(registry, "sql", 1)
    proof = json.loads(revoked.read_text())["proof"][-1]
    registry.client.writes.transact(registry.issuer_key, calls.revoke_credential(proof["credentialDigest"], 1))
    report = run(registry, pathway, [stack["python"], stack["statistics"], revoked])
    assert report.verdict is StackVerdict.INVALID
    assert f"{revoked.name} is INVALID" in report.summary and "revocation" in report.summary


def test_cli_verifies_a_stack_with_exit_codes(
    registry: Registry, pathway: Pathway, stack: dict[str, Path], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from registry.cli.app import app

    definition = tmp_path / "pathway.json"
    definition.write_text(json.dumps(pathway.to_json()))
    env = {"REGISTRY_HOME": str(registry.settings.home)}
    base = ["verify", "--rpc", registry.rpc_url, "--pathway", str(definition), "--learner", LEARNER]
    complete = CliRunner().invoke(
        app, [*base, str(stack["python"]), str(stack["statistics"]), str(stack["ml"])], env=env
    )
    assert complete.exit_code == 0, complete.output
    assert "VALID" in complete.output and "done elective (atLeast)" in complete.output
    # the learner's stack sent as one zip archive: the same verdict, components named in it
    bundle = tmp_path / "stack.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for name in ("python", "statistics", "ml"):
            z.write(stack[name], f"mine/{name}.json")
    zipped = CliRunner().invoke(app, [*base, "--json", str(bundle)], env=env)
    assert zipped.exit_code == 0, zipped.output
    assert [c["source"] for c in json.loads(zipped.output)["components"]] == [
        f"{bundle}/mine/{name}.json" for name in ("python", "statistics", "ml")
    ]
    with zipfile.ZipFile(tmp_path / "nothing.zip", "w"):
        pass
    # an archive with no file in it: a usage error, as an unreadable file is
    unread = CliRunner().invoke(app, [*base, str(tmp_path / "nothing.zip")], env=env)
    assert unread.exit_code == 3 and "the zip archive holds no file to verify" in unread.output, unread.output
    partial = CliRunner().invoke(app, [*base, "--json", str(stack["python"]), str(stack["statistics"])], env=env)
    assert partial.exit_code == 6, partial.output
    assert json.loads(partial.output)["verdict"] == "INCOMPLETE"
    checked = CliRunner().invoke(app, ["pathway", "check", str(definition)], env=env)
    assert checked.exit_code == 0 and f"digest {partial and json.loads(partial.output)['pathway']['digest']}" in (
        checked.output
    )
    definition.write_text(json.dumps({**pathway.to_json(), "requirements": {"id": "x", "allOf": []}}))
    bad = CliRunner().invoke(app, [*base, str(stack["python"])], env=env)
    assert bad.exit_code == 3 and "requirements" in bad.output


def test_the_audit_labels_the_publication_given_the_definition(
    registry: Registry, pathway: Pathway, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from registry.cli.app import app

    definition = tmp_path / "pathway.json"
    definition.write_text(json.dumps(pathway.to_json()))
    env = {"REGISTRY_HOME": str(registry.settings.home)}
    base = ["audit", "--rpc", registry.rpc_url, "--registry", str(registry.client.registry_address), "--no-code"]
    cache = ["--cache", f"sqlite:///{tmp_path / 'audit.sqlite'}"]
    labelled = CliRunner().invoke(app, [*base, *cache, "--pathway", str(definition), "--format", "json"], env=env)
    assert labelled.exit_code in (0, 1), labelled.output
    report = json.loads(labelled.output)
    digest = "0x" + pathway_digest(pathway).hex()
    [batch] = [b for b in report["batches"] if b["root"] == digest]
    assert batch["pathway"] == f"{pathway.id} version {pathway.version} ({pathway.name})"
    table = CliRunner().invoke(app, [*base, *cache, "--pathway", str(definition)], env=env)
    assert "(1 of them publishing a pathway)" in " ".join(table.output.split())
    definition.write_text("{}")
    bad = CliRunner().invoke(app, [*base, *cache, "--pathway", str(definition)], env=env)
    assert bad.exit_code == 3 and "is not a pathway definition" in bad.output


def test_the_umbrella_credential_names_its_components(
    registry: Registry, pathway: Pathway, stack: dict[str, Path], tmp_path: Path
) -> None:
    from registry.issue.direct import issue_and_anchor
    from registry.issue.umbrella import component_digest_multibase, umbrella_document
    from registry.verify.stack import verify_umbrella

    paths = [stack["python"], stack["statistics"], stack["ml"]]
    report = run(registry, pathway, paths)
    doc = umbrella_document(
        pathway,
        report.model_dump(mode="json"),
        issuer=registry.profile(1),
        learner_email=LEARNER,
        learner_name="Ada Lovelace",
        valid_from=datetime(2026, 2, 1, tzinfo=UTC),
    )
    [umbrella] = issue_and_anchor(registry.client, registry.issuer_key, [doc], tmp_path / "umbrella").files
    data = json.loads(umbrella.read_text())
    assert data["credentialSubject"]["achievement"]["achievementType"] == "Certificate"
    first = json.loads(paths[0].read_text())
    assert {
        "id": first["id"],
        "digestMultibase": component_digest_multibase(first["proof"][-1]["credentialDigest"]),
    } in (data["relatedResource"])
    verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
    alone = verifier.verify(data)
    assert alone.verdict.value == "VALID", alone.summary  # on the owner's word
    whole = verify_umbrella(
        verifier, pathway, (umbrella.name, data), [(p.name, p.read_bytes()) for p in paths], learner=LEARNER
    )
    assert whole.verdict is StackVerdict.VALID, whole.summary
    assert whole.check("umbrella").status is CheckStatus.PASS
    # a component it does not name (another award of an elective) is refused
    swapped = verify_umbrella(
        verifier,
        pathway,
        (umbrella.name, data),
        [(p.name, p.read_bytes()) for p in [*paths[:2], stack["sql"]]],
        learner=LEARNER,
    )
    assert swapped.verdict is StackVerdict.INVALID and swapped.check("umbrella").status is CheckStatus.FAIL
    with pytest.raises(InvalidInput, match="only the pathway's owner"):
        umbrella_document(
            pathway,
            report.model_dump(mode="json"),
            issuer=registry.profile(2),
            learner_email=LEARNER,
            learner_name=None,
            valid_from=datetime(2026, 2, 1, tzinfo=UTC),
        )


def test_cli_awards_the_qualification_and_writes_a_clr_transcript(
    registry: Registry, pathway: Pathway, stack: dict[str, Path], tmp_path: Path
) -> None:
    from jsonschema import Draft201909Validator
    from typer.testing import CliRunner

    from registry.cli.app import app
    from registry.core.clr import clr_schema

    definition = tmp_path / "pathway.json"
    definition.write_text(json.dumps(pathway.to_json()))
    env = {"REGISTRY_HOME": str(registry.settings.home)}
    rpc = ["--rpc", registry.rpc_url]
    paths = [str(stack["python"]), str(stack["statistics"]), str(stack["ml"])]
    awarded = CliRunner().invoke(
        app,
        ["pathway", "award", str(definition), *paths, "--learner", LEARNER, "--out", str(tmp_path / "u"), *rpc],
        env=env,
    )
    assert awarded.exit_code == 0, awarded.output
    [umbrella] = list((tmp_path / "u").glob("*.json"))
    assert CliRunner().invoke(app, ["verify", *rpc, str(umbrella)], env=env).exit_code == 0
    incomplete = CliRunner().invoke(
        app, ["pathway", "award", str(definition), *paths[:2], "--learner", LEARNER, *rpc], env=env
    )
    assert incomplete.exit_code != 0 and "INCOMPLETE" in incomplete.output
    transcript = tmp_path / "transcript.json"
    made = CliRunner().invoke(
        app, ["clr", *paths, "--pathway", str(definition), "--out", str(transcript), *rpc], env=env
    )
    assert made.exit_code == 0, made.output
    doc = json.loads(transcript.read_text())
    assert not list(Draft201909Validator(clr_schema()).iter_errors(doc))  # 1EdTech's ClrCredential schema
    checked = CliRunner().invoke(app, ["verify", *rpc, "--json", str(transcript)], env=env)
    assert checked.exit_code == 0, checked.output
    reports = json.loads(checked.output)
    assert [r["source"] for r in reports] == [f"{transcript}#{i}" for i in (1, 2, 3)]
    assert all(r["verdict"] == "VALID" for r in reports)


def test_the_api_verifies_a_stack(registry: Registry, pathway: Pathway, stack: dict[str, Path], tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from registry.service.runtime import create_app
    from tests.service_support import database, service_settings

    gen = database("sqlite", tmp_path)
    db = next(gen)
    try:
        http = TestClient(create_app(service_settings(registry, db), engine=db.engine))
        files = [json.loads(stack[k].read_text()) for k in ("python", "statistics", "ml")]
        body = {"pathway": pathway.to_json(), "learner": LEARNER, "credentials": files}
        r = http.post("/v1/verify/stack", json=body)
        assert r.status_code == 200 and r.json()["verdict"] == "VALID", r.text
        r = http.post("/v1/verify/stack", json={**body, "credentials": files[:2]})
        assert r.json()["verdict"] == "INCOMPLETE"
        bad = http.post("/v1/verify/stack", json={**body, "pathway": {**pathway.to_json(), "version": 0}})
        assert bad.status_code in (400, 422) and "version" in bad.text
        assert http.post("/v1/verify/stack", json={**body, "credentials": []}).status_code in (400, 422)
        assert http.post("/v1/verify/stack", content=b"{not json").status_code in (400, 422)
    finally:
        gen.close()


def test_bad_transcripts_and_stacks_get_clear_errors(
    registry: Registry, pathway: Pathway, stack: dict[str, Path], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from registry.cli.app import app

    env = {"REGISTRY_HOME": str(registry.settings.home)}
    rpc = ["--rpc", registry.rpc_url]
    transcript = tmp_path / "transcript.json"
    transcript.write_text(json.dumps({"type": ["VerifiableCredential", "ClrCredential"], "credentialSubject": {}}))
    result = CliRunner().invoke(app, ["verify", *rpc, str(transcript)], env=env)
    assert result.exit_code == 3 and "must embed at least one credential" in result.output
    transcript.write_text(
        json.dumps({"type": ["ClrCredential"], "credentialSubject": {"verifiableCredential": ["not a credential"]}})
    )
    result = CliRunner().invoke(app, ["verify", *rpc, str(transcript)], env=env)
    assert result.exit_code == 3 and "verifiableCredential/0" in result.output
    # a stack presenting something that is not a credential: that file is INVALID, the stack too
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": "world"}')
    report = run(registry, pathway, [stack["python"], junk])
    assert report.verdict is StackVerdict.INVALID and "junk.json is INVALID" in report.summary
