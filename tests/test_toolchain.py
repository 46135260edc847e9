"""The offline toolchain: the solc shim, reproducible builds, artifacts the package loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from registry.chain.artifacts import SOLC_VERSION, compile_sources, load_artifact
from registry.errors import InvalidProof

ROOT = Path(__file__).resolve().parent.parent


def test_shim_reports_version_in_native_format() -> None:
    solc = shutil.which("solc")
    assert solc, "the solc shim must be on PATH (make setup)"
    out = subprocess.run([solc, "--version"], capture_output=True, text=True, check=True).stdout
    assert f"Version: {SOLC_VERSION}+commit." in out
    assert out.startswith("solc, the solidity compiler commandline interface")


def test_shim_refuses_other_modes() -> None:
    proc = subprocess.run(
        ["solc", "contracts/CredentialRegistry.sol"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 1
    assert "only --standard-json" in proc.stderr


def test_shim_resolves_imports_with_base_and_include_paths(tmp_path: Path) -> None:
    src = 'pragma solidity ^0.8.24; import {Strings} from "@openzeppelin/contracts/utils/Strings.sol"; contract A {}'
    request = {
        "language": "Solidity",
        "sources": {"A.sol": {"content": src}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    args = [
        "solc",
        "--standard-json",
        "--base-path",
        str(tmp_path),
        "--include-path",
        str(ROOT / "node_modules"),
    ]
    proc = subprocess.run(args, input=json.dumps(request), capture_output=True, text=True, check=True)
    output = json.loads(proc.stdout)
    assert not [e for e in output.get("errors", []) if e["severity"] == "error"], output
    assert "A" in output["contracts"]["A.sol"]
    # without the include path the import is reported as missing, not crashed on
    bare = subprocess.run(args[:4], input=json.dumps(request), capture_output=True, text=True, check=True)
    errors = json.loads(bare.stdout)["errors"]
    assert any("not found" in e["formattedMessage"].lower() for e in errors)


@pytest.mark.slow
def test_build_is_reproducible_and_matches_artifacts() -> None:
    first = compile_sources(ROOT)
    second = compile_sources(ROOT)
    name = "contracts/CredentialRegistry.sol"
    a = first["contracts"][name]["CredentialRegistry"]["evm"]["deployedBytecode"]["object"]
    b = second["contracts"][name]["CredentialRegistry"]["evm"]["deployedBytecode"]["object"]
    assert a == b
    assert "0x" + a == load_artifact("CredentialRegistry").deployed_bytecode


def test_error_hierarchy_is_pinned() -> None:
    from registry import errors

    assert issubclass(errors.InvalidProof, errors.RegistryError)
    assert issubclass(errors.CredentialFormatError, errors.InvalidInput)
    assert issubclass(errors.RedactionError, errors.InvalidInput)
    assert issubclass(errors.ChainUnavailable, errors.ChainError)
    assert issubclass(errors.WrongChain, errors.ChainError)
    assert issubclass(errors.TransactionFailed, errors.ChainError)
    assert issubclass(errors.DeploymentError, errors.ChainError)
    assert issubclass(errors.ChainError, errors.RegistryError)
    assert str(errors.ChainUnavailable("http://x", "refused")) == "chain RPC http://x unavailable: refused"
    assert errors.InvalidInput("recipient_email", "bad").field == "recipient_email"


def test_exit_codes_are_one_table_on_the_error_classes() -> None:
    from registry import errors
    from registry.cli.output import exit_code

    assert exit_code(errors.ConfigError("x")) == 3
    assert exit_code(errors.InvalidInput("f", "bad")) == exit_code(errors.CredentialFormatError("f", "bad")) == 3
    assert exit_code(errors.NotFound("issuer", "42")) == 3
    assert exit_code(errors.ChainUnavailable("http://x", "refused")) == 4
    assert exit_code(errors.TransactionFailed("anchor", "RootAlreadyAnchored")) == 5
    assert exit_code(errors.Conflict("c", "m")) == 5
    assert exit_code(ValueError("not ours")) == 5


def test_only_project_sources_are_compiled(tmp_path: Path) -> None:
    """Ape unpacks dependencies into contracts/.cache/: never compile those as project sources."""
    from registry.chain.artifacts import project_sources

    (tmp_path / "contracts" / ".cache" / "openzeppelin").mkdir(parents=True)
    (tmp_path / "contracts" / "sub").mkdir()
    (tmp_path / "contracts" / "A.sol").write_text("contract A {}")
    (tmp_path / "contracts" / "sub" / "B.sol").write_text("contract B {}")
    (tmp_path / "contracts" / ".cache" / "openzeppelin" / "ERC20.sol").write_text("contract C {}")
    names = [p.relative_to(tmp_path).as_posix() for p in project_sources(tmp_path)]
    assert names == ["contracts/A.sol", "contracts/sub/B.sol"]


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=package_parent,
        check=False,
    )


def test_layers_are_enforced_and_a_wrong_import_breaks_them(tmp_path: Path) -> None:
    """lint-imports passes on the package, and fails once the core imports web3."""
    copy = tmp_path / "registry"
    shutil.copytree(ROOT / "registry", copy, ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    clean = _lint_imports(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    merkle = copy / "core" / "merkle.py"
    merkle.write_text(merkle.read_text() + "\nimport web3  # noqa: E402, F401\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "registry.core is not allowed to import web3" in broken.stdout


def test_public_api_and_a_light_core() -> None:
    """An integrator imports the verifier from `registry`; the pure core loads no chain client."""
    import registry
    from registry.verify import Verifier

    assert registry.Verifier is Verifier
    assert set(registry.__all__) >= {"Verifier", "VerificationPolicy", "verify_files", "Report", "RegistryError"}
    with pytest.raises(AttributeError, match="no attribute"):
        _ = registry.NoSuchThing
    code = "import sys, registry.core.credfile, registry.core.batch; print({'web3', 'requests'} & {*sys.modules})"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "set()"


def test_verification_does_not_load_the_tree_builder() -> None:
    """`registry verify` and the verifier check proofs with registry.core.merkleproof: neither the
    tree builder nor numpy is imported (about 70 ms of start-up), while the builder still works
    and re-exports the proof functions."""
    code = (
        "import sys, registry.cli.app, registry.cli.verify, registry.verify, registry.verify.tabular; "
        "print(sorted({'numpy', 'registry.core.merkle', 'registry.core.batch'} & {*sys.modules}))"
    )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert probe.stdout.strip() == "[]"
    from registry.core import merkle, merkleproof

    assert merkle.verify_proof is merkleproof.verify_proof
    values = [bytes([i]) * 32 for i in range(5)]
    tree = merkle.MerkleTree.build(values)
    for i, value in enumerate(values):
        merkleproof.verify_proof(tree.root, value, tree.proof(i))
    with pytest.raises(InvalidProof):
        merkleproof.verify_proof(tree.root, values[0], tree.proof(1))
