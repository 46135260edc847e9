"""What the running service holds: settings, the database engine, a lazily connected chain
client, a shared verifier and (optionally) the in-process anchoring worker."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from registry.chain import ChainClient, IssuerInfo
from registry.config import Settings
from registry.errors import ChainUnavailable
from registry.verify import Verifier
from registry.worker import Worker, chain_client

__all__ = ["ServiceState"]


@dataclass
class ServiceState:
    settings: Settings
    engine: Engine
    client: ChainClient | None = None
    worker: Worker | None = None
    worker_thread: threading.Thread | None = None
    worker_stop: threading.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _verifier: Verifier | None = None
    _issuers: tuple[float, list[IssuerInfo]] | None = None

    def chain(self) -> ChainClient:
        """The chain client bound to the registry (connects on first use; may raise)."""
        with self._lock:
            if self.client is None:
                self.client = chain_client(self.settings)
            return self.client

    def verifier(self) -> Verifier:
        """One verifier for the public verify API; files of the service's chain use its RPC,
        files of other chains the RPC URLs the operator configured (networks.json)."""
        with self._lock:
            if self._verifier is None:
                settings = self.settings

                def client_for(chain_id: int, registry: str) -> ChainClient:
                    own = self.client
                    if own is not None and own.chain_id() == chain_id:
                        return ChainClient(settings.rpc, registry)
                    from registry.networks import known_rpc_urls

                    url = known_rpc_urls().get(chain_id)
                    if url is None:
                        raise ChainUnavailable(f"chain {chain_id}", "this service has no RPC endpoint for that chain")
                    return ChainClient(url, registry)

                from registry.networks import trusted_registries

                trusted = trusted_registries()
                try:
                    client = self.client or chain_client(settings)
                    self.client = client
                    if client.registry_address:
                        trusted.setdefault(client.chain_id(), set()).add(client.registry_address.lower())
                except Exception:
                    pass
                self._verifier = Verifier(client_for=client_for, trusted=trusted, timeout=10.0)
            return self._verifier
