#!/usr/bin/env python3
"""`make demo`: the registry end to end on the embedded default (local anvil + files).

1. start the local chain (state persists in .registry/), deploy the registry once;
2. the admin appoints an accreditation body, which admits the demo university as an issuer;
3. the university issues Open Badges 3.0 micro-credentials to a generated cohort of 1,000
   learners and anchors the whole batch with ONE transaction; files go to demo-out/;
4. an employer verifies one file with nothing but the file and the RPC (`registry verify`);
5. the learner hides the grade (selective disclosure) and the redacted file still verifies;
6. the university revokes one credential: its file now verifies INVALID with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.contracts import load_artifact  # noqa: E402
from registry.credential import Achievement, IssuerProfile  # noqa: E402
from registry.devkeys import dev_account  # noqa: E402
from registry.errors import DeploymentError  # noqa: E402
from registry.issuing import issue_and_anchor  # noqa: E402
from registry.localchain import LocalChain  # noqa: E402
from registry.ops import (  # noqa: E402
    admit_issuer,
    connect,
    deploy_registry,
    grant_accreditor,
    revoke_credentials,
)
from registry.pipeline import synthetic_cohort  # noqa: E402

console = Console()
COHORT = int(os.environ.get("DEMO_COHORT", "1000"))
OUT = ROOT / "demo-out"


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `registry` command, as a user would."""
    cmd = [sys.executable, "-m", "registry.cli", *args]
    console.print(f"$ registry {' '.join(args)}", style="dim", highlight=False)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc


def expect(proc: subprocess.CompletedProcess[str], code: int, what: str) -> None:
    if proc.returncode != code:
        console.print(f"[bold red]demo failed:[/] {what}: exit {proc.returncode}, expected {code}")
        raise SystemExit(1)


def main() -> int:
    started = time.monotonic()
    settings = Settings()
    step("1. Local chain and registry contract")
    chain = LocalChain(settings.data_dir)
    status = chain.up()
    console.print(
        f"anvil at {status.rpc_url}, chain {status.chain_id}, block {status.block}; "
        f"state persists in {status.state_file}"
    )
    try:
        client = connect(settings, status.rpc_url)
        code = client.runtime_code(client.registry_address or "")
        if "0x" + code.hex() != load_artifact("CredentialRegistry").deployed_bytecode:
            raise DeploymentError("the contract source changed since the last local deployment")
        console.print(f"registry already deployed at {client.registry_address}")
    except DeploymentError as exc:
        from registry.chain import ChainClient

        console.print(f"deploying: {exc}")
        client = ChainClient(status.rpc_url)
        record = deploy_registry(settings, client, dev_account("admin", 31337), force=True)
        console.print(f"deployed CredentialRegistry at {record['address']} (block {record['block']})")
    chain_id = client.chain_id()

    step("2. Accreditation body admits the issuer")
    admin = dev_account("admin", chain_id)
    accreditor = dev_account("accreditor", chain_id)
    issuer_key = dev_account("issuer", chain_id)
    grant_accreditor(client, admin, accreditor.address)
    issuer_id = admit_issuer(client, accreditor, "Universidad de Ejemplo", "did:web:uni.example", issuer_key.address)
    info = client.issuers([issuer_id])[issuer_id]
    console.print(
        f"issuer #{issuer_id} {info.name} ({info.did}) accredited by {info.admitted_by}, "
        f"anchoring key {info.active_key}"
    )

    step(f"3. Issue {COHORT} micro-credentials and anchor the batch")
    issuer = IssuerProfile(id=info.did, name=info.name, url="https://uni.example")
    achievement = Achievement(
        id="https://uni.example/achievements/data-literacy",
        name="Data Literacy for Public Administration",
        description="Short course on collecting, analysing and communicating public-sector data.",
        criteria_narrative="Completed all modules and passed the final project with at least 60%.",
        learning_outcomes=[
            "Clean and combine open data sets",
            "Choose and explain appropriate statistical summaries",
            "Communicate findings to non-specialists",
        ],
        workload_ects=3.0,
        eqf_level=6,
        assessment_type="Supervised online final project",
        participation_form="online",
        quality_assurance="Internal QA of the Faculty of Economics, accredited by the national agency",
    )
    t0 = time.monotonic()
    docs = list(synthetic_cohort(COHORT, issuer, achievement, seed=int(time.time())))
    batch_dir = OUT / f"batch-{int(time.time())}"
    issued = issue_and_anchor(client, issuer_key, docs, batch_dir)
    console.print(
        f"{len(issued.files)} credential files in {batch_dir.relative_to(ROOT)} "
        f"({time.monotonic() - t0:.1f} s); root {issued.root} anchored in block "
        f"{issued.anchor.anchor_block}, tx {issued.anchor.anchor_tx}, gas {issued.gas_used}"
    )
    onchain = client.batches([issued.root])[issued.root]
    assert onchain is not None
    console.print(
        f"read back from the chain: {onchain.count} credentials, issuer #{onchain.issuer_id}, "
        f"anchored at block {onchain.block_number}"
    )

    rpc = ["--rpc", status.rpc_url]
    first, second = issued.files[0], issued.files[1]
    step("4. An employer verifies a credential: only the file and the RPC")
    expect(cli("verify", str(first.relative_to(ROOT)), *rpc), 0, "verification of a fresh credential")

    step("5. The learner hides the grade and shares the redacted file")
    redacted = first.with_name(first.stem + ".redacted.json")
    hide = _grade_path(json.loads(first.read_text()))
    expect(
        cli(
            "redact",
            str(first.relative_to(ROOT)),
            "--hide",
            hide,
            "-o",
            str(redacted.relative_to(ROOT)),
        ),
        0,
        "redaction",
    )
    expect(
        cli("verify", str(redacted.relative_to(ROOT)), *rpc),
        0,
        "verification of the redacted credential",
    )

    step("6. The university revokes one credential")
    data = json.loads(second.read_text())
    digest = data["proof"][0]["credentialDigest"]
    tx = revoke_credentials(client, issuer_key, [bytes.fromhex(digest[2:])], 1)
    console.print(f"revoked {digest[:18]}… (reason: issued in error) in block {tx.block_number}, gas {tx.gas_used}")
    expect(
        cli("verify", str(second.relative_to(ROOT)), *rpc),
        1,
        "verification of the revoked credential",
    )

    step("Summary")
    console.print(
        f"VALID, VALID with hidden fields and INVALID (revoked) shown from files on disk in "
        f"{time.monotonic() - started:.1f} s.\nThe chain keeps its state: after `registry chain down` and "
        f"`registry chain up`, `registry verify {first.relative_to(ROOT)}` verifies again."
    )
    return 0


def _grade_path(doc: dict[str, object]) -> str:
    subject = doc["credentialSubject"]
    assert isinstance(subject, dict)
    for key in ("result", "grade"):
        if key in subject:
            return f"/credentialSubject/{key}"
    raise SystemExit("demo credential has no grade to hide")


if __name__ == "__main__":
    raise SystemExit(main())
