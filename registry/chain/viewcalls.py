"""Calls of a CredentialRegistry's views: ``eth_call`` requests grouped into JSON-RPC batches,
answers decoded by the ABI and typed as records (:mod:`registry.chain.model`).

The views a registry deployed before them lacks (accreditation bodies' directory entries, the
issuers' Ed25519 signing keys, supersessions) are asked in the same batches as other views; once
such a call reverts, :class:`ViewCalls` stops asking it of that registry (unnamed bodies, unknown
keys, no supersessions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eth_abi.exceptions import DecodingError
from eth_utils import to_checksum_address

from registry.chain.abi import RegistryAbi
from registry.chain.headcache import HeadCache
from registry.chain.model import (
    AccreditorInfo,
    BatchInfo,
    CredentialRevocation,
    IssuerInfo,
    KeyInfo,
    SigningKeyInfo,
    Supersession,
    as_bytes32,
)
from registry.chain.rpc import Rpc
from registry.errors import ChainUnavailable, NotARegistry

__all__ = ["ViewCalls", "ViewSource", "batch_info", "issuer_info", "key_info", "revocation"]

_BATCH_LIMIT = 500
"""Requests per JSON-RPC batch."""


def batch_info(root: str, r: tuple[Any, ...]) -> BatchInfo | None:
    """The ``batch`` view's answer for ``root``; None for a root never anchored."""
    info = BatchInfo(root, *(int(x) for x in r))
    return info if info.anchored_at != 0 else None


def key_info(address: str, r: tuple[Any, ...]) -> KeyInfo:
    """The ``keyInfo`` view's answer for ``address``."""
    return KeyInfo(address, int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]))


def issuer_info(issuer_id: int, r: tuple[Any, ...]) -> IssuerInfo:
    """The ``issuer`` view's answer for ``issuer_id``."""
    return IssuerInfo(
        issuer_id,
        str(r[0]),
        str(r[1]),
        to_checksum_address(r[2]),
        int(r[3]),
        int(r[4]),
        to_checksum_address(r[5]),
    )


def _accreditor_info(address: str, r: tuple[Any, ...]) -> AccreditorInfo:
    return AccreditorInfo(address, str(r[0]), str(r[1]), int(r[2]))


def _signing_key_info(public_key: bytes, r: tuple[Any, ...]) -> SigningKeyInfo:
    return SigningKeyInfo(public_key, int(r[0]), int(r[1]), int(r[2]), int(r[3]))


def _unknown_signing_key(public_key: bytes) -> SigningKeyInfo:
    return SigningKeyInfo(public_key, 0, 0, 0, 0)


def revocation(r: tuple[Any, ...]) -> CredentialRevocation | None:
    """The ``credentialRevocation`` view's answer; None where not revoked."""
    rev = CredentialRevocation(int(r[0]), int(r[1]), int(r[2]))
    return rev if rev.revoked_at != 0 else None


class ViewSource(Protocol):
    """What :class:`ViewCalls` calls through: an RPC endpoint, the registry's ABI, the head cache
    that counts the batches sent, and the bound registry address."""

    rpc: Rpc
    abi: RegistryAbi
    cache: HeadCache | None

    def require_registry(self) -> str: ...


class ViewCalls:
    """The view calls of one reader (:class:`~registry.chain.reads.ChainReader`), to the registry it
    is bound to when each call is made."""

    def __init__(self, source: ViewSource) -> None:
        self.source = source
        self.without_accreditor_view: set[str] = set()
        """Registries whose ``accreditor`` call reverted: deployed before bodies had entries."""
        self.without_signing_keys: set[str] = set()
        """Registries whose ``signingKey`` call reverted: deployed before signing keys (format v2)."""
        self.without_supersessions: set[str] = set()
        """Registries whose ``supersession`` call reverted: deployed before supersession."""

    def call_request(self, name: str, *args: Any, block: str = "latest") -> tuple[str, list[Any]]:
        """An ``eth_call`` request of a registry view, for :meth:`Rpc.batch`."""
        data = self.source.abi.encode_call(name, *args)
        return "eth_call", [{"to": self.source.require_registry(), "data": "0x" + data.hex()}, block]

    def decode_result(self, name: str, result: Any) -> tuple[Any, ...]:
        try:
            return self.source.abi.decode_output(name, bytes.fromhex(str(result).removeprefix("0x")))
        except Exception as exc:
            raise ChainUnavailable(self.source.rpc.url, f"undecodable answer to {name}()") from exc

    def views(self, calls: Sequence[tuple[str, tuple[Any, ...]]], *, block: str = "latest") -> list[tuple[Any, ...]]:
        """Call several registry views in batches; results in order."""
        raw = self.raw_views(calls, block=block)
        return [self.decode_result(name, r) for (name, _), r in zip(calls, raw, strict=True)]

    def raw_views(self, calls: Sequence[tuple[str, tuple[Any, ...]]], *, block: str) -> list[Any]:
        """:meth:`views` not decoded: each call's raw answer, in order."""
        results: list[Any] = []
        for start in range(0, len(calls), _BATCH_LIMIT):
            chunk = calls[start : start + _BATCH_LIMIT]
            results.extend(self.batch([self.call_request(name, *args, block=block) for name, args in chunk]))
        return results

    def views_and_accreditors(
        self, calls: Sequence[tuple[str, tuple[Any, ...]]], bodies: Sequence[str], *, block: str
    ) -> tuple[list[tuple[Any, ...]], dict[str, AccreditorInfo]]:
        """:meth:`views` of ``calls`` and the entries of accreditation bodies ``bodies``, in the
        same batches.

        A registry deployed before bodies had entries has no ``accreditor`` view: the call
        reverts (or answers no data), its bodies read as unnamed, and this reader stops asking
        it (``calls`` are then sent again on their own: once per reader and registry).
        """
        registry = self.source.require_registry()
        if bodies and registry not in self.without_accreditor_view:
            try:
                raw = self.raw_views([*calls, *(("accreditor", (b,)) for b in bodies)], block=block)
            except NotARegistry:
                self.without_accreditor_view.add(registry)
            else:
                n = len(calls)
                results = [self.decode_result(name, r) for (name, _), r in zip(calls, raw[:n], strict=True)]
                return results, {b: self._accreditor_answer(b, r) for b, r in zip(bodies, raw[n:], strict=True)}
        return self.views(calls, block=block), {b: AccreditorInfo(b) for b in bodies}

    def views_and_signing_keys(
        self, calls: Sequence[tuple[str, tuple[Any, ...]]], public_keys: Sequence[bytes], *, block: str
    ) -> tuple[list[tuple[Any, ...]], dict[bytes, SigningKeyInfo]]:
        """:meth:`views` of ``calls`` and the records of signing keys ``public_keys``, in the same
        batches.

        A registry deployed before signing keys has no ``signingKey`` view: the call reverts (or
        answers no data), its keys read as unknown (issuer id 0), and this reader stops asking it
        (``calls`` are then sent again on their own: once per reader and registry).
        """
        registry = self.source.require_registry()
        if public_keys and registry not in self.without_signing_keys:
            try:
                raw = self.raw_views([*calls, *(("signingKey", (k,)) for k in public_keys)], block=block)
            except NotARegistry:
                results = self.views(calls, block=block)  # raises again unless only signingKey reverted
                self.without_signing_keys.add(registry)
                return results, {k: _unknown_signing_key(k) for k in public_keys}
            n = len(calls)
            results = [self.decode_result(name, r) for (name, _), r in zip(calls, raw[:n], strict=True)]
            keys = {
                k: _unknown_signing_key(k)
                if str(r or "0x") == "0x"
                else _signing_key_info(k, self.decode_result("signingKey", r))
                for k, r in zip(public_keys, raw[n:], strict=True)
            }
            return results, keys
        return self.views(calls, block=block), {k: _unknown_signing_key(k) for k in public_keys}

    def supersessions(
        self, pairs: Sequence[tuple[int, str]], *, block: str
    ) -> dict[tuple[int, str], Supersession | None]:
        """The supersession of each (issuer id, digest hex) pair, None where the registry records
        none: one batch of ``supersession`` views at ``block``, then, for the records found, one
        batch of ``eth_getLogs`` each pinned to the record's block, for the successor's root and
        id (only in the ``CredentialSuperseded`` event).

        A registry deployed before supersession has no such view: the call reverts (or answers no
        data), every pair reads as None, and this reader stops asking it.
        """
        registry = self.source.require_registry()
        if not pairs or registry in self.without_supersessions:
            return dict.fromkeys(pairs)
        try:
            raw = self.raw_views([("supersession", (i, as_bytes32(d))) for i, d in pairs], block=block)
        except NotARegistry:
            self.without_supersessions.add(registry)
            return dict.fromkeys(pairs)
        records = {
            p: self.decode_result("supersession", r) for p, r in zip(pairs, raw, strict=True) if str(r or "0x") != "0x"
        }
        found = [(p, r) for p, r in records.items() if int(r[1]) != 0]
        logs: list[Any] = []
        for start in range(0, len(found), _BATCH_LIMIT):
            chunk = found[start : start + _BATCH_LIMIT]
            logs.extend(self.batch([self._superseded_logs_request(p, int(r[2])) for p, r in chunk]))
        out: dict[tuple[int, str], Supersession | None] = dict.fromkeys(pairs)
        for (p, r), answer in zip(found, logs, strict=True):
            out[p] = self._supersession(p, r, answer)
        return out

    def _superseded_logs_request(self, pair: tuple[int, str], block: int) -> tuple[str, list[Any]]:
        """``eth_getLogs`` of CredentialSuperseded(issuerId, digest) in block ``block`` alone."""
        issuer_id, digest = pair
        topics = [self.source.abi.topic("CredentialSuperseded"), "0x" + issuer_id.to_bytes(32, "big").hex(), digest]
        params = {"address": self.source.require_registry(), "fromBlock": hex(block), "toBlock": hex(block)}
        return "eth_getLogs", [{**params, "topics": topics}]

    def _supersession(self, pair: tuple[int, str], record: tuple[Any, ...], logs: Any) -> Supersession:
        """The ``supersession`` view's ``record`` of ``pair`` completed from its event in ``logs``;
        ChainUnavailable when the node returns no matching event (it cannot answer in full)."""
        new_digest = "0x" + bytes(record[0]).hex()
        for log in logs if isinstance(logs, list) else []:
            try:
                event = self.source.abi.decode_log(log)
            except (DecodingError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ChainUnavailable(self.source.rpc.url, "malformed answer to eth_getLogs") from exc
            if event.name == "CredentialSuperseded" and event.args.get("newDigest") == new_digest:
                return Supersession(
                    issuer_id=pair[0],
                    digest=pair[1],
                    new_digest=new_digest,
                    new_root=str(event.args["newRoot"]),
                    new_id=str(event.args["newId"]),
                    kind=int(record[3]),
                    superseded_at=int(record[1]),
                    block=int(record[2]),
                )
        raise ChainUnavailable(
            self.source.rpc.url,
            f"no CredentialSuperseded event for credential {pair[1]} (issuer #{pair[0]}) in block {int(record[2])}",
        )

    def _accreditor_answer(self, body: str, result: Any) -> AccreditorInfo:
        if str(result or "0x") == "0x":  # a contract without the view that does not revert
            return AccreditorInfo(body)
        return _accreditor_info(body, self.decode_result("accreditor", result))

    def batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """One JSON-RPC batch (counted by the head cache, when there is one)."""
        if self.source.cache is not None:
            self.source.cache.read_calls += 1
        return self.source.rpc.batch(requests)
