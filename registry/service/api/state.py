"""What the running service holds: settings, the database engine, a lazily connected chain
client, a shared verifier and (optionally) the in-process anchoring worker."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from registry.chain.cache import HeadCachedClient
from registry.chain.client import ChainClient, IssuerInfo
from registry.config import Settings
from registry.errors import ChainUnavailable
from registry.service.worker import Worker, chain_client
from registry.verify.verifier import Verifier

__all__ = ["VERIFY_HEAD_MAX_AGE", "ServiceState"]

VERIFY_HEAD_MAX_AGE = 0.0
"""How old (seconds) a head block the verify API answers at may be: 0 = learned after the request
arrived (concurrent requests share one head call; chain reads are reused while the head stays)."""


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
    _lock_clients: threading.Lock = field(default_factory=threading.Lock)
    _verify_clients: dict[tuple[int, str], ChainClient] = field(default_factory=dict)
    _issuers: tuple[float, list[IssuerInfo]] | None = None

    def chain(self) -> ChainClient:
        """The chain client bound to the registry (connects on first use; may raise)."""
        with self._lock:
            if self.client is None:
                self.client = chain_client(self.settings)
            return self.client

    def verifier(self) -> Verifier:
        """One verifier for the public verify API; files of the service's chain use its RPC,
        files of other chains the RPC URLs the operator configured (networks.json). Chain reads
        go through one shared :class:`HeadCachedClient` per chain and registry (one HTTP
        session with keep-alive; reads reused while the head block stays the same)."""
        with self._lock:
            if self._verifier is None:
                settings = self.settings

                def client_for(chain_id: int, registry: str) -> ChainClient:
                    key = (chain_id, registry.lower())
                    with self._lock_clients:
                        cached = self._verify_clients.get(key)
                        if cached is not None:
                            return cached
                    own = self.client
                    if own is not None and own.chain_id() == chain_id:
                        url = settings.rpc
                    else:
                        from registry.chain.networks import known_rpc_urls

                        found = known_rpc_urls().get(chain_id)
                        if found is None:
                            raise ChainUnavailable(
                                f"chain {chain_id}", "this service has no RPC endpoint for that chain"
                            )
                        url = found
                    client = HeadCachedClient(url, registry, head_max_age=VERIFY_HEAD_MAX_AGE)
                    with self._lock_clients:
                        return self._verify_clients.setdefault(key, client)

                from registry.chain.networks import trusted_registries

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
