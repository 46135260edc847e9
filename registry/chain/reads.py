"""Typed reads of a CredentialRegistry: views grouped into JSON-RPC batches, typed as records.

The one snapshot implementation (everything verification needs, in three batched round trips)
lives here, accreditation bodies' directory entries and the issuers' Ed25519 signing keys included
(unnamed bodies, unknown keys on a registry that predates them); a
:class:`~registry.chain.headcache.HeadCache` given to the reader makes it answer from the reads
already made at the current head block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eth_utils import to_checksum_address

from registry.chain.abi import RegistryAbi, registry_abi
from registry.chain.headcache import HeadCache, ReadsAt
from registry.chain.model import (
    AccreditorInfo,
    BatchInfo,
    CredentialRevocation,
    IssuerInfo,
    KeyInfo,
    SigningKeyInfo,
    Snapshot,
    as_bytes32,
    as_hex,
)
from registry.chain.rpc import Rpc
from registry.errors import ChainUnavailable, DeploymentError, NotARegistry

__all__ = ["ChainReader", "head_cached_reader"]

_BATCH_LIMIT = 500
"""Requests per JSON-RPC batch."""


def _batch_info(root: str, r: tuple[Any, ...]) -> BatchInfo | None:
    info = BatchInfo(root, *(int(x) for x in r))
    return info if info.anchored_at != 0 else None


def _key_info(address: str, r: tuple[Any, ...]) -> KeyInfo:
    return KeyInfo(address, int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]))


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


def _accreditor_info(address: str, r: tuple[Any, ...]) -> AccreditorInfo:
    return AccreditorInfo(address, str(r[0]), str(r[1]), int(r[2]))


def _signing_key_info(public_key: bytes, r: tuple[Any, ...]) -> SigningKeyInfo:
    return SigningKeyInfo(public_key, int(r[0]), int(r[1]), int(r[2]), int(r[3]))


def _unknown_signing_key(public_key: bytes) -> SigningKeyInfo:
    return SigningKeyInfo(public_key, 0, 0, 0, 0)


def _revocation(r: tuple[Any, ...]) -> CredentialRevocation | None:
    rev = CredentialRevocation(int(r[0]), int(r[1]), int(r[2]))
    return rev if rev.revoked_at != 0 else None


class ChainReader:
    """Reads of one JSON-RPC endpoint, optionally bound to a CredentialRegistry address.

    With a ``cache``, :meth:`snapshot` answers at the current head and reuses what was read at
    it (see :mod:`registry.chain.headcache`).
    """

    def __init__(
        self,
        rpc: Rpc | str,
        registry: str | None = None,
        *,
        timeout: float = 10.0,
        cache: HeadCache | None = None,
        abi: RegistryAbi | None = None,
    ) -> None:
        self.rpc = rpc if isinstance(rpc, Rpc) else Rpc(rpc, timeout=timeout)
        self.abi = abi or registry_abi()
        self.cache = cache
        self._registry_address = to_checksum_address(registry) if registry else None
        self._chain_id: int | None = None
        self._without_accreditor_view: set[str] = set()
        """Registries whose ``accreditor`` call reverted: deployed before bodies had entries."""
        self._without_signing_keys: set[str] = set()
        """Registries whose ``signingKey`` call reverted: deployed before signing keys (format v2)."""

    @property
    def rpc_url(self) -> str:
        return self.rpc.url

    @property
    def registry_address(self) -> str | None:
        return self._registry_address

    @registry_address.setter
    def registry_address(self, value: str | None) -> None:
        self._registry_address = to_checksum_address(value) if value else None

    def require_registry(self) -> str:
        """The bound registry address (DeploymentError when none is configured)."""
        if self._registry_address is None:
            raise DeploymentError("no registry contract address configured")
        return self._registry_address

    # -- eth_call plumbing ----------------------------------------------------------------

    def call_request(self, name: str, *args: Any, block: str = "latest") -> tuple[str, list[Any]]:
        """An ``eth_call`` request of a registry view, for :meth:`Rpc.batch`."""
        data = self.abi.encode_call(name, *args)
        return "eth_call", [{"to": self.require_registry(), "data": "0x" + data.hex()}, block]

    def decode_result(self, name: str, result: Any) -> tuple[Any, ...]:
        try:
            return self.abi.decode_output(name, bytes.fromhex(str(result).removeprefix("0x")))
        except Exception as exc:
            raise ChainUnavailable(self.rpc.url, f"undecodable answer to {name}()") from exc

    def views(self, calls: Sequence[tuple[str, tuple[Any, ...]]], *, block: str = "latest") -> list[tuple[Any, ...]]:
        """Call several registry views in batches; results in order."""
        raw = self._raw_views(calls, block=block)
        return [self.decode_result(name, r) for (name, _), r in zip(calls, raw, strict=True)]

    def _raw_views(self, calls: Sequence[tuple[str, tuple[Any, ...]]], *, block: str) -> list[Any]:
        results: list[Any] = []
        for start in range(0, len(calls), _BATCH_LIMIT):
            chunk = calls[start : start + _BATCH_LIMIT]
            results.extend(self._batch([self.call_request(name, *args, block=block) for name, args in chunk]))
        return results

    def _views_and_accreditors(
        self, calls: Sequence[tuple[str, tuple[Any, ...]]], bodies: Sequence[str], *, block: str
    ) -> tuple[list[tuple[Any, ...]], dict[str, AccreditorInfo]]:
        """:meth:`views` of ``calls`` and the entries of accreditation bodies ``bodies``, in the
        same batches.

        A registry deployed before bodies had entries has no ``accreditor`` view: the call
        reverts (or answers no data), its bodies read as unnamed, and this reader stops asking
        it (``calls`` are then sent again on their own: once per reader and registry).
        """
        registry = self.require_registry()
        if bodies and registry not in self._without_accreditor_view:
            try:
                raw = self._raw_views([*calls, *(("accreditor", (b,)) for b in bodies)], block=block)
            except NotARegistry:
                self._without_accreditor_view.add(registry)
            else:
                n = len(calls)
                results = [self.decode_result(name, r) for (name, _), r in zip(calls, raw[:n], strict=True)]
                return results, {b: self._accreditor_answer(b, r) for b, r in zip(bodies, raw[n:], strict=True)}
        return self.views(calls, block=block), {b: AccreditorInfo(b) for b in bodies}

    def _views_and_signing_keys(
        self, calls: Sequence[tuple[str, tuple[Any, ...]]], public_keys: Sequence[bytes], *, block: str
    ) -> tuple[list[tuple[Any, ...]], dict[bytes, SigningKeyInfo]]:
        """:meth:`views` of ``calls`` and the records of signing keys ``public_keys``, in the same
        batches.

        A registry deployed before signing keys has no ``signingKey`` view: the call reverts (or
        answers no data), its keys read as unknown (issuer id 0), and this reader stops asking it
        (``calls`` are then sent again on their own: once per reader and registry).
        """
        registry = self.require_registry()
        if public_keys and registry not in self._without_signing_keys:
            try:
                raw = self._raw_views([*calls, *(("signingKey", (k,)) for k in public_keys)], block=block)
            except NotARegistry:
                results = self.views(calls, block=block)  # raises again unless only signingKey reverted
                self._without_signing_keys.add(registry)
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

    def _accreditor_answer(self, body: str, result: Any) -> AccreditorInfo:
        if str(result or "0x") == "0x":  # a contract without the view that does not revert
            return AccreditorInfo(body)
        return _accreditor_info(body, self.decode_result("accreditor", result))

    def _batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        if self.cache is not None:
            self.cache.read_calls += 1
        return self.rpc.batch(requests)

    # -- chain facts ----------------------------------------------------------------------

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.rpc.call("eth_chainId", []), 16)
        return self._chain_id

    def head(self) -> int:
        """The latest block number."""
        return int(self.rpc.call("eth_blockNumber", []), 16)

    def runtime_code(self, address: str) -> bytes:
        code = self.rpc.call("eth_getCode", [to_checksum_address(address), "latest"])
        return bytes.fromhex(str(code).removeprefix("0x"))

    def has_code(self, address: str) -> bool:
        return len(self.runtime_code(address)) > 0

    # -- registry records -----------------------------------------------------------------

    def batches(self, roots: Iterable[bytes | str]) -> dict[str, BatchInfo | None]:
        """Batch records by root (lower-case hex); None for roots never anchored."""
        keys = list(dict.fromkeys(as_hex(r) for r in roots))
        raw = self.views([("batch", (as_bytes32(k),)) for k in keys])
        return {k: _batch_info(k, r) for k, r in zip(keys, raw, strict=True)}

    def keys_by_id(self, key_ids: Iterable[int]) -> dict[int, KeyInfo]:
        ids = list(dict.fromkeys(key_ids))
        addresses = [to_checksum_address(r[0]) for r in self.views([("keyAddress", (i,)) for i in ids])]
        infos = self.keys_by_address(addresses)
        return {i: infos[a] for i, a in zip(ids, addresses, strict=True)}

    def keys_by_address(self, addresses: Iterable[str]) -> dict[str, KeyInfo]:
        addrs = list(dict.fromkeys(to_checksum_address(a) for a in addresses))
        raw = self.views([("keyInfo", (a,)) for a in addrs])
        return {a: _key_info(a, r) for a, r in zip(addrs, raw, strict=True)}

    def issuers(self, issuer_ids: Iterable[int], *, block: int | None = None) -> dict[int, IssuerInfo]:
        """Directory entries by id (at ``block``, default the latest)."""
        ids = list(dict.fromkeys(issuer_ids))
        raw = self.views([("issuer", (i,)) for i in ids], block="latest" if block is None else hex(block))
        return {i: _issuer_info(i, r) for i, r in zip(ids, raw, strict=True)}

    def lacks_accreditor_entries(self) -> bool:
        """Whether the bound registry was found to predate named accreditation bodies (its
        ``accreditor`` view reverted): known only after a read of some body's entry."""
        return self.require_registry() in self._without_accreditor_view

    def accreditors(self, addresses: Iterable[str]) -> dict[str, AccreditorInfo]:
        """Directory entries of accreditation bodies by (checksummed) address, batched.

        A body granted the role with plain ``grantRole``, any other address, and every body of
        a registry that predates named bodies read as unnamed (:attr:`AccreditorInfo.named`
        false): shown by address, never an error.
        """
        bodies = list(dict.fromkeys(to_checksum_address(a) for a in addresses))
        return self._views_and_accreditors([], bodies, block="latest")[1]

    def issuer_count(self, *, block: int | None = None) -> int:
        return int(self.views([("issuerCount", ())], block="latest" if block is None else hex(block))[0][0])

    def all_issuers(self, *, block: int | None = None) -> list[IssuerInfo]:
        return list(self.issuers(range(1, self.issuer_count(block=block) + 1), block=block).values())

    def issuer_id_by_uri(self, uri: str) -> int:
        """The id of the issuer admitted with ``uri`` (0: none)."""
        return int(self.views([("issuerIdByUri", (uri,))])[0][0])

    def revocations(
        self, pairs: Iterable[tuple[int, bytes | str]]
    ) -> dict[tuple[int, str], CredentialRevocation | None]:
        """Credential revocations by (issuer id, digest); None where not revoked.

        Revocations live in the namespace of the issuer whose key revoked, so only the batch
        issuer's namespace counts for a credential.
        """
        keys = list(dict.fromkeys((int(i), as_hex(d)) for i, d in pairs))
        raw = self.views([("credentialRevocation", (i, as_bytes32(d))) for i, d in keys])
        return {k: _revocation(r) for k, r in zip(keys, raw, strict=True)}

    def signing_key(self, public_key: bytes | str) -> SigningKeyInfo | None:
        """The directory's record of Ed25519 signing key ``public_key`` (32 bytes or 0x-hex);
        None when no issuer registered it, or the registry predates signing keys."""
        key = as_bytes32(public_key)
        info = self._views_and_signing_keys([], [key], block="latest")[1][key]
        return info if info.known else None

    def current_signing_key(self, issuer_id: int) -> bytes | None:
        """The current Ed25519 signing key (32 raw bytes) of issuer ``issuer_id``
        (``signingPublicKeyFor`` on chain); None when it never set one, the issuer is unknown or
        the registry predates signing keys (the view reverts)."""
        registry = self.require_registry()
        if registry in self._without_signing_keys:
            return None
        try:
            (value,) = self.views([("signingPublicKeyFor", (issuer_id,))])[0]
        except NotARegistry:
            self._without_signing_keys.add(registry)
            return None
        key = bytes(value)
        return key if any(key) else None

    def has_role(self, role: str, account: str) -> bool:
        """Whether ``account`` holds ``role`` (a role id such as :data:`ACCREDITOR_ROLE`)."""
        return bool(self.views([("hasRole", (as_bytes32(role), to_checksum_address(account)))])[0][0])

    def check_credential(self, root: bytes | str, digest: bytes | str, path: Sequence[str]) -> int:
        """The contract's own view of a credential (Status enum value)."""
        args = (as_bytes32(root), as_bytes32(digest), [as_bytes32(p) for p in path])
        return int(self.views([("checkCredential", args)])[0][0])

    # -- the snapshot ---------------------------------------------------------------------

    def snapshot(
        self,
        roots: Iterable[bytes | str],
        pairs: Iterable[tuple[bytes | str, bytes | str]],
        identities: Iterable[str] = (),
        signing_keys: Iterable[bytes | str] = (),
        *,
        block: int | None = None,
    ) -> Snapshot:
        """Everything verification needs, in at most three batched round trips.

        1: chain id, code at the registry, head, batch records; 2: anchoring-key addresses,
        issuer entries, the credential revocations in each batch issuer's namespace, the
        directory entry owning each issuer identifier in ``identities`` and the record of each
        Ed25519 public key in ``signing_keys`` (``snap.signing_keys``, keyed by the 32 raw bytes;
        every key asked about is there, issuer id 0 when unknown or when the registry predates
        signing keys, whose first snapshot then sends round 2 twice); 3: key records and the
        entries of the accreditation bodies that admitted the issuers (on a registry without
        them, the first snapshot sends round 3 twice). With a head cache, the reads are pinned
        to the current head block and only what that block has not answered yet is read (often
        nothing). With ``block``, every read is pinned to that block number, bypassing the cache
        (:mod:`registry.chain.quorum` compares several RPCs' answers at one block).
        """
        root_keys = list(dict.fromkeys(as_hex(r) for r in roots))
        pair_keys = list(dict.fromkeys((as_hex(r), as_hex(d)) for r, d in pairs))
        public_keys = list(dict.fromkeys(as_bytes32(k) for k in signing_keys))
        registry = self.require_registry()
        number: int | None = block
        if block is not None:
            at, reads = hex(block), ReadsAt("", registry)
        elif self.cache is None:
            at, reads = "latest", ReadsAt("", registry)
        else:
            number, block_hash = self.cache.current_head(self.rpc)
            at, reads = hex(number), self.cache.reads_at(block_hash, registry)
        # Concurrent callers may read the same missing entries twice: equal values, last one wins.
        missing_roots = [k for k in root_keys if k not in reads.batches]
        need_code = reads.chain_id is None  # decided once: another thread may fill it meanwhile
        first: list[tuple[str, list[Any]]] = []
        if need_code:
            first += [("eth_chainId", []), ("eth_getCode", [registry, at])]
        if number is None:
            first.append(("eth_blockNumber", []))
        if first or missing_roots:
            answers = self._batch(first + [self.call_request("batch", as_bytes32(k), block=at) for k in missing_roots])
            if need_code:
                reads.has_code = str(answers[1]) not in ("0x", "0x0", "")
                reads.chain_id = int(answers[0], 16)
                answers = answers[2:]
            if number is None:
                number, answers = int(answers[0], 16), answers[1:]
            if reads.has_code:
                for k, r in zip(missing_roots, answers, strict=True):
                    reads.batches[k] = _batch_info(k, self.decode_result("batch", r))
        assert reads.chain_id is not None and number is not None
        snap = Snapshot(chain_id=reads.chain_id, has_code=reads.has_code, head=number)
        if snap.has_code:
            self._fill(snap, reads, root_keys, pair_keys, list(dict.fromkeys(identities)), public_keys, at)
        return snap

    def _fill(
        self,
        snap: Snapshot,
        reads: ReadsAt,
        root_keys: list[str],
        pair_keys: list[tuple[str, str]],
        identities: list[str],
        public_keys: list[bytes],
        block: str,
    ) -> None:
        """Rounds 2 and 3 of :meth:`snapshot`: keys, issuers, their accreditation bodies,
        revocations of known batches and signing keys."""
        for k in root_keys:
            snap.batches[k] = reads.batches[k]
        known = [b for b in snap.batches.values() if b is not None]
        key_ids = [i for i in dict.fromkeys(b.key_id for b in known) if i not in reads.key_addresses]
        issuer_ids = [i for i in dict.fromkeys(b.issuer_id for b in known) if i not in reads.issuers]
        wanted_revs = list(
            dict.fromkeys((batch.issuer_id, d) for r, d in pair_keys if (batch := snap.batches.get(r)) is not None)
        )
        revs = [p for p in wanted_revs if p not in reads.revocations]
        owners = [u for u in identities if u not in reads.owners]
        new_keys = [k for k in public_keys if k not in reads.signing_keys]
        addresses: list[str] = []
        if key_ids or issuer_ids or revs or owners or new_keys:
            second, signing = self._views_and_signing_keys(
                [("keyAddress", (i,)) for i in key_ids]
                + [("issuer", (i,)) for i in issuer_ids]
                + [("credentialRevocation", (i, as_bytes32(d))) for i, d in revs]
                + [("issuerIdByUri", (u,)) for u in owners],
                new_keys,
                block=block,
            )
            reads.signing_keys.update(signing)
            for u, r in zip(owners, second[len(second) - len(owners) :], strict=True):
                reads.owners[u] = int(r[0])
            second = second[: len(second) - len(owners)]
            addresses = [to_checksum_address(r[0]) for r in second[: len(key_ids)]]
            for i, r in zip(issuer_ids, second[len(key_ids) : len(key_ids) + len(issuer_ids)], strict=True):
                reads.issuers[i] = _issuer_info(i, r)
            for p, r in zip(revs, second[len(key_ids) + len(issuer_ids) :], strict=True):
                reads.revocations[p] = _revocation(r)
        new_addresses = [a for a in dict.fromkeys(addresses) if a not in reads.keys]
        bodies = [
            a
            for a in dict.fromkeys(reads.issuers[b.issuer_id].admitted_by for b in known)
            if a not in reads.accreditors
        ]
        if new_addresses or bodies:
            infos, entries = self._views_and_accreditors(
                [("keyInfo", (a,)) for a in new_addresses], bodies, block=block
            )
            for a, r in zip(new_addresses, infos, strict=True):
                reads.keys[a] = _key_info(a, r)
            reads.accreditors.update(entries)
        for i, a in zip(key_ids, addresses, strict=True):
            reads.key_addresses[i] = a
        for b in known:
            snap.keys[b.key_id] = reads.keys[reads.key_addresses[b.key_id]]
            issuer = snap.issuers[b.issuer_id] = reads.issuers[b.issuer_id]
            snap.accreditors[issuer.admitted_by] = reads.accreditors[issuer.admitted_by]
        for p in wanted_revs:
            snap.revocations[p] = reads.revocations[p]
        for u in identities:
            snap.owners[u] = reads.owners[u]
        for public_key in public_keys:
            snap.signing_keys[public_key] = reads.signing_keys[public_key]


def head_cached_reader(
    rpc_url: str, registry: str | None = None, *, timeout: float = 10.0, head_max_age: float = 0.0
) -> ChainReader:
    """A reader whose snapshot answers at the current head and reuses the reads made at it,
    on a session that reads its environment (proxies, CA bundle, .netrc) once: for a
    long-running service, one per RPC endpoint and registry, shared between threads."""
    rpc = Rpc(rpc_url, timeout=timeout)
    rpc.freeze_environment()
    return ChainReader(rpc, registry, cache=HeadCache(head_max_age=head_max_age))
