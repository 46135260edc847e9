"""The one chain adapter: everything that talks to an EVM JSON-RPC node goes through here.

Reads of the CredentialRegistry contract are grouped into JSON-RPC batch requests and typed
as small frozen records; writes are signed locally and waited for. Network faults (refused
connections, timeouts, rate limits, 5xx, garbage) become :class:`ChainUnavailable` so callers
can report INDETERMINATE instead of INVALID; reverts become :class:`TransactionFailed` with the
contract's custom error decoded by name.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3Exception
from web3.providers.rpc import HTTPProvider

from registry.contracts import load_artifact
from registry.errors import ChainUnavailable, DeploymentError, TransactionFailed

__all__ = [
    "REVOCATION_REASONS",
    "BatchInfo",
    "ChainClient",
    "CredentialRevocation",
    "IssuerInfo",
    "KeyInfo",
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

T = TypeVar("T")


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


@dataclass(frozen=True)
class TxResult:
    """A mined transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    status: int
    logs: list[Any]
    contract_address: str | None = None


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


class ChainClient:
    """A JSON-RPC endpoint, optionally bound to a CredentialRegistry contract address."""

    def __init__(self, rpc_url: str, registry: str | None = None, *, timeout: float = 10.0) -> None:
        self.rpc_url = rpc_url
        self.timeout = timeout
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._artifact = load_artifact("CredentialRegistry")
        self._errors = self._error_table(self._artifact.abi)
        self.registry_address = to_checksum_address(registry) if registry else None
        self._chain_id: int | None = None

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
        except Exception:  # noqa: BLE001 - undecodable arguments still name the error
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

    def _batch(self, what: str, calls: Sequence[Any]) -> list[Any]:
        """Execute contract calls as one JSON-RPC batch (chunked), in order."""
        results: list[Any] = []
        for start in range(0, len(calls), 200):
            chunk = calls[start : start + 200]

            def run(chunk: Sequence[Any] = chunk) -> list[Any]:
                with self.w3.batch_requests() as batch:
                    for call in chunk:
                        batch.add(call)
                    return list(batch.execute())

            results.extend(self._call(what, run))
        return results

    @property
    def contract(self) -> Any:
        if self.registry_address is None:
            raise DeploymentError("no registry contract address configured")
        return self.w3.eth.contract(address=self.registry_address, abi=self._artifact.abi)

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
        except Exception:  # noqa: BLE001 - a missing block is not an outage
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

    # -- registry reads (batched) ---------------------------------------------------------

    def batches(self, roots: Iterable[bytes | str]) -> dict[str, BatchInfo | None]:
        """Batch records by root (lower-case hex); None for roots never anchored."""
        keys = list(dict.fromkeys(_hex(r) for r in roots))
        raw = self._batch("batch()", [self.contract.functions.batch(_b32(k)) for k in keys])
        out: dict[str, BatchInfo | None] = {}
        for key, r in zip(keys, raw, strict=True):
            info = BatchInfo(key, *(int(x) for x in r))
            out[key] = info if info.anchored_at != 0 else None
        return out

    def keys_by_id(self, key_ids: Iterable[int]) -> dict[int, KeyInfo]:
        ids = list(dict.fromkeys(key_ids))
        addresses = self._batch("keyAddress()", [self.contract.functions.keyAddress(i) for i in ids])
        infos = self.keys_by_address(addresses)
        return {i: infos[to_checksum_address(a)] for i, a in zip(ids, addresses, strict=True)}

    def keys_by_address(self, addresses: Iterable[str]) -> dict[str, KeyInfo]:
        addrs = list(dict.fromkeys(to_checksum_address(a) for a in addresses))
        raw = self._batch("keyInfo()", [self.contract.functions.keyInfo(a) for a in addrs])
        return {
            a: KeyInfo(a, int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]))
            for a, r in zip(addrs, raw, strict=True)
        }

    def issuers(self, issuer_ids: Iterable[int]) -> dict[int, IssuerInfo]:
        ids = list(dict.fromkeys(issuer_ids))
        raw = self._batch("issuer()", [self.contract.functions.issuer(i) for i in ids])
        return {
            i: IssuerInfo(
                i, str(r[0]), str(r[1]), to_checksum_address(r[2]), int(r[3]), int(r[4]),
                to_checksum_address(r[5]),
            )
            for i, r in zip(ids, raw, strict=True)
        }

    def issuer_count(self) -> int:
        return int(self._call("issuerCount()", self.contract.functions.issuerCount().call))

    def all_issuers(self) -> list[IssuerInfo]:
        count = self.issuer_count()
        return list(self.issuers(range(1, count + 1)).values())

    def revocations(
        self, pairs: Iterable[tuple[bytes | str, bytes | str]]
    ) -> dict[tuple[str, str], CredentialRevocation | None]:
        """Credential revocations by (root, digest); None where not revoked."""
        keys = list(dict.fromkeys((_hex(r), _hex(d)) for r, d in pairs))
        fn = self.contract.functions.credentialRevocation
        raw = self._batch("credentialRevocation()", [fn(_b32(r), _b32(d)) for r, d in keys])
        out: dict[tuple[str, str], CredentialRevocation | None] = {}
        for key, r in zip(keys, raw, strict=True):
            rev = CredentialRevocation(int(r[0]), int(r[1]), int(r[2]))
            out[key] = rev if rev.revoked_at != 0 else None
        return out

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
            raise TransactionFailed(action, self.decode_error(exc.data)) from exc
        except ContractLogicError as exc:
            raise TransactionFailed(action, self.decode_error(exc.data) if exc.data else str(exc)) from exc
        return self.send(account, tx, action)

    def send(self, account: LocalAccount, tx: dict[str, Any], action: str) -> TxResult:
        signed = account.sign_transaction(tx)
        tx_hash = self._call("eth_sendRawTransaction", self.w3.eth.send_raw_transaction, signed.raw_transaction)
        receipt = self._call(
            "wait for receipt", self.w3.eth.wait_for_transaction_receipt, tx_hash, 120, 0.05
        )
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
            except Exception:  # noqa: BLE001,S112 - other events in the same receipt
                continue
        return out


def grant_role_id(role: str) -> bytes:
    return keccak(text=role)
