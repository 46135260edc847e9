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
    "add_trusted_registry",
    "known_rpc_urls",
    "known_rpcs",
    "networks_file",
    "profile_for_chain",
    "remove_trusted_registry",
    "trust_anchors",
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
    registries: tuple[str, ...] = ()
    """Registries the package ships as trust anchors on this chain (a release fills them in for
    public chains; none for the local chain, whose registry each project deploys itself)."""

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


def networks_file() -> Path:
    """The user's ``networks.json`` (in :func:`user_config_dir`)."""
    return user_config_dir() / "networks.json"


def _user_networks() -> dict[int, dict[str, Any]]:
    """The user's ``networks.json``: chain id -> {"rpc": URL, "rpcs": [URLs], "registries": [addresses]}.

    A bare string value is shorthand for ``{"rpc": value}``. ``rpcs`` lists further endpoints
    (or all of them): with two or more, a verifier asks every one and requires them to agree.
    """
    path = networks_file()
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
            rpcs = entry.get("rpcs", [])
            if not isinstance(rpcs, list) or not all(isinstance(u, str) and u for u in rpcs):
                raise ValueError(f"chain {key}: rpcs must be a list of URLs")
            regs = entry.get("registries", [])
            if not isinstance(regs, list) or not all(isinstance(r, str) for r in regs):
                raise ValueError(f"chain {key}: registries must be a list of addresses")
            out[int(key)] = entry
        return out
    except (ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def known_rpcs() -> dict[int, list[str]]:
    """Chain id -> RPC URLs: built-in defaults overlaid by the user's ``networks.json`` (its
    ``rpc``, then its ``rpcs``). Several URLs for a chain: a verifier wants them all to agree."""
    urls = {p.chain_id: [p.default_rpc] for p in PROFILES.values() if p.default_rpc}
    for chain_id, entry in _user_networks().items():
        listed = ([entry["rpc"]] if entry.get("rpc") else []) + list(entry.get("rpcs", []))
        if listed:
            urls[chain_id] = list(dict.fromkeys(listed))
    return urls


def known_rpc_urls() -> dict[int, str]:
    """Chain id -> RPC URL (the first of :func:`known_rpcs`): for callers that use one endpoint."""
    return {k: v[0] for k, v in known_rpcs().items()}


def trust_anchors() -> dict[int, dict[str, str]]:
    """Trusted registries per chain id: lower-case address -> the trust source that admits it.

    Sources: the registries this package ships per network profile, then the user's
    ``networks.json`` (``registries``). A project folder's deployments file and a service's own
    deployment are added by their callers.
    """
    anchors: dict[int, dict[str, str]] = {}
    for profile in PROFILES.values():
        for address in profile.registries:
            anchors.setdefault(profile.chain_id, {})[address.lower()] = f"the package's {profile.name} profile"
    path = networks_file()
    for chain_id, entry in _user_networks().items():
        for address in entry.get("registries", []):
            anchors.setdefault(chain_id, {}).setdefault(address.lower(), f"your {path}")
    return anchors


def _check_address(address: str) -> str:
    text = address.strip()
    if len(text) != 42 or not text.startswith("0x") or any(c not in "0123456789abcdefABCDEF" for c in text[2:]):
        raise ConfigError(f"{address!r} is not a contract address (0x and 40 hex digits)")
    return text.lower()


def _write_networks(data: dict[str, Any]) -> Path:
    path = networks_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)  # atomic: the file is never half written
    return path


def _raw_networks() -> dict[str, Any]:
    _user_networks()  # validates the file first: a malformed file is refused, never overwritten
    path = networks_file()
    return json.loads(path.read_text()) if path.exists() else {}


def add_trusted_registry(chain_id: int, address: str) -> bool:
    """Trust ``address`` on ``chain_id`` in the user's ``networks.json`` (False: already trusted)."""
    registry = _check_address(address)
    data = _raw_networks()
    entry = data.get(str(chain_id), {})
    entry = {"rpc": entry} if isinstance(entry, str) else dict(entry)
    registries = [r.lower() for r in entry.get("registries", [])]
    if registry in registries:
        return False
    entry["registries"] = [*registries, registry]
    data[str(chain_id)] = entry
    _write_networks(data)
    return True


def remove_trusted_registry(chain_id: int, address: str) -> bool:
    """Stop trusting ``address`` on ``chain_id`` (False: it was not in ``networks.json``)."""
    registry = _check_address(address)
    data = _raw_networks()
    entry = data.get(str(chain_id))
    if not isinstance(entry, dict) or registry not in [r.lower() for r in entry.get("registries", [])]:
        return False
    entry["registries"] = [r for r in entry["registries"] if r.lower() != registry]
    if not entry["registries"]:
        del entry["registries"]
    data[str(chain_id)] = entry
    _write_networks(data)
    return True
