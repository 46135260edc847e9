"""Ape fixtures for the CredentialRegistry contract tests (anvil via ape-foundry).

Role fixtures name who does what: `admin` holds DEFAULT_ADMIN_ROLE, `accreditor` (and
`second_accreditor`) hold ACCREDITOR_ROLE, `issuer` and `other_issuer` are the active keys of two
admitted issuers, `stranger` holds nothing, `spare_keys` are fresh addresses for rotations.
Ape isolates every test: state changes roll back to the session snapshot.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ape.exceptions import ContractLogicError
from eth_utils import keccak

ROOT = Path(__file__).resolve().parents[2]

# ICredentialRegistry.Status (contracts/ICredentialRegistry.sol)
VALID, UNKNOWN_ROOT, BAD_PROOF, REVOKED, ISSUER_SUSPENDED, KEY_COMPROMISED = range(6)


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def accreditor(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def second_accreditor(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def issuer(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def other_issuer(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def stranger(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def spare_keys(accounts):
    return [accounts[6], accounts[7], accounts[8], accounts[9]]


@pytest.fixture(scope="session")
def registry(project, admin, accreditor, second_accreditor, issuer, other_issuer):
    """Deployed registry with two accreditors and two issuers (ids 1 and 2)."""
    contract = project.CredentialRegistry.deploy(admin, sender=admin)
    role = contract.ACCREDITOR_ROLE()
    contract.grantRole(role, accreditor, sender=admin)
    contract.grantRole(role, second_accreditor, sender=admin)
    contract.admitIssuer("University of Example", "did:web:uni.example", issuer, sender=accreditor)
    contract.admitIssuer("Other College", "did:web:other.example", other_issuer, sender=second_accreditor)
    return contract


@pytest.fixture(scope="session")
def gas_probe(project, admin):
    return project.GasProbe.deploy(sender=admin)


def digest(label: str | int) -> bytes:
    """A deterministic, salted-looking credential digest."""
    return keccak(text=f"credential-{label}")


def oz_tree(values: list[bytes]) -> dict[str, Any]:
    """Root and proofs from @openzeppelin/merkle-tree (Node), for bytes32 values."""
    script = (
        "const {StandardMerkleTree}=require('@openzeppelin/merkle-tree');"
        "const v=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "const t=StandardMerkleTree.of(v.map(x=>[x]),['bytes32']);"
        "process.stdout.write(JSON.stringify({root:t.root,proofs:v.map((_,i)=>t.getProof(i))}));"
    )
    out = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(["0x" + v.hex() for v in values]),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    tree = json.loads(out.stdout)
    return {
        "root": bytes.fromhex(tree["root"][2:]),
        "proofs": [[bytes.fromhex(p[2:]) for p in proof] for proof in tree["proofs"]],
    }


@pytest.fixture(scope="session")
def make_tree() -> Callable[[list[bytes]], dict[str, Any]]:
    return oz_tree


def std_leaf(value: bytes) -> bytes:
    return keccak(keccak(value))


def root_with_depth(value: bytes, depth: int, seed: str = "s") -> tuple[bytes, list[bytes]]:
    """A root and a `depth`-element StandardMerkleTree proof for `value` (synthetic siblings)."""
    proof = [keccak(text=f"{seed}-sibling-{i}") for i in range(depth)]
    node = std_leaf(value)
    for sibling in proof:
        a, b = sorted((node, sibling))
        node = keccak(a + b)
    return node, proof


@pytest.fixture
def anchored(registry, issuer, make_tree):
    """A batch of five credentials anchored by `issuer`: (root, digests, proofs, receipt)."""
    values = [digest(i) for i in range(5)]
    tree = make_tree(values)
    receipt = registry.anchor(tree["root"], len(values), keccak(text="meta"), sender=issuer)
    return tree["root"], values, tree["proofs"], receipt


def _plain(value: Any) -> Any:
    return value.address if hasattr(value, "address") else value


@contextmanager
def expect_error(error: type, **inputs: Any) -> Iterator[None]:
    """Assert that the block reverts with custom error `error` and exactly these input values.

    Stricter than `ape.reverts`, which lets a different or undecoded error pass.
    """
    with pytest.raises(ContractLogicError) as info:
        yield
    exc = info.value
    assert type(exc).__name__ == error.__name__, f"expected {error.__name__}, got {type(exc).__name__}: {exc}"
    for name, expected in inputs.items():
        assert name in exc.inputs, f"{error.__name__} has no input {name!r}: {exc.inputs}"
        assert exc.inputs[name] == _plain(expected), (
            f"{error.__name__}.{name}: expected {expected!r}, got {exc.inputs[name]!r}"
        )


def events(receipt: Any, event: Any) -> list[dict[str, Any]]:
    """Decoded arguments of every `event` log in `receipt`, in order."""
    return [dict(log.event_arguments) for log in receipt.decode_logs(event)]


def block_time(chain: Any, receipt: Any) -> int:
    return int(chain.blocks[receipt.block_number].timestamp)
