"""`registry audit --look-alikes` on a real anvil: copies of the registry whose directory names
(or resembles) the audited registry's issuers are listed; unrelated copies are not threats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import idna
import pytest
from typer.testing import CliRunner

from registry.audit.watch import watch_lookalikes
from registry.chain.adapter import Chain
from registry.chain.admin import deploy_registry
from registry.chain.devkeys import dev_account
from registry.cli.app import app
from registry.config import Settings
from registry.core.credential import IssuerProfile
from registry.issue.direct import issue_and_anchor
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.cohort import synthetic_cohort
from tests.e2e.test_pages import _require_browser
from tests.page_differential import open_page, page_options

pytestmark = pytest.mark.e2e

LOOKALIKE = "did:web:" + idna.encode("un\u0456.example", uts46=True).decode("ascii")  # Cyrillic i


def _copy(registry: Registry, tmp: Path, entries: list[tuple[str, str]]) -> str:
    """Another registry on the same chain, run by a stranger who admits ``entries``."""
    attacker = dev_account("stranger", 31337)
    client = Chain(registry.rpc_url)
    deploy_registry(Settings(home=tmp, rpc_url=registry.rpc_url), client, attacker, force=True)
    client.writes.grant_accreditor(attacker, attacker.address)
    for n, (name, uri) in enumerate(entries):  # the first entry signs with the attacker's own key
        client.writes.admit_issuer(attacker, name, uri, attacker.address if n == 0 else "0x" + f"{n + 0xC0FFEE:040x}")
    assert client.registry_address is not None
    return client.registry_address


def _forge(registry: Registry, forged: str, tmp: Path) -> dict[str, Any]:
    """A credential in the university's name, anchored in the look-alike registry."""
    client = Chain(registry.rpc_url, forged)
    docs = list(
        synthetic_cohort(2, IssuerProfile(id="did:web:uni.example", name="Universidad de Ejemplo"), ACHIEVEMENT, 5)
    )
    issued = issue_and_anchor(client, dev_account("stranger", 31337), docs, tmp)
    return dict(json.loads(issued.files[0].read_text()))


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


def test_a_forgery_from_a_copy_warns_when_a_trusted_registry_admits_the_named_issuer(
    registry: Registry, copies: tuple[str, str], tmp_path: Path
) -> None:
    """The employer trusts the genuine registry; a file in the university's name comes from the
    copy: never VALID, and the reason says look-alike instead of offering `registry trust add`."""
    forged = _forge(registry, copies[0], tmp_path)
    report = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(forged)
    issuer = report.check("issuer")
    assert report.verdict is Verdict.INDETERMINATE and issuer.status is CheckStatus.INDETERMINATE
    assert "look-alike" in issuer.reason and registry.client.registry_address in issuer.reason
    assert "registry trust add" not in issuer.reason and issuer.details["lookalikeOf"] == "did:web:uni.example"
    # Trusting nothing on that chain: the plain reason, with the command (nothing to compare with).
    plain = Verifier(VerificationPolicy(trusted={}), rpc_url=registry.rpc_url).verify(forged).check("issuer")
    assert plain.status is CheckStatus.INDETERMINATE and "registry trust add" in plain.reason


def test_the_page_gives_the_same_warning(registry: Registry, copies: tuple[str, str], tmp_path: Path) -> None:
    _require_browser()
    forged = _forge(registry, copies[0], tmp_path / "files")
    page_file = tmp_path / "verifier.html"
    assert CliRunner().invoke(app, ["verifier-page", "--out", str(page_file), "--no-trust"]).exit_code == 0
    options = page_options(registry.rpc_url, registry.trust, datetime.now(UTC))
    with open_page(page_file) as page:
        report = page.evaluate("([f, o]) => window.credentialRegistry.verify(f, o)", [json.dumps(forged), options])
    issuer = next(c for c in report["checks"] if c["name"] == "issuer")
    assert report["verdict"] == "INDETERMINATE" and issuer["status"] == "indeterminate"
    assert "look-alike" in issuer["reason"] and issuer["details"]["lookalikeOf"] == "did:web:uni.example"
