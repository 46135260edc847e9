"""Trustless verification of credential files against the chain alone.

Runs the named checks of DESIGN.md (``format``, ``integrity``, ``inclusion``, ``anchor``,
``issuer``, ``signature``, ``revocation``, ``lineage`` and ``validity``; each one is in
:mod:`registry.verify.checks`) under a
:class:`VerificationPolicy`. A verifier needs the file and a JSON-RPC endpoint of the chain
named in the file: never the issuer's server, a block explorer or DNS. Network trouble is never
INVALID. Many files share chain reads: one batched round of calls per chain and registry, from
one RPC or a :class:`~registry.chain.quorum.Quorum` of several that must agree.

This module imports neither the database, the service nor the anchoring worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Final

from registry.chain.model import Snapshot
from registry.chain.networks import known_rpcs
from registry.chain.quorum import Quorum, RpcDisagreement
from registry.chain.reads import ChainReader
from registry.core.baking import MAX_IMAGE_BYTES
from registry.core.credfile import MAX_FILE_BYTES
from registry.core.signing import Canonicalizer
from registry.errors import ChainUnavailable, ConfigError, InvalidInput, NotARegistry, RegistryError
from registry.locales.reasons import Reason
from registry.verify.checks import (
    CHAIN_CHECKS,
    Item,
    anchor_check,
    checksum,
    issuer_check,
    lineage_check,
    offline_checks,
    report_of,
    revocation_check,
    signature_check,
)
from registry.verify.identity import Directory, identity_conflict
from registry.verify.parallel import offline_items
from registry.verify.policy import VerificationPolicy
from registry.verify.report import CheckStatus, Report

__all__ = ["MAX_READ_BYTES", "ClientFactory", "Verifier", "read_credential_bytes", "verify_files"]

MAX_READ_BYTES: Final = max(MAX_FILE_BYTES, MAX_IMAGE_BYTES)
"""The most bytes read of one file: nothing larger is a credential file (2 MiB) or a baked badge
(10 MiB), so a stray video is never read whole."""

ClientFactory = Callable[[int, str], ChainReader]
"""``client_for(chain_id, registry)``: the chain client to read a registry with."""


class Verifier:
    """Verifies credential files under a :class:`VerificationPolicy`; holds per-run chain clients.

    Chain access: ``client_for`` maps (chain id, registry address) to a chain client; by default
    the RPC URLs come from ``rpc_urls`` (or the one ``rpc_url``) or, per chain id, from the user's
    known networks. With two or more URLs every fact is read from each at one block and they must
    agree (:class:`~registry.chain.quorum.Quorum`): a second opinion on the chain. Tests pass a
    factory to point at their own anvil; the service passes one sharing cached clients.
    """

    def __init__(
        self,
        policy: VerificationPolicy | None = None,
        *,
        rpc_url: str | None = None,
        rpc_urls: Sequence[str] = (),
        timeout: float = 10.0,
        client_for: ClientFactory | None = None,
        canonicalizer: Canonicalizer | None = None,
    ) -> None:
        self.policy = policy if policy is not None else VerificationPolicy()
        self.rpc_urls = list(dict.fromkeys([*([rpc_url] if rpc_url else []), *rpc_urls]))
        self.timeout = timeout
        self.client_for = client_for
        self._clients: dict[tuple[int, str], ChainReader | Quorum] = {}
        self._elsewhere: dict[tuple[int, str, str], str | None] = {}
        self._trust: dict[tuple[int, str], str | None] = {}
        self._canonicalizer = canonicalizer or Canonicalizer()

    @property
    def rpc_url(self) -> str | None:
        """The first RPC URL given (None: per chain id from the known networks)."""
        return self.rpc_urls[0] if self.rpc_urls else None

    def with_policy(self, policy: VerificationPolicy) -> Verifier:
        """A verifier with another policy, the same chain access and the same canonicalizer (its
        shape templates do not depend on the policy: a request asking for more confirmations does
        not learn them again)."""
        return Verifier(
            policy,
            rpc_urls=self.rpc_urls,
            timeout=self.timeout,
            client_for=self.client_for,
            canonicalizer=self._canonicalizer,
        )

    # -- public -------------------------------------------------------------------------

    def verify(
        self, data: bytes | str | dict[str, Any], source: str = "<credential>", *, asked_at: float | None = None
    ) -> Report:
        """The report of one file; ``asked_at`` as in :meth:`verify_many`."""
        return self.verify_many([(source, data)], asked_at=asked_at)[0]

    def verify_many(
        self,
        files: Sequence[tuple[str, bytes | str | dict[str, Any]]],
        *,
        pool: Executor | None = None,
        asked_at: float | None = None,
    ) -> list[Report]:
        """The report of each file, in order (chain reads shared by the batch); with ``pool`` (a
        process pool), a large batch's offline checks are spread over its workers. ``asked_at``:
        the :func:`time.monotonic` moment the request arrived (default: now); a head-cached
        reader answers at a head learned after it (:meth:`registry.chain.headcache.HeadCache.current_head`)."""
        return [report for report, _ in self.verify_with_items(files, pool=pool, asked_at=asked_at)]

    def verify_with_items(
        self,
        files: Sequence[tuple[str, bytes | str | dict[str, Any]]],
        *,
        pool: Executor | None = None,
        asked_at: float | None = None,
    ) -> list[tuple[Report, Item]]:
        """:meth:`verify_many`, each report with the :class:`Item` it was made from (the parsed
        file, for callers that show more of it, such as the learner's name)."""
        return self.complete(self.offline_part(files, pool=pool), asked_at=asked_at)

    def offline_part(
        self, files: Sequence[tuple[str, bytes | str | dict[str, Any]]], *, pool: Executor | None = None
    ) -> list[Item]:
        """The checks that need no chain, one :class:`Item` per file (CPU only: the verify API runs
        them one at a time per process, the chain part beside them); :meth:`complete` finishes them."""
        if pool is None:
            return [offline_checks(source, data, self.policy, self._canonicalizer) for source, data in files]
        return offline_items(files, self.policy, self._canonicalizer, pool)

    def complete(self, items: list[Item], *, asked_at: float | None = None) -> list[tuple[Report, Item]]:
        """The chain part of :meth:`verify_with_items` on items from :meth:`offline_part` (chain
        reads shared by them all), and each report."""
        if self.policy.offline:
            for item in items:
                for name in ("anchor", "issuer", "revocation", "lineage"):
                    if item.applies(name) and item.pending(name):
                        item.set(
                            name,
                            CheckStatus.INDETERMINATE,
                            Reason("not checked: offline mode, the chain was not consulted"),
                        )
                if item.signature is not None and item.pending("signature"):
                    item.set(
                        "signature",
                        CheckStatus.INDETERMINATE,
                        Reason(
                            "the signature verifies, but whether its key is the issuer's is on the chain: offline "
                            "mode, the chain was not consulted"
                        ),
                    )
        else:
            groups: dict[tuple[int, str], list[Item]] = {}
            for item in items:
                key = self.chain_group(item)
                if key is not None:
                    groups.setdefault(key, []).append(item)
            for (chain_id, registry), group in groups.items():
                self._chain_checks(chain_id, registry, group, asked_at)
        return [(report_of(item, self.policy), item) for item in items]

    def chain_group(self, item: Item) -> tuple[int, str] | None:
        """``(chain id, registry)`` whose reads :meth:`complete` makes for ``item``, or None when
        it reads nothing for it (offline mode, or a file that failed before its anchor was known):
        items of one group share their reads."""
        if self.policy.offline or item.cf is None or not item.pending("anchor"):
            return None
        return item.chain_id, item.registry

    def chain_snapshot(self, chain_id: int, registry: str, roots: Sequence[str]) -> Snapshot:
        """The registry's records of ``roots`` (batches, their issuers and keys), read as for
        credential files, with the same RPCs (a second opinion included): what the stack
        verifier reads a pathway's anchor with."""
        return self._client(chain_id, checksum(registry)).snapshot(list(roots), [])

    # -- chain part ---------------------------------------------------------------------

    def _client(self, chain_id: int, registry: str) -> ChainReader | Quorum:
        """The reader of a registry: one RPC, or a :class:`Quorum` of several that must agree."""
        key = (chain_id, registry)
        if key not in self._clients:
            if self.client_for is not None:
                self._clients[key] = self.client_for(chain_id, registry)
            else:
                urls = self.rpc_urls or known_rpcs().get(chain_id, [])
                if not urls:
                    raise ConfigError(
                        Reason(
                            "no RPC URL known for chain {chain_id}: pass --rpc URL or add it to networks.json",
                            chain_id=chain_id,
                        )
                    )
                readers = [ChainReader(url, registry, timeout=self.timeout) for url in urls]
                self._clients[key] = readers[0] if len(readers) == 1 else Quorum(readers)
        return self._clients[key]

    def _indeterminate(self, group: Iterable[Item], reason: str) -> None:
        for item in group:
            for name in CHAIN_CHECKS:
                if item.applies(name) and item.pending(name):
                    item.set(name, CheckStatus.INDETERMINATE, reason)

    def _chain_checks(self, chain_id: int, registry: str, group: list[Item], asked_at: float | None) -> None:
        client: ChainReader | Quorum | None = None
        try:
            client = self._client(chain_id, registry)
            self._read_and_check(client, chain_id, registry, group, asked_at)
            if isinstance(client, Quorum):  # the anchor check names the RPCs that agreed, and at which block
                agreed = {"rpcs": client.rpc_urls, "agreedBlock": client.block, "agreedBlockHash": client.block_hash}
                for item in group:
                    item.checks["anchor"].details.update(agreed)
        except ConfigError as exc:
            self._indeterminate(group, str(exc))
        except RpcDisagreement as exc:
            self._indeterminate(
                group,
                Reason(
                    "the RPCs given do not confirm each other: {problem}; verify again, or with RPC endpoints you "
                    "trust",
                    problem=str(exc),
                ),
            )
        except NotARegistry as exc:
            for item in group:
                item.set("anchor", CheckStatus.FAIL, str(exc))
            self._indeterminate(group, Reason("not checked: the address is not a credential registry"))
        except ChainUnavailable as exc:
            if isinstance(client, Quorum):
                self._indeterminate(
                    group,
                    Reason(
                        "no second opinion: the RPC {url} could not answer ({problem}), and with {count} RPCs given "
                        "every one must answer alike; try again, or leave that RPC out knowing that one RPC alone "
                        "is trusted blindly",
                        url=exc.url,
                        problem=exc.reason,
                        count=len(client.readers),
                    ),
                )
            else:
                self._indeterminate(
                    group,
                    Reason("could not read the chain ({problem}); try again or use another RPC", problem=exc.reason),
                )

    def _trust_source(self, chain_id: int, registry: str) -> str | None:
        """:meth:`VerificationPolicy.trust_source`, remembered per registry when the policy names
        its trusted registries (the trust anchors, ``trusted=None``, are read each time)."""
        if self.policy.trusted is None:
            return self.policy.trust_source(chain_id, registry)
        key = (chain_id, registry)
        if key not in self._trust:
            self._trust[key] = self.policy.trust_source(chain_id, registry)
        return self._trust[key]

    def _read_and_check(
        self, client: ChainReader | Quorum, chain_id: int, registry: str, group: list[Item], asked_at: float | None
    ) -> None:
        if client.registry_address != registry:
            client.registry_address = registry
        pairs = [(i.root, i.digest) for i in group]
        identities = [i.identity for i in group if i.cf is not None]
        signing_keys = [i.signature.public_key for i in group if i.signature is not None and i.signature.ok]
        claims = [(i.root, i.cf.supersedes["credentialDigest"]) for i in group if i.cf and i.cf.supersedes]
        snap = client.snapshot(
            [i.root for i in group],
            pairs,
            identities,
            [k for k in signing_keys if k is not None],
            successors=claims,
            asked_at=asked_at,
        )
        if snap.chain_id != chain_id:
            self._indeterminate(
                group,
                Reason(
                    "the RPC {url} serves chain {served}, but the credential was anchored on chain {chain_id}: give "
                    "an RPC endpoint of chain {chain_id}",
                    url=client.rpc_url,
                    served=snap.chain_id,
                    chain_id=chain_id,
                ),
            )
            return
        if isinstance(client, Quorum):  # read at the lowest head of the RPCs: a later anchor is not there yet
            claimed = {id(i): int(i.cf.proof.get("anchorBlock") or 0) for i in group if i.cf is not None}
            for item in [i for i in group if claimed.get(id(i), 0) > snap.head]:
                self._indeterminate(
                    [item],
                    Reason(
                        "the RPCs were read at block {head}, the lowest of their heads, but the file says its batch "
                        "was anchored in block {block}: an RPC is behind (or claims to be); verify again shortly",
                        head=snap.head,
                        block=claimed[id(item)],
                    ),
                )
            group = [i for i in group if claimed.get(id(i), 0) <= snap.head]
        if not snap.has_code:
            for item in group:
                item.set(
                    "anchor",
                    CheckStatus.FAIL,
                    Reason(
                        "there is no contract at {registry} on chain {chain_id}", registry=registry, chain_id=chain_id
                    ),
                )
            self._indeterminate(group, Reason("not checked: the registry contract does not exist"))
            return
        trusted = self._trust_source(chain_id, registry)
        directory = Directory(client)
        for item in group:
            batch = snap.batches.get(item.root.lower())
            if batch is None:
                item.set(
                    "anchor",
                    CheckStatus.FAIL,
                    Reason(
                        "the root {root} is not anchored in registry {registry} on chain {chain_id}",
                        root=item.root,
                        registry=registry,
                        chain_id=chain_id,
                    ),
                )
                self._indeterminate([item], Reason("not checked: the batch root is not on chain"))
                continue
            anchor_check(item, batch, snap.head, chain_id, registry, self.policy)
            entry = snap.issuers[batch.issuer_id]
            assert item.cf is not None
            identity = item.identity
            conflict = identity_conflict(identity, entry, snap.owners.get(identity, 0), directory)
            if trusted is None:
                conflict = self._owner_elsewhere(client, chain_id, registry, identity)
            issuer_check(
                item,
                batch,
                snap.keys[batch.key_id],
                entry,
                registry,
                trusted,
                (identity, conflict),
                accreditor=snap.accreditors.get(entry.admitted_by),
            )
            if item.signature is not None and item.signature.ok and item.signature.public_key is not None:
                signature_check(item, batch, snap.signing_keys.get(item.signature.public_key))
            own = (batch.issuer_id, item.digest.lower())
            revocation_check(item, batch, snap.revocations.get(own), snap.supersessions.get(own))
            if item.cf.supersedes is not None:
                replaced = item.cf.supersedes["credentialDigest"]
                lineage_check(item, snap.supersessions.get((batch.issuer_id, replaced)))

    def _owner_elsewhere(self, client: ChainReader | Quorum, chain_id: int, registry: str, identity: str) -> str | None:
        """For a file from a registry the user does not trust: a warning when a registry the user
        does trust on that chain admits the very identity the file names (the look-alike attack:
        a copy of the registry issuing in a real issuer's name). A hint only (one RPC, best
        effort): it never turns a check into a pass."""
        key = (chain_id, registry, identity)
        if key not in self._elsewhere:
            self._elsewhere[key] = None
            reader = client.readers[0] if isinstance(client, Quorum) else client
            for address, source in self.policy.trusted_on(chain_id).items():
                if address == registry or not identity:
                    continue
                try:
                    owner = ChainReader(reader.rpc, address, abi=reader.abi).issuer_id_by_uri(identity)
                except RegistryError:
                    continue
                if owner:
                    self._elsewhere[key] = Reason(
                        "registry {registry} on chain {chain_id} is not one you trust, and the issuer this file "
                        "names, {identity}, is admitted as entry #{owner} of registry {address}, which you do trust "
                        "({source}): a file in its name anchored in another registry is most likely a look-alike's "
                        "forgery. Do not trust this registry unless the issuer itself confirms it uses it",
                        registry=registry,
                        chain_id=chain_id,
                        identity=identity,
                        owner=owner,
                        address=address,
                        source=source,
                    )
                    break
        return self._elsewhere[key]


def verify_files(
    paths: Sequence[Path],
    policy: VerificationPolicy | None = None,
    *,
    rpc_url: str | None = None,
    rpc_urls: Sequence[str] = (),
    timeout: float = 10.0,
) -> list[Report]:
    """Verify files from disk (JSON credential files or baked badge images); with several
    ``rpc_urls``, every one must agree (a second opinion on the chain)."""
    verifier = Verifier(policy, rpc_url=rpc_url, rpc_urls=rpc_urls, timeout=timeout)
    loaded: list[tuple[str, bytes | str | dict[str, Any]]] = []
    for path in paths:
        loaded.append((str(path), read_credential_bytes(path)))
    return verifier.verify_many(loaded)


def read_credential_bytes(path: Path) -> bytes:
    """The credential JSON inside a file: plain JSON, or extracted from a baked PNG/SVG badge.
    A file that cannot be read (a folder, gone, not allowed) or is larger than
    :data:`MAX_READ_BYTES` is an :class:`InvalidInput` naming it, read no further than that."""
    from registry.core import baking

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_READ_BYTES + 1)
    except OSError as exc:
        raise InvalidInput("file", f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_READ_BYTES:
        raise InvalidInput("file", f"{path} is larger than {MAX_READ_BYTES} bytes: not a credential file or badge")
    return baking.extract_if_baked(data)
