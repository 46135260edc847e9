"""The one chain adapter: everything that talks to an EVM JSON-RPC node goes through here.

Reads of the CredentialRegistry contract are grouped into JSON-RPC batch requests and typed
as small frozen records; writes are signed locally and waited for. Network faults (refused
connections, timeouts, rate limits, 5xx, garbage) become :class:`ChainUnavailable` so callers
can report INDETERMINATE instead of INVALID; reverts become :class:`TransactionFailed` with the
contract's custom error decoded by name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3Exception
from web3.providers.rpc import HTTPProvider

from registry.chain.artifacts import load_artifact
from registry.errors import ChainUnavailable, DeploymentError, NotARegistry, TransactionFailed

__all__ = [
    "REVOCATION_REASONS",
    "BatchInfo",
    "BlockHeader",
    "ChainClient",
    "ChainLog",
    "CredentialRevocation",
    "IssuerInfo",
    "KeyInfo",
    "LogPage",
    "Receipt",
    "SignedTx",
    "Snapshot",
    "TxResult",
    "issuer_did",
]

REVOCATION_REASONS: dict[int, str] = {
    0: "unspecified",
    1: "issued in error",
    2: "superseded by a new credential",
    3: "academic or professional misconduct",
    4: "issuer key compromised",
    5: "withdrawn at the holder's request",
    6: "achievement requirements no longer met",
}


def issuer_did(uri: str) -> str:
    """The identifier credentials must carry as ``issuer.id`` for a directory entry's URI.

    A DID is used as is; a bare domain maps to its ``did:web`` form (no DNS is ever consulted:
    the chain's directory is the trust anchor, the string only has to match).
    """
    uri = uri.strip()
    if uri.startswith("did:"):
        return uri
    host = uri.removeprefix("https://").removeprefix("http://").rstrip("/")
    return "did:web:" + host.replace(":", "%3A").replace("/", ":")


@dataclass(frozen=True)
class BatchInfo:
    """A batch as recorded on chain (one storage slot)."""

    root: str
    issuer_id: int
    key_id: int
    anchored_at: int
    block_number: int
    count: int
    revoked_at: int
    revocation_reason: int

    @property
    def revoked(self) -> bool:
        return self.revoked_at != 0


@dataclass(frozen=True)
class KeyInfo:
    """An anchoring key of an issuer."""

    address: str
    issuer_id: int
    key_id: int
    activated_at: int
    retired_at: int
    compromised_at: int

    def compromised_for(self, anchored_at: int) -> bool:
        """True when a batch anchored at ``anchored_at`` falls after the declared compromise."""
        return self.compromised_at != 0 and anchored_at >= self.compromised_at


@dataclass(frozen=True)
class IssuerInfo:
    """A directory entry."""

    issuer_id: int
    name: str
    uri: str
    admitted_by: str
    admitted_at: int
    suspended_at: int
    active_key: str

    @property
    def did(self) -> str:
        return issuer_did(self.uri)

    @property
    def suspended(self) -> bool:
        return self.suspended_at != 0


@dataclass(frozen=True)
class CredentialRevocation:
    revoked_at: int
    reason: int
    key_id: int


@dataclass
class Snapshot:
    """The chain's view of a set of credentials, read at one head."""

    chain_id: int
    has_code: bool
    head: int
    batches: dict[str, BatchInfo | None] = field(default_factory=dict)
    revocations: dict[tuple[int, str], CredentialRevocation | None] = field(default_factory=dict)
    keys: dict[int, KeyInfo] = field(default_factory=dict)
    issuers: dict[int, IssuerInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class TxResult:
    """A mined transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    status: int
    logs: list[Any]
    contract_address: str | None = None


@dataclass(frozen=True)
class SignedTx:
    """A transaction signed but not (yet) broadcast: everything needed to send it again."""

    tx_hash: str
    raw: bytes
    sender: str
    nonce: int
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True)
class Receipt:
    """The parts of a receipt the anchoring worker needs."""

    tx_hash: str
    block_number: int
    block_hash: str
    status: int
    gas_used: int


def _hex(value: bytes | str) -> str:
    if isinstance(value, str):
        return value.lower()
    return "0x" + value.hex()


def _b32(value: bytes | str) -> bytes:
    if isinstance(value, bytes):
        if len(value) != 32:
            raise ValueError("expected 32 bytes")
        return value
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"expected a 32-byte hex value, got {value!r}")
    return raw


@dataclass(frozen=True)
class LogPage:
    """The logs of one ``eth_getLogs`` page covering blocks ``[from_block, to_block]``."""

    from_block: int
    to_block: int
    logs: list[dict[str, Any]]


@dataclass(frozen=True)
class BlockHeader:
    number: int
    hash: str
    timestamp: int


@dataclass(frozen=True)
class ChainLog:
    """One decoded registry event; ``timestamp`` is None when the node did not include it."""

    block: int
    log_index: int
    tx: str
    block_hash: str
    timestamp: int | None
    name: str
    args: dict[str, Any]


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


def _plain(value: Any) -> Any:
    """ABI-decoded values as JSON-friendly ones: 0x-hex for bytes, checksummed addresses."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return to_checksum_address(value)
    return value


def _event_table(abi: list[dict[str, Any]]) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    table: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for item in abi:
        if item.get("type") == "event":
            types = ",".join(i["type"] for i in item.get("inputs", []))
            topic = "0x" + keccak(text=f"{item['name']}({types})").hex()
            table[topic] = (item["name"], list(item.get("inputs", [])))
    return table


class ChainClient:
    """A JSON-RPC endpoint, optionally bound to a CredentialRegistry contract address."""

    def __init__(self, rpc_url: str, registry: str | None = None, *, timeout: float = 10.0) -> None:
        self.rpc_url = rpc_url
        self.timeout = timeout
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._artifact = load_artifact("CredentialRegistry")
        self._errors = self._error_table(self._artifact.abi)
        self._functions = {i["name"]: i for i in self._artifact.abi if i.get("type") == "function"}
        self._session = requests.Session()
        self._contract: Any = None
        self._registry_address = to_checksum_address(registry) if registry else None
        self._chain_id: int | None = None

    @property
    def registry_address(self) -> str | None:
        return self._registry_address

    @registry_address.setter
    def registry_address(self, value: str | None) -> None:
        self._registry_address = to_checksum_address(value) if value else None
        self._contract = None

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _error_table(abi: list[dict[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
        table: dict[bytes, tuple[str, list[str]]] = {}
        for item in abi:
            if item.get("type") == "error":
                types = [i["type"] for i in item.get("inputs", [])]
                sig = f"{item['name']}({','.join(types)})"
                table[keccak(text=sig)[:4]] = (item["name"], types)
        return table

    def decode_error(self, data: str | bytes | None) -> str:
        """Name and arguments of a custom error from revert data, e.g. ``UnknownRoot(0x..)``."""
        if data is None:
            return "reverted without reason"
        raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
        entry = self._errors.get(raw[:4])
        if entry is None:
            if raw[:4] == bytes.fromhex("08c379a0"):
                return str(abi_decode(["string"], raw[4:])[0])
            return f"reverted with data 0x{raw.hex()}"
        name, types = entry
        try:
            args = abi_decode(types, raw[4:])
        except Exception:
            return name
        shown = [("0x" + a.hex()) if isinstance(a, bytes) else str(a) for a in args]
        return f"{name}({', '.join(shown)})"

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        """Run one RPC call, mapping transport faults to ChainUnavailable."""
        try:
            return fn(*args)
        except (requests.RequestException, OSError, TimeExhausted) as exc:
            raise ChainUnavailable(self.rpc_url, f"{what}: {type(exc).__name__}: {exc}") from exc
        except (ContractCustomError, ContractLogicError):
            raise
        except Web3Exception as exc:
            raise ChainUnavailable(self.rpc_url, f"{what}: {exc}") from exc
        except ValueError as exc:  # malformed responses surface as ValueError in web3
            raise ChainUnavailable(self.rpc_url, f"{what}: {exc}") from exc

    @property
    def contract(self) -> Any:
        if self.registry_address is None:
            raise DeploymentError("no registry contract address configured")
        if self._contract is None:
            address = cast(ChecksumAddress, self.registry_address)
            self._contract = self.w3.eth.contract(address=address, abi=cast(Any, self._artifact.abi))
        return self._contract

    # -- lean JSON-RPC batches (reads) ----------------------------------------------------

    def rpc_batch(self, requests_: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Send JSON-RPC requests as one HTTP batch; results in order.

        Transport faults, HTTP 429/5xx, malformed answers and JSON-RPC errors all raise
        ChainUnavailable (a node that cannot answer is never evidence against a credential).
        """
        if not requests_:
            return []
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(requests_)]
        try:
            resp = self._session.post(self.rpc_url, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ChainUnavailable(self.rpc_url, f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429:
            raise ChainUnavailable(self.rpc_url, "rate limited (HTTP 429)")
        if resp.status_code >= 400:
            raise ChainUnavailable(self.rpc_url, f"HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise ChainUnavailable(self.rpc_url, "the answer is not JSON") from exc
        if isinstance(body, dict):  # some nodes answer a batch with one error object
            message = body.get("error", {}).get("message", "batch rejected")
            raise ChainUnavailable(self.rpc_url, f"batch request rejected: {message}")
        if not isinstance(body, list) or len(body) != len(payload):
            raise ChainUnavailable(self.rpc_url, "malformed batch answer")
        by_id: dict[Any, Any] = {}
        for answer in body:
            if not isinstance(answer, dict) or "id" not in answer:
                raise ChainUnavailable(self.rpc_url, "malformed batch answer")
            if "error" in answer:
                err = answer["error"]
                msg = str(err.get("message", err) if isinstance(err, dict) else err)
                method, params = requests_[answer["id"]]
                if method == "eth_call" and "revert" in msg.lower():
                    raise NotARegistry(str(params[0].get("to")), msg)
                raise ChainUnavailable(self.rpc_url, f"{method}: {msg}")
            by_id[answer["id"]] = answer.get("result")
        try:
            return [by_id[i] for i in range(len(payload))]
        except KeyError as exc:
            raise ChainUnavailable(self.rpc_url, "batch answer is missing results") from exc

    def call_request(self, name: str, *args: Any, block: str = "latest") -> tuple[str, list[Any]]:
        """An ``eth_call`` request of a registry view, for :meth:`rpc_batch`."""
        fn: Any = self._functions[name]
        data = function_abi_to_4byte_selector(fn) + abi_encode(get_abi_input_types(fn), args)
        if self.registry_address is None:
            raise DeploymentError("no registry contract address configured")
        return "eth_call", [{"to": self.registry_address, "data": "0x" + data.hex()}, block]

    def decode_result(self, name: str, result: str) -> tuple[Any, ...]:
        raw = bytes.fromhex(str(result).removeprefix("0x"))
        try:
            return tuple(abi_decode(get_abi_output_types(cast(Any, self._functions[name])), raw))
        except Exception as exc:
            raise ChainUnavailable(self.rpc_url, f"undecodable answer to {name}()") from exc

    def views(self, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        """Call several registry views in one batch."""
        results: list[tuple[Any, ...]] = []
        for start in range(0, len(calls), 500):
            chunk = calls[start : start + 500]
            raw = self.rpc_batch([self.call_request(name, *args) for name, args in chunk])
            results.extend(self.decode_result(name, r) for (name, _), r in zip(chunk, raw, strict=True))
        return results

    # -- chain facts ----------------------------------------------------------------------

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self._call("eth_chainId", lambda: self.w3.eth.chain_id))
        return self._chain_id

    def head(self) -> int:
        return int(self._call("eth_blockNumber", lambda: self.w3.eth.block_number))

    def has_code(self, address: str) -> bool:
        code = self._call("eth_getCode", self.w3.eth.get_code, to_checksum_address(address))
        return len(code) > 0

    def runtime_code(self, address: str) -> bytes:
        return bytes(self._call("eth_getCode", self.w3.eth.get_code, to_checksum_address(address)))

    def block_timestamp(self, number: int) -> int:
        block = self._call("eth_getBlockByNumber", self.w3.eth.get_block, number)
        return int(block["timestamp"])

    def block_hash(self, number: int) -> str | None:
        try:
            block = self._call("eth_getBlockByNumber", self.w3.eth.get_block, number)
        except ChainUnavailable:
            raise
        except Exception:
            return None
        return _hex(bytes(block["hash"]))

    def wait_until_up(self, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.head()
                return
            except ChainUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    # -- history (paged event logs, batched block headers; used by the auditor) ----------------

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        topics: Sequence[str | list[str] | None] | None = None,
        *,
        address: str | None = None,
        page_size: int = 10_000,
        max_page_size: int = 100_000,
    ) -> Iterator[LogPage]:
        """Every log of the registry (or ``address``) in ``[from_block, to_block]``, page by page.

        Pages follow each other without gaps. A page the node refuses as too large (a "range
        too large" / "more than N results" error, HTTP 413, a timeout) is halved, or cut to the
        range the node suggests, and retried; after a success the page grows again up to
        ``max_page_size``. A single block that still fails raises ChainUnavailable.
        """
        target = address or self.registry_address
        if target is None:
            raise DeploymentError("no registry contract address configured")
        page = max(1, min(page_size, max_page_size))
        start = from_block
        while start <= to_block:
            end = min(to_block, start + page - 1)
            params: dict[str, Any] = {
                "address": to_checksum_address(target),
                "fromBlock": hex(start),
                "toBlock": hex(end),
            }
            if topics is not None:
                params["topics"] = list(topics)
            outcome = self._logs_request(params)
            if isinstance(outcome, _PageRefused):
                if end == start:
                    raise ChainUnavailable(
                        self.rpc_url,
                        f"eth_getLogs refused even a single block ({start}): {outcome.reason}",
                    )
                suggested = outcome.suggested_size(start)
                page = max(1, min(suggested or (end - start + 1) // 2, (end - start + 1) // 2))
                self.__dict__.setdefault("log_page_events", []).append(("shrink", start, page))
                continue
            yield LogPage(start, end, outcome)
            start = end + 1
            if page < max_page_size and len(outcome) < 5_000:
                page = min(max_page_size, page * 2)
                self.__dict__.setdefault("log_page_events", []).append(("grow", start, page))

    def _logs_request(self, params: dict[str, Any]) -> list[dict[str, Any]] | _PageRefused:
        payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [params]}
        session = self.__dict__.setdefault("_logs_session", requests.Session())
        try:
            resp = session.post(self.rpc_url, json=payload, timeout=self.timeout)
        except requests.Timeout as exc:
            return _PageRefused(f"timed out after {self.timeout:g} s ({type(exc).__name__})")
        except requests.RequestException as exc:
            raise ChainUnavailable(self.rpc_url, f"eth_getLogs: {type(exc).__name__}: {exc}") from exc
        if resp.status_code == 413:
            return _PageRefused("HTTP 413: response too large")
        try:
            body = resp.json()
        except ValueError as exc:
            if resp.status_code in (502, 503, 504):  # gateways time out on heavy queries
                return _PageRefused(f"HTTP {resp.status_code}")
            raise ChainUnavailable(self.rpc_url, f"eth_getLogs: HTTP {resp.status_code}, not JSON") from exc
        error = body.get("error") if isinstance(body, dict) else None
        if error is not None:
            message = str(error.get("message", error) if isinstance(error, dict) else error)
            data = error.get("data") if isinstance(error, dict) else None
            text = f"{message} {data or ''}"
            if _RANGE_ERROR.search(text):
                return _PageRefused(text)
            raise ChainUnavailable(self.rpc_url, f"eth_getLogs: {message}")
        if resp.status_code >= 400:
            if resp.status_code in (502, 503, 504):
                return _PageRefused(f"HTTP {resp.status_code}")
            raise ChainUnavailable(self.rpc_url, f"eth_getLogs: HTTP {resp.status_code}")
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise ChainUnavailable(self.rpc_url, "eth_getLogs: malformed answer")
        return result

    def block_headers(self, numbers: Iterable[int], *, chunk: int = 500) -> dict[int, BlockHeader]:
        """Hash and timestamp of blocks, fetched in JSON-RPC batches of ``chunk`` requests."""
        wanted = sorted(set(numbers))
        out: dict[int, BlockHeader] = {}
        for begin in range(0, len(wanted), chunk):
            part = wanted[begin : begin + chunk]
            payload = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "eth_getBlockByNumber",
                    "params": [hex(n), False],
                }
                for i, n in enumerate(part)
            ]
            session = self.__dict__.setdefault("_logs_session", requests.Session())
            try:
                resp = session.post(self.rpc_url, json=payload, timeout=self.timeout)
                answers = resp.json()
            except (requests.RequestException, ValueError) as exc:
                raise ChainUnavailable(self.rpc_url, f"eth_getBlockByNumber batch: {exc}") from exc
            if not isinstance(answers, list):
                raise ChainUnavailable(self.rpc_url, "eth_getBlockByNumber batch: malformed answer")
            for answer in answers:
                block = answer.get("result") if isinstance(answer, dict) else None
                if not isinstance(block, dict):
                    raise ChainUnavailable(
                        self.rpc_url,
                        f"eth_getBlockByNumber batch: {answer.get('error', 'no block')}",
                    )
                n = int(block["number"], 16)
                out[n] = BlockHeader(n, str(block["hash"]).lower(), int(block["timestamp"], 16))
        missing = [n for n in wanted if n not in out]
        if missing:
            raise ChainUnavailable(self.rpc_url, f"blocks missing from the batch answer: {missing[:5]}")
        return out

    def decode_log(self, log: dict[str, Any]) -> ChainLog:
        """A raw JSON-RPC log of the registry as a typed record (event name and arguments)."""
        topics = [str(t).lower() for t in log.get("topics", [])]
        table = self.__dict__.get("_event_table")
        if table is None:
            table = _event_table(self._artifact.abi)
            self.__dict__["_event_table"] = table
        entry = table.get(topics[0]) if topics else None
        block = int(log["blockNumber"], 16)
        index = int(log["logIndex"], 16)
        tx = str(log["transactionHash"]).lower()
        ts_raw = log.get("blockTimestamp")
        timestamp = int(ts_raw, 16) if isinstance(ts_raw, str) else None
        block_hash = str(log.get("blockHash", "")).lower()
        if entry is None:
            return ChainLog(block, index, tx, block_hash, timestamp, "Unknown", {"topics": topics})
        name, inputs = entry
        args: dict[str, Any] = {}
        indexed = [i for i in inputs if i.get("indexed")]
        plain = [i for i in inputs if not i.get("indexed")]
        for spec, topic in zip(indexed, topics[1:], strict=False):
            (value,) = abi_decode([spec["type"]], bytes.fromhex(topic[2:]))
            args[spec["name"]] = _plain(value)
        data = bytes.fromhex(str(log.get("data", "0x"))[2:])
        values = abi_decode([i["type"] for i in plain], data) if plain else ()
        for spec, value in zip(plain, values, strict=True):
            args[spec["name"]] = _plain(value)
        return ChainLog(block, index, tx, block_hash, timestamp, name, args)

    # -- registry reads (batched) ---------------------------------------------------------

    @staticmethod
    def _batch_info(root: str, r: tuple[Any, ...]) -> BatchInfo | None:
        info = BatchInfo(root, *(int(x) for x in r))
        return info if info.anchored_at != 0 else None

    @staticmethod
    def _key_info(address: str, r: tuple[Any, ...]) -> KeyInfo:
        return KeyInfo(address, int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]))

    @staticmethod
    def _issuer_info(issuer_id: int, r: tuple[Any, ...]) -> IssuerInfo:
        return IssuerInfo(
            issuer_id,
            str(r[0]),
            str(r[1]),
            to_checksum_address(r[2]),
            int(r[3]),
            int(r[4]),
            to_checksum_address(r[5]),
        )

    @staticmethod
    def _revocation(r: tuple[Any, ...]) -> CredentialRevocation | None:
        rev = CredentialRevocation(int(r[0]), int(r[1]), int(r[2]))
        return rev if rev.revoked_at != 0 else None

    def batches(self, roots: Iterable[bytes | str]) -> dict[str, BatchInfo | None]:
        """Batch records by root (lower-case hex); None for roots never anchored."""
        keys = list(dict.fromkeys(_hex(r) for r in roots))
        raw = self.views([("batch", (_b32(k),)) for k in keys])
        return {k: self._batch_info(k, r) for k, r in zip(keys, raw, strict=True)}

    def keys_by_id(self, key_ids: Iterable[int]) -> dict[int, KeyInfo]:
        ids = list(dict.fromkeys(key_ids))
        addresses = [to_checksum_address(r[0]) for r in self.views([("keyAddress", (i,)) for i in ids])]
        infos = self.keys_by_address(addresses)
        return {i: infos[a] for i, a in zip(ids, addresses, strict=True)}

    def keys_by_address(self, addresses: Iterable[str]) -> dict[str, KeyInfo]:
        addrs = list(dict.fromkeys(to_checksum_address(a) for a in addresses))
        raw = self.views([("keyInfo", (a,)) for a in addrs])
        return {a: self._key_info(a, r) for a, r in zip(addrs, raw, strict=True)}

    def issuers(self, issuer_ids: Iterable[int]) -> dict[int, IssuerInfo]:
        ids = list(dict.fromkeys(issuer_ids))
        raw = self.views([("issuer", (i,)) for i in ids])
        return {i: self._issuer_info(i, r) for i, r in zip(ids, raw, strict=True)}

    def issuer_count(self) -> int:
        return int(self.views([("issuerCount", ())])[0][0])

    def all_issuers(self) -> list[IssuerInfo]:
        count = self.issuer_count()
        return list(self.issuers(range(1, count + 1)).values())

    def revocations(
        self, pairs: Iterable[tuple[int, bytes | str]]
    ) -> dict[tuple[int, str], CredentialRevocation | None]:
        """Credential revocations by (issuer id, digest); None where not revoked.

        Revocations live in the namespace of the issuer whose key revoked, so only the batch
        issuer's namespace counts for a credential.
        """
        keys = list(dict.fromkeys((int(i), _hex(d)) for i, d in pairs))
        raw = self.views([("credentialRevocation", (i, _b32(d))) for i, d in keys])
        return {k: self._revocation(r) for k, r in zip(keys, raw, strict=True)}

    def snapshot(self, roots: Iterable[bytes | str], pairs: Iterable[tuple[bytes | str, bytes | str]]) -> Snapshot:
        """Everything verification needs, in three batched round trips.

        1: chain id, code at the registry, head, batch records; 2: anchoring-key addresses,
        issuer entries and the credential revocations in each batch issuer's namespace;
        3: key records.
        """
        root_keys = list(dict.fromkeys(_hex(r) for r in roots))
        pair_keys = list(dict.fromkeys((_hex(r), _hex(d)) for r, d in pairs))
        assert self.registry_address is not None
        first = self.rpc_batch(
            [("eth_chainId", []), ("eth_getCode", [self.registry_address, "latest"]), ("eth_blockNumber", [])]
            + [self.call_request("batch", _b32(k)) for k in root_keys]
        )
        chain_id, code, head = int(first[0], 16), str(first[1]), int(first[2], 16)
        snap = Snapshot(chain_id=chain_id, has_code=code not in ("0x", "0x0", ""), head=head)
        if not snap.has_code:
            return snap
        for k, r in zip(root_keys, first[3:], strict=True):
            snap.batches[k] = self._batch_info(k, self.decode_result("batch", r))
        known = [b for b in snap.batches.values() if b is not None]
        key_ids = list(dict.fromkeys(b.key_id for b in known))
        issuer_ids = list(dict.fromkeys(b.issuer_id for b in known))
        revs = list(
            dict.fromkeys((batch.issuer_id, d) for r, d in pair_keys if (batch := snap.batches.get(r)) is not None)
        )
        second = self.views(
            [("keyAddress", (i,)) for i in key_ids]
            + [("issuer", (i,)) for i in issuer_ids]
            + [("credentialRevocation", (i, _b32(d))) for i, d in revs]
        )
        addresses = [to_checksum_address(r[0]) for r in second[: len(key_ids)]]
        issuer_rows = second[len(key_ids) : len(key_ids) + len(issuer_ids)]
        for i, r in zip(issuer_ids, issuer_rows, strict=True):
            snap.issuers[i] = self._issuer_info(i, r)
        for k2, r in zip(revs, second[len(key_ids) + len(issuer_ids) :], strict=True):
            snap.revocations[k2] = self._revocation(r)
        infos = self.keys_by_address(addresses) if addresses else {}
        for i, a in zip(key_ids, addresses, strict=True):
            snap.keys[i] = infos[a]
        return snap

    def has_role(self, role: str, account: str) -> bool:
        role_id = keccak(text=role) if role != "DEFAULT_ADMIN_ROLE" else bytes(32)
        fn = self.contract.functions.hasRole(role_id, to_checksum_address(account))
        return bool(self._call("hasRole()", fn.call))

    def check_credential(self, root: bytes | str, digest: bytes | str, path: Sequence[str]) -> int:
        """The contract's own view of a credential (Status enum value)."""
        fn = self.contract.functions.checkCredential(_b32(root), _b32(digest), [_b32(p) for p in path])
        return int(self._call("checkCredential()", fn.call))

    # -- writes ---------------------------------------------------------------------------

    def transact(self, account: LocalAccount, fn: Any, action: str, *, gas: int | None = None) -> TxResult:
        """Pre-flight (eth_call), sign locally, broadcast and wait for the receipt."""
        sender = account.address
        try:
            self._call(action, fn.call, {"from": sender})
            params: dict[str, Any] = {"from": sender, "chainId": self.chain_id()}
            params["nonce"] = self._call("nonce", self.w3.eth.get_transaction_count, sender, "pending")
            if gas is not None:
                params["gas"] = gas
            tx = self._call(action, fn.build_transaction, params)
        except ContractCustomError as exc:
            raise TransactionFailed(action, self.decode_error(exc.data if isinstance(exc.data, str) else None)) from exc
        except ContractLogicError as exc:
            data = exc.data if isinstance(exc.data, str) else None
            raise TransactionFailed(action, self.decode_error(data) if data else str(exc)) from exc
        return self.send(account, tx, action)

    def send(self, account: LocalAccount, tx: dict[str, Any], action: str) -> TxResult:
        signed = account.sign_transaction(tx)
        tx_hash = self._call("eth_sendRawTransaction", self.w3.eth.send_raw_transaction, signed.raw_transaction)
        receipt = self._call("wait for receipt", self.w3.eth.wait_for_transaction_receipt, tx_hash, 120, 0.05)
        result = TxResult(
            tx_hash=_hex(bytes(tx_hash)),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            status=int(receipt["status"]),
            logs=list(receipt["logs"]),
            contract_address=receipt.get("contractAddress"),
        )
        if result.status != 1:
            raise TransactionFailed(action, f"transaction {result.tx_hash} reverted")
        return result

    def deploy(self, account: LocalAccount, admin: str | None = None) -> TxResult:
        """Deploy CredentialRegistry with ``admin`` (default: the deployer) as admin."""
        factory = self.w3.eth.contract(abi=self._artifact.abi, bytecode=self._artifact.bytecode)
        fn = factory.constructor(to_checksum_address(admin or account.address))
        params = {
            "from": account.address,
            "chainId": self.chain_id(),
            "nonce": self._call("nonce", self.w3.eth.get_transaction_count, account.address, "pending"),
        }
        tx = self._call("deploy", fn.build_transaction, params)
        result = self.send(account, tx, "deploy")
        if result.contract_address:
            self.registry_address = to_checksum_address(result.contract_address)
        return result

    def fn(self, name: str, *args: Any) -> Any:
        """A bound contract function, for :meth:`transact`."""
        return getattr(self.contract.functions, name)(*args)

    def events(self, name: str, receipt_logs: list[Any]) -> list[dict[str, Any]]:
        """Decode one event type from a receipt's logs."""
        event = getattr(self.contract.events, name)()
        out: list[dict[str, Any]] = []
        for log in receipt_logs:
            try:
                out.append(dict(event.process_log(log)["args"]))
            except Exception:
                continue
        return out

    # -- crash-safe sending (used by the anchoring worker) ------------------------------------------
    # Sign, record, broadcast and poll are separate calls so the caller can persist each step.

    def nonce(self, address: str, block: str = "pending") -> int:
        return int(self._call("nonce", self.w3.eth.get_transaction_count, to_checksum_address(address), block))

    def eip1559_fees(self, max_fee_cap: int, priority: int) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas): 2 x base fee + tip, capped by the profile."""
        block = self._call("eth_getBlockByNumber", self.w3.eth.get_block, "latest")
        base = int(block.get("baseFeePerGas", 0) or 0)
        max_fee = min(max_fee_cap, 2 * base + priority)
        return max_fee, min(priority, max_fee)

    def sign_call(
        self,
        account: LocalAccount,
        fn: Any,
        action: str,
        *,
        nonce: int,
        max_fee_cap: int,
        priority: int,
    ) -> SignedTx:
        """Pre-flight ``fn`` (reverts raise TransactionFailed naming the custom error), then sign.

        Nothing is sent: the caller records the returned raw transaction before broadcasting it.
        """
        sender = account.address
        try:
            self._call(action, fn.call, {"from": sender})
            gas = int(self._call(action, fn.estimate_gas, {"from": sender}))
        except (ContractCustomError, ContractLogicError) as exc:
            data = exc.data if isinstance(exc.data, str | bytes) else None
            raise TransactionFailed(action, self.decode_error(data) if data else str(exc)) from exc
        max_fee, tip = self.eip1559_fees(max_fee_cap, priority)
        gas = gas * 5 // 4 + 10_000
        params: dict[str, Any] = {
            "from": sender,
            "chainId": self.chain_id(),
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "type": 2,
        }
        tx = self._call(action, fn.build_transaction, params)
        signed = account.sign_transaction(tx)
        return SignedTx(
            tx_hash=_hex(bytes(signed.hash)),
            raw=bytes(signed.raw_transaction),
            sender=sender,
            nonce=nonce,
            gas=gas,
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=tip,
        )

    def broadcast_raw(self, raw: bytes) -> str:
        """Send a signed transaction: ``sent``, ``known`` (already in the pool or mined),
        ``nonce_too_low`` (its nonce was used: by this transaction, mined, or by another one) or
        ``underpriced`` (the node refuses its fees: below the base fee, or too small a bump over
        the transaction it would replace; the caller re-signs it with higher fees)."""
        try:
            self.w3.eth.send_raw_transaction(raw)
            return "sent"
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(self.rpc_url, f"eth_sendRawTransaction: {exc}") from exc
        except (Web3Exception, ValueError) as exc:
            message = _rpc_message(exc).lower()
            if "already known" in message or "already imported" in message or "known transaction" in message:
                return "known"
            if "nonce too low" in message or "nonce is too low" in message:
                return "nonce_too_low"
            if any(phrase in message for phrase in _UNDERPRICED):
                return "underpriced"
            raise ChainUnavailable(self.rpc_url, f"eth_sendRawTransaction: {message}") from exc

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt of ``tx_hash`` if it is mined in the canonical chain, else None."""
        from web3.exceptions import TransactionNotFound

        try:
            r = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(self.rpc_url, f"eth_getTransactionReceipt: {exc}") from exc
        except (Web3Exception, ValueError) as exc:
            raise ChainUnavailable(self.rpc_url, f"eth_getTransactionReceipt: {exc}") from exc
        if r is None or r.get("blockNumber") is None:
            return None
        return Receipt(
            tx_hash=tx_hash.lower(),
            block_number=int(r["blockNumber"]),
            block_hash=_hex(bytes(r["blockHash"])),
            status=int(r["status"]),
            gas_used=int(r["gasUsed"]),
        )

    def tx_known(self, tx_hash: str) -> bool:
        """True when the node knows the transaction (pending or mined)."""
        from web3.exceptions import TransactionNotFound

        def lookup(h: str) -> bool:
            # TransactionNotFound is a Web3Exception: catch it before _call maps it to
            # ChainUnavailable (which made "the node forgot our transaction" look like an outage).
            try:
                return self.w3.eth.get_transaction(h) is not None  # type: ignore[arg-type]
            except TransactionNotFound:
                return False

        return bool(self._call("eth_getTransactionByHash", lookup, tx_hash))

    def anchor_tx_of(self, root: str, block: int) -> str | None:
        """Hash of the transaction that emitted BatchAnchored(root) in ``block``."""
        topic0 = "0x" + keccak(text="BatchAnchored(bytes32,uint32,uint32,uint64,bytes32)").hex()
        logs = self._call(
            "eth_getLogs",
            self.w3.eth.get_logs,
            {
                "address": self.registry_address,
                "fromBlock": block,
                "toBlock": block,
                "topics": [topic0, "0x" + _b32(root).hex()],
            },
        )
        for log in logs:
            return _hex(bytes(log["transactionHash"]))
        return None

    # -- fee replacement (stuck transactions) -------------------------------------------------

    def base_fee(self) -> int:
        """The base fee per gas of the latest block (0 before London)."""
        block = self._call("eth_getBlockByNumber", self.w3.eth.get_block, "latest")
        return int(block.get("baseFeePerGas", 0) or 0)

    def receipts(self, tx_hashes: Sequence[str]) -> dict[str, Receipt | None]:
        """Receipts of several transactions in one batch (None: not mined in the canonical chain).

        Used to follow a set of replacements sharing one nonce: whichever of them is mined.
        """
        hashes = list(dict.fromkeys(h.lower() for h in tx_hashes))
        answers = self.rpc_batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        out: dict[str, Receipt | None] = {}
        for h, r in zip(hashes, answers, strict=True):
            if not isinstance(r, dict) or r.get("blockNumber") is None:
                out[h] = None
                continue
            out[h] = Receipt(
                tx_hash=h,
                block_number=int(r["blockNumber"], 16),
                block_hash=str(r["blockHash"]).lower(),
                status=int(r.get("status") or "0x0", 16),
                gas_used=int(r["gasUsed"], 16),
            )
        return out

    def replace_fees(self, account: LocalAccount, raw: bytes, *, max_fee: int, tip: int) -> SignedTx:
        """Re-sign a recorded EIP-1559 transaction with other fees: same nonce, recipient, data,
        value and gas, so at most one of the two can ever be mined."""
        from eth_account.typed_transactions import TypedTransaction
        from hexbytes import HexBytes

        fields = dict(TypedTransaction.from_bytes(HexBytes(raw)).as_dict())
        if fields.get("type") != 2:
            raise ValueError("only EIP-1559 (type 2) transactions can be replaced")
        for key in ("v", "r", "s"):
            fields.pop(key, None)
        fields["to"] = to_checksum_address(fields["to"])
        fields["maxFeePerGas"] = max_fee
        fields["maxPriorityFeePerGas"] = min(tip, max_fee)
        signed = account.sign_transaction(fields)
        return SignedTx(
            tx_hash=_hex(bytes(signed.hash)),
            raw=bytes(signed.raw_transaction),
            sender=account.address,
            nonce=int(fields["nonce"]),
            gas=int(fields["gas"]),
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=min(tip, max_fee),
        )


# What nodes answer when a transaction's fees are too low to enter (or replace one in) the pool:
# geth "transaction underpriced" / "replacement transaction underpriced", anvil "max fee per gas
# less than block base fee", erigon/nethermind "fee cap less than block base fee", "FeeTooLow".
_UNDERPRICED = (
    "underpriced",
    "less than block base fee",
    "fee too low",
    "feetoolow",
    "max fee per gas less than",
    "fee cap less than",
)


def _rpc_message(exc: Exception) -> str:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], dict):
        return str(args[0].get("message", args[0]))
    return str(exc)
