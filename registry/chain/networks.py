"""Network profiles: chain id, confirmations and fee policy per chain.

Going from the local chain to a public one is a configuration change: pick a profile (or a
chain id) and an RPC URL. Verifiers find an RPC URL for a file's chain id in a user file of
known networks (``networks.json`` in the config directory), so `registry verify FILE` works
without flags for any chain the user has configured.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import ConfigError

__all__ = [
    "DEV_CHAIN_IDS",
    "PROFILES",
    "NetworkProfile",
    "known_rpc_urls",
    "profile_for_chain",
    "trusted_registries",
    "user_config_dir",
]

DEV_CHAIN_IDS = frozenset({31337, 1337})


@dataclass(frozen=True)
class NetworkProfile:
    """What the worker and verifier need to know about one chain."""

    name: str
    chain_id: int
    confirmations: int
    max_fee_gwei: float
    priority_fee_gwei: float
    default_rpc: str | None = None

    @property
    def is_dev(self) -> bool:
        return self.chain_id in DEV_CHAIN_IDS


PROFILES: dict[str, NetworkProfile] = {
    p.name: p
    for p in (
        NetworkProfile("local", 31337, 1, 50.0, 1.0, "http://127.0.0.1:8545"),
        NetworkProfile("sepolia", 11155111, 3, 50.0, 1.5),
        NetworkProfile("mainnet", 1, 12, 80.0, 2.0),
        NetworkProfile("base", 8453, 10, 1.0, 0.01),
        NetworkProfile("optimism", 10, 10, 1.0, 0.01),
        NetworkProfile("arbitrum-one", 42161, 20, 1.0, 0.01),
        NetworkProfile("base-sepolia", 84532, 5, 1.0, 0.01),
    )
}


def profile_for_chain(chain_id: int) -> NetworkProfile:
    """The profile of a chain id; unknown chains get a conservative generic profile."""
    for profile in PROFILES.values():
        if profile.chain_id == chain_id:
            return profile
    return NetworkProfile(f"chain-{chain_id}", chain_id, 12, 100.0, 2.0)


def user_config_dir() -> Path:
    """``$REGISTRY_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/credential-registry``."""
    if env := os.environ.get("REGISTRY_CONFIG_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "credential-registry"


def _user_networks() -> dict[int, dict[str, Any]]:
    """The user's ``networks.json``: chain id -> {"rpc": URL, "registries": [addresses]}.

    A bare string value is shorthand for ``{"rpc": value}``.
    """
    path = user_config_dir() / "networks.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("expected an object keyed by chain id")
        out: dict[int, dict[str, Any]] = {}
        for key, value in data.items():
            entry = {"rpc": value} if isinstance(value, str) else value
            if not isinstance(entry, dict):
                raise ValueError(f"chain {key}: expected a URL or an object")
            if "rpc" in entry and not isinstance(entry["rpc"], str):
                raise ValueError(f"chain {key}: rpc must be a string")
            regs = entry.get("registries", [])
            if not isinstance(regs, list) or not all(isinstance(r, str) for r in regs):
                raise ValueError(f"chain {key}: registries must be a list of addresses")
            out[int(key)] = entry
        return out
    except (ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def known_rpc_urls() -> dict[int, str]:
    """Chain id -> RPC URL: built-in defaults overlaid by the user's ``networks.json``."""
    urls = {p.chain_id: p.default_rpc for p in PROFILES.values() if p.default_rpc}
    for chain_id, entry in _user_networks().items():
        if entry.get("rpc"):
            urls[chain_id] = entry["rpc"]
    return {k: v for k, v in urls.items() if v}


def trusted_registries() -> dict[int, set[str]]:
    """Registry contracts the user pins per chain (empty: nothing pinned)."""
    return {
        chain_id: {r.lower() for r in entry.get("registries", [])}
        for chain_id, entry in _user_networks().items()
        if entry.get("registries")
    }
