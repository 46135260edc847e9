"""The chain adapter as one object: an endpoint's reads, history, sending and typed writes.

Composition over one :class:`~registry.chain.rpc.Rpc` (one HTTP session) and one
:class:`~registry.chain.reads.ChainReader` (which holds the registry address): callers that only
read (the verifier) construct a :class:`ChainReader` alone.
"""

from __future__ import annotations

from registry.chain.history import ChainHistory
from registry.chain.reads import ChainReader
from registry.chain.rpc import Rpc
from registry.chain.sender import TxSender
from registry.chain.writes import ChainWriter

__all__ = ["Chain"]


class Chain:
    """A JSON-RPC endpoint, optionally bound to a CredentialRegistry contract address.

    ``reads``: typed reads and the snapshot; ``history``: logs and blocks; ``sender``: signing,
    broadcasting and receipts (crash-safe steps); ``writes``: typed registry writes.
    """

    def __init__(self, rpc_url: str, registry: str | None = None, *, timeout: float = 10.0) -> None:
        self.rpc = Rpc(rpc_url, timeout=timeout)
        self.reads = ChainReader(self.rpc, registry)
        self.history = ChainHistory(self.reads)
        self.sender = TxSender(self.reads)
        self.writes = ChainWriter(self.sender)

    @property
    def rpc_url(self) -> str:
        return self.rpc.url

    @property
    def registry_address(self) -> str | None:
        return self.reads.registry_address

    @registry_address.setter
    def registry_address(self, value: str | None) -> None:
        self.reads.registry_address = value
