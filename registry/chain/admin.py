"""A registry deployment as the CLI, the demo and the service know it: the deployments file.

Connect to the registry recorded for an RPC's chain; deploy a new one and record it (refusing to
replace a live deployment unless forced).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from registry.chain.adapter import Chain
from registry.config import Settings, load_deployment, save_deployment
from registry.core.keccak import keccak256_hex
from registry.errors import DeploymentError

__all__ = ["connect", "deploy_registry"]


def connect(settings: Settings, rpc_url: str | None = None) -> Chain:
    """An adapter bound to the deployment recorded for the RPC's chain."""
    chain = Chain(rpc_url or settings.rpc)
    deployment = load_deployment(settings, chain.reads.chain_id())
    chain.registry_address = to_checksum_address(deployment["address"])
    return chain


def deploy_registry(settings: Settings, chain: Chain, account: LocalAccount, *, force: bool = False) -> dict[str, Any]:
    """Deploy the contract and record it; refuse to replace a live deployment without force.

    A recorded deployment whose address has no code (a reset local chain) is stale and is
    replaced without ``force``.
    """
    chain_id = chain.reads.chain_id()
    try:
        existing = load_deployment(settings, chain_id)
    except DeploymentError:
        existing = None
    if existing and not force and chain.reads.has_code(existing["address"]):
        raise DeploymentError(
            f"a registry is already deployed on chain {chain_id} at {existing['address']} "
            f"(recorded in {settings.deployments_file}); pass --force to deploy a new one"
        )
    result = chain.writes.deploy(account)
    address = to_checksum_address(result.contract_address or "")
    code = chain.reads.runtime_code(address)
    record = {
        "chainId": chain_id,
        "address": address,
        "txHash": result.tx_hash,
        "block": result.block_number,
        "codeHash": keccak256_hex(code),
        "codeSha256": hashlib.sha256(code).hexdigest(),
        "deployer": account.address,
        "deployedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "replaced": existing["address"] if existing else None,
    }
    save_deployment(settings, record)
    return record
