"""Operations on a registry deployment, shared by the CLI, the demo and the service.

Thin orchestration over :mod:`registry.chain.client`: deploy (with a deployments record), admit an
issuer, anchor a prepared batch and produce the anchor facts credential files need, revoke.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from registry.chain.client import ChainClient, TxResult
from registry.config import Settings, load_deployment, save_deployment
from registry.errors import DeploymentError, TransactionFailed

__all__ = [
    "ACCREDITOR_ROLE",
    "admit_issuer",
    "anchor_root",
    "connect",
    "deploy_registry",
    "revoke_batch",
    "revoke_credentials",
]

ACCREDITOR_ROLE = keccak(text="ACCREDITOR_ROLE")


def deploy_registry(
    settings: Settings, client: ChainClient, account: LocalAccount, *, force: bool = False
) -> dict[str, Any]:
    """Deploy the contract and record it; refuse to replace a live deployment without force.

    A recorded deployment whose address has no code (a reset local chain) is stale and is
    replaced without ``force``.
    """
    chain_id = client.chain_id()
    try:
        existing = load_deployment(settings, chain_id)
    except DeploymentError:
        existing = None
    if existing and not force and client.has_code(existing["address"]):
        raise DeploymentError(
            f"a registry is already deployed on chain {chain_id} at {existing['address']} "
            f"(recorded in {settings.deployments_file}); pass --force to deploy a new one"
        )
    result = client.deploy(account)
    address = to_checksum_address(result.contract_address or "")
    code = client.runtime_code(address)
    record = {
        "chainId": chain_id,
        "address": address,
        "txHash": result.tx_hash,
        "block": result.block_number,
        "codeHash": "0x" + keccak(code).hex(),
        "codeSha256": hashlib.sha256(code).hexdigest(),
        "deployer": account.address,
        "deployedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "replaced": existing["address"] if existing else None,
    }
    save_deployment(settings, record)
    return record


def connect(settings: Settings, rpc_url: str | None = None) -> ChainClient:
    """A client bound to the deployment recorded for the RPC's chain."""
    client = ChainClient(rpc_url or settings.rpc)
    deployment = load_deployment(settings, client.chain_id())
    client.registry_address = to_checksum_address(deployment["address"])
    return client


def grant_accreditor(client: ChainClient, admin: LocalAccount, accreditor: str) -> TxResult | None:
    """Give ``accreditor`` the accreditation-body role (no-op when it already has it)."""
    if client.has_role("ACCREDITOR_ROLE", accreditor):
        return None
    fn = client.fn("grantRole", ACCREDITOR_ROLE, to_checksum_address(accreditor))
    return client.transact(admin, fn, "grant accreditor role")


def admit_issuer(client: ChainClient, accreditor: LocalAccount, name: str, uri: str, key: str) -> int:
    """Admit an issuer (or return its id when this URI is already admitted with this key)."""
    existing = int(client.contract.functions.issuerIdByUri(uri).call())
    if existing:
        info = client.keys_by_address([key])[to_checksum_address(key)]
        if info.issuer_id == existing:
            return existing
        raise TransactionFailed("admit issuer", f"URI {uri} already belongs to issuer {existing}")
    result = client.transact(accreditor, client.fn("admitIssuer", name, uri, to_checksum_address(key)), "admit issuer")
    events = client.events("IssuerAdmitted", result.logs)
    return int(events[0]["issuerId"])


def anchor_root(client: ChainClient, issuer_key: LocalAccount, root: bytes, count: int, metadata: bytes) -> TxResult:
    """Anchor one batch root (one transaction whatever the batch size)."""
    metadata_hash = keccak(metadata)
    return client.transact(issuer_key, client.fn("anchor", root, count, metadata_hash), "anchor batch")


def revoke_credentials(client: ChainClient, issuer_key: LocalAccount, digests: list[bytes], reason: int) -> TxResult:
    """Revoke credentials by digest in the issuer's namespace: one call, or a bulk call."""
    if len(digests) == 1:
        fn = client.fn("revokeCredential", digests[0], reason)
    else:
        fn = client.fn("revokeCredentials", digests, reason)
    return client.transact(issuer_key, fn, "revoke credential" if len(digests) == 1 else "revoke credentials")


def revoke_batch(client: ChainClient, issuer_key: LocalAccount, root: bytes, reason: int) -> TxResult:
    """Revoke a whole batch (only the issuer that anchored it)."""
    return client.transact(issuer_key, client.fn("revokeBatch", root, reason), "revoke batch")
