"""Corrections and renewals through the verifiers, on a real anvil (docs/format.md §4a,
docs/verification.md): a superseded file is INVALID naming its successor, the successor's
``supersedes`` claim is checked on chain in a ``lineage`` check (VALID when the registry records
it, INVALID when it does not), a plain revocation keeps its words, and the CLI (text and
``--json``) and the verifier page in real Chromium say the same as the Python verifier."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from registry.core.credfile import redact, with_supersedes
from registry.verify import CheckStatus, Report, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry, free_port
from tests.page_differential import supersede

pytestmark = pytest.mark.e2e

TODAY_CHECKS = ["format", "integrity", "inclusion", "anchor", "issuer", "signature", "revocation", "validity"]


@dataclass
class Lineage:
    """Old files, their successors (claims made by ``supersede``) and the supersessions' dates."""

    old: list[dict[str, Any]]
    """0 corrected, 1 renewed, 2 revoked with reason 2 (no supersession), 3 untouched."""
    new: list[dict[str, Any]]
    """The successors as anchored, without a claim (0 of old 0, 1 of old 1; 2 and 3 replace nothing)."""
    corrected: dict[str, Any]
    renewed: dict[str, Any]
    on: dict[str, str]
    """"correction" / "renewal" -> the day of that supersession (YYYY-MM-DD, UTC)."""


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def _digest(data: dict[str, Any]) -> str:
    return str(data["proof"][-1]["credentialDigest"])


@pytest.fixture(scope="module")
def lineage(registry: Registry) -> Lineage:
    old = [_load(p) for p in registry.issue(4).files]
    new = [_load(p) for p in registry.issue(4).files]
    corrected, corrected_at = supersede(registry, old[0], new[0], "correction")
    renewed, renewed_at = supersede(registry, old[1], new[1], "renewal")
    registry.client.writes.revoke_credentials(registry.issuer_key, [_digest(old[2])], 2)
    return Lineage(old, new, corrected, renewed, {"correction": _day(corrected_at), "renewal": _day(renewed_at)})


def verifier(registry: Registry, **policy: Any) -> Verifier:
    return Verifier(VerificationPolicy(trusted=registry.trust, **policy), rpc_url=registry.rpc_url)


def names(report: Report) -> list[str]:
    return [c.name for c in report.checks]


def test_a_superseded_file_is_invalid_and_names_its_successor(registry: Registry, lineage: Lineage) -> None:
    for old, new, kind in ((lineage.old[0], lineage.new[0], "correction"), (lineage.old[1], lineage.new[1], "renewal")):
        report = verifier(registry).verify(old)
        assert report.verdict is Verdict.INVALID
        check = report.check("revocation")
        assert check.status is CheckStatus.FAIL
        assert check.reason == f"superseded by {new['id']} on {lineage.on[kind]}: {kind}"
        assert check.details["supersededBy"] == new["id"]
        assert check.details["supersededByDigest"] == _digest(new)
        assert check.details["supersededAt"].startswith(lineage.on[kind] + "T")
        assert check.details["kind"] == kind and check.details["reasonCode"] == 2
        assert check.details["scope"] == "credential"
        assert names(report) == TODAY_CHECKS  # an old file has no claim: no lineage check
        assert [c.name for c in report.checks if c.status is CheckStatus.FAIL] == ["revocation"]
        assert report.summary == f"revocation: {check.reason}"


def test_a_successor_with_its_claim_is_valid_and_says_what_it_replaces(registry: Registry, lineage: Lineage) -> None:
    for new, old, kind in (
        (lineage.corrected, lineage.old[0], "correction"),
        (lineage.renewed, lineage.old[1], "renewal"),
    ):
        report = verifier(registry).verify(new)
        assert report.verdict is Verdict.VALID, report.summary
        assert names(report) == [*TODAY_CHECKS[:-1], "lineage", "validity"]
        check = report.check("lineage")
        assert check.status is CheckStatus.PASS
        assert check.reason == f"replaces {old['id']} ({kind}, on {lineage.on[kind]})"
        assert check.details["replaces"] == old["id"]
        assert check.details["replacesDigest"] == _digest(old)
        assert check.details["kind"] == kind
    hidden = verifier(registry).verify(redact(lineage.corrected, ["/credentialSubject/name"]))
    assert hidden.verdict is Verdict.VALID and hidden.check("lineage").status is CheckStatus.PASS


def test_a_file_without_a_claim_reports_as_before(registry: Registry, lineage: Lineage) -> None:
    """The successor as anchored (no claim) and an untouched file: no lineage check at all."""
    for data in (lineage.new[0], lineage.old[3]):
        report = verifier(registry).verify(data)
        assert report.verdict is Verdict.VALID and report.summary == "all checks passed"
        assert names(report) == TODAY_CHECKS
        assert report.check("revocation").reason == "neither the credential nor its batch is revoked"


def test_a_plain_revocation_keeps_its_message(registry: Registry, lineage: Lineage) -> None:
    check = verifier(registry).verify(lineage.old[2]).check("revocation")
    assert check.status is CheckStatus.FAIL
    assert check.reason.startswith("revoked by the issuer on ") and check.reason.endswith(
        ": superseded by a new credential"
    )
    assert set(check.details) == {"revokedAt", "reasonCode", "scope"}


def _claim(base: dict[str, Any], old_id: str, old_digest: str, kind: str) -> dict[str, Any]:
    return with_supersedes(base, old_id=old_id, old_digest=old_digest, kind=kind)


def test_claims_the_chain_does_not_confirm_fail_lineage(registry: Registry, lineage: Lineage) -> None:
    plain, old = lineage.new[2], lineage.old
    unconfirmed = {
        "no record": (_claim(plain, old[2]["id"], _digest(old[2]), "correction"), old[2]["id"]),
        "another successor": (_claim(plain, old[0]["id"], _digest(old[0]), "correction"), old[0]["id"]),
        "never anchored": (_claim(plain, "urn:uuid:nowhere", "0x" + "7e" * 32, "renewal"), "urn:uuid:nowhere"),
    }
    for what, (data, old_id) in unconfirmed.items():
        report = verifier(registry).verify(data)
        assert report.verdict is Verdict.INVALID, what
        assert [c.name for c in report.checks if c.status is not CheckStatus.PASS] == ["lineage"], what
        check = report.check("lineage")
        assert check.reason == f"claims to replace {old_id} but the registry records no such supersession", what
    wrong_kind = verifier(registry).verify(_claim(lineage.new[1], old[1]["id"], _digest(old[1]), "correction"))
    assert wrong_kind.check("lineage").status is CheckStatus.FAIL
    assert wrong_kind.check("lineage").reason == (
        f"claims to replace {old[1]['id']} by a correction, but the registry records a renewal"
    )


def test_a_batch_of_files_shares_the_reads_and_reports_the_same(registry: Registry, lineage: Lineage) -> None:
    files = [
        lineage.old[0],
        lineage.corrected,
        lineage.old[2],
        _claim(lineage.new[3], "urn:x", "0x" + "7e" * 32, "renewal"),
    ]
    together = verifier(registry).verify_many([(str(i), f) for i, f in enumerate(files)])
    alone = [verifier(registry).verify(f, source=str(i)) for i, f in enumerate(files)]
    strip = [r.model_dump(exclude={"checked_at"}) for r in together]
    assert strip == [r.model_dump(exclude={"checked_at"}) for r in alone]
    assert [r.verdict for r in together] == [Verdict.INVALID, Verdict.VALID, Verdict.INVALID, Verdict.INVALID]


def test_offline_and_an_unreachable_rpc_leave_lineage_indeterminate(registry: Registry, lineage: Lineage) -> None:
    offline = verifier(registry, offline=True).verify(lineage.corrected)
    assert offline.check("lineage").status is CheckStatus.INDETERMINATE
    assert offline.check("lineage").reason == "not checked: offline mode, the chain was not consulted"
    down = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    report = down.verify(lineage.corrected)
    assert report.verdict is Verdict.INDETERMINATE
    assert report.check("lineage").status is CheckStatus.INDETERMINATE
    assert report.check("lineage").reason.startswith("could not read the chain")


def _cli(registry: Registry, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "REGISTRY_HOME": str(registry.settings.home),  # a project folder: its deployments file is trusted
        "PATH": str(Path(sys.executable).parent),
        "REGISTRY_CONFIG_DIR": str(tmp_path / "config"),
        "COLUMNS": "400",
    }
    command = [sys.executable, "-m", "registry.cli", "verify", *args, "--rpc", registry.rpc_url]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_the_cli_prints_the_successor_and_the_lineage(registry: Registry, lineage: Lineage, tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(lineage.old[0]))
    new.write_text(json.dumps(lineage.corrected))
    replaced = f"superseded by {lineage.new[0]['id']} on {lineage.on['correction']}: correction"
    replaces = f"replaces {lineage.old[0]['id']} (correction, on {lineage.on['correction']})"
    text = _cli(registry, tmp_path, str(old))
    assert text.returncode == 1, text.stderr
    assert replaced in text.stdout and "lineage" not in text.stdout
    text = _cli(registry, tmp_path, str(new))
    assert text.returncode == 0, text.stderr
    assert replaces in text.stdout
    both = _cli(registry, tmp_path, str(old), str(new), "--json")
    assert both.returncode == 1, both.stderr
    reports = {Path(r["source"]).name: r for r in json.loads(both.stdout)}
    assert reports["old.json"]["verdict"] == "INVALID" and reports["new.json"]["verdict"] == "VALID"
    revocation = next(c for c in reports["old.json"]["checks"] if c["name"] == "revocation")
    assert revocation["reason"] == replaced and revocation["details"]["supersededBy"] == lineage.new[0]["id"]
    check = next(c for c in reports["new.json"]["checks"] if c["name"] == "lineage")
    assert (check["status"], check["reason"]) == ("pass", replaces)


def _in_page(page: Any, registry: Registry, data: dict[str, Any]) -> dict[str, Any]:
    options = {
        "rpc": registry.rpc_url,
        "trustedRegistries": [{"chainId": 31337, "address": registry.client.registry_address}],
    }
    report: dict[str, Any] = page.evaluate(
        "([t, o]) => window.credentialRegistry.verify(t, o)", [json.dumps(data), options]
    )
    return report


def test_the_verifier_page_reports_the_same(registry: Registry, lineage: Lineage, page: Any) -> None:
    """Every check's name, status, reason and details, in real Chromium, against the Python report."""
    cases = [
        lineage.old[0],
        lineage.old[1],
        lineage.old[2],
        lineage.corrected,
        lineage.renewed,
        lineage.new[0],
        _claim(lineage.new[2], lineage.old[0]["id"], _digest(lineage.old[0]), "correction"),
        _claim(lineage.new[1], lineage.old[1]["id"], _digest(lineage.old[1]), "correction"),
    ]
    for data in cases:
        js = _in_page(page, registry, data)
        py = verifier(registry).verify(data).model_dump(mode="json")
        assert js["verdict"] == py["verdict"], (js["summary"], py["summary"])
        for mine, theirs in zip(js["checks"], py["checks"], strict=True):
            if mine["name"] in ("revocation", "lineage"):
                assert mine == theirs
            else:
                assert (mine["name"], mine["status"]) == (theirs["name"], theirs["status"])


def test_the_verifier_page_form_shows_the_lineage(
    registry: Registry, lineage: Lineage, page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "corrected.json"
    path.write_text(json.dumps(lineage.corrected))
    page.get_by_label("JSON-RPC URL of the chain").fill(registry.rpc_url)
    page.get_by_label("Trusted registries (one per line: chain id and contract address)").fill(
        f"31337 {registry.client.registry_address}"
    )
    page.get_by_label("Credential file (JSON) or baked badge (PNG, SVG)").set_input_files(str(path))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "VALID"
    row = page.locator("[data-check=lineage]")
    assert row.get_attribute("data-status") == "pass"
    assert f"replaces {lineage.old[0]['id']} (correction, on {lineage.on['correction']})" in row.inner_text()
    path.write_text(json.dumps(lineage.old[0]))
    page.get_by_label("Credential file (JSON) or baked badge (PNG, SVG)").set_input_files(str(path))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_function(
        "() => document.querySelector('#verdict') && document.querySelector('#verdict').innerText !== 'VALID'"
    )
    assert page.locator("#verdict").inner_text() == "INVALID"
    assert page.locator("[data-check=revocation]").get_attribute("data-status") == "fail"
    assert f"superseded by {lineage.new[0]['id']}" in page.locator("[data-check=revocation]").inner_text()
    assert page.locator("[data-check=lineage]").count() == 0
