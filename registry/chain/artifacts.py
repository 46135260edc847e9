"""Compiled contract artifacts and the pinned compiler configuration.

The artifacts are produced by ``scripts/build_contracts.py`` with solc 0.8.28 (py-solc-x, the
official WASM build behind the project's ``solc`` shim). The same settings are used by the
auditor to recompile the sources and compare runtime bytecode with what is deployed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from registry.errors import DeploymentError

__all__ = [
    "COMPILER_SETTINGS",
    "SOLC_VERSION",
    "Artifact",
    "compile_sources",
    "load_artifact",
    "project_sources",
]

SOLC_VERSION = "0.8.28"
OZ_REMAPPING = "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"
COMPILER_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "remappings": [OZ_REMAPPING],
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
ARTIFACT_DIR = Path(__file__).resolve().parent.parent / "artifacts"


class Artifact:
    """ABI and bytecode of one compiled contract."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.name: str = data["contractName"]
        self.abi: list[dict[str, Any]] = data["abi"]
        self.bytecode: str = data["bytecode"]
        self.deployed_bytecode: str = data["deployedBytecode"]
        self.compiler: dict[str, Any] = data["compiler"]


@cache
def load_artifact(name: str) -> Artifact:
    """Load ``registry/artifacts/<name>.json`` (run ``make setup`` to build it)."""
    path = ARTIFACT_DIR / f"{name}.json"
    if not path.exists():
        raise DeploymentError(
            f"contract artifact {path} is missing: run `make setup` "
            "(or `python scripts/build_contracts.py`) to compile the contracts"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    return Artifact(data)


def project_sources(root: Path) -> list[Path]:
    """The project's own ``.sol`` files under ``root/contracts``.

    Hidden directories are skipped: Ape unpacks its dependencies into ``contracts/.cache/``,
    and those are compiled through the OpenZeppelin remapping, not as project sources.
    """
    base = root / "contracts"
    return sorted(p for p in base.rglob("*.sol") if not any(part.startswith(".") for part in p.relative_to(base).parts))


def compile_sources(root: Path) -> dict[str, Any]:
    """Compile every ``.sol`` file under ``root/contracts`` with the pinned settings.

    Source unit names are relative to ``root`` so the output does not depend on where the
    checkout lives. Requires the ``solc`` shim registered with py-solc-x (``make setup``).
    """
    import solcx  # dev dependency: only builders and auditors recompile

    sources = {str(p.relative_to(root)): {"content": p.read_text()} for p in project_sources(root)}
    if not sources:
        raise DeploymentError(f"no Solidity sources under {root / 'contracts'}")
    standard_input = {"language": "Solidity", "sources": sources, "settings": COMPILER_SETTINGS}
    output: dict[str, Any] = solcx.compile_standard(
        standard_input,
        solc_version=SOLC_VERSION,
        base_path=str(root),
        allow_paths=[str(root)],
    )
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise DeploymentError("compilation failed:\n" + "\n".join(e["formattedMessage"] for e in errors))
    return output
