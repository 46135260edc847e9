"""One identity, one directory entry (issue: canonical issuer identifiers), on a real anvil.

A fresh registry refuses every other spelling of an admitted identity; on a registry deployed
before the rule (PreCanonicalRegistry, which admits any URI), a credential from a look-alike
entry naming another entry's identity is INVALID, naming the entries.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry.chain import calls
from registry.chain.adapter import Chain
from registry.chain.artifacts import load_artifact
from registry.chain.devkeys import dev_account
from registry.chain.local import LocalChain
from registry.core.credential import IssuerProfile
from registry.errors import InvalidInput
from registry.issue.direct import IssuedBatch, issue_and_anchor
from registry.verify import CheckStatus, Report, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.cohort import synthetic_cohort

UNI = IssuerProfile(id="did:web:uni.example", name="Universidad de Ejemplo")


def legacy_registry(anvil: LocalChain, entries: list[tuple[str, str, str]]) -> Chain:
    """A PreCanonicalRegistry with an accreditation body and ``entries`` (name, uri, dev role)."""
    chain = Chain(anvil.rpc_url)
    admin, accreditor = dev_account("admin", 31337), dev_account("accreditor", 31337)
    chain.writes.deploy(admin, bytecode=load_artifact("PreCanonicalRegistry").bytecode)
    chain.writes.grant_accreditor(admin, accreditor.address)
    for name, uri, role in entries:
        chain.writes.transact(accreditor, calls.admit_issuer(name, uri, dev_account(role, 31337).address))
    return chain


def issue(chain: Chain, role: str, tmp: Path, seed: int) -> IssuedBatch:
    docs = list(synthetic_cohort(2, UNI, ACHIEVEMENT, seed=seed))
    return issue_and_anchor(chain, dev_account(role, 31337), docs, tmp / f"{role}-{seed}")


def verify(chain: Chain, batch: IssuedBatch) -> Report:
    assert chain.registry_address is not None
    policy = VerificationPolicy(trusted={31337: {chain.registry_address.lower()}})
    return Verifier(policy, rpc_url=chain.rpc_url).verify(batch.files[0].read_text())


def test_a_look_alike_entry_cannot_issue_in_the_canonical_owners_name(anvil: LocalChain, tmp_path: Path) -> None:
    chain = legacy_registry(
        anvil,
        [
            ("Universidad de Ejemplo", "did:web:uni.example", "issuer"),
            ("Universidad de Ejemplo", "https://uni.example", "issuer2"),  # legacy duplicate, fresh key
        ],
    )
    impostor = verify(chain, issue(chain, "issuer2", tmp_path, 1))
    assert impostor.verdict is Verdict.INVALID
    check = impostor.check("issuer")
    assert check.status is CheckStatus.FAIL
    assert "belongs to directory entry #1 Universidad de Ejemplo ('did:web:uni.example')" in check.reason
    assert "#2 Universidad de Ejemplo ('https://uni.example')" in check.reason
    genuine = verify(chain, issue(chain, "issuer", tmp_path, 2))
    assert genuine.verdict is Verdict.VALID, genuine.summary


def test_an_identity_claimed_by_several_legacy_entries_is_invalid(anvil: LocalChain, tmp_path: Path) -> None:
    chain = legacy_registry(
        anvil,
        [
            ("Universidad de Ejemplo", "uni.example", "issuer"),
            ("Universidad de Ejemplo", "UNI.example", "issuer2"),
        ],
    )
    for role, seed in (("issuer", 3), ("issuer2", 4)):
        report = verify(chain, issue(chain, role, tmp_path, seed))
        assert report.verdict is Verdict.INVALID
        reason = report.check("issuer").reason
        assert "several directory entries claim did:web:uni.example" in reason
        assert "#1 Universidad de Ejemplo ('uni.example')" in reason and "('UNI.example')" in reason


def test_a_single_legacy_spelling_still_verifies(anvil: LocalChain, tmp_path: Path) -> None:
    chain = legacy_registry(anvil, [("Universidad de Ejemplo", "https://uni.example/", "issuer")])
    report = verify(chain, issue(chain, "issuer", tmp_path, 5))
    assert report.verdict is Verdict.VALID, report.summary


def test_a_fresh_registry_refuses_every_other_spelling(registry: Registry, tmp_path: Path) -> None:
    before = registry.client.reads.issuer_count()
    spare = dev_account("issuer-rotated", 31337).address
    with pytest.raises(InvalidInput, match=r"admit it as 'did:web:uni\.example'"):
        registry.client.writes.admit_issuer(registry.accreditor, "Impostor", "https://uni.example", spare)
    env = {"REGISTRY_HOME": str(registry.settings.home), "PATH": str(Path(sys.executable).parent)}
    for spelling in ("https://uni.example", "uni.example", "UNI.example", " did:web:UNI.example "):
        cmd = [sys.executable, "-m", "registry.cli", "issuer", "admit", "Impostor", spelling, spare]
        done = subprocess.run([*cmd, "--rpc", registry.rpc_url], capture_output=True, text=True, env=env, check=False)
        assert done.returncode != 0, done.stdout
        assert "did:web:uni.example" in done.stderr
    assert registry.client.reads.issuer_count() == before


def test_the_verify_api_refuses_the_look_alike_too(anvil: LocalChain, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from registry.config import Settings
    from registry.service.runtime import create_app

    chain = legacy_registry(
        anvil,
        [
            ("Universidad de Ejemplo", "did:web:uni.example", "issuer"),
            ("Universidad de Ejemplo", "uni.example", "issuer2"),
        ],
    )
    impostor = issue(chain, "issuer2", tmp_path, 6)
    settings = Settings(
        home=tmp_path / "service",
        rpc_url=anvil.rpc_url,
        registry_address=chain.registry_address,
        database_url=f"sqlite:///{tmp_path / 'service.db'}",
        worker_in_process=False,
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/verify", content=impostor.files[0].read_bytes())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verdict"] == "INVALID"
    issuer = next(c for c in report["checks"] if c["name"] == "issuer")
    assert "belongs to directory entry #1" in issuer["reason"]
