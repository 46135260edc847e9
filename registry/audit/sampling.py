"""Credential sample (``docs/audit.md``, check ``sample``): a sample of the credential files in a
directory verified with :class:`registry.verify.Verifier` against the audited registry only."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from registry.audit.report import Finding, Severity
from registry.chain.reads import ChainReader
from registry.errors import RegistryError

__all__ = ["check_sample"]


def check_sample(
    client: ChainReader, registry: str, directory: Path, *, size: int = 100, seed: int = 0
) -> tuple[list[Finding], dict[str, Any]]:
    """Verify a sample of the credential files under ``directory`` with the verifier."""
    from registry.verify import Verdict, VerificationPolicy, Verifier, read_credential_bytes

    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in {".json", ".png", ".svg"})
    chosen = files if len(files) <= size else sorted(random.Random(seed).sample(files, size))
    findings: list[Finding] = []
    chain_id = client.chain_id()
    loaded: list[tuple[str, bytes | str | dict[str, Any]]] = []
    other = not_credentials = 0
    for path in chosen:
        try:
            data = read_credential_bytes(path)
            proof_of = _proof_target(data)
        except RegistryError as exc:
            findings.append(
                Finding(
                    code="credential-unreadable",
                    severity=Severity.WARNING,
                    check="sample",
                    title="credential file unreadable",
                    message=f"{path}: {exc}",
                    details={"file": str(path)},
                )
            )
            continue
        if proof_of is not None and proof_of != (chain_id, registry.lower()):
            other += 1
            continue
        if proof_of is None and not _credential_shaped(data):
            not_credentials += 1  # an achievement definition, a config file: not for the verifier
            continue
        loaded.append((str(path), data))
    verifier = Verifier(
        VerificationPolicy(trusted={chain_id: {registry.lower(): "the audited registry"}}),
        rpc_url=client.rpc_url,
        timeout=client.rpc.timeout,
    )
    reports = verifier.verify_many(loaded) if loaded else []
    verdicts = {"VALID": 0, "INVALID": 0, "INDETERMINATE": 0}
    withdrawn = 0
    for report in reports:
        verdicts[report.verdict.value] += 1
        if report.verdict is Verdict.VALID:
            continue
        failed = {c.name for c in report.checks if c.status.value == "fail"}
        if report.verdict is Verdict.INVALID and failed <= {"revocation", "validity"}:
            withdrawn += 1  # revoked or expired: the issuer's decision, not a defect
            continue
        invalid = report.verdict is Verdict.INVALID
        findings.append(
            Finding(
                code="credential-invalid" if invalid else "credential-indeterminate",
                severity=Severity.CRITICAL if invalid else Severity.WARNING,
                check="sample",
                title="credential file does not verify" if invalid else "credential file could not be verified",
                message=f"{report.source}: {report.verdict.value}: {report.summary}",
                root=report.credential.get("root") or None,
                details={"file": report.source, "checks": {c.name: c.status.value for c in report.checks}},
            )
        )
    info = {
        "directory": str(directory),
        "files": len(files),
        "sampled": len(chosen),
        "verified": len(reports),
        "other_registry": other,
        "not_credentials": not_credentials,
        "revoked_or_expired": withdrawn,
        **verdicts,
    }
    return findings, info


def _credential_shaped(data: bytes) -> bool:
    """Whether a file without a readable proof is still meant as a credential (a JSON object
    with ``@context``, ``credentialSubject`` or ``proof``, or anything that is not a JSON object),
    so that the verifier judges it; other JSON documents beside the files are not credentials."""
    try:
        doc = json.loads(data)
    except ValueError:
        return True
    if isinstance(doc, dict) and "verificationMethod" in doc and "credentialSubject" not in doc:
        return False  # an issuer's DID document (did.json) beside its files
    return not isinstance(doc, dict) or any(k in doc for k in ("@context", "credentialSubject", "proof"))


def _proof_target(data: bytes) -> tuple[int, str] | None:
    try:
        doc = json.loads(data)
        proofs = doc.get("proof")
        proof = proofs[-1] if isinstance(proofs, list) and proofs else proofs  # the anchor proof is last
        return int(proof["chainId"]), str(proof["registry"]).lower()
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None
