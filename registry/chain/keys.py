"""Signing keys: encrypted eth-account keystores, or development keys on development chains.

A keystore's passphrase comes from ``REGISTRY_KEY_PASSPHRASE`` or the file named by
``REGISTRY_KEY_PASSPHRASE_FILE``; keys and passphrases are never logged or returned.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.chain.devkeys import dev_account
from registry.chain.networks import DEV_CHAIN_IDS
from registry.errors import ConfigError

__all__ = ["load_keystore", "load_signer"]


def _passphrase() -> str:
    if value := os.environ.get("REGISTRY_KEY_PASSPHRASE"):
        return value
    if file := os.environ.get("REGISTRY_KEY_PASSPHRASE_FILE"):
        try:
            return Path(file).read_text().rstrip("\n")
        except OSError as exc:
            raise ConfigError(f"cannot read passphrase file {file}: {exc.strerror}") from exc
    raise ConfigError("keystore passphrase missing: set REGISTRY_KEY_PASSPHRASE or REGISTRY_KEY_PASSPHRASE_FILE")


def load_keystore(path: Path) -> LocalAccount:
    """Decrypt an encrypted JSON keystore (V3)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read keystore {path}: {exc}") from exc
    try:
        key = Account.decrypt(data, _passphrase())
    except ValueError as exc:
        raise ConfigError(f"cannot decrypt keystore {path}: wrong passphrase or corrupt file") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def load_signer(chain_id: int, *, role: str, keystore: Path | None = None) -> LocalAccount:
    """A keystore when given (or ``REGISTRY_KEYSTORE``), else a dev key on a dev chain only."""
    path = keystore or (Path(p) if (p := os.environ.get("REGISTRY_KEYSTORE")) else None)
    if path is not None:
        return load_keystore(path)
    if chain_id not in DEV_CHAIN_IDS:
        raise ConfigError(
            f"chain {chain_id} is not a development chain: pass --keystore (or set REGISTRY_KEYSTORE) "
            "with an encrypted keystore; development keys are refused"
        )
    return dev_account(role, chain_id)
