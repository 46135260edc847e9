"""Named accreditation bodies against a real anvil: the verify report and the audit name the body
that admitted an issuer; an unnamed body (bare ``grantRole``) and every body of a registry that
predates named bodies are shown by address, without an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registry.audit.auditor import Auditor
from registry.audit.cache import AuditCache
from registry.audit.render import render_html
from registry.audit.report import AuditReport
from registry.chain import calls
from registry.chain.adapter import Chain
from registry.chain.devkeys import dev_account
from registry.chain.model import ACCREDITOR_ROLE
from registry.chain.reads import ChainReader
from registry.chain.rpc import Rpc
from registry.core.credential import IssuerProfile
from registry.errors import ChainUnavailable, InvalidInput, NotARegistry, TransactionFailed
from registry.issue.direct import IssuedBatch, issue_and_anchor
from registry.verify import CheckStatus, Report, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACCREDITATION_BODY, ACHIEVEMENT, Registry
from tests.cohort import synthetic_cohort

pytestmark = pytest.mark.e2e

LEGACY = Path(__file__).resolve().parents[1] / "assets" / "legacy" / "CredentialRegistry-unnamed-accreditors.json"
NAME, DID = ACCREDITATION_BODY


def verify(chain: Chain, batch: IssuedBatch) -> Report:
    assert chain.registry_address is not None
    policy = VerificationPolicy(trusted={31337: {chain.registry_address.lower()}})
    return Verifier(policy, rpc_url=chain.rpc_url).verify(batch.files[0].read_text())


def audit(chain: Chain, tmp: Path, from_block: int = 0) -> AuditReport:
    cache = AuditCache(f"sqlite:///{tmp / 'audit.sqlite'}")
    try:
        return Auditor(chain, cache, from_block=from_block).run(check_bytecode=False)
    finally:
        cache.close()


def unnamed_registry(registry: Registry, tmp: Path, *, bytecode: str | None = None) -> tuple[Chain, IssuedBatch]:
    """Another registry on the fixture's chain whose body got the bare role, with one issued batch."""
    chain = Chain(registry.rpc_url)
    admin, body, key = dev_account("admin", 31337), dev_account("accreditor", 31337), dev_account("issuer", 31337)
    chain.writes.deploy(admin, bytecode=bytecode)
    chain.writes.grant_accreditor(admin, body.address)
    issuer_id = chain.writes.admit_issuer(body, "Universidad de Ejemplo", "did:web:uni.example", key.address)
    info = chain.reads.issuers([issuer_id])[issuer_id]
    # A registry that predates named bodies also predates signing keys: its files are format v1.
    profile = IssuerProfile(id=info.did, name=info.name)
    docs = list(synthetic_cohort(2, profile, ACHIEVEMENT, seed=7, version=1 if bytecode else 2))
    return chain, issue_and_anchor(chain, key, docs, tmp / "files")


@pytest.fixture(scope="module")
def batch(registry: Registry) -> IssuedBatch:
    return registry.issue(2)


# -- verify ------------------------------------------------------------------------------------


def test_the_verify_report_names_the_accreditation_body(registry: Registry, batch: IssuedBatch) -> None:
    report = verify(registry.client, batch)
    assert report.verdict is Verdict.VALID, report.summary
    assert report.issuer is not None
    body = registry.accreditor.address
    assert report.issuer["accreditedBy"] == body  # unchanged: the address
    assert report.issuer["accreditor"] == {"address": body, "name": NAME, "uri": DID}
    issuer = report.check("issuer")
    assert issuer.status is CheckStatus.PASS
    assert f"by accreditation body {NAME} ({DID});" in issuer.reason
    assert body not in issuer.reason  # the address is a detail, not the sentence
    assert issuer.details["accreditor"]["name"] == NAME


def test_an_unnamed_body_is_shown_by_its_address(registry: Registry, tmp_path: Path) -> None:
    chain, issued = unnamed_registry(registry, tmp_path)
    body = dev_account("accreditor", 31337).address
    report = verify(chain, issued)
    assert report.verdict is Verdict.VALID, report.summary
    assert report.issuer is not None
    assert report.issuer["accreditor"] == {"address": body, "name": None, "uri": None}
    assert f"by accreditation body {body};" in report.check("issuer").reason
    assert chain.reads.accreditors([body])[body].named is False


def test_a_registry_that_predates_named_bodies_still_verifies(registry: Registry, tmp_path: Path) -> None:
    legacy = json.loads(LEGACY.read_text())
    chain, issued = unnamed_registry(registry, tmp_path, bytecode=legacy["bytecode"])
    body = dev_account("accreditor", 31337).address
    assert "006fdf2e" not in chain.reads.runtime_code(chain.registry_address or "").hex()  # no onboardAccreditor

    report = verify(chain, issued)

    assert report.verdict is Verdict.VALID, report.summary
    assert report.issuer is not None
    assert report.issuer["accreditor"] == {"address": body, "name": None, "uri": None}
    assert f"by accreditation body {body};" in report.check("issuer").reason
    # the typed read gives "unnamed" too, and naming a body there is refused before any transaction
    assert not chain.reads.accreditors([body])[body].named
    assert chain.reads.lacks_accreditor_entries()
    with pytest.raises(TransactionFailed, match="predates named accreditation bodies"):
        chain.writes.appoint_accreditor(dev_account("admin", 31337), body, NAME, DID)
    # and the audit of it names the body by address, without a finding about it
    report_audit = audit(chain, tmp_path)
    assert [b.name for b in report_audit.accreditors] == [None]
    assert report_audit.issuers[0].admitted_by_name is None


def test_renamed_and_revoked_bodies_stay_named(registry: Registry, tmp_path: Path) -> None:
    chain = Chain(registry.rpc_url)
    admin, body, key = dev_account("admin", 31337), dev_account("accreditor", 31337), dev_account("issuer", 31337)
    chain.writes.deploy(admin)
    first = chain.writes.appoint_accreditor(admin, body.address, "Old Agency Name", "did:web:old.example")
    assert first is not None and first.events("AccreditorAppointed")[0]["name"] == "Old Agency Name"
    assert chain.writes.appoint_accreditor(admin, body.address, "Old Agency Name", "did:web:old.example") is None
    issuer_id = chain.writes.admit_issuer(body, "Universidad de Ejemplo", "did:web:uni.example", key.address)
    info = chain.reads.issuers([issuer_id])[issuer_id]
    docs = list(synthetic_cohort(2, IssuerProfile(id=info.did, name=info.name), ACHIEVEMENT, seed=8))
    issued = issue_and_anchor(chain, key, docs, tmp_path / "files")
    chain.writes.appoint_accreditor(admin, body.address, NAME, DID)  # rename
    chain.writes.transact(admin, calls.revoke_role(ACCREDITOR_ROLE, body.address))
    assert not chain.reads.has_role(ACCREDITOR_ROLE, body.address)

    report = verify(chain, issued)

    assert report.verdict is Verdict.VALID, report.summary
    assert report.issuer is not None and report.issuer["accreditor"]["name"] == NAME
    audited = audit(chain, tmp_path)
    (entry,) = audited.accreditors
    assert (entry.name, entry.uri, entry.holds_role, entry.issuers) == (NAME, DID, False, [issuer_id])
    # the timeline tells the name the body had when it admitted the issuer
    assert "by accreditation body Old Agency Name (did:web:old.example)" in audited.issuers[0].timeline[0].summary


def test_appointing_refuses_a_non_canonical_uri_before_any_transaction(registry: Registry) -> None:
    with pytest.raises(InvalidInput, match=r"did:web:accreditation\.example"):
        registry.client.writes.appoint_accreditor(
            registry.admin, registry.stranger.address, NAME, "https://Accreditation.example/"
        )
    assert not registry.client.reads.has_role(ACCREDITOR_ROLE, registry.stranger.address)


# -- audit -------------------------------------------------------------------------------------


def test_the_audit_names_the_accreditation_body(registry: Registry, batch: IssuedBatch, tmp_path: Path) -> None:
    report = audit(registry.client, tmp_path)
    body = registry.accreditor.address
    entry = next(b for b in report.accreditors if b.address == body)
    assert (entry.address, entry.name, entry.uri, entry.holds_role) == (body, NAME, DID, True)
    assert sorted(entry.issuers) == [registry.issuer_id, registry.issuer2_id]
    issuer = next(i for i in report.issuers if i.issuer_id == registry.issuer_id)
    assert (issuer.admitted_by, issuer.admitted_by_name, issuer.admitted_by_uri) == (body, NAME, DID)
    assert f"by accreditation body {NAME} ({DID}) {body}" in issuer.timeline[0].summary
    assert not [f for f in report.findings if f.check == "governance"]
    html = render_html(report)
    assert f"<b>{NAME}</b> ({DID})" in html
    assert "Accreditation bodies" in html


# -- CLI ---------------------------------------------------------------------------------------


def _cli(registry: Registry, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env: dict[str, Any] = {
        **os.environ,
        "REGISTRY_HOME": str(registry.settings.home),
        "REGISTRY_CONFIG_DIR": str(tmp / "config"),
        "PATH": str(Path(sys.executable).parent),
    }
    cmd = [sys.executable, "-m", "registry.cli", *args, "--rpc", registry.rpc_url]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def test_cli_appoints_named_and_warns_for_unnamed(registry: Registry, tmp_path: Path) -> None:
    spare = dev_account("issuer-rotated", 31337).address
    named = _cli(registry, tmp_path, "accreditor", spare, "--name", "Bureau", "--uri", "https://BUREAU.example/")
    assert named.returncode == 0, named.stderr
    assert "accreditation body Bureau (did:web:bureau.example)" in named.stdout
    entry = registry.client.reads.accreditors([spare])[spare]
    assert (entry.name, entry.uri) == ("Bureau", "did:web:bureau.example")

    bare = _cli(registry, tmp_path, "accreditor", registry.stranger.address)
    assert bare.returncode == 0, bare.stderr
    assert "without a name" in bare.stderr
    assert registry.client.reads.has_role(ACCREDITOR_ROLE, registry.stranger.address)
    assert not registry.client.reads.accreditors([registry.stranger.address])[registry.stranger.address].named

    half = _cli(registry, tmp_path, "accreditor", spare, "--name", "Bureau")
    assert half.returncode == 3, half.stdout + half.stderr

    assert _cli(registry, tmp_path, "issuer", "list").returncode == 0
    listed = _cli(registry, tmp_path, "issuer", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows[0]["accreditor"] == {"address": registry.accreditor.address, "name": NAME, "uri": DID}


# -- reads without a chain: what an old registry may answer ---------------------------------------


class _Answers(Rpc):
    """An endpoint answering every ``eth_call`` with ``answer`` ("revert" raises like a node's)."""

    def __init__(self, answer: str) -> None:
        super().__init__("http://node.invalid")
        self.answer = answer
        self.batches = 0

    def batch(self, requests_: Any) -> list[Any]:
        self.batches += 1
        if self.answer == "revert":
            raise NotARegistry("0x" + "11" * 20, "execution reverted")
        return [self.answer for _ in requests_]


BODY = "0x" + "22" * 20


def test_an_empty_answer_reads_as_unnamed() -> None:
    reader = ChainReader(_Answers("0x"), "0x" + "11" * 20)
    (entry,) = reader.accreditors([BODY]).values()
    assert not entry.named and entry.label == entry.address


def test_a_reverting_view_reads_as_unnamed_and_is_not_asked_again() -> None:
    rpc = _Answers("revert")
    reader = ChainReader(rpc, "0x" + "11" * 20)
    assert not next(iter(reader.accreditors([BODY]).values())).named
    assert reader.lacks_accreditor_entries()
    reader.accreditors([BODY])
    assert rpc.batches == 1


def test_a_garbled_answer_is_chain_trouble_not_a_name() -> None:
    with pytest.raises(ChainUnavailable, match="accreditor"):
        ChainReader(_Answers("0x1234"), "0x" + "11" * 20).accreditors([BODY])
