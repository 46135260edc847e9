"""Format v2 against a real anvil: both proofs checked, the signing key's binding on chain,
redaction (ad hoc and pre-signed), provable absence of an expiry, v1 files as before."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from registry.cli.app import app
from registry.core.credential import build_credential
from registry.core.credfile import parse_credential_file, redact
from registry.core.signing import Signer, derive_signing_key
from registry.issue.signing import signing_public_key
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, Registry

DI = "DataIntegrityProof eddsa-rdfc-2022"
ANCHOR_PROOF = "CredentialRegistryAnchorProof"


def verify(registry: Registry, data: dict[str, Any]) -> Any:
    return Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(data)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.fixture(scope="module")
def batch(registry: Registry) -> Any:
    return registry.issue(4)


def test_a_v2_file_is_valid_with_both_proofs_checked(registry: Registry, batch: Any) -> None:
    data = load(batch.files[0])
    assert [p["type"] for p in data["proof"]] == ["DataIntegrityProof", ANCHOR_PROOF]
    report = verify(registry, data)
    assert report.verdict is Verdict.VALID, report.summary
    assert [c.name for c in report.checks] == [
        "format",
        "integrity",
        "inclusion",
        "anchor",
        "issuer",
        "signature",
        "revocation",
        "validity",
    ]
    assert all(c.status is CheckStatus.PASS for c in report.checks)
    assert report.proofs == [DI, ANCHOR_PROOF]
    key = signing_public_key(registry.issuer_key)
    info = registry.client.reads.signing_key(key)
    assert info is not None and info.issuer_id == registry.issuer_id
    assert registry.client.reads.current_signing_key(registry.issuer_id) == key


def test_a_tampered_field_fails_both_proofs(registry: Registry, batch: Any) -> None:
    data = load(batch.files[1])
    data["credentialSubject"]["result"][0]["value"] = "A+"
    report = verify(registry, data)
    assert report.verdict is Verdict.INVALID
    assert report.check("integrity").status is CheckStatus.FAIL
    assert report.check("signature").status is CheckStatus.FAIL
    assert "changed after it was signed" in report.check("signature").reason


def test_redacted_and_profile_files(registry: Registry, batch: Any) -> None:
    full = load(batch.files[2])
    hidden = redact(full, ["/credentialSubject/name"])
    report = verify(registry, hidden)
    assert report.verdict is Verdict.VALID, report.summary
    assert "signature" not in [c.name for c in report.checks] and report.proofs == [ANCHOR_PROOF]
    assert report.hidden_fields == ["/credentialSubject/name"]
    profile = redact(full, profile="without-result")
    report = verify(registry, profile)
    assert report.verdict is Verdict.VALID, report.summary
    assert report.check("signature").status is CheckStatus.PASS and report.proofs == [DI, ANCHOR_PROOF]


def _signed_elsewhere(registry: Registry, batch: Any, key: Any) -> dict[str, Any]:
    """The first file of ``batch`` re-signed with ``key`` (same anchor proof)."""
    cf = parse_credential_file(load(batch.files[0]))
    signer = Signer(key, cf.credential["issuer"]["id"], cf.signature["created"])  # type: ignore[index]
    return {**copy.deepcopy(cf.credential), "proof": [signer.proof(cf.credential), cf.proof]}


def test_a_signature_by_a_key_the_chain_does_not_know_fails(registry: Registry, batch: Any) -> None:
    report = verify(registry, _signed_elsewhere(registry, batch, derive_signing_key(b"\x09" * 32)))
    assert report.verdict is Verdict.INVALID
    assert "not a signing key of any issuer" in report.check("signature").reason
    assert report.check("integrity").status is CheckStatus.PASS


def test_another_issuers_signing_key_fails(registry: Registry, batch: Any) -> None:
    registry.issue(1, key=registry.issuer2_key, issuer=registry.profile(2))  # registers issuer 2's key
    other = derive_signing_key(bytes(registry.issuer2_key.key))
    report = verify(registry, _signed_elsewhere(registry, batch, other))
    assert report.verdict is Verdict.INVALID
    assert "belongs to issuer" in report.check("signature").reason


def test_a_file_without_expiry_is_valid_when_redacted(registry: Registry) -> None:
    rng = random.Random(7).randbytes
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    doc = build_credential(
        achievement=ACHIEVEMENT,
        issuer=registry.profile(),
        recipient_email="grace@example.org",
        recipient_name="Grace Hopper",
        valid_from=now,
        result="B",
        rng=rng,
    )
    issued = registry.issue(docs=[doc])
    hidden = redact(load(issued.files[0]), ["/credentialSubject/result"])
    assert "validUntil" not in hidden
    report = verify(registry, hidden)
    assert report.verdict is Verdict.VALID, report.summary
    assert "no expiry" in report.check("validity").reason


def test_a_hidden_expiry_is_indeterminate(registry: Registry, batch: Any) -> None:
    """Only a hand-made file hides validUntil (redact refuses): v2 says exactly that."""
    data = load(batch.files[3])
    cf = parse_credential_file(data)
    from registry.core.disclosure import field_hashes

    hashes = field_hashes(cf.credential, cf.salts)
    anchor = copy.deepcopy(cf.proof)
    anchor["salts"].pop("/validUntil")
    anchor["redacted"] = {"/validUntil": "0x" + hashes["/validUntil"].hex()}
    anchor["hiddenPaths"] = ["/credentialSubject/note"]  # informational; /validUntil itself may not be listed
    anchor["disclosure"] = "redacted"
    anchor.pop("profiles", None)
    credential = {k: v for k, v in cf.credential.items() if k != "validUntil"}
    report = verify(registry, {**credential, "proof": [anchor]})
    assert report.check("integrity").status is CheckStatus.PASS
    assert report.check("validity").status is CheckStatus.INDETERMINATE
    assert "hides its validUntil" in report.check("validity").reason


def test_v1_files_still_verify_without_a_signature(registry: Registry) -> None:
    docs = [
        build_credential(
            achievement=ACHIEVEMENT,
            issuer=registry.profile(),
            recipient_email=f"v1-{i}@example.org",
            valid_from=datetime(2025, 1, 1, tzinfo=UTC),
            version=1,
        )
        for i in range(2)
    ]
    issued = registry.issue(docs=docs)
    data = load(issued.files[0])
    assert [p["format"] for p in data["proof"]] == ["credreg-proof-v1"]
    report = verify(registry, data)
    assert report.verdict is Verdict.VALID, report.summary
    assert len(report.checks) == 7 and report.proofs == [ANCHOR_PROOF]


def test_a_compromised_signing_key_invalidates_later_batches(registry: Registry) -> None:
    """Issuer 2 declares its signing key compromised from now: its next batch's signatures are
    not the issuer's (anchored after), an earlier batch's still are."""
    earlier = registry.issue(1, key=registry.issuer2_key, issuer=registry.profile(2))
    registry.client.rpc.batch([("evm_increaseTime", [60]), ("evm_mine", [])])
    key = signing_public_key(registry.issuer2_key)
    head = registry.client.history.block_timestamp(registry.client.reads.head())
    registry.client.writes.declare_signing_key_compromised(registry.issuer2_key, key, head)
    later = registry.issue(1, key=registry.issuer2_key, issuer=registry.profile(2))
    assert verify(registry, load(earlier.files[0])).verdict is Verdict.VALID
    report = verify(registry, load(later.files[0]))
    assert report.verdict is Verdict.INVALID
    assert report.check("signature").status is CheckStatus.FAIL


def test_registry_did_document_prints_the_key_the_chain_records(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_HOME", str(registry.settings.home))  # where the deployment is recorded
    out = tmp_path / "did.json"
    result = CliRunner().invoke(app, ["did-document", "--rpc", registry.rpc_url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["id"] == "did:web:uni.example"
    (method,) = [m for m in doc["verificationMethod"] if m["type"] == "Multikey"]
    assert doc["assertionMethod"] == [method["id"]]
    from registry.core.signing import public_key_from_multibase

    assert public_key_from_multibase(method["publicKeyMultibase"]) == signing_public_key(registry.issuer_key)
    accounts = [m["blockchainAccountId"] for m in doc["verificationMethod"] if "blockchainAccountId" in m]
    assert accounts == [f"eip155:31337:{registry.issuer_key.address}"]
