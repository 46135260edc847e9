"""Well-known development keys of anvil's default mnemonic. Never valid off a dev chain.

These keys are public (every Foundry/Hardhat user has them); they exist so the local demo
and tests need no key management. :func:`dev_account` refuses any non-development chain id.
"""

from __future__ import annotations

from functools import cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.chain.local import DEV_MNEMONIC
from registry.chain.networks import DEV_CHAIN_IDS
from registry.errors import ConfigError

__all__ = ["DEV_ROLES", "dev_account"]

# Index in anvil's default mnemonic for each demo role.
DEV_ROLES = {
    "admin": 0,
    "accreditor": 1,
    "issuer": 2,
    "issuer2": 3,
    "issuer-rotated": 4,
    "stranger": 5,
}


def dev_account(role: str, chain_id: int) -> LocalAccount:
    """The development key for ``role``; refused unless ``chain_id`` is a development chain."""
    if chain_id not in DEV_CHAIN_IDS:
        raise ConfigError(
            f"development keys are refused on chain {chain_id}: configure a real key "
            "(encrypted keystore) for any non-development chain"
        )
    try:
        index = DEV_ROLES[role]
    except KeyError as exc:
        raise ConfigError(f"unknown development role {role!r}") from exc
    return _derive(index)


@cache
def _derive(index: int) -> LocalAccount:
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account
