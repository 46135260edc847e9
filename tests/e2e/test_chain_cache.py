"""The verify API's head-cached chain reads (registry.chain.headcache) against a real anvil: the same
snapshot as an uncached read, nothing re-read while the head stays, a revocation seen at the
next block, and no mix-ups between threads."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from registry.chain.headcache import HeadCache
from registry.chain.reads import ChainReader, head_cached_reader
from registry.service.runtime import serve_in_background
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry, free_port
from tests.reliability_harness import RpcProxy
from tests.service_support import database, service_settings


def _proof(path: Any) -> tuple[str, str]:
    proof = json.loads(path.read_text())["proof"][-1]
    return str(proof["merkleRoot"]), str(proof["credentialDigest"])


def _cache_of(reader: ChainReader) -> HeadCache:
    assert reader.cache is not None
    return reader.cache


def _cached_verifier(client: ChainReader) -> Verifier:
    assert client.registry_address is not None
    policy = VerificationPolicy(trusted={31337: {client.registry_address}})
    return Verifier(policy, client_for=lambda chain_id, registry: client)


@pytest.fixture(scope="module")
def issued(registry: Registry) -> Any:
    return registry.issue(4)


def test_same_snapshot_as_an_uncached_read(registry: Registry, issued: Any) -> None:
    root, digest = _proof(issued.files[0])
    unknown = "0x" + "ab" * 32
    plain = ChainReader(registry.rpc_url, registry.client.registry_address)
    cached = head_cached_reader(registry.rpc_url, registry.client.registry_address)
    pairs = [(root, digest), (unknown, "0x" + "cd" * 32)]
    want = plain.snapshot([root, unknown], pairs)
    for _ in range(2):  # first read, then from the cache
        assert cached.snapshot([root, unknown], pairs) == want


def test_nothing_is_read_again_while_the_head_stays(registry: Registry, issued: Any) -> None:
    root, digest = _proof(issued.files[1])
    cached = head_cached_reader(registry.rpc_url, registry.client.registry_address)
    cache = _cache_of(cached)
    cached.snapshot([root], [(root, digest)])
    reads = cache.read_calls
    for _ in range(5):
        cached.snapshot([root], [(root, digest)])
    assert cache.read_calls == reads
    assert cache.head_calls == 6  # head_max_age=0: one head call per request made one after another


def test_a_revocation_is_seen_at_the_next_block(registry: Registry) -> None:
    batch = registry.issue(2)
    cached = head_cached_reader(registry.rpc_url, registry.client.registry_address)
    verifier = _cached_verifier(cached)
    data = json.loads(batch.files[0].read_text())
    assert verifier.verify(data).verdict is Verdict.VALID
    assert verifier.verify(data).verdict is Verdict.VALID  # cached reads
    digest = bytes.fromhex(data["proof"][-1]["credentialDigest"][2:])
    registry.client.writes.revoke_credentials(registry.issuer_key, [digest], 3)
    report = verifier.verify(data)
    assert report.verdict is Verdict.INVALID
    assert report.check("revocation").status is CheckStatus.FAIL


def test_a_short_head_max_age_shares_the_head(registry: Registry, issued: Any) -> None:
    root, digest = _proof(issued.files[2])
    cached = head_cached_reader(registry.rpc_url, registry.client.registry_address, head_max_age=60)
    cache = _cache_of(cached)
    for _ in range(4):
        cached.snapshot([root], [(root, digest)])
    assert cache.head_calls == 1


def test_threads_sharing_one_client_with_a_cache_starting_over(registry: Registry, issued: Any) -> None:
    """Concurrent first reads at one head (the cache reset between rounds) answer correctly."""
    root, digest = _proof(issued.files[3])
    cached = head_cached_reader(registry.rpc_url, registry.client.registry_address)
    cache = _cache_of(cached)
    want = ChainReader(registry.rpc_url, registry.client.registry_address).snapshot([root], [(root, digest)])
    failures: list[str] = []

    def work() -> None:
        for _ in range(40):
            with cache._reads_lock:
                cache._reads = None
            try:
                got = cached.snapshot([root], [(root, digest)])
                if got != want:
                    failures.append(f"different snapshot: {got}")
            except Exception as exc:  # collected and asserted below
                failures.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_an_unreachable_rpc_is_chain_unavailable_for_every_waiting_request() -> None:
    """Concurrent requests behind a failing head call all get ChainUnavailable (never a stale head)."""
    from tests.chain_fixtures import free_port

    client = head_cached_reader(f"http://127.0.0.1:{free_port()}", "0x" + "11" * 20, timeout=2)
    cache = _cache_of(client)
    errors: list[str] = []

    def work() -> None:
        try:
            cache.current_head(client.rpc)
        except Exception as exc:  # collected and asserted below
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == ["ChainUnavailable"] * 6
    assert cache.head_calls == 0


def test_requests_that_arrived_before_a_head_call_share_it(registry: Registry, issued: Any) -> None:
    """``asked_at`` (when the request arrived): a head whose call started after it is reused, an
    older one is not, and a moment in the future counts as now."""
    root, digest = _proof(issued.files[0])
    cached = head_cached_reader(registry.rpc_url, registry.client.registry_address)
    cache = _cache_of(cached)
    arrived = time.monotonic()
    for _ in range(3):  # requests that were all waiting when the first head call started
        cached.snapshot([root], [(root, digest)], asked_at=arrived)
    assert cache.head_calls == 1
    later = time.monotonic()  # arrived after that call started: a call of its own
    cached.snapshot([root], [(root, digest)], asked_at=later)
    assert cache.head_calls == 2
    cached.snapshot([root], [(root, digest)], asked_at=time.monotonic() + 3600)
    assert cache.head_calls == 3


def test_a_revocation_mined_before_the_request_arrived_is_seen(registry: Registry) -> None:
    """A head learned for earlier requests is never reused for a request that arrived after a
    revocation was mined: its answer is as fresh as an uncached read made on arrival."""
    batch = registry.issue(2)
    cached = head_cached_reader(registry.rpc_url, registry.client.registry_address)
    verifier = _cached_verifier(cached)
    data = json.loads(batch.files[0].read_text())
    earlier = time.monotonic()
    assert verifier.verify(data, asked_at=earlier).verdict is Verdict.VALID
    digest = bytes.fromhex(data["proof"][-1]["credentialDigest"][2:])
    registry.client.writes.revoke_credentials(registry.issuer_key, [digest], 3)
    assert verifier.verify(data, asked_at=earlier).verdict is Verdict.VALID  # arrived before: the shared head
    report = verifier.verify(data, asked_at=time.monotonic())
    assert report.verdict is Verdict.INVALID
    assert report.check("revocation").status is CheckStatus.FAIL
    assert _cache_of(cached).head_calls == 2


def test_behind_a_slow_rpc_requests_sent_together_share_rounds_of_chain_reads(
    registry: Registry, tmp_path: Path
) -> None:
    """The verify API reads the chain for concurrent requests in rounds
    (registry.service.api.chainrounds): behind an RPC that holds every call 0.3 s, four requests
    sent together are all VALID and need at most two rounds (the first request's, and one shared
    by the others, which arrived while it read)."""
    files = [p.read_bytes() for p in registry.issue(4).files]
    anvil_port = int(registry.rpc_url.rsplit(":", 1)[1])
    db_iter = database("sqlite", tmp_path)
    db = next(db_iter)
    try:
        with RpcProxy(anvil_port, delay=0.3) as proxy:
            settings = service_settings(registry, db, rpc_url=proxy.url)
            server, thread = serve_in_background(settings, port=free_port())
            try:
                url = f"http://127.0.0.1:{server.config.port}/v1/verify"

                def post(body: bytes) -> str:
                    resp = requests.post(url, data=body, headers={"content-type": "application/json"}, timeout=60)
                    assert resp.status_code == 200, resp.text
                    return str(resp.json()["verdict"])

                with ThreadPoolExecutor(len(files)) as pool:
                    verdicts = list(pool.map(post, files))
                assert verdicts == ["VALID"] * len(files)
                rounds = server.config.app.state.service.chain_rounds()
                assert rounds.reports == len(files) and 1 <= rounds.rounds <= 2, (rounds.rounds, rounds.reports)
            finally:
                server.should_exit = True
                thread.join(15)
    finally:
        db_iter.close()
