"""Settings (environment variables, ``REGISTRY_`` prefix) and the data directory.

One pydantic-settings class for the CLI, the worker and the service. Defaults are for local
development (anvil + SQLite under ``.registry/``); :meth:`Settings.check_safe` refuses them on
any chain that is not a development chain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.chain.networks import PROFILES, NetworkProfile
from registry.errors import ConfigError, DeploymentError

__all__ = ["Deployment", "Settings", "load_deployment", "save_deployment"]


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``REGISTRY_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    home: Path = Field(default=Path(".registry"), description="data directory")
    network: str = Field(default="local", description="network profile name")
    rpc_url: str | None = Field(default=None, description="JSON-RPC endpoint")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (default: SQLite file registry.db in the data directory)",
        validation_alias=AliasChoices("REGISTRY_DATABASE_URL", "DATABASE_URL", "database_url"),
    )
    db_schema: str | None = Field(default=None, description="PostgreSQL schema (search path)")
    environment: str = Field(default="development")
    confirmations: int | None = Field(default=None, ge=1)
    registry_address: str | None = Field(
        default=None,
        description="registry contract (default: the deployments file's for the chain)",
    )
    # -- service and anchoring worker ----------------------------------------------------
    batch_size: int = Field(default=1000, ge=1, le=1_000_000, description="seal when this many wait")
    batch_max_age: float = Field(default=60.0, gt=0, description="seconds before a partial batch seals")
    worker_interval: float = Field(default=1.0, gt=0, description="seconds between worker passes")
    worker_in_process: bool = Field(default=True, description="run the worker inside `serve`")
    rpc_retry_max: float = Field(default=30.0, gt=0, description="longest backoff after RPC failures")
    webhook_timeout: float = Field(default=10.0, gt=0, description="seconds a webhook receiver has to answer")
    webhook_max_attempts: int = Field(default=8, ge=1, description="attempts before a delivery is marked failed")
    expiring_days: int = Field(
        default=30, ge=1, le=3650, description="days before validUntil the credential.expiring webhook is sent"
    )
    rebroadcast_after: float = Field(default=30.0, gt=0, description="resend a pending tx after (s)")
    max_anchor_attempts: int = Field(default=5, ge=1, description="reverted anchors before failing")
    max_body_bytes: int = Field(default=2 * 1024 * 1024 + 65536, ge=1024)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="CSV import limit")
    max_bulk: int = Field(default=10_000, ge=1, description="credentials per bulk request")
    max_verify_batch: int = Field(default=5_000, ge=1, description="files per bulk verify request")
    public_url: str = Field(default="http://127.0.0.1:8000", description="base URL of share links")
    public_rpc_url: str | None = Field(
        default=None,
        description="RPC URL the /verify page offers visitors (default: the service's RPC only when it is "
        "on this machine; a provider URL may carry a key and is never published)",
    )
    explorer_tx_url: str | None = Field(
        default=None,
        description="transaction link template, e.g. https://sepolia.etherscan.io/tx/{tx}",
    )
    host: str = Field(default="127.0.0.1")
    port: int = Field(default=8000, ge=1, le=65535)

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

    def public_rpc(self) -> str | None:
        """The RPC URL pages may show: ``public_rpc_url``, else the service's own RPC if it is a
        loopback address (a local chain), else None (visitors enter their own)."""
        if self.public_rpc_url:
            return self.public_rpc_url
        url = self.rpc_url or self.profile.default_rpc
        host = urlsplit(url).hostname if url else None
        return url if host in ("127.0.0.1", "localhost", "::1") else None

    @property
    def required_confirmations(self) -> int:
        return self.confirmations or self.profile.confirmations

    @property
    def db_url(self) -> str:
        """The database URL: ``database_url``, else a SQLite file in the data directory."""
        if self.database_url:
            url = self.database_url
            # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants "postgresql".
            return "postgresql" + url[len("postgres") :] if url.startswith("postgres://") else url
        return f"sqlite:///{self.data_dir / 'registry.db'}"

    def check_safe(self, chain_id: int) -> None:
        """Refuse development-only settings on a chain that is not a development chain."""
        from registry.chain.networks import DEV_CHAIN_IDS

        if chain_id in DEV_CHAIN_IDS:
            return
        if self.profile.is_dev and self.network == "local":
            raise ConfigError(
                f"the RPC serves chain {chain_id} but the network profile is 'local': set "
                "REGISTRY_NETWORK to the profile of that chain (e.g. sepolia)"
            )
        if self.profile.chain_id != chain_id:
            raise ConfigError(
                f"network profile {self.network!r} is chain {self.profile.chain_id}, "
                f"but the RPC serves chain {chain_id}"
            )

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
    data: dict[str, Any] | None = _read(settings.deployments_file).get(str(chain_id))
    if not data:
        raise DeploymentError(
            f"no registry deployed on chain {chain_id} according to {settings.deployments_file}; run `registry deploy`"
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
