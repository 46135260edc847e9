"""Typed reads of a CredentialRegistry: its views, called in JSON-RPC batches
(:mod:`registry.chain.viewcalls`), typed as records.

:meth:`ChainReader.snapshot` is the one snapshot read (everything verification needs, in three
batched round trips: :mod:`registry.chain.snapshot`); a
:class:`~registry.chain.headcache.HeadCache` given to the reader makes it answer from the reads
already made at the current head block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eth_utils import to_checksum_address

from registry.chain.abi import RegistryAbi, registry_abi
from registry.chain.headcache import HeadCache
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
from registry.chain.snapshot import read_snapshot
from registry.chain.viewcalls import ViewCalls, batch_info, issuer_info, key_info, revocation
from registry.errors import DeploymentError, NotARegistry

__all__ = ["ChainReader", "head_cached_reader"]


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
        self.view_calls = ViewCalls(self)
        """The registry's views, called in batches (and which views the registry lacks)."""

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
        raw = self.view_calls.views([("batch", (as_bytes32(k),)) for k in keys])
        return {k: batch_info(k, r) for k, r in zip(keys, raw, strict=True)}

    def keys_by_id(self, key_ids: Iterable[int]) -> dict[int, KeyInfo]:
        ids = list(dict.fromkeys(key_ids))
        addresses = [to_checksum_address(r[0]) for r in self.view_calls.views([("keyAddress", (i,)) for i in ids])]
        infos = self.keys_by_address(addresses)
        return {i: infos[a] for i, a in zip(ids, addresses, strict=True)}

    def keys_by_address(self, addresses: Iterable[str]) -> dict[str, KeyInfo]:
        addrs = list(dict.fromkeys(to_checksum_address(a) for a in addresses))
        raw = self.view_calls.views([("keyInfo", (a,)) for a in addrs])
        return {a: key_info(a, r) for a, r in zip(addrs, raw, strict=True)}

    def issuers(self, issuer_ids: Iterable[int], *, block: int | None = None) -> dict[int, IssuerInfo]:
        """Directory entries by id (at ``block``, default the latest)."""
        ids = list(dict.fromkeys(issuer_ids))
        raw = self.view_calls.views([("issuer", (i,)) for i in ids], block="latest" if block is None else hex(block))
        return {i: issuer_info(i, r) for i, r in zip(ids, raw, strict=True)}

    def lacks_accreditor_entries(self) -> bool:
        """Whether the bound registry was found to predate named accreditation bodies (its
        ``accreditor`` view reverted): known only after a read of some body's entry."""
        return self.require_registry() in self.view_calls.without_accreditor_view

    def accreditors(self, addresses: Iterable[str]) -> dict[str, AccreditorInfo]:
        """Directory entries of accreditation bodies by (checksummed) address, batched.

        A body granted the role with plain ``grantRole``, any other address, and every body of
        a registry that predates named bodies read as unnamed (:attr:`AccreditorInfo.named`
        false): shown by address, never an error.
        """
        bodies = list(dict.fromkeys(to_checksum_address(a) for a in addresses))
        return self.view_calls.views_and_accreditors([], bodies, block="latest")[1]

    def issuer_count(self, *, block: int | None = None) -> int:
        return int(self.view_calls.views([("issuerCount", ())], block="latest" if block is None else hex(block))[0][0])

    def all_issuers(self, *, block: int | None = None) -> list[IssuerInfo]:
        return list(self.issuers(range(1, self.issuer_count(block=block) + 1), block=block).values())

    def issuer_id_by_uri(self, uri: str) -> int:
        """The id of the issuer admitted with ``uri`` (0: none)."""
        return int(self.view_calls.views([("issuerIdByUri", (uri,))])[0][0])

    def revocations(
        self, pairs: Iterable[tuple[int, bytes | str]]
    ) -> dict[tuple[int, str], CredentialRevocation | None]:
        """Credential revocations by (issuer id, digest); None where not revoked.

        Revocations live in the namespace of the issuer whose key revoked, so only the batch
        issuer's namespace counts for a credential.
        """
        keys = list(dict.fromkeys((int(i), as_hex(d)) for i, d in pairs))
        raw = self.view_calls.views([("credentialRevocation", (i, as_bytes32(d))) for i, d in keys])
        return {k: revocation(r) for k, r in zip(keys, raw, strict=True)}

    def signing_key(self, public_key: bytes | str) -> SigningKeyInfo | None:
        """The directory's record of Ed25519 signing key ``public_key`` (32 bytes or 0x-hex);
        None when no issuer registered it, or the registry predates signing keys."""
        key = as_bytes32(public_key)
        info = self.view_calls.views_and_signing_keys([], [key], block="latest")[1][key]
        return info if info.known else None

    def current_signing_key(self, issuer_id: int) -> bytes | None:
        """The current Ed25519 signing key (32 raw bytes) of issuer ``issuer_id``
        (``signingPublicKeyFor`` on chain); None when it never set one, the issuer is unknown or
        the registry predates signing keys (the view reverts)."""
        registry = self.require_registry()
        if registry in self.view_calls.without_signing_keys:
            return None
        try:
            (value,) = self.view_calls.views([("signingPublicKeyFor", (issuer_id,))])[0]
        except NotARegistry:
            self.view_calls.without_signing_keys.add(registry)
            return None
        key = bytes(value)
        return key if any(key) else None

    def has_role(self, role: str, account: str) -> bool:
        """Whether ``account`` holds ``role`` (a role id such as :data:`ACCREDITOR_ROLE`)."""
        return bool(self.view_calls.views([("hasRole", (as_bytes32(role), to_checksum_address(account)))])[0][0])

    def check_credential(self, root: bytes | str, digest: bytes | str, path: Sequence[str]) -> int:
        """The contract's own view of a credential (Status enum value)."""
        args = (as_bytes32(root), as_bytes32(digest), [as_bytes32(p) for p in path])
        return int(self.view_calls.views([("checkCredential", args)])[0][0])

    # -- the snapshot ---------------------------------------------------------------------

    def snapshot(
        self,
        roots: Iterable[bytes | str],
        pairs: Iterable[tuple[bytes | str, bytes | str]],
        identities: Iterable[str] = (),
        signing_keys: Iterable[bytes | str] = (),
        *,
        block: int | None = None,
        successors: Iterable[tuple[bytes | str, bytes | str]] = (),
        asked_at: float | None = None,
    ) -> Snapshot:
        """Everything verification needs, in at most three batched round trips (five with
        supersessions), at the head (with a cache: reusing what was read at it, at a head learned
        after ``asked_at``, see :meth:`HeadCache.current_head`) or at ``block``, ``successors``
        included: :func:`registry.chain.snapshot.read_snapshot`."""
        return read_snapshot(
            self, roots, pairs, identities, signing_keys, block=block, successors=successors, asked_at=asked_at
        )


def head_cached_reader(
    rpc_url: str, registry: str | None = None, *, timeout: float = 10.0, head_max_age: float = 0.0
) -> ChainReader:
    """A reader whose snapshot answers at the current head and reuses the reads made at it,
    on a session that reads its environment (proxies, CA bundle, .netrc) once: for a
    long-running service, one per RPC endpoint and registry, shared between threads."""
    rpc = Rpc(rpc_url, timeout=timeout)
    rpc.freeze_environment()
    return ChainReader(rpc, registry, cache=HeadCache(head_max_age=head_max_age))
