"""`registry audit --look-alikes` on a real anvil: copies of the registry whose directory names
(or resembles) the audited registry's issuers are listed; unrelated copies are not threats."""

from __future__ import annotations

import json
from pathlib import Path

import idna
import pytest
from typer.testing import CliRunner

from registry.audit.watch import watch_lookalikes
from registry.chain.adapter import Chain
from registry.chain.admin import deploy_registry
from registry.chain.devkeys import dev_account
from registry.cli.app import app
from registry.config import Settings
from tests.chain_fixtures import Registry

pytestmark = pytest.mark.e2e

LOOKALIKE = "did:web:" + idna.encode("un\u0456.example", uts46=True).decode("ascii")  # Cyrillic i


def _copy(registry: Registry, tmp: Path, entries: list[tuple[str, str]]) -> str:
    """Another registry on the same chain, run by a stranger who admits ``entries``."""
    attacker = dev_account("stranger", 31337)
    client = Chain(registry.rpc_url)
    deploy_registry(Settings(home=tmp, rpc_url=registry.rpc_url), client, attacker, force=True)
    client.writes.grant_accreditor(attacker, attacker.address)
    for n, (name, uri) in enumerate(entries):
        client.writes.admit_issuer(attacker, name, uri, "0x" + f"{n + 0xC0FFEE:040x}")
    assert client.registry_address is not None
    return client.registry_address


@pytest.fixture(scope="module")
def copies(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    forged = _copy(
        registry,
        tmp_path_factory.mktemp("forger"),
        [("Universidad de Ejemplo", "did:web:uni.example"), ("Universidad de Ejemplo", LOOKALIKE)],
    )
    harmless = _copy(registry, tmp_path_factory.mktemp("other"), [("Unrelated Academy", "did:web:academy.example")])
    return forged, harmless


def test_watch_lists_the_copy_naming_our_issuers(registry: Registry, copies: tuple[str, str]) -> None:
    forged, harmless = copies
    report = watch_lookalikes(registry.client.reads, 0)
    threats = {r.address: r for r in report.threats}
    assert list(threats) == [forged]
    hits = threats[forged].impersonations
    assert threats[forged].code == "identical"
    assert {(h.uri, h.our_issuer_id) for h in hits} == {
        ("did:web:uni.example", registry.issuer_id),
        (LOOKALIKE, registry.issuer_id),
    }
    assert {h.match for h in hits if h.uri == "did:web:uni.example"} == {"same-identifier"}
    assert "confusable-domain" in next(h.match for h in hits if h.uri == LOOKALIKE)
    others = {r.address: r for r in report.registries if not r.impersonations}
    assert harmless in others and others[harmless].admissions == 1
    assert registry.client.registry_address not in threats | others  # the audited registry is not its own copy


def test_watch_block_range_bounds_the_scan(registry: Registry, copies: tuple[str, str]) -> None:
    head = registry.client.reads.head()
    report = watch_lookalikes(registry.client.reads, head + 1)
    assert report.registries == [] and report.scanned_logs == 0


def test_cli_look_alikes(registry: Registry, copies: tuple[str, str]) -> None:
    forged, _ = copies
    env = {"REGISTRY_HOME": str(registry.settings.home)}
    args = ["audit", "--look-alikes", "--rpc", registry.rpc_url, "--from-block", "0"]
    result = CliRunner().invoke(app, [*args, "--format", "json"], env=env)
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert [r["address"] for r in body["lookalikes"]] == [forged]
    assert body["registry"] == registry.client.registry_address
    table = CliRunner().invoke(app, args, env=env)
    assert table.exit_code == 1 and "Universidad de Ejemplo" in table.output and forged in table.output
    head = registry.client.reads.head()
    quiet = CliRunner().invoke(app, [*args[:-1], str(head + 1)], env=env)
    assert quiet.exit_code == 0 and "no other registry" in quiet.output
    refused = CliRunner().invoke(app, [*args, "--format", "html"], env=env)
    assert refused.exit_code == 3 and "table or json" in refused.output
