#!/usr/bin/env python3
"""`make demo`: the registry end to end on the embedded default (local anvil + files).

1. start the local chain (state persists in .registry/), deploy the registry once;
2. the admin appoints an accreditation body, which admits the demo university as an issuer;
3. the university issues Open Badges 3.0 micro-credentials to a generated cohort of 1,000
   learners and anchors the whole batch with ONE transaction; files go to demo-out/;
4. an employer verifies one file with nothing but the file and the RPC (`registry verify`);
5. the learner hides the grade (selective disclosure) and the redacted file still verifies;
6. the university revokes one credential: its file now verifies INVALID with the reason;
7. a second issuer runs the issuer service: REST API, CSV import, the anchoring worker, a baked
   badge download that verifies, the share page;
8. an auditor reads the whole on-chain history, reconciles it with the service's database,
   checks the deployed bytecode against contracts/ and writes a self-contained HTML report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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

    step("7. A second issuer uses the issuer service (REST API + anchoring worker)")
    service_db = service_demo(settings, client, status.rpc_url)

    step("8. The auditor: on-chain history, reconciliation, bytecode, sample of files")
    report = OUT / "audit-report.html"
    files_dir = str(batch_dir.relative_to(ROOT))
    expect(
        cli("audit", "--rpc", status.rpc_url, "--issuer", "did:web:etsi.example", "--db", service_db),
        0,
        "reconciliation of the service's database with the chain",
    )
    audit_all = ["audit", "--rpc", status.rpc_url, "--files", files_dir, "--sample", "50"]
    expect(cli(*audit_all), 0, "audit of the whole registry")
    expect(cli(*audit_all, "--format", "html", "--out", str(report.relative_to(ROOT))), 0, "HTML audit report")

    step("Summary")
    console.print(
        f"VALID, VALID with hidden fields and INVALID (revoked) shown from files on disk; the service issued and "
        f"anchored a CSV import; the audit found nothing to report. {time.monotonic() - started:.1f} s in all.\n"
        f"Audit report: {report}\n"
        f"The chain keeps its state: after `registry chain down` and `registry chain up`, "
        f"`registry verify {first.relative_to(ROOT)}` verifies again."
    )
    return 0


def service_demo(settings: Settings, client: Any, rpc_url: str) -> str:
    """Issue through the service's REST API; the in-process worker seals and anchors."""
    import csv
    import io
    import socket

    import httpx
    from sqlmodel import Session, select

    from registry.api.app import serve_in_background
    from registry.store import Issuer, make_engine
    from registry.store.service import create_api_key, create_issuer

    chain_id = client.chain_id()
    key = dev_account("issuer2", chain_id)
    issuer_id = admit_issuer(
        client, dev_account("accreditor", chain_id), "Escuela Técnica Superior", "did:web:etsi.example", key.address
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    db_url = f"sqlite:///{settings.data_dir / 'service-demo.db'}"
    svc = Settings(
        home=settings.home,
        rpc_url=rpc_url,
        database_url=db_url,
        port=port,
        batch_max_age=1.0,
        worker_interval=0.2,
        public_url=f"http://127.0.0.1:{port}",
    )
    server, thread = serve_in_background(svc, port=port)
    try:
        engine = make_engine(db_url)
        with Session(engine) as session:
            issuer = session.exec(select(Issuer).where(Issuer.did == "did:web:etsi.example")).first()
            if issuer is None:
                issuer = create_issuer(
                    session,
                    name="Escuela Técnica Superior",
                    did="did:web:etsi.example",
                    key_source="dev:issuer2",
                    key_address=key.address,
                )
            assert issuer.id is not None
            _, token = create_api_key(session, issuer.id, "demo")
            session.commit()
        console.print(
            f"service on http://127.0.0.1:{port} (issuer #{issuer_id} on chain; API key created, stored hashed)"
        )
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": token}, timeout=30)
        achievement = {
            "name": "Cloud Security Fundamentals",
            "description": "Micro-credential on securing cloud workloads.",
            "criteria_narrative": "Passed the practical assessment.",
            "learning_outcomes": ["Apply least privilege", "Detect misconfigurations"],
            "workload_ects": 2.0, "eqf_level": 5, "assessment_type": "Practical lab exam",
            "participation_form": "blended", "quality_assurance": "ISO 9001 certified training unit",
        }  # fmt: skip
        created = api.post("/v1/achievements", json=achievement)
        if created.status_code == 409:
            ach_id = next(a["id"] for a in api.get("/v1/achievements").json() if a["name"] == achievement["name"])
        else:
            created.raise_for_status()
            ach_id = created.json()["id"]
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(["email", "name", "result"])
        for i in range(50):
            writer.writerow([f"learner{i}@example.org", f"Learner {i}", "pass"])
        imported = api.post(
            "/v1/credentials/import",
            data={"achievement_id": str(ach_id)},
            files={"file": ("cohort.csv", rows.getvalue().encode(), "text/csv")},
        )
        imported.raise_for_status()
        console.print(f"POST /v1/credentials/import: {imported.status_code}, 50 learners queued")
        api.post("/v1/batches/seal").raise_for_status()
        deadline = time.monotonic() + 90
        while True:
            batches = api.get("/v1/batches").json()
            latest = max(batches, key=lambda b: b["id"])
            if latest["state"] == "confirmed":
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"demo failed: batch stuck in state {latest['state']}")
            time.sleep(0.3)
        console.print(f"batch #{latest['id']} confirmed by the worker: {latest}")
        creds = api.get("/v1/credentials", params={"batch_id": latest["id"], "limit": 1}).json()
        public_id = creds[0]["id"] if isinstance(creds, list) else creds["items"][0]["id"]
        png = api.get(f"/v1/credentials/{public_id}/file", params={"format": "png"})
        png.raise_for_status()
        badge = OUT / "service" / f"{public_id}.png"
        badge.parent.mkdir(parents=True, exist_ok=True)
        badge.write_bytes(png.content)
        console.print(
            f"baked badge downloaded: {badge.relative_to(ROOT)} ({len(png.content)} bytes); "
            f"share page http://127.0.0.1:{port}/c/{public_id}"
        )
        expect(cli("verify", str(badge.relative_to(ROOT)), "--rpc", rpc_url), 0, "verification of a baked badge")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return db_url


def _grade_path(doc: dict[str, object]) -> str:
    subject = doc["credentialSubject"]
    assert isinstance(subject, dict)
    for key in ("result", "grade"):
        if key in subject:
            return f"/credentialSubject/{key}"
    raise SystemExit("demo credential has no grade to hide")


if __name__ == "__main__":
    raise SystemExit(main())
