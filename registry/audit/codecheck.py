"""Code check (``docs/audit.md``, check ``code``): the runtime bytecode at the registry address
against the pinned compiler's output for ``contracts/``
(:func:`registry.chain.artifacts.compile_sources`), compiled once per sources fingerprint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from registry.audit.report import Finding, Severity
from registry.chain.reads import ChainReader
from registry.core.keccak import keccak256_hex
from registry.errors import ConfigError, RegistryError

if TYPE_CHECKING:
    from registry.audit.cache import AuditCache

__all__ = [
    "CONTRACT_NAME",
    "CONTRACT_SOURCE",
    "check_code",
    "compiled_runtime",
    "default_sources",
    "sources_fingerprint",
]

CONTRACT_SOURCE: Final = "contracts/CredentialRegistry.sol"
CONTRACT_NAME: Final = "CredentialRegistry"


def default_sources() -> Path | None:
    """A checkout holding ``contracts/``: the working directory or the package's parent."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / CONTRACT_SOURCE).exists():
            return base
    return None


def _strip_metadata(code: bytes) -> bytes:
    """Runtime code without solc's trailing CBOR metadata (its length is in the last 2 bytes)."""
    if len(code) < 2:
        return code
    n = int.from_bytes(code[-2:], "big")
    return code[: -(n + 2)] if 0 < n + 2 <= len(code) else code


def sources_fingerprint(root: Path) -> str:
    """SHA-256 over the Solidity sources under ``root/contracts`` and the compiler settings."""
    from registry.chain.artifacts import COMPILER_SETTINGS, SOLC_VERSION, project_sources

    digest = hashlib.sha256(json.dumps([SOLC_VERSION, COMPILER_SETTINGS], sort_keys=True).encode())
    for path in project_sources(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    remapped = root / "node_modules/@openzeppelin/contracts"
    if remapped.exists():
        for path in sorted(remapped.rglob("*.sol")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def compiled_runtime(root: Path, cache: AuditCache | None = None) -> bytes:
    """Runtime bytecode of CredentialRegistry compiled from ``root/contracts`` (cached)."""
    from registry.chain.artifacts import compile_sources

    fingerprint = sources_fingerprint(root)
    if cache is not None and (hit := cache.compiled(fingerprint)) is not None:
        return hit
    output = compile_sources(root)
    try:
        hexcode = output["contracts"][CONTRACT_SOURCE][CONTRACT_NAME]["evm"]["deployedBytecode"]["object"]
    except KeyError as exc:
        raise ConfigError(f"{CONTRACT_SOURCE} did not produce {CONTRACT_NAME}") from exc
    code = bytes.fromhex(hexcode.removeprefix("0x"))
    if cache is not None:
        cache.store_compiled(fingerprint, code)
    return code


def check_code(
    client: ChainReader, registry: str, sources: Path, cache: AuditCache | None = None
) -> tuple[list[Finding], dict[str, Any]]:
    """Deployed runtime bytecode against the pinned compiler's output for ``sources/contracts``.

    CredentialRegistry has no immutables, so the comparison is byte for byte; when only solc's
    metadata trailer differs the executable code is identical (sources differ in comments or
    whitespace) and the finding is a warning.
    """
    deployed = client.runtime_code(registry)
    info: dict[str, Any] = {
        "address": registry,
        "deployed_size": len(deployed),
        "deployed_keccak": keccak256_hex(deployed),
        "sources": str(sources),
    }
    if not deployed:
        info["status"] = "no code"
        return [
            Finding(
                code="no-contract-code",
                severity=Severity.CRITICAL,
                check="code",
                title="no contract at the registry address",
                message=f"there is no contract code at {registry}: nothing to audit there.",
            )
        ], info
    try:
        expected = compiled_runtime(sources, cache)
    except (RegistryError, ImportError, OSError) as exc:
        info["status"] = "not checked"
        return [
            Finding(
                code="code-not-checked",
                severity=Severity.WARNING,
                check="code",
                title="bytecode not compared",
                message=f"the contract sources could not be compiled here ({exc}); the deployed code "
                "was not compared with them.",
            )
        ], info
    info.update(expected_size=len(expected), expected_keccak=keccak256_hex(expected))
    if deployed == expected:
        info["status"] = "identical"
        return [], info
    if _strip_metadata(deployed) == _strip_metadata(expected):
        info["status"] = "identical except metadata"
        return [
            Finding(
                code="code-metadata-differs",
                severity=Severity.WARNING,
                check="code",
                title="same executable code, different metadata hash",
                message=(
                    "the deployed code executes exactly what contracts/ compiles to, but solc's "
                    "metadata hash differs: the deployed build came from sources that differ in "
                    "comments, whitespace or file names. Behaviour is identical."
                ),
                details={"deployed_keccak": info["deployed_keccak"], "expected_keccak": info["expected_keccak"]},
            )
        ], info
    info["status"] = "different"
    return [
        Finding(
            code="code-mismatch",
            severity=Severity.CRITICAL,
            check="code",
            title="deployed bytecode differs from the sources",
            message=(
                f"the runtime bytecode at {registry} ({len(deployed)} bytes, keccak "
                f"{info['deployed_keccak'][:18]}…) is not what the pinned compiler produces from "
                f"contracts/ ({len(expected)} bytes, keccak {info['expected_keccak'][:18]}…). This "
                "source does not describe the deployed contract: do not trust its behaviour."
            ),
            details={k: info[k] for k in ("deployed_keccak", "expected_keccak", "deployed_size", "expected_size")},
        )
    ], info
