"""Gas figures of CredentialRegistry, measured as receipt gasUsed on a dev node (anvil).

Reusable from scripts/bench.py:

    from bench_gas import measure_gas, load_artifact
    gas = measure_gas(w3, registry_address, gas_probe_address, w3.eth.accounts)

`accounts` are addresses the node signs for (anvil's unlocked accounts) or eth-account
LocalAccounts: `accounts[0]` must hold DEFAULT_ADMIN_ROLE (it appoints a fresh accreditation
body for `onboard_accreditor_gas` and grants ACCREDITOR_ROLE to `accounts[1]` if needed) and pays
for the issuer keys, which are fresh local keys so that the function can run many times against
the same deployment. `onchain_verify_gas_depth20` is what a
calling contract pays for `checkCredential` with a 20-element proof (GasProbe: gasleft() around
the external call, read with eth_call). `admit_issuer_uri_check_gas` is the part of `admitIssuer`
spent on the canonical-DID check of a 40-byte URI (GasProbe: gasleft() around the same library
code, read with eth_call); the check is linear in the URI's length. `supersede_gas` is a
correction whose successor sits in a batch of a million credentials (a 20-element proof) with a
45-byte successor id.

Run directly (`python scripts/bench_gas.py [--artifacts DIR] [--rpc URL]`) to deploy both contracts
on a running node and print the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak
from web3 import Web3
from web3.types import TxParams, Wei

ArtifactLoader = Callable[[str], dict[str, Any]]

# A 40-byte canonical did:web URI: what `admit_issuer_uri_check_gas` is measured on.
URI_CHECK_SAMPLE = "did:web:registrar.universidad-ejemplo.es"
# The directory entry `onboard_accreditor_gas` is measured with (a fresh body: role and entry).
ACCREDITOR_SAMPLE = ("Agencia Nacional de Evaluación de la Calidad y Acreditación", "did:web:aneca.example")

# The successor id `supersede_gas` is measured with: a credential id as the service mints them.
SUCCESSOR_ID_SAMPLE = "urn:uuid:7f0c1a52-3b7e-4d4e-9a8e-2f6f0d1c9b10"

DEFAULT_ARTIFACTS = Path(__file__).resolve().parent.parent / "registry" / "artifacts"


def load_artifact(name: str, directory: Path | str = DEFAULT_ARTIFACTS) -> dict[str, Any]:
    """Artifact `{abi, bytecode, deployedBytecode}` of contract `name` from `directory`."""
    artifact: dict[str, Any] = json.loads((Path(directory) / f"{name}.json").read_text())
    return artifact


def _std_leaf(digest: bytes) -> bytes:
    """StandardMerkleTree leaf of a bytes32 value: keccak256(keccak256(abi.encode(v)))."""
    return keccak(keccak(digest))


def _root_with_depth(leaf: bytes, depth: int) -> tuple[bytes, list[bytes]]:
    """A root and a `depth`-element proof for `leaf` (random siblings, sorted-pair hashing)."""
    proof = [secrets.token_bytes(32) for _ in range(depth)]
    node = leaf
    for sibling in proof:
        a, b = sorted((node, sibling))
        node = keccak(a + b)
    return node, proof


def _address(account: Any) -> str:
    return account if isinstance(account, str) else str(account.address)


def _send(w3: Web3, fn: Any, sender: Any) -> int:
    """Send a contract call from an unlocked address or a local account; return gasUsed."""
    if isinstance(sender, str):
        tx_hash = fn.transact({"from": sender})
    else:
        tx = fn.build_transaction({"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address)})
        signed = sender.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction reverted: {fn.fn_name}")
    return int(receipt["gasUsed"])


def _fund(w3: Web3, sender: Any, to: str, value: int = 10**18) -> None:
    tx = TxParams({"to": Web3.to_checksum_address(to), "value": Wei(value)})
    if isinstance(sender, str):
        tx["from"] = sender
        tx_hash = w3.eth.send_transaction(tx)
    else:
        tx.update(
            {
                "from": sender.address,
                "nonce": w3.eth.get_transaction_count(sender.address),
                "gas": 21_000,
                "gasPrice": w3.eth.gas_price,
                "chainId": w3.eth.chain_id,
            }
        )
        tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    w3.eth.wait_for_transaction_receipt(tx_hash)


def measure_gas(
    w3: Web3,
    registry_address: str,
    gas_probe_address: str,
    accounts: Sequence[Any],
    *,
    load: ArtifactLoader = load_artifact,
    bulk: int = 100,
    depth: int = 20,
) -> dict[str, int]:
    """Measure the gas of each external function of a deployed registry.

    `load(name)` returns the artifact of "CredentialRegistry" or "GasProbe" (only "abi" is used).
    """
    checksum = Web3.to_checksum_address
    registry = w3.eth.contract(address=checksum(registry_address), abi=load("CredentialRegistry")["abi"])
    probe = w3.eth.contract(address=checksum(gas_probe_address), abi=load("GasProbe")["abi"])
    admin, accreditor = accounts[0], accounts[1]
    role = registry.functions.ACCREDITOR_ROLE().call()
    if not registry.functions.hasRole(role, _address(accreditor)).call():
        _send(w3, registry.functions.grantRole(role, _address(accreditor)), admin)

    key, new_key = Account.create(), Account.create()
    for acct in (key, new_key):
        _fund(w3, admin, acct.address)

    out: dict[str, int] = {}
    # A fresh accreditation body appointed with its directory entry (grants the role, 2 strings).
    body = Account.create().address
    out["onboard_accreditor_gas"] = _send(w3, registry.functions.onboardAccreditor(*ACCREDITOR_SAMPLE, body), admin)
    # Canonical did:web (lower-case hex label), unique per run: 34 bytes.
    uri = f"did:web:bench-{secrets.token_hex(6)}.example"
    out["admit_issuer_gas"] = _send(
        w3, registry.functions.admitIssuer("Bench University", uri, key.address), accreditor
    )
    check_gas, canonical = probe.functions.measureUriCheck(URI_CHECK_SAMPLE).call()
    if not canonical:
        raise RuntimeError(f"{URI_CHECK_SAMPLE} was not accepted as canonical")
    out["admit_issuer_uri_check_gas"] = int(check_gas)

    # anchor: a realistic batch (random root and metadata hash, a million credentials).
    digest = secrets.token_bytes(32)
    root, proof = _root_with_depth(_std_leaf(digest), depth)
    out["anchor_gas"] = _send(w3, registry.functions.anchor(root, 1_000_000, secrets.token_bytes(32)), key)

    probe_gas, status = probe.functions.measureCheck(registry_address, root, digest, proof).call()
    if status != 0:
        raise RuntimeError(f"checkCredential returned status {status}, expected Valid")
    out["onchain_verify_gas_depth20" if depth == 20 else f"onchain_verify_gas_depth{depth}"] = int(probe_gas)

    # Revocations are namespaced by the sender's issuer and take no root: (digest, reason).
    out["revoke_gas"] = _send(w3, registry.functions.revokeCredential(secrets.token_bytes(32), 1), key)
    digests = [secrets.token_bytes(32) for _ in range(bulk)]
    total = _send(w3, registry.functions.revokeCredentials(digests, 1), key)
    out[f"revoke_bulk{bulk}_gas_each"] = total // bulk
    # supersedeCredential: a correction whose successor is `digest` in the (live) batch above,
    # depth-20 proof, with a urn:uuid id (45 bytes); before revokeBatch, which would refuse it.
    out["supersede_gas"] = _send(
        w3,
        registry.functions.supersedeCredential(secrets.token_bytes(32), root, digest, proof, 1, SUCCESSOR_ID_SAMPLE),
        key,
    )
    out["revoke_batch_gas"] = _send(w3, registry.functions.revokeBatch(root, 2), key)
    # setSigningKey: the issuer's first Ed25519 signing key (random 32 bytes, like a real key), then a
    # replacement, which also retires the first.
    out["set_signing_key_gas"] = _send(w3, registry.functions.setSigningKey(secrets.token_bytes(32)), key)
    out["replace_signing_key_gas"] = _send(w3, registry.functions.setSigningKey(secrets.token_bytes(32)), key)
    out["rotate_key_gas"] = _send(w3, registry.functions.rotateKey(new_key.address), key)
    return out


def _deploy(w3: Web3, artifact: dict[str, Any], sender: str, *args: Any) -> str:
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": sender}))
    return str(receipt["contractAddress"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", default=str(DEFAULT_ARTIFACTS))
    parser.add_argument("--rpc", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"))
    args = parser.parse_args()
    w3 = Web3(Web3.HTTPProvider(args.rpc))

    def load(name: str) -> dict[str, Any]:
        return load_artifact(name, args.artifacts)

    accounts = w3.eth.accounts
    registry = _deploy(w3, load("CredentialRegistry"), accounts[0], accounts[0])
    probe = _deploy(w3, load("GasProbe"), accounts[0])
    print(json.dumps(measure_gas(w3, registry, probe, accounts, load=load), indent=2))


if __name__ == "__main__":
    main()
