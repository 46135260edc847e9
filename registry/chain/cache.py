"""Chain reads of the verifier, cached per head block (the public verify API).

:class:`HeadCachedClient` is a :class:`~registry.chain.client.ChainClient` whose :meth:`snapshot`
answers "as of the latest block": each call first learns the head (number and hash), then serves
batch records, anchoring keys, directory entries and credential revocations from what was
already read *at that very block*, and reads only what is missing, pinned to that block number.
A new block (or a reorg: another hash at the same height) starts an empty cache, so a
revocation is never answered from a read older than the head the answer names.

The head itself is one small JSON-RPC call, shared by concurrent callers: a caller reuses a head
whose fetch *started* no earlier than ``head_max_age`` seconds before the caller asked (0, the
default: started after it asked, so the answer is as fresh as an uncached one; concurrent
requests still share one call).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_utils import to_checksum_address

from registry.chain.client import (
    BatchInfo,
    ChainClient,
    CredentialRevocation,
    IssuerInfo,
    KeyInfo,
    Snapshot,
    _b32,
    _hex,
)
from registry.errors import ChainUnavailable

__all__ = ["HeadCachedClient"]

MAX_CACHED_READS = 50_000
"""Entries kept for one head before the cache starts over (bounds memory on a quiet chain)."""


@dataclass
class _ReadsAt:
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

    def size(self) -> int:
        return len(self.batches) + len(self.revocations)


class HeadCachedClient(ChainClient):
    """A chain client whose :meth:`snapshot` reuses the reads made at the current head block.

    Safe to share between threads (one instance per RPC endpoint and registry).
    """

    def __init__(
        self, rpc_url: str, registry: str | None = None, *, timeout: float = 10.0, head_max_age: float = 0.0
    ) -> None:
        super().__init__(rpc_url, registry, timeout=timeout)
        self._read_environment_once()
        self.head_max_age = head_max_age
        self._head_lock = threading.Lock()
        self._reads_lock = threading.Lock()
        self._head: tuple[float, int, str] | None = None  # (fetch started, number, hash)
        self._head_failure: tuple[float, str] | None = None  # (fetch started, reason)
        self._reads: _ReadsAt | None = None
        self.head_calls = 0  # for tests and benchmarks
        self.read_calls = 0

    def _read_environment_once(self) -> None:
        """What requests reads from the environment on *every* call (proxies, CA bundle, .netrc),
        read once here: a long-lived service does not change its environment, and scanning it
        cost a good part of each verify request."""
        session = self._session
        session.proxies.update(requests.utils.get_environ_proxies(self.rpc_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
        auth = requests.utils.get_netrc_auth(self.rpc_url)
        if auth:
            session.auth = auth
        session.trust_env = False

    def current_head(self) -> tuple[int, str]:
        """(number, hash) of the latest block, fetched after ``now - head_max_age``."""
        asked = time.monotonic() - self.head_max_age
        with self._head_lock:
            head = self._head
            if head is None or head[0] < asked:
                failed = self._head_failure
                if failed is not None and failed[0] >= asked:
                    # A call that started after this request arrived just failed: callers queued
                    # behind it share the answer instead of waiting out one timeout each.
                    raise ChainUnavailable(self.rpc_url, failed[1])
                started = time.monotonic()
                try:
                    block = self.rpc_batch([("eth_getBlockByNumber", ["latest", False])])[0]
                    self.head_calls += 1
                    try:
                        head = (started, int(block["number"], 16), str(block["hash"]).lower())
                    except (TypeError, KeyError, ValueError) as exc:
                        raise ChainUnavailable(self.rpc_url, "malformed answer to eth_getBlockByNumber") from exc
                except ChainUnavailable as exc:
                    self._head_failure = (started, exc.reason)
                    raise
                self._head = head
        return head[1], head[2]

    def _reads_at(self, block_hash: str, registry: str) -> _ReadsAt:
        with self._reads_lock:
            reads = self._reads
            if (
                reads is None
                or reads.block_hash != block_hash
                or reads.registry != registry
                or reads.size() > MAX_CACHED_READS
            ):
                reads = _ReadsAt(block_hash, registry)
                self._reads = reads
            return reads

    def _calls_at(self, block: str, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        results: list[tuple[Any, ...]] = []
        for start in range(0, len(calls), 500):
            chunk = calls[start : start + 500]
            raw = self.rpc_batch([self.call_request(name, *args, block=block) for name, args in chunk])
            self.read_calls += 1
            results.extend(self.decode_result(name, r) for (name, _), r in zip(chunk, raw, strict=True))
        return results

    def snapshot(self, roots: Iterable[bytes | str], pairs: Iterable[tuple[bytes | str, bytes | str]]) -> Snapshot:
        """Like :meth:`ChainClient.snapshot`, at the current head; reads only what this head has
        not answered yet (often nothing)."""
        root_keys = list(dict.fromkeys(_hex(r) for r in roots))
        pair_keys = list(dict.fromkeys((_hex(r), _hex(d)) for r, d in pairs))
        registry = self.registry_address
        assert registry is not None
        number, block_hash = self.current_head()
        block = hex(number)
        reads = self._reads_at(block_hash, registry)
        # Concurrent callers may read the same missing entries twice: equal values, last one wins.
        missing_roots = [k for k in root_keys if k not in reads.batches]
        need_code = reads.chain_id is None  # decided once: another thread may fill it meanwhile
        if need_code or missing_roots:
            requests: list[tuple[str, list[Any]]] = []
            if need_code:
                requests = [("eth_chainId", []), ("eth_getCode", [registry, block])]
            requests += [self.call_request("batch", _b32(k), block=block) for k in missing_roots]
            answers = self.rpc_batch(requests)
            self.read_calls += 1
            if need_code:
                chain_id, code = int(answers[0], 16), str(answers[1])
                reads.has_code = code not in ("0x", "0x0", "")
                reads.chain_id = chain_id
                answers = answers[2:]
            if reads.has_code:
                for k, r in zip(missing_roots, answers, strict=True):
                    reads.batches[k] = self._batch_info(k, self.decode_result("batch", r))
        assert reads.chain_id is not None
        snap = Snapshot(chain_id=reads.chain_id, has_code=reads.has_code, head=number)
        if not snap.has_code:
            return snap
        for k in root_keys:
            snap.batches[k] = reads.batches[k]
        known = [b for b in snap.batches.values() if b is not None]
        key_ids = [i for i in dict.fromkeys(b.key_id for b in known) if i not in reads.key_addresses]
        issuer_ids = [i for i in dict.fromkeys(b.issuer_id for b in known) if i not in reads.issuers]
        wanted_revs = list(
            dict.fromkeys((batch.issuer_id, d) for r, d in pair_keys if (batch := snap.batches.get(r)) is not None)
        )
        revs = [p for p in wanted_revs if p not in reads.revocations]
        if key_ids or issuer_ids or revs:
            second = self._calls_at(
                block,
                [("keyAddress", (i,)) for i in key_ids]
                + [("issuer", (i,)) for i in issuer_ids]
                + [("credentialRevocation", (i, _b32(d))) for i, d in revs],
            )
            addresses = [to_checksum_address(r[0]) for r in second[: len(key_ids)]]
            for i, r in zip(issuer_ids, second[len(key_ids) : len(key_ids) + len(issuer_ids)], strict=True):
                reads.issuers[i] = self._issuer_info(i, r)
            for p, r in zip(revs, second[len(key_ids) + len(issuer_ids) :], strict=True):
                reads.revocations[p] = self._revocation(r)
            new_addresses = [a for a in dict.fromkeys(addresses) if a not in reads.keys]
            if new_addresses:
                infos = self._calls_at(block, [("keyInfo", (a,)) for a in new_addresses])
                for a, r in zip(new_addresses, infos, strict=True):
                    reads.keys[a] = self._key_info(a, r)
            for i, a in zip(key_ids, addresses, strict=True):
                reads.key_addresses[i] = a
        for b in known:
            snap.keys[b.key_id] = reads.keys[reads.key_addresses[b.key_id]]
            snap.issuers[b.issuer_id] = reads.issuers[b.issuer_id]
        for p in wanted_revs:
            snap.revocations[p] = reads.revocations[p]
        return snap
