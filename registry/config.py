"""Settings (environment variables, ``REGISTRY_`` prefix) and the data directory.

One pydantic-settings class for the CLI, the worker and the service. Defaults are for local
development (anvil + SQLite under ``.registry/``); :meth:`Settings.check_safe` refuses them on
any chain that is not a development chain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.errors import ConfigError, DeploymentError
from registry.networks import PROFILES, NetworkProfile

__all__ = ["Deployment", "Settings", "load_deployment", "save_deployment"]


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``REGISTRY_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    home: Path = Field(default=Path(".registry"), description="data directory")
    network: str = Field(default="local", description="network profile name")
    rpc_url: str | None = Field(default=None, description="JSON-RPC endpoint")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL")
    environment: str = Field(default="development")
    confirmations: int | None = Field(default=None, ge=1)

    @property
    def profile(self) -> NetworkProfile:
        try:
            return PROFILES[self.network]
        except KeyError as exc:
            names = ", ".join(sorted(PROFILES))
            raise ConfigError(f"unknown network {self.network!r}; known: {names}") from exc

    @property
    def rpc(self) -> str:
        url = self.rpc_url or self.profile.default_rpc
        if not url:
            raise ConfigError(f"network {self.network!r} needs REGISTRY_RPC_URL")
        return url

    @property
    def required_confirmations(self) -> int:
        return self.confirmations or self.profile.confirmations

    @property
    def data_dir(self) -> Path:
        return self.home.resolve()

    @property
    def deployments_file(self) -> Path:
        return self.data_dir / "deployments.json"


class Deployment(dict[str, Any]):
    """A recorded deployment: chainId, address, txHash, block, codeHash, deployer, deployedAt."""


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    return data


def load_deployment(settings: Settings, chain_id: int) -> dict[str, Any]:
    """The deployment recorded for ``chain_id`` (raises DeploymentError when none)."""
    data = _read(settings.deployments_file).get(str(chain_id))
    if not data:
        raise DeploymentError(
            f"no registry deployed on chain {chain_id} according to {settings.deployments_file}; "
            "run `registry deploy`"
        )
    return data


def save_deployment(settings: Settings, record: dict[str, Any]) -> None:
    """Record a deployment (atomically: write then rename, so the file is never half written)."""
    path = settings.deployments_file
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _read(path)
    data[str(record["chainId"])] = record
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
