"""Chain reads cached per head block, for the verifier of a long-running service.

A :class:`HeadCache` given to :class:`~registry.chain.reads.ChainReader` makes its snapshot
answer "as of the latest block": each call first learns the head (number and hash), then serves
batch records, anchoring keys, directory entries (of issuers and of their accreditation bodies),
signing keys, credential revocations and supersessions from what was
already read *at that very block*, and reads only what is missing, pinned to that block number.
A new block (or a reorg: another hash at the same height) starts an empty cache, so a
revocation is never answered from a read older than the head the answer names.

The head itself is one small JSON-RPC call, shared by concurrent callers: a caller reuses a head
whose fetch *started* no earlier than ``head_max_age`` seconds before the caller asked (0, the
default: started after it asked, so the answer is as fresh as an uncached one; concurrent
requests still share one call). "Asked" is when the request arrived, if the caller says so
(``asked_at``): requests queued behind a busy server then share the head call that started after
the last of them arrived, instead of making one call each.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from registry.chain.model import (
    AccreditorInfo,
    BatchInfo,
    CredentialRevocation,
    IssuerInfo,
    KeyInfo,
    SigningKeyInfo,
    Supersession,
)
from registry.chain.rpc import Rpc
from registry.errors import ChainUnavailable

__all__ = ["MAX_CACHED_READS", "HeadCache", "ReadsAt"]

MAX_CACHED_READS = 50_000
"""Entries kept for one head before the cache starts over (bounds memory on a quiet chain)."""


@dataclass
class ReadsAt:
    """What was read at one block (by hash) for one registry."""

    block_hash: str
    registry: str
    chain_id: int | None = None
    has_code: bool = False
    batches: dict[str, BatchInfo | None] = field(default_factory=dict)
    revocations: dict[tuple[int, str], CredentialRevocation | None] = field(default_factory=dict)
    key_addresses: dict[int, str] = field(default_factory=dict)
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    issuers: dict[int, IssuerInfo] = field(default_factory=dict)
    owners: dict[str, int] = field(default_factory=dict)
    accreditors: dict[str, AccreditorInfo] = field(default_factory=dict)
    signing_keys: dict[bytes, SigningKeyInfo] = field(default_factory=dict)
    supersessions: dict[tuple[int, str], Supersession | None] = field(default_factory=dict)

    def size(self) -> int:
        return (
            len(self.batches)
            + len(self.revocations)
            + len(self.owners)
            + len(self.signing_keys)
            + len(self.supersessions)
        )


class HeadCache:
    """The current head and the reads made at it. Safe to share between threads (one per RPC
    endpoint and registry)."""

    def __init__(self, *, head_max_age: float = 0.0) -> None:
        self.head_max_age = head_max_age
        self._head_lock = threading.Lock()
        self._reads_lock = threading.Lock()
        self._head: tuple[float, int, str] | None = None  # (fetch started, number, hash)
        self._head_failure: tuple[float, str] | None = None  # (fetch started, reason)
        self._reads: ReadsAt | None = None
        self.head_calls = 0  # for tests and benchmarks
        self.read_calls = 0

    def current_head(self, rpc: Rpc, asked_at: float | None = None) -> tuple[int, str]:
        """(number, hash) of the latest block, fetched after ``asked_at - head_max_age``.

        ``asked_at`` is the :func:`time.monotonic` moment the request arrived (default: now). A
        request that waited for a thread (the verify API under load) is answered at a head whose
        call started after it arrived, as fresh as an uncached read made on arrival, and shares
        that call with every request that arrived before it started.
        """
        now = time.monotonic()
        asked = (now if asked_at is None else min(asked_at, now)) - self.head_max_age
        with self._head_lock:
            head = self._head
            if head is None or head[0] < asked:
                failed = self._head_failure
                if failed is not None and failed[0] >= asked:
                    # A call that started after this request arrived just failed: callers queued
                    # behind it share the answer instead of waiting out one timeout each.
                    raise ChainUnavailable(rpc.url, failed[1])
                started = time.monotonic()
                try:
                    block = rpc.batch([("eth_getBlockByNumber", ["latest", False])])[0]
                    self.head_calls += 1
                    try:
                        head = (started, int(block["number"], 16), str(block["hash"]).lower())
                    except (TypeError, KeyError, ValueError) as exc:
                        raise ChainUnavailable(rpc.url, "malformed answer to eth_getBlockByNumber") from exc
                except ChainUnavailable as exc:
                    self._head_failure = (started, exc.reason)
                    raise
                self._head = head
        return head[1], head[2]

    def reads_at(self, block_hash: str, registry: str) -> ReadsAt:
        """The reads made at ``block_hash`` for ``registry`` (a fresh record for a new head)."""
        with self._reads_lock:
            reads = self._reads
            if (
                reads is None
                or reads.block_hash != block_hash
                or reads.registry != registry
                or reads.size() > MAX_CACHED_READS
            ):
                reads = ReadsAt(block_hash, registry)
                self._reads = reads
            return reads
