#!/usr/bin/env python3
"""`make demo`: the whole story on the embedded default (local anvil + SQLite), in about a minute.

1. the local chain comes up (state persists in .registry/) and the registry contract is deployed;
2. the admin appoints an accreditation body, which admits two issuers;
3. the university issues Open Badges 3.0 micro-credentials to 1,000 learners from a CSV with the
   CLI (`registry issue`): one transaction anchors the whole batch;
4. the technical school runs the issuer service: it imports a CSV of 1,000 learners through the
   REST API, the worker anchors, the files and baked badges are downloaded into demo-out/, and
   the service is stopped;
5. an employer verifies with nothing but the file and the RPC: a JSON file and a baked badge;
   then, as a stranger to the project (an empty folder, an empty HOME), the file is INDETERMINATE
   until the employer trusts the registry (`registry trust add`), then VALID; a look-alike
   registry's forgery in the university's name is never VALID; the self-contained verifier page
   is written (`registry verifier-page`);
6. a learner hides the grade (selective disclosure) and the file still verifies;
7. the university revokes one credential (`registry revoke`): it now verifies INVALID;
   the school corrects a learner's name (`registry reissue`) and renews another credential
   (`POST /v1/credentials/{id}/renew`): the worker anchors the new credentials, records on chain
   that they replace the old ones, the LMS gets ``credential.superseded``; the old files verify
   INVALID (superseded), the new ones VALID, saying what they replace;
8. an auditor reconciles the chain with the service's database, checks the deployed bytecode
   and a sample of files, and writes a self-contained HTML report; the look-alike watch
   (`registry audit --look-alikes`) finds the forger's registry.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from registry.chain.adapter import Chain  # noqa: E402
from registry.chain.admin import connect, deploy_registry  # noqa: E402
from registry.chain.artifacts import load_artifact  # noqa: E402
from registry.chain.devkeys import dev_account  # noqa: E402
from registry.chain.local import LocalChain  # noqa: E402
from registry.config import Settings  # noqa: E402
from registry.errors import DeploymentError  # noqa: E402
from registry.issue.signing import did_document, signing_public_key  # noqa: E402
from registry.service.webhooks import verify_signature  # noqa: E402

console = Console()
COHORT = int(os.environ.get("DEMO_COHORT", "1000"))
OUT = ROOT / "demo-out"
UNI = ("Universidad de Ejemplo", "did:web:uni.example", "issuer")
ETSI = ("Escuela Técnica Superior", "did:web:etsi.example", "issuer2")
ACCREDITATION_BODY = ("Demo Accreditation Agency", "did:web:accreditation.example")
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim", "Leslie", "Margaret"]
LAST = ["García", "Müller", "Rossi", "Novak", "Silva", "Dubois", "Nowak", "Jensen", "Kowalski", "O'Brien", "Lindqvist"]


def file_stem(credential_id: str) -> str:
    """The name a service credential's files get here, as the service names its downloads
    (``credential-ID``): a share id may start with ``-``, which a shell command would take for an
    option."""
    return f"credential-{credential_id}"


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def cli(*args: str, cwd: Path = ROOT, home: Path | None = None, echo: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real `registry` command, as a user would: in this project folder, or (``home``)
    as someone else in an empty folder with an empty HOME, who knows nothing of our deployment.
    ``echo``: show its standard output (not for output meant for a file, such as a CSV)."""
    env = dict(os.environ)
    if home is not None:
        env.pop("REGISTRY_HOME", None)
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
        env.pop("REGISTRY_CONFIG_DIR", None)
    where = "" if cwd == ROOT else f"({cwd.name}) "
    console.print(f"{where}$ registry {' '.join(args)}", style="dim", highlight=False)
    proc = subprocess.run(
        [sys.executable, "-m", "registry.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )
    if echo:
        sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc


def expect(proc: subprocess.CompletedProcess[str], code: int, what: str) -> None:
    if proc.returncode != code:
        console.print(f"[bold red]demo failed:[/] {what}: exit {proc.returncode}, expected {code}")
        raise SystemExit(1)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def cohort_csv(n: int, seed: int) -> str:
    r = random.Random(seed)
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["email", "name", "result", "valid_until"])
    for i in range(n):
        first, last = r.choice(FIRST), r.choice(LAST)
        email = f"{first}.{last}.{i}@learners.example".lower().replace("'", "").replace("ü", "u").replace("í", "i")
        writer.writerow([email, f"{first} {last}", r.choice(["pass", "merit", "distinction"]), "2031-06-30"])
    return rows.getvalue()


ACHIEVEMENTS = {
    "uni": {
        "id": "https://uni.example/achievements/data-literacy",
        "name": "Data Literacy for Public Administration",
        "description": "Short course on collecting, analysing and communicating public-sector data.",
        "criteria_narrative": "Completed all modules and passed the final project with at least 60%.",
        "learning_outcomes": ["Clean and combine open data sets", "Communicate findings to non-specialists"],
        "workload_ects": 3.0,
        "eqf_level": 6,
        "assessment_type": "Supervised online final project",
        "participation_form": "online",
        "quality_assurance": "Faculty QA, accredited by the national agency",
    },
    "etsi": {
        "name": "Cloud Security Fundamentals",
        "description": "Micro-credential on securing cloud workloads.",
        "criteria_narrative": "Passed the practical lab assessment.",
        "learning_outcomes": ["Apply least privilege", "Detect misconfigurations"],
        "workload_ects": 2.0,
        "eqf_level": 5,
        "assessment_type": "Practical lab exam",
        "participation_form": "blended",
        "quality_assurance": "ISO 9001 certified training unit",
    },
}
ETSI_LAB = {
    **ACHIEVEMENTS["etsi"],
    "id": "https://etsi.example/achievements/cloud-security-lab",
    "name": "Cloud Security Lab",
}
"""The school's achievement in the learner's stack (step 9), issued through its service in step 4."""


def main() -> int:
    started = time.monotonic()
    settings = Settings()
    run_dir = OUT / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)

    step("1. Local chain and registry contract")
    chain = LocalChain(settings.data_dir)
    status = chain.up()
    rpc = status.rpc_url
    console.print(f"anvil at {rpc}, chain {status.chain_id}, block {status.block}; state in {status.state_file}")
    try:
        client = connect(settings, rpc)
        code = client.reads.runtime_code(client.registry_address or "")
        if "0x" + code.hex() != load_artifact("CredentialRegistry").deployed_bytecode:
            raise DeploymentError("the contract source changed since the last local deployment")
        console.print(f"registry already deployed at {client.registry_address}")
    except DeploymentError as exc:
        console.print(f"deploying ({exc})")
        client = Chain(rpc)
        record = deploy_registry(settings, client, dev_account("admin", 31337), force=True)
        console.print(f"deployed CredentialRegistry at {record['address']} (block {record['block']})")
    chain_id = client.reads.chain_id()

    step("2. The admin appoints a named accreditation body, which admits two issuers")
    accreditor = dev_account("accreditor", chain_id)
    body_name, body_did = ACCREDITATION_BODY
    expect(
        cli("accreditor", accreditor.address, "--name", body_name, "--uri", body_did, "--rpc", rpc), 0, "appointment"
    )
    body = client.reads.accreditors([accreditor.address])[accreditor.address]
    for name, did, role in (UNI, ETSI):
        key = dev_account(role, chain_id).address
        expect(cli("issuer", "admit", name, did, key, "--rpc", rpc), 0, f"admission of {name}")
        issuer_id = client.reads.issuer_id_by_uri(did)
        info = client.reads.issuers([issuer_id])[issuer_id]
        console.print(f"issuer #{issuer_id} {info.name} ({info.did}), accredited by {body.label} ({info.admitted_by})")
    # Directory writes are recorded before they are sent: a killed command resumes, never sends twice.
    expect(cli("directory", "list"), 0, "the recorded directory changes")

    step(f"3. The university issues {COHORT} credentials from a CSV with the CLI")
    (run_dir / "uni-learners.csv").write_text(cohort_csv(COHORT, seed=1))
    (run_dir / "uni-achievement.json").write_text(json.dumps(ACHIEVEMENTS["uni"], indent=2, ensure_ascii=False))
    uni_dir = run_dir / "universidad"
    learners, achievement = rel(run_dir / "uni-learners.csv"), rel(run_dir / "uni-achievement.json")
    issue_args = ["issue", "--csv", learners, "--achievement", achievement, "--out", rel(uni_dir), "--rpc", rpc]
    expect(cli(*issue_args), 0, "CLI issuance")
    did_args = ["did-document", "--rpc", rpc, "--out", rel(uni_dir / "did.json")]
    expect(cli(*did_args), 0, "the university's DID document (its signing key, for standard verifiers)")

    step(f"4. The technical school imports {COHORT} learners through the issuer service")
    service_dir = run_dir / "service"
    service_db, service_ids, school_file = service_story(settings, rpc, service_dir)
    public_id = service_ids[0]
    etsi_key = dev_account(ETSI[2], chain_id)
    etsi_did = did_document(ETSI[1], signing_public_key(etsi_key), chain_id, etsi_key.address)
    (service_dir / "did.json").write_text(json.dumps(etsi_did, indent=2) + "\n")

    step("5. An employer verifies: only the file and the RPC (the service is stopped)")
    service_file = service_dir / f"{file_stem(public_id)}.json"
    expect(cli("verify", rel(service_file), "--rpc", rpc), 0, "verification of a service-issued file")
    expect(
        cli("verify", rel(service_dir / f"{file_stem(public_id)}.png"), "--rpc", rpc),
        0,
        "verification of a baked badge",
    )
    for lang in ("en", "es"):
        pdf = service_dir / f"{file_stem(public_id)}.certificate-{lang}.pdf"
        certificate = ["certificate", rel(service_file), "--out", rel(pdf), "--lang", lang]
        expect(cli(*certificate), 0, f"a printable certificate ({lang})")

    step("5b. An employer in an empty folder: trust the registry first")
    employer = run_dir / "employer"
    (employer / "home").mkdir(parents=True, exist_ok=True)
    shared = str(service_file.resolve())
    as_employer: dict[str, Any] = {"cwd": employer, "home": employer / "home"}
    expect(cli("verify", shared, "--rpc", rpc, **as_employer), 2, "an untrusted registry is not VALID")
    address = client.registry_address or ""
    expect(cli("trust", "add", str(chain_id), address, **as_employer), 0, "trusting the demo registry")
    expect(cli("verify", shared, "--rpc", rpc, **as_employer), 0, "verification once the registry is trusted")
    forged = forge(rpc, run_dir / "forger")
    expect(cli("verify", str(forged.resolve()), "--rpc", rpc, **as_employer), 2, "a look-alike registry's forgery")
    page = run_dir / "verifier.html"
    expect(cli("verifier-page", "--out", rel(page), "--rpc", rpc), 0, "the self-contained verifier page")

    step("6. The learner hides the grade and shares the redacted file")
    redacted = service_dir / f"{file_stem(public_id)}.redacted.json"
    expect(cli("redact", rel(service_file), "--hide", "/credentialSubject/result", "-o", rel(redacted)), 0, "redaction")
    expect(cli("verify", rel(redacted), "--rpc", rpc), 0, "verification of the redacted file")
    profiled = service_dir / f"{file_stem(public_id)}.without-result.json"
    profile_args = ["redact", rel(service_file), "--profile", "without-result", "-o", rel(profiled)]
    expect(cli(*profile_args), 0, "the issuer's pre-signed disclosure profile")
    expect(cli("verify", rel(profiled), "--rpc", rpc), 0, "verification of the profile file (both proofs)")

    step("6b. A standard verifier: Digital Bazaar's @digitalbazaar/vc checks every file's signature offline")
    node = subprocess.run(
        [
            "node",
            str(ROOT / "scripts" / "di_verify.mjs"),
            "--did-doc",
            str(uni_dir / "did.json"),
            "--did-doc",
            str(service_dir / "did.json"),
            "--skip-unsigned",
            str(uni_dir),
            str(service_dir),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = node.stdout.splitlines()
    verified = sum(1 for line in lines if line.startswith("VERIFIED"))
    skipped = sum(1 for line in lines if line.startswith("SKIPPED"))
    if node.returncode != 0 or verified < 2 * COHORT:
        console.print(node.stdout[-2000:] + node.stderr[-2000:], highlight=False)
        raise SystemExit(f"Digital Bazaar's verifier did not verify every signed file (exit {node.returncode})")
    console.print(
        f"{verified} files verified by @digitalbazaar/vc + eddsa-rdfc-2022 with the issuers' did.json pinned; "
        f"{skipped} redacted file(s) carry no signature by design (the anchor proof vouches for them)"
    )

    step("7. The university revokes one credential")
    revoked = sorted(uni_dir.glob("*.json"))[0]
    expect(cli("revoke", rel(revoked), "--reason", "1", "--rpc", rpc), 0, "revocation")
    expect(cli("verify", rel(revoked), "--rpc", rpc), 1, "verification of the revoked credential")

    step("7b. The school corrects a learner's name (CLI) and renews a credential (API)")
    lineage_story(settings, rpc, service_dir, service_ids[1], service_ids[2])

    step("7c. HR verifies an applicant tracking system's export at once: one zip, one row per file")
    export = run_dir / "ats-export.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, path in enumerate(sorted(uni_dir.glob("*.json"))[:12], start=1):  # the first was revoked in 7
            archive.write(path, f"applicants/{n:02d}/credential.json")
        archive.write(service_dir / f"{file_stem(public_id)}.png", "applicants/13/badge.png")
        archive.write(service_dir / f"{file_stem(public_id)}.certificate-en.pdf", "applicants/14/certificate.pdf")
        archive.write(forged, "applicants/15/credential.json")  # the look-alike registry's forgery
    hr = cli("verify", rel(export), "--rpc", rpc, "--format", "csv", "--bom", echo=False)
    expect(hr, 1, "an export with a revoked credential, a printed certificate and a forgery (exit 1: INVALID)")
    results = run_dir / "hr-results.csv"
    results.write_text(hr.stdout, encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(hr.stdout.removeprefix("\ufeff"))))
    tally = {v: sum(r["verdict"] == v for r in rows) for v in ("VALID", "INVALID", "INDETERMINATE")}
    if tally != {"VALID": 12, "INVALID": 2, "INDETERMINATE": 1}:
        raise SystemExit(f"demo failed: the export's rows are {tally}, not 12 VALID, 2 INVALID, 1 INDETERMINATE")
    console.print(f"{len(rows)} rows in {rel(results)} (open it in a spreadsheet): {tally}; the ones to look at:")
    for row in rows:
        if row["verdict"] != "VALID":
            entry = row["file"].split("ats-export.zip/", 1)[-1]
            console.print(f"  {row['verdict']:<13} {entry}: {row['reason']}", highlight=False, markup=False)

    step("8. The auditor: history, reconciliation with the service's database, bytecode, files")
    report = run_dir / "audit-report.html"
    expect(cli("audit", "--rpc", rpc, "--issuer", ETSI[1], "--db", service_db), 0, "reconciliation")
    audit_all = ["audit", "--rpc", rpc, "--files", rel(run_dir), "--sample", "100"]
    expect(cli(*audit_all, "--format", "html", "--out", rel(report)), 0, "audit of the whole registry")
    expect(cli("audit", "--look-alikes", "--rpc", rpc, "--from-block", "0"), 1, "the look-alike watch")

    step("9. Stackable credentials: a pathway, a learner's stack, the qualification and a transcript")
    stack_story(rpc, run_dir / "stack", school_file)

    step("Summary")
    console.print(
        f"Done in {time.monotonic() - started:.0f} s. Everything is under {rel(run_dir)}/:\n"
        f"  universidad/  {COHORT} credential files issued with `registry issue`\n"
        f"  service/      {COHORT} files from the service, baked badges (.png, .svg), a redacted file, a\n"
        f"                profile file (signed without the grade), printable certificates (.pdf, en and es),\n"
        f"                a corrected and a renewed credential (*.corrected.json, *.renewed.json)\n"
        f"  */did.json    each issuer's DID document: the Ed25519 key of the files' DataIntegrityProof\n"
        f"  audit-report.html  the auditor's report (open it in a browser; it works offline)\n"
        f"  ats-export.zip, hr-results.csv  an applicant tracking system's export and HR's results, one row per\n"
        f"                file (`registry verify FILE.zip --format csv`; or drop it on verifier.html; or POST\n"
        f"                it to /v1/verify/batch)\n"
        f"  verifier.html  the verifier as one page: open it in a browser, drop a file (or a baked badge)\n"
        f"  employer/, forger/  the stranger's folder that trusted the registry; the look-alike's forgery\n"
        f"  stack/        a pathway, one learner's three credentials from both issuers, the qualification\n"
        f"                (umbrella/) and a CLR 2.0 transcript\n"
        f"The pages: run `registry serve` and open http://127.0.0.1:8000/verify (the same page),\n"
        f"  http://127.0.0.1:8000/c/{public_id} (share page) and http://127.0.0.1:8000/dashboard (API key:\n"
        f"  `registry apikey create {ETSI[1]}`).\n"
        f"The chain keeps its state: after `registry chain down` and `registry chain up`,\n"
        f"  `registry verify {rel(service_file)}` verifies again."
    )
    return 0


LEARNER = ("ada.lovelace@learners.example", "Ada Lovelace")
"""The learner whose stack of credentials from both issuers step 9 verifies."""


def stack_story(rpc: str, out: Path, school_file: bytes) -> None:
    """Issue 12's story: the university owns a pathway of three micro-credentials, two of its own
    and one of the technical school's; one learner's stack is VALID, the qualification is awarded
    and a CLR transcript written; without one file the stack is INCOMPLETE, and once a component
    is revoked it is INVALID, naming it."""

    out.mkdir(parents=True, exist_ok=True)
    uni_stats = {
        **ACHIEVEMENTS["uni"],
        "id": "https://uni.example/achievements/applied-statistics",
        "name": "Applied Statistics for Policy",
        "workload_ects": 2.0,
    }
    files: dict[str, Path] = {}
    for slug, achievement in (("data-literacy", ACHIEVEMENTS["uni"]), ("statistics", uni_stats)):
        (out / f"{slug}.json").write_text(json.dumps(achievement, indent=2, ensure_ascii=False))
        (out / f"{slug}.csv").write_text(f"email,name,result\n{LEARNER[0]},{LEARNER[1]},merit\n")
        folder = out / "files" / slug
        issue = ["issue", "--csv", rel(out / f"{slug}.csv"), "--achievement", rel(out / f"{slug}.json")]
        expect(cli(*issue, "--out", rel(folder), "--rpc", rpc), 0, f"the university's {slug} credential")
        [files[slug]] = sorted(folder.glob("*.json"))
    # The school's credential came from its issuer service in step 4 (same batch as the import).
    (out / "files" / "cloud-lab").mkdir(parents=True, exist_ok=True)
    files["cloud-lab"] = out / "files" / "cloud-lab" / "cloud-security-lab.json"
    files["cloud-lab"].write_bytes(school_file)
    console.print(f"{LEARNER[1]} holds three credentials from two issuers: {', '.join(files)}")
    pathway = out / "pathway.json"
    pathway.write_text(
        json.dumps(
            {
                "type": "Pathway",
                "id": "https://uni.example/pathways/digital-public-services",
                "version": 1,
                "name": "Digital Public Services Certificate",
                "description": "Data, statistics and cloud security for public administration.",
                "owner": UNI[1],
                "qualification": {"name": "Certificate in Digital Public Services", "eqfLevel": 6, "credits": 7},
                "requirements": {
                    "id": "all",
                    "allOf": [
                        {"id": "data", "achievement": ACHIEVEMENTS["uni"]["id"], "issuers": [UNI[1]]},
                        {"id": "stats", "achievement": uni_stats["id"], "issuers": [UNI[1]]},
                        {"id": "security", "achievement": ETSI_LAB["id"], "issuers": [ETSI[1], UNI[1]]},
                    ],
                },
            },
            indent=2,
        )
    )
    expect(cli("pathway", "check", rel(pathway)), 0, "the pathway definition")
    expect(cli("pathway", "publish", rel(pathway), "--rpc", rpc), 0, "the owner anchors the pathway")
    stack = [rel(files[k]) for k in ("data-literacy", "statistics", "cloud-lab")]
    verify_stack = ["verify", "--rpc", rpc, "--pathway", rel(pathway), "--learner", LEARNER[0]]
    expect(cli(*verify_stack, *stack), 0, "the whole stack → VALID")
    award = ["pathway", "award", rel(pathway), *stack, "--learner", LEARNER[0], "--name", LEARNER[1]]
    expect(cli(*award, "--out", rel(out / "umbrella"), "--rpc", rpc), 0, "the qualification is awarded")
    [umbrella] = sorted((out / "umbrella").glob("*.json"))
    expect(cli("verify", rel(umbrella), "--rpc", rpc), 0, "the qualification alone → VALID on the owner's word")
    transcript = out / "transcript-clr.json"
    clr = ["clr", *stack, "--pathway", rel(pathway), "--out", rel(transcript), "--rpc", rpc]
    expect(cli(*clr), 0, "a CLR 2.0 transcript")
    expect(cli("verify", rel(transcript), "--rpc", rpc), 0, "the transcript, component by component → VALID")
    incomplete = cli(*verify_stack, *stack[:2])
    expect(incomplete, 6, "one file removed → INCOMPLETE")
    if "security" not in incomplete.stdout:
        raise SystemExit("the INCOMPLETE stack did not name the missing requirement")
    expect(
        cli("revoke", stack[1], "--reason", "1", "--rpc", rpc), 0, "the university revokes the statistics credential"
    )
    invalid = cli(*verify_stack, *stack)
    expect(invalid, 1, "a revoked component → INVALID")
    if files["statistics"].name not in invalid.stdout:
        raise SystemExit("the INVALID stack did not name the revoked component")


def forge(rpc: str, home: Path) -> Path:
    """The look-alike attack: a stranger deploys their own registry on the same chain, appoints
    themselves accreditation body, admits "Universidad de Ejemplo" under its real DID and issues a
    credential in its name. Returns the forged file."""
    from registry.core.credential import Achievement, IssuerProfile, validate_model
    from registry.core.csvimport import parse_csv
    from registry.issue.direct import build_credentials, issue_and_anchor

    stranger = dev_account("stranger", 31337)
    forger = Chain(rpc)
    deploy_registry(Settings(home=home, rpc_url=rpc), forger, stranger, force=True)
    forger.writes.grant_accreditor(stranger, stranger.address)
    forger.writes.admit_issuer(stranger, UNI[0], UNI[1], stranger.address)
    rows = parse_csv(b"email,name\nmallory@learners.example,Mallory Forger\n", 1)
    achievement = validate_model(Achievement, ACHIEVEMENTS["uni"], "achievement.")
    now = datetime.now(UTC).replace(microsecond=0)
    docs = build_credentials((r for _, r in rows), achievement, IssuerProfile(id=UNI[1], name=UNI[0]), now)
    issued = issue_and_anchor(forger, stranger, docs, home / "files")
    console.print(
        f"a stranger deployed a look-alike registry at {forger.registry_address} and issued a credential "
        f"in the name of {UNI[0]} ({UNI[1]})"
    )
    return issued.files[0]


class _Receiver:
    """A learning-management system's webhook endpoint on loopback: keeps what it receives."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/lms/credential-events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, event: str, timeout: float = 60.0) -> tuple[dict[str, str], bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for headers, body in self.received:
                if headers.get("x-registry-event") == event:
                    return headers, body
            time.sleep(0.2)
        raise SystemExit(f"demo failed: no {event} webhook within {timeout:.0f} s")


@contextmanager
def school_service(settings: Settings, rpc: str) -> Iterator[tuple[str, Any]]:
    """`registry serve` for the technical school in this process (with its worker), on the
    database `registry serve` opens afterwards (the closing hint relies on it): its base URL and
    an API client with a new API key; stopped on exit."""
    import httpx
    from sqlmodel import Session, select

    from registry.service.auth import create_api_key
    from registry.service.issuance import create_issuer
    from registry.service.runtime import serve_in_background
    from registry.service.store import Issuer, make_engine

    name, did, role = ETSI
    key = dev_account(role, 31337)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    svc = Settings(
        home=settings.home,
        rpc_url=rpc,
        database_url=settings.db_url,
        port=port,
        batch_max_age=1.0,
        batch_size=10_000,
        worker_interval=0.2,
        public_url=f"http://127.0.0.1:{port}",
    )
    server, thread = serve_in_background(svc, port=port)
    try:
        with Session(make_engine(settings.db_url)) as session:
            issuer = session.exec(select(Issuer).where(Issuer.did == did)).first()
            if issuer is None:
                issuer = create_issuer(session, name=name, did=did, key_source=f"dev:{role}", key_address=key.address)
            assert issuer.id is not None
            _, token = create_api_key(session, issuer.id, "demo")
            session.commit()
        base = f"http://127.0.0.1:{port}"
        console.print(f"`registry serve` running on {base}; API key created (stored hashed)")
        yield base, httpx.Client(base_url=base, headers={"X-API-Key": token}, timeout=60)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    console.print("service stopped")


def service_story(settings: Settings, rpc: str, out_dir: Path) -> tuple[str, list[str], bytes]:
    """Issue through the service's REST API; the in-process worker seals and anchors."""
    with school_service(settings, rpc) as (base, api):
        receiver = _Receiver()
        hook = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["batch.anchored"]})
        hook.raise_for_status()
        console.print(f"webhook registered: batch.anchored → {receiver.url} (the school's LMS)")
        created = api.post("/v1/achievements", json=ACHIEVEMENTS["etsi"])
        if created.status_code == 409:
            ach_id = next(
                a["id"] for a in api.get("/v1/achievements").json() if a["name"] == "Cloud Security Fundamentals"
            )
        else:
            created.raise_for_status()
            ach_id = created.json()["id"]
        t0 = time.monotonic()
        upload = {"file": ("learners.csv", cohort_csv(COHORT, seed=2).encode(), "text/csv")}
        imported = api.post("/v1/credentials/import", data={"achievement_id": str(ach_id)}, files=upload)
        imported.raise_for_status()
        ids: list[str] = imported.json()["ids"]
        console.print(
            f"POST /v1/credentials/import → {imported.status_code}: {COHORT} learners queued "
            f"in {time.monotonic() - t0:.1f} s"
        )
        lab = api.post("/v1/achievements", json=ETSI_LAB)
        if lab.status_code == 409:
            lab_id = next(a["id"] for a in api.get("/v1/achievements").json() if a["uri"] == ETSI_LAB["id"])
        else:
            lab.raise_for_status()
            lab_id = lab.json()["id"]
        learner = {"achievement_id": lab_id, "recipient_email": LEARNER[0], "recipient_name": LEARNER[1]}
        mine = api.post("/v1/credentials", json={**learner, "result": "pass"})
        mine.raise_for_status()
        console.print(f"and {LEARNER[1]}'s {ETSI_LAB['name']} credential (step 9 stacks it)")
        api.post("/v1/batches/seal").raise_for_status()
        deadline = time.monotonic() + 120
        while True:
            latest = max(api.get("/v1/batches").json(), key=lambda b: b["id"])
            if latest["state"] == "confirmed":
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"demo failed: batch stuck in state {latest['state']}: {latest.get('last_error')}")
            time.sleep(0.3)
        console.print(
            f"worker anchored batch #{latest['id']}: {latest['count']} credentials, root {latest['root']}, "
            f"block {latest['anchor_block']}, state {latest['state']}"
        )
        headers, body = receiver.wait_for("batch.anchored")
        if not verify_signature(hook.json()["secret"], body, headers.get("x-registry-signature", "")):
            raise SystemExit("demo failed: the webhook's signature does not verify")
        console.print(
            f"the LMS received batch.anchored (event {headers.get('x-registry-event-id')}), "
            f"HMAC-SHA256 signature verified with the endpoint's secret: {body[:100].decode()}…",
            markup=False,
        )
        if ids is None:
            ids = [
                c["id"] for c in api.get("/v1/credentials", params={"batch_id": latest["id"], "limit": COHORT}).json()
            ]
        out_dir.mkdir(parents=True, exist_ok=True)
        for cid in ids:
            data = api.get(f"/v1/credentials/{cid}/file")
            data.raise_for_status()
            (out_dir / f"{file_stem(cid)}.json").write_bytes(data.content)
        for cid in ids[:3]:
            for fmt in ("png", "svg"):
                badge = api.get(f"/v1/credentials/{cid}/file", params={"format": fmt})
                badge.raise_for_status()
                (out_dir / f"{file_stem(cid)}.{fmt}").write_bytes(badge.content)
        console.print(
            f"{len(ids)} credential files and 6 baked badges downloaded into {rel(out_dir)}/; "
            f"share page of one: {base}/c/{ids[0]}"
        )
        school_file = api.get(f"/v1/credentials/{mine.json()['id']}/file")
        school_file.raise_for_status()
    return settings.db_url, ids, school_file.content


def lineage_story(settings: Settings, rpc: str, out_dir: Path, corrected: str, renewed: str) -> None:
    """Issue 14's story: a correction with the CLI (on the service's database) and a renewal
    through the API; the worker anchors the new credentials, then records on chain that they
    replace the old ones; the LMS hears ``credential.superseded``; old files INVALID, new VALID."""
    old_file = out_dir / f"{file_stem(corrected)}.json"
    name = json.loads(old_file.read_text())["credentialSubject"].get("name", "")
    fixed = f"{name} (corrected)" if name else "Corrected Name"
    with school_service(settings, rpc) as (_, api):
        # The LMS subscribes first: an event is only delivered to endpoints registered before it.
        receiver = _Receiver()
        hook = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["credential.superseded"]})
        hook.raise_for_status()
        expect(cli("reissue", rel(old_file), "--set", f"/credentialSubject/name={fixed}"), 0, "the correction")
        renewal = api.post(f"/v1/credentials/{renewed}/renew", json={"validUntil": "2031-12-31"})
        renewal.raise_for_status()
        console.print(
            f"POST /v1/credentials/{renewed}/renew → {renewal.status_code}: credential {renewal.json()['id']} "
            f"queued, supersession {renewal.json()['supersession']['state']}"
        )
        api.post("/v1/batches/seal").raise_for_status()
        news = {}
        for old, suffix in ((corrected, "corrected"), (renewed, "renewed")):
            new_id = _replaced(api, old)
            data = api.get(f"/v1/credentials/{new_id}/file")
            data.raise_for_status()
            news[old] = out_dir / f"{file_stem(old)}.{suffix}.json"
            news[old].write_bytes(data.content)
        console.print(
            f"worker anchored the new credentials, then sent supersedeCredential for each: "
            f"{rel(news[corrected])}, {rel(news[renewed])}"
        )
        for _ in news:
            headers, body = receiver.wait_for("credential.superseded")
            receiver.received.remove((headers, body))
            if not verify_signature(hook.json()["secret"], body, headers.get("x-registry-signature", "")):
                raise SystemExit("demo failed: the webhook's signature does not verify")
            event = json.loads(body)["data"]
            console.print(
                f"the LMS received credential.superseded: {event['credential_id']} → {event['new_credential_id']} "
                f"({event['kind']})",
                markup=False,
            )
    for old, new in news.items():
        expect(
            cli("verify", rel(out_dir / f"{file_stem(old)}.json"), "--rpc", rpc), 1, "the superseded file is INVALID"
        )
        expect(cli("verify", rel(new), "--rpc", rpc), 0, "its replacement is VALID")


def _replaced(api: Any, old: str, timeout: float = 120.0) -> str:
    """The id of the credential replacing ``old``, once the chain records it (its file released)."""
    deadline = time.monotonic() + timeout
    while True:
        new_id = api.get(f"/v1/credentials/{old}").json()["superseded_by"]
        if new_id and api.get(f"/v1/credentials/{new_id}").json()["state"] == "released":
            return str(new_id)
        if time.monotonic() > deadline:
            raise SystemExit(f"demo failed: {old} not superseded within {timeout:.0f} s")
        time.sleep(0.3)


if __name__ == "__main__":
    raise SystemExit(main())
