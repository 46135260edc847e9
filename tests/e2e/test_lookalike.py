"""Look-alike issuer entries on a real anvil: the auditor reports them (check ``lookalikes``) and
`registry issuer admit` warns and refuses one unless ``--allow-lookalike`` is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import idna
import pytest
from click.testing import Result
from typer.testing import CliRunner

from registry.audit.auditor import Auditor
from registry.audit.cache import AuditCache
from registry.audit.report import AuditReport, Severity
from registry.chain.adapter import Chain
from registry.chain.admin import deploy_registry
from registry.chain.devkeys import dev_account
from registry.chain.local import LocalChain
from registry.cli.app import app
from registry.config import Settings

pytestmark = pytest.mark.e2e

CYR_I = "\u0456"  # looks like Latin i
LOOKALIKE = "did:web:" + idna.encode(f"un{CYR_I}.example", uts46=True).decode("ascii")


@dataclass
class Directory:
    client: Chain
    settings: Settings
    deploy_block: int
    uni_id: int
    other_id: int
    tmp: Path

    def admit(self, name: str, uri: str, role: str) -> int:
        accreditor = dev_account("accreditor", 31337)
        return self.client.writes.admit_issuer(accreditor, name, uri, dev_account(role, 31337).address)

    def audit(self, **options: Any) -> AuditReport:
        cache = AuditCache(f"sqlite:///{self.tmp / 'audit.sqlite'}")
        try:
            return Auditor(self.client, cache, from_block=self.deploy_block).run(check_bytecode=False, **options)
        finally:
            cache.close()

    def cli(self, *args: str) -> Result:
        env = {"REGISTRY_HOME": str(self.settings.home)}
        return CliRunner().invoke(app, ["issuer", "admit", *args, "--rpc", self.client.rpc_url], env=env)


@pytest.fixture
def directory(anvil: LocalChain, tmp_path: Path) -> Directory:
    settings = Settings(home=tmp_path / "home", rpc_url=anvil.rpc_url)
    client = Chain(anvil.rpc_url)
    admin = dev_account("admin", 31337)
    record = deploy_registry(settings, client, admin, force=True)
    client.writes.grant_accreditor(admin, dev_account("accreditor", 31337).address)
    d = Directory(client, settings, int(record["block"]), 0, 0, tmp_path)
    d.uni_id = d.admit("Universidad de Ejemplo", "did:web:uni.example", "issuer")
    d.other_id = d.admit("Other College", "did:web:other.example", "issuer2")
    return d


def test_a_clean_directory_has_no_lookalike_findings(directory: Directory) -> None:
    report = directory.audit()
    assert "lookalikes" in report.checks_run
    assert [f for f in report.findings if f.check == "lookalikes"] == []


def test_the_audit_reports_a_confusable_pair_from_the_chain(directory: Directory) -> None:
    assert LOOKALIKE.startswith("did:web:xn--un-")
    fake = directory.admit("Universidad de Ejemplo", LOOKALIKE, "issuer-rotated")

    report = directory.audit()

    found = {(f.code, tuple(f.details["issuers"])): f for f in report.findings if f.check == "lookalikes"}
    assert set(found) == {("lookalike-issuers", (directory.uni_id, fake)), ("mixed-script-issuer", (fake,))}
    pair = found["lookalike-issuers", (directory.uni_id, fake)]
    assert pair.severity is Severity.WARNING
    assert pair.issuer_id == fake and pair.tx is not None and pair.block is not None
    assert pair.details["reasons"] == ["same-name", "confusable-domain"]
    assert pair.details["uris"] == ["did:web:uni.example", LOOKALIKE]
    assert f"did:web:un{CYR_I}.example" in pair.message
    # --issuer keeps the pair for either side.
    for wanted in ("did:web:uni.example", LOOKALIKE):
        filtered = directory.audit(issuer=wanted)
        assert "lookalike-issuers" in [f.code for f in filtered.findings]
    assert "lookalike-issuers" not in [f.code for f in directory.audit(issuer="did:web:other.example").findings]
    # The JSON report carries it like any other finding.
    as_json = report.model_dump(mode="json")
    assert any(f["code"] == "lookalike-issuers" for f in as_json["findings"])


def test_admit_warns_and_refuses_a_lookalike_unless_allowed(directory: Directory) -> None:
    key = dev_account("issuer-rotated", 31337).address
    before = directory.client.reads.issuer_count()

    refused = directory.cli("Universidad de Ejemplo", LOOKALIKE, key)

    assert refused.exit_code == 3, refused.output
    text = refused.output
    assert f"issuer {directory.uni_id} “Universidad de Ejemplo” (did:web:uni.example)" in text
    assert "same-name" in text and "confusable-domain" in text
    assert "--allow-lookalike" in text
    assert directory.client.reads.issuer_count() == before

    admitted = directory.cli("Universidad de Ejemplo", LOOKALIKE, key, "--allow-lookalike")

    assert admitted.exit_code == 0, admitted.output
    assert "warning:" in admitted.output
    assert directory.client.reads.issuer_count() == before + 1


def test_admit_of_a_distinct_issuer_prints_no_warning(directory: Directory) -> None:
    done = directory.cli("Third Institute", "did:web:third.example", dev_account("issuer-rotated", 31337).address)
    assert done.exit_code == 0, done.output
    assert "warning" not in done.output
