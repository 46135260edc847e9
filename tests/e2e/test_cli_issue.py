"""`registry issue` and `registry revoke` against a real anvil: the non-service path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from registry.verify import Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry

ACHIEVEMENT = {
    "id": "https://uni.example/achievements/sql",
    "name": "SQL for Analysts",
    "description": "Querying relational data.",
    "criteria_narrative": "Passed the exam.",
    "learning_outcomes": ["Write joins", "Aggregate data"],
    "workload_ects": 1.5,
    "eqf_level": 5,
    "assessment_type": "Online exam",
    "participation_form": "online",
    "quality_assurance": "Faculty QA",
}


def run(registry: Registry, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,  # the root conftest's temporary HOME and config directory
        "REGISTRY_HOME": str(registry.settings.home),
        "REGISTRY_CONFIG_DIR": str(tmp / "config"),
        "PATH": str(Path(sys.executable).parent),
    }
    cmd = [sys.executable, "-m", "registry.cli", *args, "--rpc", registry.rpc_url]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def test_issue_from_csv_then_revoke(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "ach.json").write_text(json.dumps(ACHIEVEMENT))
    # relative to the clock, never a fixed date that the suite's own calendar will one day pass
    until = (datetime.now(UTC) + timedelta(days=5 * 365)).date().isoformat()
    rows = ["email,name,result,valid_until"] + [f"l{i}@example.org,Learner {i},pass,{until}" for i in range(25)]
    (tmp_path / "learners.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    args = ["--csv", str(tmp_path / "learners.csv"), "--achievement", str(tmp_path / "ach.json"), "--out", str(out)]
    proc = run(registry, tmp_path, "issue", *args)
    assert proc.returncode == 0, proc.stderr
    assert "issued 25 credentials of Universidad de Ejemplo" in proc.stdout
    files = sorted(out.glob("*.json"))
    assert len(files) == 25
    data = json.loads(files[0].read_text())
    assert data["issuer"]["id"] == "did:web:uni.example"
    assert data["validUntil"].startswith(until)
    # validity judged on an injected clock: inside the period, and after it
    issued = datetime.fromisoformat(data["validFrom"].replace("Z", "+00:00"))
    verifier = Verifier(
        VerificationPolicy(trusted=registry.trust, now=issued + timedelta(days=1)), rpc_url=registry.rpc_url
    )
    assert verifier.verify(data).verdict is Verdict.VALID
    expires = datetime.fromisoformat(data["validUntil"].replace("Z", "+00:00"))
    late = Verifier(
        VerificationPolicy(trusted=registry.trust, now=expires + timedelta(days=1)), rpc_url=registry.rpc_url
    ).verify(data)
    assert late.verdict is Verdict.INVALID
    assert late.check("validity").reason.startswith("expired on " + until)

    revoked = run(registry, tmp_path, "revoke", str(files[0]), str(files[1]), "--reason", "2")
    assert revoked.returncode == 0, revoked.stderr
    assert "2 credential(s) revoked (superseded" in revoked.stdout
    reports = verifier.verify_many([(str(f), json.loads(f.read_text())) for f in files[:3]])
    assert [r.verdict for r in reports] == [Verdict.INVALID, Verdict.INVALID, Verdict.VALID]
    again = run(registry, tmp_path, "revoke", str(files[0]))
    assert again.returncode == 5
    assert "CredentialAlreadyRevoked" in again.stderr


def test_bad_csv_is_rejected_by_row_and_nothing_is_anchored(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "ach.json").write_text(json.dumps(ACHIEVEMENT))
    (tmp_path / "bad.csv").write_text("email,name\nok@example.org,Ok\nnot-an-email,Bad\n")
    head = registry.client.reads.head()
    args = [
        "--csv",
        str(tmp_path / "bad.csv"),
        "--achievement",
        str(tmp_path / "ach.json"),
        "--out",
        str(tmp_path / "o"),
    ]
    proc = run(registry, tmp_path, "issue", *args)
    assert proc.returncode == 3
    assert "row 3" in proc.stderr and "email" in proc.stderr
    assert registry.client.reads.head() == head  # no transaction
    assert not (tmp_path / "o").exists()
    (tmp_path / "bad-ach.json").write_text(json.dumps({**ACHIEVEMENT, "eqf_level": 11}))
    (tmp_path / "good.csv").write_text("email\nok@example.org\n")
    args = [
        "--csv",
        str(tmp_path / "good.csv"),
        "--achievement",
        str(tmp_path / "bad-ach.json"),
        "--out",
        str(tmp_path / "o"),
    ]
    bad_ach = run(registry, tmp_path, "issue", *args)
    assert bad_ach.returncode == 3
    assert "eqf_level" in bad_ach.stderr


def test_another_issuers_key_cannot_revoke_through_the_cli(registry: Registry, tmp_path: Path) -> None:
    """The CLI signs with the configured key; a key of another issuer revokes nothing of ours."""
    batch = registry.issue(2)
    # issuer 2's dev key is not the CLI's default role; use the library path to show the namespace rule
    digest = bytes.fromhex(json.loads(batch.files[0].read_text())["proof"][-1]["credentialDigest"][2:])
    registry.client.writes.revoke_credentials(registry.issuer2_key, [digest], 1)
    data = json.loads(batch.files[0].read_text())
    valid_from = datetime.fromisoformat(data["validFrom"].replace("Z", "+00:00"))
    policy = VerificationPolicy(trusted=registry.trust, now=valid_from + timedelta(days=30))
    report = Verifier(policy, rpc_url=registry.rpc_url).verify(data)
    assert report.verdict is Verdict.VALID
