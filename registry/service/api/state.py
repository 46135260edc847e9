"""What the running service holds: settings, the database engine, a lazily connected chain
client, a shared verifier and (optionally) the handles of the in-process anchoring worker.

The API never builds the worker or the chain client itself: :mod:`registry.service.runtime`
wires them in (``connect``, ``worker_wake``, ``worker_thread``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
from sqlalchemy.engine import Engine

from registry.chain.adapter import Chain
from registry.chain.model import AccreditorInfo, IssuerInfo
from registry.chain.reads import ChainReader, head_cached_reader
from registry.config import Settings
from registry.errors import ChainUnavailable
from registry.service.api.chainrounds import ChainRounds
from registry.verify import VerificationPolicy, Verifier

__all__ = ["VERIFY_HEAD_MAX_AGE", "VERIFY_THREADS", "ServiceState"]

VERIFY_THREADS = 4
"""Rounds of chain parts (waiting on the RPC, :mod:`registry.service.api.chainrounds`) that run at
once in one process; the offline checks of large bodies (CPU only) run one at a time
(:meth:`ServiceState.offline_limiter`), since threads computing at once only take turns at the
GIL. Requests beyond either limit wait their turn in the event loop."""

VERIFY_HEAD_MAX_AGE = 0.0
"""How old (seconds) a head block the verify API answers at may be: 0 = learned after the request
arrived (concurrent requests share one head call; chain reads are reused while the head stays)."""


@dataclass
class ServiceState:
    settings: Settings
    engine: Engine
    connect: Callable[[Settings], Chain]
    """Builds the chain client bound to the service's registry (called once, on first use)."""
    client: Chain | None = None
    worker_wake: threading.Event | None = None
    """Set it to wake the in-process worker (None: the worker runs elsewhere)."""
    worker_thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _verifier: Verifier | None = None
    _lock_clients: threading.Lock = field(default_factory=threading.Lock)
    _verify_clients: dict[tuple[int, str], ChainReader] = field(default_factory=dict)
    _issuers: tuple[float, list[IssuerInfo], dict[str, AccreditorInfo]] | None = None
    _verify_limiter: anyio.CapacityLimiter | None = None
    _offline_limiter: anyio.CapacityLimiter | None = None
    _chain_rounds: ChainRounds | None = None

    def chain_rounds(self) -> ChainRounds:
        """The rounds in which the verify API reads the chain for concurrent requests; called in
        the event loop."""
        if self._chain_rounds is None:
            self._chain_rounds = ChainRounds()
        return self._chain_rounds

    def offline_limiter(self) -> anyio.CapacityLimiter:
        """The one thread at a time the verify API's offline checks (CPU only) may use; called in
        the event loop."""
        if self._offline_limiter is None:
            self._offline_limiter = anyio.CapacityLimiter(1)
        return self._offline_limiter

    def verify_limiter(self) -> anyio.CapacityLimiter:
        """The threads the verify API's chain parts may use at once (:data:`VERIFY_THREADS`); called in the
        event loop."""
        if self._verify_limiter is None:
            self._verify_limiter = anyio.CapacityLimiter(VERIFY_THREADS)
        return self._verify_limiter

    def chain(self) -> Chain:
        """The chain client bound to the registry (connects on first use; may raise)."""
        with self._lock:
            if self.client is None:
                self.client = self.connect(self.settings)
            return self.client

    def issuer_directory(self, max_age: float = 10.0) -> tuple[list[IssuerInfo], dict[str, AccreditorInfo]]:
        """The issuer directory read from the chain, with the directory entries of the bodies that
        admitted them, reused for ``max_age`` seconds."""
        cached = self._issuers
        if cached is None or time.monotonic() - cached[0] > max_age:
            reads = self.chain().reads
            entries = reads.all_issuers()
            cached = (time.monotonic(), entries, reads.accreditors(i.admitted_by for i in entries))
            self._issuers = cached
        return cached[1], cached[2]

    def verifier(self) -> Verifier:
        """One verifier for the public verify API; files of the service's chain use its RPC,
        files of other chains the RPC URLs the operator configured (networks.json). Chain reads
        go through one shared head-cached :class:`ChainReader` per chain and registry (one HTTP
        session with keep-alive; reads reused while the head block stays the same)."""
        with self._lock:
            if self._verifier is None:
                settings = self.settings

                def client_for(chain_id: int, registry: str) -> ChainReader:
                    key = (chain_id, registry.lower())
                    with self._lock_clients:
                        cached = self._verify_clients.get(key)
                        if cached is not None:
                            return cached
                    own = self.client
                    if own is not None and own.reads.chain_id() == chain_id:
                        url = settings.rpc
                    else:
                        from registry.chain.networks import known_rpc_urls

                        found = known_rpc_urls().get(chain_id)
                        if found is None:
                            raise ChainUnavailable(
                                f"chain {chain_id}", "this service has no RPC endpoint for that chain"
                            )
                        url = found
                    client = head_cached_reader(url, registry, head_max_age=VERIFY_HEAD_MAX_AGE)
                    with self._lock_clients:
                        return self._verify_clients.setdefault(key, client)

                from registry.chain.networks import trust_anchors

                trusted = trust_anchors()
                try:
                    client = self.client or self.connect(settings)
                    self.client = client
                    if client.registry_address:
                        own = trusted.setdefault(client.reads.chain_id(), {})
                        own.setdefault(client.registry_address.lower(), "this service's own deployment")
                except Exception:
                    pass
                self._verifier = Verifier(VerificationPolicy(trusted=trusted), client_for=client_for, timeout=10.0)
            return self._verifier
