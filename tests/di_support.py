"""Digital Bazaar's verifier as a test oracle for format v2 signatures (docs/format.md v2 §4).

Runs ``scripts/di_verify.mjs`` (``@digitalbazaar/vc`` ``verifyCredential`` with
``DataIntegrityProof`` + ``eddsa-rdfc-2022``, offline: pinned contexts from node_modules, DID
documents only from the files given) and returns its verdict per file. Used by
``tests/e2e/test_di_interop.py``; call :func:`verify_with_digital_bazaar` on any credential files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DI_REFERENCE",
    "DI_SIGN",
    "DI_VERIFY",
    "ROOT",
    "digital_bazaar_available",
    "run_di_verify",
    "verify_with_digital_bazaar",
]

ROOT: Final = Path(__file__).resolve().parents[1]
DI_VERIFY: Final = ROOT / "scripts" / "di_verify.mjs"
DI_SIGN: Final = ROOT / "scripts" / "di_sign_fixture.mjs"
DI_REFERENCE: Final = ROOT / "tests" / "assets" / "golden-v2" / "di-reference.json"
_PACKAGES: Final = ("@digitalbazaar/vc", "@digitalbazaar/eddsa-rdfc-2022-cryptosuite", "@digitalbazaar/data-integrity")


def digital_bazaar_available() -> bool:
    """node and the Digital Bazaar packages are installed (``npm ci``)."""
    return shutil.which("node") is not None and all((ROOT / "node_modules" / p).is_dir() for p in _PACKAGES)


def run_di_verify(
    paths: list[Path], did_docs: list[Path], *, now: str | None = None, skip_unsigned: bool = False
) -> dict[str, Any]:
    """The ``--json`` report of ``scripts/di_verify.mjs`` (``{"ok": bool, "files": [...]}``).

    Raises ``RuntimeError`` on a usage error (exit 2), e.g. an unreadable DID document.
    """
    cmd = ["node", str(DI_VERIFY), "--json"]
    for doc in did_docs:
        cmd += ["--did-doc", str(doc)]
    if now is not None:
        cmd += ["--now", now]
    if skip_unsigned:
        cmd.append("--skip-unsigned")
    cmd += [str(p) for p in paths]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"di_verify.mjs exited {out.returncode}: {out.stderr.strip()}")
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def verify_with_digital_bazaar(
    paths: list[Path], did_docs: list[Path], *, now: str | None = None, skip_unsigned: bool = False
) -> dict[str, str]:
    """Verify credential files with Digital Bazaar's verifier: path → ``"VERIFIED"`` or the reason
    it failed.

    ``paths`` may name files or directories (searched recursively for ``*.json``, ``did.json``
    skipped); ``did_docs`` are the pinned DID documents the issuers' ``did:web`` resolve to. Keys
    are the paths as the script prints them (``str(path)`` for a file given directly). Entries of a
    directory that are not credentials, and with ``skip_unsigned`` files without a
    DataIntegrityProof, map to ``"SKIPPED: <why>"``. ``now`` (ISO 8601) is the verifier's clock for
    ``validFrom``/``validUntil``.
    """
    report = run_di_verify(paths, did_docs, now=now, skip_unsigned=skip_unsigned)
    verdicts: dict[str, str] = {}
    for entry in report["files"]:
        status = entry["status"]
        verdicts[entry["path"]] = (
            "VERIFIED"
            if status == "VERIFIED"
            else entry["reason"]
            if status == "FAILED"
            else f"SKIPPED: {entry['reason']}"
        )
    return verdicts
