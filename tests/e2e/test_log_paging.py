"""Adaptive eth_getLogs paging against a real anvil behind a proxy that limits the block range.

The proxy forwards everything to anvil but answers a log query wider than ``max_range`` blocks
the way public providers do (a JSON-RPC "range too large" error with a suggested range, or a
hang until the proxy closes, past the client's timeout), so the chain adapter has to shrink its
pages to get through.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

import pytest
import requests

from registry.chain.adapter import Chain
from registry.errors import ChainUnavailable
from tests.chain_fixtures import Registry

pytestmark = pytest.mark.e2e

CLIENT_TIMEOUT_S = 2.0


class LimitingProxy:
    def __init__(self, upstream: str, max_range: int, mode: str) -> None:
        self.upstream, self.max_range, self.mode = upstream, max_range, mode
        self.ranges: list[tuple[int, int, bool]] = []
        self.released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = proxy.handle(body)
                if answer is None:
                    answer = requests.post(proxy.upstream, json=body, timeout=10).json()
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a hung request outliving the test is expected in timeout mode

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, body: Any) -> Any:
        if not isinstance(body, dict) or body.get("method") != "eth_getLogs":
            return None
        params = body["params"][0]
        low, high = int(params["fromBlock"], 16), int(params["toBlock"], 16)
        refused = high - low + 1 > self.max_range
        self.ranges.append((low, high, refused))
        if not refused:
            return None
        if self.mode == "timeout":
            # Hang until the proxy closes: past any client timeout, whatever the machine's load
            # (a fixed sleep raced the client's timeout).
            self.released.wait(60)
            return {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32000, "message": "gave up"}}
        suggestion = f"[{hex(low)}, {hex(low + self.max_range - 1)}]" if self.mode == "hint" else ""
        message = f"query exceeds max block range {self.max_range}. Try with this block range {suggestion}"
        return {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32005, "message": message}}

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def history(registry: Registry) -> Registry:
    for _ in range(6):
        registry.issue(2)
    return registry


@pytest.fixture(params=["error", "hint", "timeout"])
def proxy(request: pytest.FixtureRequest, history: Registry) -> Iterator[LimitingProxy]:
    p = LimitingProxy(history.rpc_url, max_range=3, mode=request.param)
    yield p
    p.close()


def _all_logs(client: Chain, head: int) -> list[tuple[int, int]]:
    page = next(iter(client.history.get_logs(0, head, page_size=head + 1)))
    return [(int(log["blockNumber"], 16), int(log["logIndex"], 16)) for log in page.logs]


def test_pages_shrink_to_what_the_node_accepts_and_miss_nothing(history: Registry, proxy: LimitingProxy) -> None:
    direct = Chain(history.rpc_url, history.client.registry_address)
    head = direct.reads.head()
    expected = _all_logs(direct, head)
    assert len(expected) >= 10

    # The client's timeout only has to outlast a normal answer through the proxy on a loaded
    # machine (a refused query in "timeout" mode hangs until the proxy closes).
    limited = Chain(proxy.url, history.client.registry_address, timeout=CLIENT_TIMEOUT_S)
    pages = list(limited.history.get_logs(0, head, page_size=64, max_page_size=64))

    got = [(int(log["blockNumber"], 16), int(log["logIndex"], 16)) for p in pages for log in p.logs]
    assert got == expected
    assert pages[0].from_block == 0 and pages[-1].to_block == head
    assert all(b.from_block == a.to_block + 1 for a, b in pairwise(pages))
    assert all(p.to_block - p.from_block + 1 <= 3 for p in pages)
    assert any(refused for *_r, refused in proxy.ranges)
    events = limited.history.page_events
    assert any(kind == "shrink" for kind, *_ in events)
    if proxy.mode == "hint":  # the provider's suggested range is taken at once
        first_accepted = next(r for r in proxy.ranges if not r[2])
        assert first_accepted[1] - first_accepted[0] + 1 == 3


def test_pages_grow_again_after_success(history: Registry) -> None:
    client = Chain(history.rpc_url, history.client.registry_address)
    head = client.reads.head()
    pages = list(client.history.get_logs(0, head, page_size=1, max_page_size=8))
    sizes = [p.to_block - p.from_block + 1 for p in pages]
    assert sizes[:3] == [1, 2, 4]  # head permitting; the last page stops at the head
    assert max(sizes) <= 8


def test_a_single_refused_block_is_chain_unavailable(history: Registry) -> None:
    p = LimitingProxy(history.rpc_url, max_range=0, mode="error")
    try:
        client = Chain(p.url, history.client.registry_address)
        with pytest.raises(ChainUnavailable, match="refused even a single block"):
            list(client.history.get_logs(0, 5, page_size=4))
    finally:
        p.close()


def test_block_headers_come_in_batches(history: Registry) -> None:
    client = Chain(history.rpc_url, history.client.registry_address)
    head = client.reads.head()
    headers = client.history.block_headers(range(head + 1), chunk=4)
    assert sorted(headers) == list(range(head + 1))
    assert headers[head].timestamp == client.history.block_timestamp(head)
    with pytest.raises(ChainUnavailable, match="eth_getBlockByNumber batch"):
        client.history.block_headers([head + 1000])
