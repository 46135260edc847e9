"""Event history of a registry: paged event logs, batched block headers, decoded events.

Used by the auditor to replay the registry from its logs and by the anchoring worker to find the
transaction behind an anchored root. Log paging adapts to what the node accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from eth_utils import to_checksum_address

from registry.chain.model import BlockHeader, ChainLog, LogPage, as_bytes32
from registry.chain.reads import ChainReader
from registry.errors import ChainUnavailable

__all__ = ["ChainHistory"]

# Phrases nodes and providers use when a log query is too big (geth, erigon, Infura, Alchemy,
# QuickNode, Ankr, anvil proxies): "query returned more than 10000 results", "block range is too
# wide", "exceed maximum block range", "limit exceeded", "response size exceeded", "timeout".
_RANGE_ERROR = re.compile(
    r"range|too large|too wide|too many|more than|exceed|limit|response size|timeout|timed out",
    re.IGNORECASE,
)
_SUGGESTED_RANGE = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")


@dataclass(frozen=True)
class _PageRefused:
    reason: str

    def suggested_size(self, start: int) -> int | None:
        """The page size a provider suggests ("try with this block range [0x.., 0x..]")."""
        match = _SUGGESTED_RANGE.search(self.reason)
        if not match:
            return None
        low, high = int(match.group(1), 16), int(match.group(2), 16)
        return high - low + 1 if low == start and high >= low else None


class ChainHistory:
    """Logs and blocks, through the reader's endpoint and registry address."""

    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self.rpc = reader.rpc
        self.page_events: list[tuple[str, int, int]] = []
        """How :meth:`get_logs` resized its pages: ("shrink" | "grow", next start, new size)."""

    def decode_log(self, log: dict[str, Any]) -> ChainLog:
        """A raw JSON-RPC log of the registry as a typed record (event name and arguments)."""
        return self.reader.abi.decode_log(log)

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        topics: Sequence[str | list[str] | None] | None = None,
        *,
        address: str | None = None,
        any_address: bool = False,
        page_size: int = 10_000,
        max_page_size: int = 100_000,
    ) -> Iterator[LogPage]:
        """Every log of the registry (or ``address``, or with ``any_address`` of every contract)
        in ``[from_block, to_block]``, page by page.

        Pages follow each other without gaps. A page the node refuses as too large (a "range
        too large" / "more than N results" error, HTTP 413, a timeout) is halved, or cut to the
        range the node suggests, and retried; after a success the page grows again up to
        ``max_page_size``. A single block that still fails raises ChainUnavailable.
        """
        target = None if any_address else (address or self.reader.require_registry())
        page = max(1, min(page_size, max_page_size))
        start = from_block
        while start <= to_block:
            end = min(to_block, start + page - 1)
            params: dict[str, Any] = {"fromBlock": hex(start), "toBlock": hex(end)}
            if target is not None:
                params["address"] = to_checksum_address(target)
            if topics is not None:
                params["topics"] = list(topics)
            outcome = self._logs_request(params)
            if isinstance(outcome, _PageRefused):
                if end == start:
                    raise ChainUnavailable(
                        self.rpc.url,
                        f"eth_getLogs refused even a single block ({start}): {outcome.reason}",
                    )
                suggested = outcome.suggested_size(start)
                page = max(1, min(suggested or (end - start + 1) // 2, (end - start + 1) // 2))
                self.page_events.append(("shrink", start, page))
                continue
            yield LogPage(start, end, outcome)
            start = end + 1
            if page < max_page_size and len(outcome) < 5_000:
                page = min(max_page_size, page * 2)
                self.page_events.append(("grow", start, page))

    def _logs_request(self, params: dict[str, Any]) -> list[dict[str, Any]] | _PageRefused:
        url = self.rpc.url
        try:
            resp = self.rpc.post({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [params]})
        except requests.Timeout as exc:
            return _PageRefused(f"timed out after {self.rpc.timeout:g} s ({type(exc).__name__})")
        except requests.RequestException as exc:
            raise ChainUnavailable(url, f"eth_getLogs: {type(exc).__name__}: {exc}") from exc
        if resp.status_code == 413:
            return _PageRefused("HTTP 413: response too large")
        try:
            body = resp.json()
        except ValueError as exc:
            if resp.status_code in (502, 503, 504):  # gateways time out on heavy queries
                return _PageRefused(f"HTTP {resp.status_code}")
            raise ChainUnavailable(url, f"eth_getLogs: HTTP {resp.status_code}, not JSON") from exc
        error = body.get("error") if isinstance(body, dict) else None
        if error is not None:
            message = str(error.get("message", error) if isinstance(error, dict) else error)
            data = error.get("data") if isinstance(error, dict) else None
            text = f"{message} {data or ''}"
            if _RANGE_ERROR.search(text):
                return _PageRefused(text)
            raise ChainUnavailable(url, f"eth_getLogs: {message}")
        if resp.status_code >= 400:
            if resp.status_code in (502, 503, 504):
                return _PageRefused(f"HTTP {resp.status_code}")
            raise ChainUnavailable(url, f"eth_getLogs: HTTP {resp.status_code}")
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise ChainUnavailable(url, "eth_getLogs: malformed answer")
        return result

    def block_headers(self, numbers: Iterable[int], *, chunk: int = 500) -> dict[int, BlockHeader]:
        """Hash and timestamp of blocks, fetched in JSON-RPC batches of ``chunk`` requests."""
        wanted = sorted(set(numbers))
        url = self.rpc.url
        out: dict[int, BlockHeader] = {}
        for begin in range(0, len(wanted), chunk):
            part = wanted[begin : begin + chunk]
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
                for i, n in enumerate(part)
            ]
            try:
                answers = self.rpc.post(payload).json()
            except (requests.RequestException, ValueError) as exc:
                raise ChainUnavailable(url, f"eth_getBlockByNumber batch: {exc}") from exc
            if not isinstance(answers, list):
                raise ChainUnavailable(url, "eth_getBlockByNumber batch: malformed answer")
            for answer in answers:
                block = answer.get("result") if isinstance(answer, dict) else None
                if not isinstance(block, dict):
                    error = answer.get("error", "no block") if isinstance(answer, dict) else "no block"
                    raise ChainUnavailable(url, f"eth_getBlockByNumber batch: {error}")
                n = int(block["number"], 16)
                out[n] = BlockHeader(n, str(block["hash"]).lower(), int(block["timestamp"], 16))
        missing = [n for n in wanted if n not in out]
        if missing:
            raise ChainUnavailable(url, f"blocks missing from the batch answer: {missing[:5]}")
        return out

    def block_timestamp(self, number: int) -> int:
        block = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(block, dict):
            raise ChainUnavailable(self.rpc.url, f"eth_getBlockByNumber: no block {number}")
        return int(block["timestamp"], 16)

    def block_hash(self, number: int) -> str | None:
        """The hash of block ``number`` in the node's canonical chain (None: no such block)."""
        block = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(block, dict) or not block.get("hash"):
            return None
        return str(block["hash"]).lower()

    def anchor_tx_of(self, root: bytes | str, block: int) -> str | None:
        """Hash of the transaction that emitted BatchAnchored(root) in ``block``."""
        topics = [self.reader.abi.topic("BatchAnchored"), "0x" + as_bytes32(root).hex()]
        params = {"address": self.reader.require_registry(), "fromBlock": hex(block), "toBlock": hex(block)}
        logs = self.rpc.call("eth_getLogs", [{**params, "topics": topics}])
        for log in logs or []:
            return str(log["transactionHash"]).lower()
        return None
