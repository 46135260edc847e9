"""The verifier against a real anvil: VALID, and every check's failure path."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from registry.chain.adapter import Chain
from registry.core.credential import build_credential
from registry.core.keccak import keccak256_hex
from registry.verify import CheckStatus, Report, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, Registry, free_port, start_anvil


def verifier(registry: Registry, **kwargs: Any) -> Verifier:
    return Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url, **kwargs)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def check(report: Report, name: str) -> tuple[CheckStatus, str]:
    c = report.check(name)
    return c.status, c.reason


@pytest.fixture(scope="module")
def batch(registry: Registry) -> Any:
    return registry.issue(6)


def test_fresh_credential_is_valid_with_every_check_passing(registry: Registry, batch: Any) -> None:
    report = verifier(registry).verify(load(batch.files[0]))
    assert report.verdict is Verdict.VALID, report.summary
    assert [c.status for c in report.checks] == [CheckStatus.PASS] * 8  # format v2: the signature too
    assert report.proofs == ["DataIntegrityProof eddsa-rdfc-2022", "CredentialRegistryAnchorProof"]
    assert report.issuer is not None
    assert report.issuer["name"] == "Universidad de Ejemplo"
    assert report.issuer["accreditedBy"] == registry.accreditor.address
    assert report.check("anchor").details["block"] == batch.anchor.anchor_block


def test_many_files_verify_together(registry: Registry, batch: Any) -> None:
    reports = verifier(registry).verify_many([(str(p), load(p)) for p in batch.files])
    assert [r.verdict for r in reports] == [Verdict.VALID] * len(batch.files)


def test_contract_view_agrees(registry: Registry, batch: Any) -> None:
    proof = load(batch.files[1])["proof"][-1]
    status = registry.client.reads.check_credential(proof["merkleRoot"], proof["credentialDigest"], proof["merklePath"])
    assert status == 0  # Valid
    flipped = list(proof["merklePath"])
    flipped[0] = "0x" + bytes(32).hex()
    reads = registry.client.reads
    assert reads.check_credential(proof["merkleRoot"], proof["credentialDigest"], flipped) == 2  # BadProof


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        (("name",), "Master of Everything"),
        (("credentialSubject", "achievement", "name"), "Brain Surgery"),
        (("credentialSubject", "result", 0, "value"), "A+"),
        (("validFrom",), "2020-01-01T00:00:00Z"),
        (("credentialSubject", "identifier", 0, "identityHash"), "sha256$" + "00" * 32),
        (("credentialSubject", "achievement", "creditsAvailable"), 60),  # ECTS (format v2)
        (("credentialSubject", "achievement", "alignment", 0, "targetCode"), "8"),  # the EQF level
    ],
)
def test_each_tampered_field_fails_integrity(
    registry: Registry, batch: Any, pointer: tuple[Any, ...], value: Any
) -> None:
    data = load(batch.files[0])
    target: Any = data
    for token in pointer[:-1]:
        target = target[token]
    assert isinstance(target, list) or pointer[-1] in target, f"{pointer} not in the issued credential"
    target[pointer[-1]] = value
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.INVALID
    status, reason = check(report, "integrity")
    assert status is CheckStatus.FAIL
    assert "altered" in reason


def test_tampered_salt_fails_integrity(registry: Registry, batch: Any) -> None:
    data = load(batch.files[0])
    salts = data["proof"][-1]["salts"]
    first = sorted(salts)[0]
    salts[first] = "0x" + "11" * 16
    report = verifier(registry).verify(data)
    assert check(report, "integrity")[0] is CheckStatus.FAIL


def test_flipped_path_element_fails_inclusion(registry: Registry, batch: Any) -> None:
    data = load(batch.files[0])
    path = data["proof"][-1]["merklePath"]
    path[0] = "0x" + bytes(b ^ 1 for b in bytes.fromhex(path[0][2:])).hex()
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.INVALID
    assert check(report, "inclusion")[0] is CheckStatus.FAIL


def test_proof_from_another_credential_fails_inclusion(registry: Registry, batch: Any) -> None:
    data = load(batch.files[0])
    data["proof"][-1]["merklePath"] = load(batch.files[1])["proof"][-1]["merklePath"]
    report = verifier(registry).verify(data)
    assert check(report, "inclusion")[0] is CheckStatus.FAIL


def test_wrong_root_fails(registry: Registry, batch: Any) -> None:
    other = registry.issue(3)
    data = load(batch.files[0])
    data["proof"][-1]["merkleRoot"] = other.root
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.INVALID
    assert check(report, "inclusion")[0] is CheckStatus.FAIL


def test_unanchored_root_fails_anchor(registry: Registry) -> None:
    """A self-consistent file whose root was never anchored: only the chain can tell."""
    from registry.core.credfile import AnchorInfo, make_credential_file
    from registry.issue.prepare import prepare_batch
    from registry.issue.signing import issuer_signer
    from tests.cohort import synthetic_cohort

    docs = list(synthetic_cohort(2, registry.profile(), ACHIEVEMENT, seed=99))
    prepared = prepare_batch(docs)
    fake = AnchorInfo(
        31337,
        registry.client.registry_address or "",
        registry.issuer_key.address.lower(),
        "0x" + "ab" * 32,
        1,
        datetime.now(UTC),
    )
    data = make_credential_file(
        docs[0],
        prepared.salts[0],
        prepared.digests[0],
        prepared.tree.root,
        prepared.tree.proof(0),
        fake,
        signer=issuer_signer(registry.issuer_key, registry.profile().id, fake.anchored_at),
    )
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.INVALID
    status, reason = check(report, "anchor")
    assert status is CheckStatus.FAIL
    assert "not anchored" in reason


def test_wrong_contract_address_fails_anchor(registry: Registry, batch: Any) -> None:
    data = load(batch.files[0])
    data["proof"][-1]["registry"] = "0x" + "42" * 20
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.INVALID
    status, reason = check(report, "anchor")
    assert status is CheckStatus.FAIL
    assert "no contract" in reason


def test_wrong_anchor_block_fails_anchor(registry: Registry, batch: Any) -> None:
    data = load(batch.files[0])
    data["proof"][-1]["anchorBlock"] += 1
    report = verifier(registry).verify(data)
    assert check(report, "anchor")[0] is CheckStatus.FAIL


def test_wrong_chain_id_is_never_valid(registry: Registry, batch: Any) -> None:
    data = load(batch.files[0])
    data["proof"][-1]["chainId"] = 1
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.INDETERMINATE
    status, reason = check(report, "anchor")
    assert status is CheckStatus.INDETERMINATE
    assert "chain 1" in reason and "serves chain 31337" in reason


def test_claimed_anchoring_key_must_match_chain(registry: Registry, batch: Any) -> None:
    data = load(batch.files[0])
    data["proof"][-1]["issuerAddress"] = registry.issuer2_key.address.lower()
    report = verifier(registry).verify(data)
    status, reason = check(report, "issuer")
    assert status is CheckStatus.FAIL
    assert "anchored by" in reason


def test_issuer_cannot_issue_in_another_issuers_name(registry: Registry) -> None:
    """Issuer 2 anchors a credential whose issuer.id names issuer 1."""
    forged = registry.issue(2, key=registry.issuer2_key, issuer=registry.profile(1))
    report = verifier(registry).verify(load(forged.files[0]))
    assert report.verdict is Verdict.INVALID
    status, reason = check(report, "issuer")
    assert status is CheckStatus.FAIL
    assert "another's name" in reason


def test_revoked_credential_is_invalid_with_reason(registry: Registry) -> None:
    issued = registry.issue(4)
    data = load(issued.files[2])
    digest = data["proof"][-1]["credentialDigest"]
    registry.client.writes.revoke_credentials(registry.issuer_key, [digest], 3)
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.INVALID
    status, reason = check(report, "revocation")
    assert status is CheckStatus.FAIL
    assert "misconduct" in reason
    # the other credentials of the batch are untouched
    assert verifier(registry).verify(load(issued.files[1])).verdict is Verdict.VALID


def test_another_issuer_cannot_revoke_my_credential(registry: Registry) -> None:
    """Revocations live in the revoking issuer's namespace: issuer 2 cannot touch issuer 1's files."""
    issued = registry.issue(2)
    data = load(issued.files[0])
    digest = bytes.fromhex(data["proof"][-1]["credentialDigest"][2:])
    chain = registry.client
    chain.writes.revoke_credentials(registry.issuer2_key, [digest], 3)  # accepted, but in issuer 2's namespace
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.VALID, report.summary
    assert chain.reads.revocations([(registry.issuer2_id, digest)])[(registry.issuer2_id, "0x" + digest.hex())]
    assert chain.reads.revocations([(registry.issuer_id, digest)])[(registry.issuer_id, "0x" + digest.hex())] is None


def test_revoked_batch_is_invalid(registry: Registry) -> None:
    issued = registry.issue(3)
    registry.client.writes.revoke_batch(registry.issuer_key, issued.root, 1)
    report = verifier(registry).verify(load(issued.files[0]))
    status, reason = check(report, "revocation")
    assert status is CheckStatus.FAIL
    assert "whole batch" in reason


def test_expired_and_not_yet_valid(registry: Registry) -> None:
    now = datetime.now(UTC)
    docs = [
        build_credential(
            achievement=ACHIEVEMENT,
            issuer=registry.profile(),
            recipient_email="old@example.org",
            valid_from=now - timedelta(days=800),
            valid_until=now - timedelta(days=1),
        ),
        build_credential(
            achievement=ACHIEVEMENT,
            issuer=registry.profile(),
            recipient_email="new@example.org",
            valid_from=now + timedelta(days=30),
        ),
    ]
    issued = registry.issue(docs=docs)
    expired = verifier(registry).verify(load(issued.files[0]))
    assert expired.verdict is Verdict.INVALID
    assert check(expired, "validity")[0] is CheckStatus.FAIL and "expired" in check(expired, "validity")[1]
    early = verifier(registry).verify(load(issued.files[1]))
    assert check(early, "validity")[0] is CheckStatus.FAIL and "not yet valid" in check(early, "validity")[1]


def test_rpc_down_is_indeterminate_never_invalid(registry: Registry, batch: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    report = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=dead, timeout=2).verify(load(batch.files[0]))
    assert report.verdict is Verdict.INDETERMINATE
    for name in ("anchor", "issuer", "revocation"):
        status, reason = check(report, name)
        assert status is CheckStatus.INDETERMINATE
        assert "could not read the chain" in reason
    for name in ("format", "integrity", "inclusion", "validity"):
        assert check(report, name)[0] is CheckStatus.PASS


def test_offline_mode_says_anchoring_was_not_checked(batch: Any) -> None:
    report = Verifier(VerificationPolicy(offline=True)).verify(load(batch.files[0]))
    assert report.verdict is Verdict.INDETERMINATE
    assert report.offline
    assert "offline" in check(report, "anchor")[1]


def test_a_registry_the_user_does_not_trust_is_never_valid(registry: Registry, batch: Any) -> None:
    report = Verifier(VerificationPolicy(trusted={31337: {"0x" + "42" * 20}}), rpc_url=registry.rpc_url).verify(
        load(batch.files[0])
    )
    status, reason = check(report, "issuer")
    assert report.verdict is Verdict.INDETERMINATE
    assert status is CheckStatus.INDETERMINATE and "is not one you trust" in reason
    assert f"registry trust add 31337 {registry.client.registry_address}" in reason
    trusted = verifier(registry).verify(load(batch.files[0]))
    assert "registry trust add" not in check(trusted, "issuer")[1]
    assert check(trusted, "issuer")[1].endswith("registry trusted via the caller's policy")


def test_malformed_file_fails_format(registry: Registry) -> None:
    report = verifier(registry).verify(b"{not json")
    assert report.verdict is Verdict.INVALID
    assert check(report, "format")[0] is CheckStatus.FAIL


def test_cli_exit_codes_and_json(registry: Registry, batch: Any, tmp_path: Path) -> None:
    good = batch.files[0]
    bad = tmp_path / "bad.json"
    data = load(good)
    data["name"] = "tampered"
    bad.write_text(json.dumps(data))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "REGISTRY_HOME": str(registry.settings.home),  # a project folder: its deployments file is trusted
            "PATH": str(Path(sys.executable).parent),
            "REGISTRY_CONFIG_DIR": str(tmp_path / "config"),
        }
        return subprocess.run(
            [sys.executable, "-m", "registry.cli", "verify", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    ok = run(str(good), "--rpc", registry.rpc_url, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verdict"] == "VALID"
    issuer = next(c for c in json.loads(ok.stdout)["checks"] if c["name"] == "issuer")
    assert issuer["details"]["trustSource"] == f"the deployments file {registry.settings.deployments_file}"
    assert run(str(bad), "--rpc", registry.rpc_url).returncode == 1
    down = run(str(good), "--rpc", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert down.returncode == 2
    assert "INDETERMINATE" in down.stdout
    missing = run(str(tmp_path / "nope.json"))
    assert missing.returncode == 3
    assert "no such file" in missing.stderr


def test_redacted_file_verifies_and_lists_hidden_fields(registry: Registry, batch: Any) -> None:
    from registry.core.credfile import redact

    data = load(batch.files[3])
    hidden = redact(data, ["/credentialSubject/result"])
    report = verifier(registry).verify(hidden)
    assert report.verdict is Verdict.VALID, report.summary
    assert report.hidden_fields == ["/credentialSubject/result"]
    assert "result" not in hidden["credentialSubject"]


def test_local_chain_state_survives_restart(tmp_path: Path) -> None:
    """`registry chain down` / `up`: anchored batches are still there."""
    from registry.chain.admin import deploy_registry
    from registry.chain.devkeys import dev_account
    from registry.config import Settings

    chain = start_anvil(tmp_path / "chain")
    try:
        client = Chain(chain.rpc_url)
        record = deploy_registry(Settings(home=tmp_path / "home"), client, dev_account("admin", 31337))
        head = client.reads.head()
    finally:
        chain.down()
    assert not chain.status().running
    chain.up()
    try:
        again = Chain(chain.rpc_url, record["address"])
        assert again.reads.head() >= head
        assert again.reads.has_code(record["address"])
        assert keccak256_hex(again.reads.runtime_code(record["address"])) == record["codeHash"]
    finally:
        chain.down()


def test_deploy_refuses_to_overwrite_without_force(registry: Registry) -> None:
    from registry.chain.admin import deploy_registry
    from registry.errors import DeploymentError

    with pytest.raises(DeploymentError, match="already deployed"):
        deploy_registry(registry.settings, Chain(registry.rpc_url), registry.admin)


def test_rpc_url_comes_from_known_networks_by_chain_id(registry: Registry, batch: Any, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    env = {
        "REGISTRY_HOME": str(tmp_path / "home"),
        "REGISTRY_CONFIG_DIR": str(config),
        "PATH": str(Path(sys.executable).parent),
    }
    cmd = [sys.executable, "-m", "registry.cli", "verify", str(batch.files[0])]
    (config / "networks.json").write_text(json.dumps({"31337": {"rpc": registry.rpc_url}}))
    untrusted = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert untrusted.returncode == 2, untrusted.stdout  # nothing trusted: never VALID
    assert "registry trust add 31337" in untrusted.stdout
    address = registry.client.registry_address
    assert address is not None
    trust = [sys.executable, "-m", "registry.cli", "trust"]
    added = subprocess.run([*trust, "add", "31337", address], capture_output=True, text=True, env=env, check=False)
    assert added.returncode == 0 and "now trusted" in added.stdout, added.stderr
    listed = subprocess.run([*trust, "list"], capture_output=True, text=True, env=env, check=False)
    assert address.lower() in listed.stdout and "networks.json" in listed.stdout
    assert json.loads((config / "networks.json").read_text())["31337"]["rpc"] == registry.rpc_url  # kept
    assert subprocess.run(cmd, capture_output=True, text=True, env=env, check=False).returncode == 0
    removed = subprocess.run([*trust, "remove", "31337", address], capture_output=True, text=True, env=env, check=False)
    assert removed.returncode == 0 and "no longer trusted" in removed.stdout
    bad_address = subprocess.run([*trust, "add", "31337", "0x12"], capture_output=True, text=True, env=env, check=False)
    assert bad_address.returncode == 3 and "not a contract address" in bad_address.stderr
    pinned = {"31337": {"rpc": registry.rpc_url, "registries": ["0x" + "42" * 20]}}
    (config / "networks.json").write_text(json.dumps(pinned))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2
    assert "is not one you trust" in proc.stdout
    (config / "networks.json").write_text("[1, 2]")
    bad = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 3
    assert "networks.json" in bad.stderr


def test_address_that_is_not_a_registry_fails_anchor(registry: Registry, batch: Any) -> None:
    """A contract whose views revert (here: the GasProbe) is not a registry: INVALID, not an outage."""
    from registry.chain.artifacts import load_artifact

    art = load_artifact("GasProbe")
    deployed = registry.client.sender.create(registry.admin, bytes.fromhex(art.bytecode[2:]), "deploy probe")
    probe = deployed.contract_address
    assert probe is not None
    data = load(batch.files[0])
    data["proof"][-1]["registry"] = probe.lower()
    report = verifier(registry).verify(data)
    assert report.verdict is Verdict.INVALID
    status, reason = check(report, "anchor")
    assert status is CheckStatus.FAIL and "does not answer as a credential registry" in reason


def test_chain_up_refuses_a_node_it_did_not_start(tmp_path: Path) -> None:
    """Another data directory's anvil on the same port is never silently reused."""
    from registry.chain.local import LocalChain
    from registry.errors import ConfigError

    mine = start_anvil(tmp_path / "a")
    try:
        other = LocalChain(tmp_path / "b", port=mine.port)
        with pytest.raises(ConfigError, match="did not start"):
            other.up()
        assert mine.up().running  # idempotent for its own data directory
    finally:
        mine.down()
