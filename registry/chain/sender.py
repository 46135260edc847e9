"""Signing and sending transactions, in steps a crash-safe caller can record one by one.

Transactions are signed locally (eth-account) and sent as raw EIP-1559 transactions over the
reader's JSON-RPC endpoint. :meth:`TxSender.sign` pre-flights and signs without sending;
:meth:`~TxSender.broadcast_raw`, :meth:`~TxSender.receipt`, :meth:`~TxSender.tx_known` and
:meth:`~TxSender.replace_fees` let the anchoring worker persist each step and bump fees of a
stuck transaction (same nonce, so at most one of them is ever mined).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions import TypedTransaction
from eth_utils import to_checksum_address
from hexbytes import HexBytes

from registry.chain.model import Call, ChainLog, Receipt, SignedTx, TxResult
from registry.chain.reads import ChainReader
from registry.chain.rpc import RpcError
from registry.errors import ChainUnavailable, TransactionFailed

__all__ = ["TxSender"]

RECEIPT_TIMEOUT = 120.0
"""Seconds :meth:`TxSender.send` waits for a receipt."""

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
_DEFAULT_TIP = 10**9  # 1 gwei, when the node has no eth_maxPriorityFeePerGas


def _receipt(tx_hash: str, r: Any) -> Receipt | None:
    if not isinstance(r, dict) or r.get("blockNumber") is None:
        return None
    return Receipt(
        tx_hash=tx_hash.lower(),
        block_number=int(r["blockNumber"], 16),
        block_hash=str(r["blockHash"]).lower(),
        status=int(r.get("status") or "0x0", 16),
        gas_used=int(r["gasUsed"], 16),
    )


def _signed(account: LocalAccount, tx: dict[str, Any]) -> SignedTx:
    signed = account.sign_transaction(tx)
    return SignedTx(
        tx_hash="0x" + bytes(signed.hash).hex(),
        raw=bytes(signed.raw_transaction),
        sender=account.address,
        nonce=int(tx["nonce"]),
        gas=int(tx["gas"]),
        max_fee_per_gas=int(tx["maxFeePerGas"]),
        max_priority_fee_per_gas=int(tx["maxPriorityFeePerGas"]),
    )


class TxSender:
    """Transactions to the reader's registry, signed by the caller's account."""

    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self.rpc = reader.rpc

    # -- chain facts a transaction needs ---------------------------------------------------

    def nonce(self, address: str, block: str = "pending") -> int:
        return int(self.rpc.call("eth_getTransactionCount", [to_checksum_address(address), block]), 16)

    def base_fee(self) -> int:
        """The base fee per gas of the latest block (0 before London)."""
        block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        return int((block or {}).get("baseFeePerGas") or "0x0", 16)

    def eip1559_fees(self, max_fee_cap: int, priority: int) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas): 2 x base fee + tip, capped by the profile."""
        max_fee = min(max_fee_cap, 2 * self.base_fee() + priority)
        return max_fee, min(priority, max_fee)

    def default_fees(self) -> tuple[int, int]:
        """The node's suggested tip, and twice the base fee on top (web3's defaults)."""
        try:
            tip = int(self.rpc.request("eth_maxPriorityFeePerGas", []), 16)
        except RpcError:
            tip = _DEFAULT_TIP
        return 2 * self.base_fee() + tip, tip

    # -- pre-flight -----------------------------------------------------------------------

    def _reverted(self, call: Call, exc: RpcError) -> TransactionFailed | ChainUnavailable:
        if not exc.is_revert:
            return ChainUnavailable(self.rpc.url, str(exc))
        data = exc.revert_data
        if data is None:
            return TransactionFailed(call.action, exc.message)
        revert, message = self.reader.abi.decode_revert(data)
        return TransactionFailed(call.action, message, revert)

    def _message(self, sender: str, call: Call) -> dict[str, Any]:
        return {
            "from": to_checksum_address(sender),
            "to": self.reader.require_registry(),
            "data": "0x" + call.data.hex(),
        }

    def preflight(self, sender: str, call: Call) -> None:
        """Run ``call`` as ``sender`` without sending it (``eth_call``); a revert raises
        TransactionFailed carrying the contract's custom error (``exc.revert``)."""
        try:
            self.rpc.request("eth_call", [self._message(sender, call), "latest"])
        except RpcError as exc:
            raise self._reverted(call, exc) from exc

    def estimate_gas(self, sender: str, call: Call) -> int:
        try:
            return int(self.rpc.request("eth_estimateGas", [self._message(sender, call)]), 16)
        except RpcError as exc:
            raise self._reverted(call, exc) from exc

    def _transaction(self, call: Call, *, nonce: int, gas: int, max_fee: int, tip: int) -> dict[str, Any]:
        return {
            "to": self.reader.require_registry(),
            "data": "0x" + call.data.hex(),
            "value": 0,
            "chainId": self.reader.chain_id(),
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "type": 2,
        }

    # -- sign, send, wait -----------------------------------------------------------------

    def sign(self, account: LocalAccount, call: Call, *, nonce: int, max_fee_cap: int, priority: int) -> SignedTx:
        """Pre-flight ``call`` (reverts raise TransactionFailed naming the custom error), then sign.

        Nothing is sent: the caller records the returned raw transaction before broadcasting it.
        """
        self.preflight(account.address, call)
        gas = _with_margin(self.estimate_gas(account.address, call))
        max_fee, tip = self.eip1559_fees(max_fee_cap, priority)
        return _signed(account, self._transaction(call, nonce=nonce, gas=gas, max_fee=max_fee, tip=tip))

    def transact(self, account: LocalAccount, call: Call) -> TxResult:
        """Pre-flight (eth_call), sign with the node's suggested fees, send, wait for the receipt."""
        self.preflight(account.address, call)
        nonce = self.nonce(account.address)
        gas = _with_margin(self.estimate_gas(account.address, call))
        max_fee, tip = self.default_fees()
        return self.send(account, self._transaction(call, nonce=nonce, gas=gas, max_fee=max_fee, tip=tip), call.action)

    def create(self, account: LocalAccount, init_code: bytes, action: str) -> TxResult:
        """Deploy a contract (``init_code``: creation bytecode and encoded constructor arguments)."""
        data = "0x" + init_code.hex()
        gas = int(self.rpc.call("eth_estimateGas", [{"from": account.address, "data": data}]), 16)
        max_fee, tip = self.default_fees()
        tx = {
            "data": data,
            "value": 0,
            "chainId": self.reader.chain_id(),
            "nonce": self.nonce(account.address),
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "type": 2,
        }
        return self.send(account, tx, action)

    def send(self, account: LocalAccount, tx: dict[str, Any], action: str) -> TxResult:
        """Sign ``tx`` (a complete transaction dict), send it and wait for its receipt; a
        reverted transaction raises TransactionFailed."""
        signed = account.sign_transaction(tx)
        try:
            sent = self.rpc.request("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
        except RpcError as exc:
            raise ChainUnavailable(self.rpc.url, str(exc)) from exc
        tx_hash = str(sent).lower()
        receipt = self._wait_for_receipt(tx_hash)
        logs: list[ChainLog] = []
        for raw in receipt.get("logs") or []:
            try:
                logs.append(self.reader.abi.decode_log(raw))
            except Exception:  # another contract's log that happens to share a topic
                continue
        created = receipt.get("contractAddress")
        result = TxResult(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"], 16),
            gas_used=int(receipt["gasUsed"], 16),
            status=int(receipt.get("status") or "0x0", 16),
            logs=logs,
            contract_address=to_checksum_address(created) if created else None,
        )
        if result.status != 1:
            raise TransactionFailed(action, f"transaction {result.tx_hash} reverted")
        return result

    def _wait_for_receipt(self, tx_hash: str, timeout: float = RECEIPT_TIMEOUT, poll: float = 0.05) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
            if isinstance(receipt, dict) and receipt.get("blockNumber") is not None:
                return receipt
            if time.monotonic() > deadline:
                raise ChainUnavailable(
                    self.rpc.url, f"wait for receipt: transaction {tx_hash} is not mined after {timeout:g} s"
                )
            time.sleep(poll)

    # -- crash-safe steps (the anchoring worker) ------------------------------------------

    def broadcast_raw(self, raw: bytes) -> str:
        """Send a signed transaction: ``sent``, ``known`` (already in the pool or mined),
        ``nonce_too_low`` (its nonce was used: by this transaction, mined, or by another one) or
        ``underpriced`` (the node refuses its fees: below the base fee, or too small a bump over
        the transaction it would replace; the caller re-signs it with higher fees)."""
        try:
            self.rpc.request("eth_sendRawTransaction", ["0x" + raw.hex()])
            return "sent"
        except RpcError as exc:
            message = exc.message.lower()
            if "already known" in message or "already imported" in message or "known transaction" in message:
                return "known"
            if "nonce too low" in message or "nonce is too low" in message:
                return "nonce_too_low"
            if any(phrase in message for phrase in _UNDERPRICED):
                return "underpriced"
            raise ChainUnavailable(self.rpc.url, f"eth_sendRawTransaction: {message}") from exc

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt of ``tx_hash`` if it is mined in the canonical chain, else None."""
        return _receipt(tx_hash, self.rpc.call("eth_getTransactionReceipt", [tx_hash]))

    def receipts(self, tx_hashes: Sequence[str]) -> dict[str, Receipt | None]:
        """Receipts of several transactions in one batch (None: not mined in the canonical chain).

        Used to follow a set of replacements sharing one nonce: whichever of them is mined.
        """
        hashes = list(dict.fromkeys(h.lower() for h in tx_hashes))
        answers = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        return {h: _receipt(h, r) for h, r in zip(hashes, answers, strict=True)}

    def tx_known(self, tx_hash: str) -> bool:
        """True when the node knows the transaction (pending or mined)."""
        return self.rpc.call("eth_getTransactionByHash", [tx_hash]) is not None

    def replace_fees(self, account: LocalAccount, raw: bytes, *, max_fee: int, tip: int) -> SignedTx:
        """Re-sign a recorded EIP-1559 transaction with other fees: same nonce, recipient, data,
        value and gas, so at most one of the two can ever be mined."""
        fields = dict(TypedTransaction.from_bytes(HexBytes(raw)).as_dict())
        if fields.get("type") != 2:
            raise ValueError("only EIP-1559 (type 2) transactions can be replaced")
        for key in ("v", "r", "s"):
            fields.pop(key, None)
        fields["to"] = to_checksum_address(fields["to"])
        fields["maxFeePerGas"] = max_fee
        fields["maxPriorityFeePerGas"] = min(tip, max_fee)
        return _signed(account, fields)


def _with_margin(estimate: int) -> int:
    """The gas limit for an estimate: the state a transaction is mined on may cost more than the
    one it was estimated on (a write of ``block.timestamp`` into a slot that holds the estimate's
    second costs a no-op SSTORE then, a full one a second later)."""
    return estimate * 5 // 4 + 10_000
