"""Verifier branches that end INDETERMINATE, never INVALID, against a real anvil: an anchor with
fewer confirmations than the policy asks, and a chain for which no RPC URL is known (nor given),
through the library and the CLI (exit code 2). Validity is judged on an injected clock."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from registry.chain.networks import networks_file
from registry.cli.app import app
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.chain_fixtures import anvil_rpc as rpc

pytestmark = pytest.mark.e2e

UNKNOWN_CHAIN = 42_424_242


def _policy(registry: Registry, doc: dict[str, Any], **kwargs: Any) -> VerificationPolicy:
    """Trust this registry; judge validity a day after the credential's start (not the real clock)."""
    start = datetime.fromisoformat(doc["validFrom"].replace("Z", "+00:00"))
    return VerificationPolicy(trusted=registry.trust, now=start + timedelta(days=1), **kwargs)


def _chain_statuses(report: Any) -> dict[str, CheckStatus]:
    return {name: report.check(name).status for name in ("anchor", "issuer", "revocation")}


@pytest.fixture(scope="module")
def issued(registry: Registry) -> dict[str, Any]:
    batch = registry.issue(3)
    doc: dict[str, Any] = json.loads(batch.files[0].read_text())
    return doc


def test_too_few_confirmations_is_indeterminate_until_the_blocks_come(registry: Registry) -> None:
    batch = registry.issue(2)
    doc = json.loads(batch.files[0].read_text())
    anchored = doc["proof"][-1]["anchorBlock"]
    wanted = registry.client.reads.head() - anchored + 1 + 3  # three blocks short
    verifier = Verifier(_policy(registry, doc, min_confirmations=wanted), rpc_url=registry.rpc_url)
    early = verifier.verify(doc)
    assert early.verdict is Verdict.INDETERMINATE, early.summary
    anchor = early.check("anchor")
    assert anchor.status is CheckStatus.INDETERMINATE
    assert f"but only {wanted - 3} of {wanted} confirmations yet" in anchor.reason
    assert anchor.details["confirmations"] == wanted - 3
    assert early.check("integrity").status is CheckStatus.PASS
    for _ in range(3):
        rpc(registry, "evm_mine")
    late = Verifier(_policy(registry, doc, min_confirmations=wanted), rpc_url=registry.rpc_url).verify(doc)
    assert late.verdict is Verdict.VALID, late.summary
    assert late.check("anchor").details["confirmations"] == wanted


def test_confirmations_through_the_cli(registry: Registry, issued: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(issued))
    env = {"REGISTRY_HOME": str(registry.settings.home)}  # a project folder: its deployments file is trusted
    base = ["verify", "--json", "--rpc", registry.rpc_url, str(path)]
    enough = CliRunner().invoke(app, base, env=env)
    assert enough.exit_code == 0, enough.output
    plenty = str(registry.client.reads.head() + 10)
    short = CliRunner().invoke(app, [*base, "--confirmations", plenty], env=env)
    assert short.exit_code == 2, short.output
    report = json.loads(short.stdout)
    assert report["verdict"] == "INDETERMINATE"
    assert "confirmations yet" in next(c for c in report["checks"] if c["name"] == "anchor")["reason"]


def test_no_rpc_url_known_for_the_chain_is_indeterminate(registry: Registry, issued: dict[str, Any]) -> None:
    """``chainId`` is not under the digest, so the file stays intact; nothing says where that chain is."""
    doc = copy.deepcopy(issued)
    doc["proof"][-1]["chainId"] = UNKNOWN_CHAIN
    trusted = {UNKNOWN_CHAIN: set(registry.trust[31337])}
    report = Verifier(VerificationPolicy(trusted=trusted, now=_policy(registry, doc).now)).verify(doc)
    assert report.verdict is Verdict.INDETERMINATE, report.summary
    assert set(_chain_statuses(report).values()) == {CheckStatus.INDETERMINATE}
    reason = report.check("anchor").reason
    assert f"no RPC URL known for chain {UNKNOWN_CHAIN}" in reason and "networks.json" in reason
    for name in ("format", "integrity", "inclusion", "validity"):
        assert report.check(name).status is CheckStatus.PASS, report.check(name).reason


def test_no_rpc_url_through_the_cli_exits_2(issued: dict[str, Any], tmp_path: Path) -> None:
    doc = copy.deepcopy(issued)
    doc["proof"][-1]["chainId"] = UNKNOWN_CHAIN
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(app, ["verify", "--json", str(path)])
    assert result.exit_code == 2, result.output
    assert f"no RPC URL known for chain {UNKNOWN_CHAIN}" in result.stdout


def test_a_networks_json_rpc_is_used_and_its_chain_id_checked(registry: Registry, issued: dict[str, Any]) -> None:
    """The URL for the chain comes from (the test's own, temporary) networks.json; the RPC it names
    serves another chain, which is again INDETERMINATE and says so."""
    networks_file().parent.mkdir(parents=True, exist_ok=True)
    networks_file().write_text(json.dumps({str(UNKNOWN_CHAIN): {"rpc": registry.rpc_url}}))
    doc = copy.deepcopy(issued)
    doc["proof"][-1]["chainId"] = UNKNOWN_CHAIN
    trusted = {UNKNOWN_CHAIN: set(registry.trust[31337])}
    report = Verifier(VerificationPolicy(trusted=trusted, now=_policy(registry, doc).now)).verify(doc)
    assert report.verdict is Verdict.INDETERMINATE, report.summary
    assert f"serves chain 31337, but the credential was anchored on chain {UNKNOWN_CHAIN}" in (
        report.check("anchor").reason
    )
    # and with the right chain id, the same URL from networks.json verifies the file
    networks_file().write_text(json.dumps({"31337": {"rpc": registry.rpc_url}}))
    again = Verifier(_policy(registry, issued)).verify(issued)
    assert again.verdict is Verdict.VALID, again.summary
