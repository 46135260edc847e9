"""Trustless verification of credential files against the chain alone.

Implements the named checks of DESIGN.md: ``format``, ``integrity``, ``inclusion``, ``anchor``,
``issuer``, ``revocation`` and ``validity``. Each check passes, fails or is indeterminate with a
reason a person can act on; the verdict is INVALID if any check fails, else INDETERMINATE if
any is indeterminate, else VALID. A verifier needs the file and a JSON-RPC endpoint of the chain
named in the file: never the issuer's server, a block explorer or DNS. Network trouble is never
INVALID. Many files share chain reads: one batched round of calls per chain and registry.

This module imports neither the database, the service nor the anchoring worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from registry.chain.model import (
    REVOCATION_REASONS,
    AccreditorInfo,
    BatchInfo,
    CredentialRevocation,
    IssuerInfo,
    KeyInfo,
    SigningKeyInfo,
    Snapshot,
)
from registry.chain.networks import known_rpcs
from registry.chain.quorum import Quorum, RpcDisagreement
from registry.chain.reads import ChainReader
from registry.core import credfile
from registry.core.identity import issuer_did
from registry.core.signing import Canonicalizer, SignatureCheck, check_signature
from registry.errors import ChainUnavailable, ConfigError, NotARegistry, RegistryError
from registry.verify.identity import Directory, identity_conflict, named_identity
from registry.verify.policy import VerificationPolicy
from registry.verify.report import CHECK_NAMES, OPTIONAL_CHECKS, Check, CheckStatus, Report, Verdict

__all__ = ["ClientFactory", "Verifier", "read_credential_bytes", "verify_files"]

ClientFactory = Callable[[int, str], ChainReader]
"""``client_for(chain_id, registry)``: the chain client to read a registry with."""

_checksum = lru_cache(maxsize=4096)(to_checksum_address)
"""EIP-55 form of an address, memoised: each costs a keccak, and a verify service sees the same
few registries and keys on every request."""

_did_of_uri = lru_cache(maxsize=4096)(issuer_did)
"""A directory entry's identifier (``IssuerInfo.did``), memoised: canonicalisation (IDNA) costs
more than the rest of the issuer check."""


@dataclass
class _Item:
    """One file going through the checks."""

    source: str
    checks: dict[str, Check] = field(default_factory=dict)
    cf: credfile.CredentialFile | None = None
    digest: str = ""
    root: str = ""
    chain_id: int = 0
    registry: str = ""
    identity: str = ""
    """The issuer the credential names, in canonical form (:func:`named_identity`)."""
    issuer_info: dict[str, Any] | None = None
    signature: SignatureCheck | None = None
    """The offline check of the issuer's DataIntegrityProof (format v2)."""

    def set(self, check: str, status: CheckStatus, reason: str, /, **details: Any) -> None:
        self.checks[check] = Check(name=check, status=status, reason=reason, details=details)

    def pending(self, name: str) -> bool:
        return name not in self.checks


def _ts(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
    ) -> None:
        self.policy = policy if policy is not None else VerificationPolicy()
        self.rpc_urls = list(dict.fromkeys([*([rpc_url] if rpc_url else []), *rpc_urls]))
        self.timeout = timeout
        self.client_for = client_for
        self._clients: dict[tuple[int, str], ChainReader | Quorum] = {}
        self._elsewhere: dict[tuple[int, str, str], str | None] = {}
        self._trust: dict[tuple[int, str], str | None] = {}
        self._canonicalizer = Canonicalizer()

    @property
    def rpc_url(self) -> str | None:
        """The first RPC URL given (None: per chain id from the known networks)."""
        return self.rpc_urls[0] if self.rpc_urls else None

    def with_policy(self, policy: VerificationPolicy) -> Verifier:
        """A verifier with another policy and the same chain access."""
        return Verifier(policy, rpc_urls=self.rpc_urls, timeout=self.timeout, client_for=self.client_for)

    # -- public -------------------------------------------------------------------------

    def verify(self, data: bytes | str | dict[str, Any], source: str = "<credential>") -> Report:
        return self.verify_many([(source, data)])[0]

    def verify_many(self, files: Sequence[tuple[str, bytes | str | dict[str, Any]]]) -> list[Report]:
        items = [self._offline_checks(source, data) for source, data in files]
        if self.policy.offline:
            for item in items:
                for name in ("anchor", "issuer", "revocation"):
                    if item.pending(name):
                        item.set(
                            name,
                            CheckStatus.INDETERMINATE,
                            "not checked: offline mode, the chain was not consulted",
                        )
                if item.signature is not None and item.pending("signature"):
                    item.set(
                        "signature",
                        CheckStatus.INDETERMINATE,
                        "the signature verifies, but whether its key is the issuer's is on the chain: offline mode, "
                        "the chain was not consulted",
                    )
        else:
            groups: dict[tuple[int, str], list[_Item]] = {}
            for item in items:
                if item.cf is not None and item.pending("anchor"):
                    groups.setdefault((item.chain_id, item.registry), []).append(item)
            for (chain_id, registry), group in groups.items():
                self._chain_checks(chain_id, registry, group)
        return [self._report(item) for item in items]

    # -- offline part -------------------------------------------------------------------

    def _offline_checks(self, source: str, data: bytes | str | dict[str, Any]) -> _Item:
        item = _Item(source=source)
        try:
            cf = credfile.parse_credential_file(data)
        except RegistryError as exc:  # CredentialFormatError, or any other refusal of the input
            item.set("format", CheckStatus.FAIL, str(exc))
            for name in [n for n in CHECK_NAMES[1:] if n not in OPTIONAL_CHECKS]:
                item.set(
                    name,
                    CheckStatus.INDETERMINATE,
                    "not checked: the file is not a valid credential file",
                )
            return item
        item.cf = cf
        proof = cf.proof
        item.digest = proof["credentialDigest"]
        item.root = proof["merkleRoot"]
        item.chain_id = int(proof["chainId"])
        item.registry = _checksum(proof["registry"])
        item.identity = named_identity(cf.credential)
        item.set(
            "format",
            CheckStatus.PASS,
            f"well-formed credential file (credreg-proof-v{cf.version}, Open Badges 3.0 schema)",
            version=cf.version,
            disclosure=cf.disclosure,
        )
        try:
            credfile.check_integrity(cf)
            item.set(
                "integrity",
                CheckStatus.PASS,
                "credential digest recomputed from the disclosed fields and salts",
                digest=item.digest,
                hidden=len(cf.redacted),
            )
        except RegistryError as exc:
            item.set(
                "integrity",
                CheckStatus.FAIL,
                f"the content does not match the anchored digest: {exc}. The file was altered after issuance.",
            )
        try:
            credfile.check_inclusion(cf)
            item.set(
                "inclusion",
                CheckStatus.PASS,
                "the Merkle path leads from the credential digest to the batch root",
                root=item.root,
                depth=len(proof["merklePath"]),
            )
        except RegistryError as exc:
            item.set(
                "inclusion",
                CheckStatus.FAIL,
                f"{exc}: this credential is not part of the batch it names",
            )
        if cf.signature is not None:
            item.signature = check_signature(cf.credential, cf.signature, self._canonicalizer)
            if not item.signature.ok:
                item.set(
                    "signature",
                    CheckStatus.FAIL,
                    item.signature.reason,
                    verificationMethod=cf.signature.get("verificationMethod"),
                )
        self._validity(item)
        return item

    def _validity(self, item: _Item) -> None:
        assert item.cf is not None
        doc = item.cf.credential
        now = self.policy.clock()
        valid_from = _parse_time(doc.get("validFrom"))
        valid_until = _parse_time(doc.get("validUntil"))
        if valid_from is None:
            item.set("validity", CheckStatus.FAIL, "validFrom is missing or not a date-time")
        elif now < valid_from:
            item.set(
                "validity",
                CheckStatus.FAIL,
                f"not yet valid: valid from {doc['validFrom']}",
                validFrom=doc["validFrom"],
            )
        elif valid_until is None and item.cf.hides("/validUntil") is not False:
            item.set(
                "validity",
                CheckStatus.INDETERMINATE,
                (
                    "the file hides its validUntil: the expiry date cannot be checked; ask the holder for a copy "
                    "that shows it"
                    if item.cf.version >= 2
                    else f"the file shows no validUntil but hides {len(item.cf.redacted)} field(s): an expiry date may "
                    "be among them (a correct redaction never hides validUntil); ask the holder for a copy that hides "
                    "less"
                ),
                validFrom=doc["validFrom"],
            )
        elif valid_until is not None and now > valid_until:
            item.set(
                "validity",
                CheckStatus.FAIL,
                f"expired on {doc['validUntil']}",
                validUntil=doc["validUntil"],
            )
        else:
            until = f" until {doc['validUntil']}" if valid_until else " with no expiry"
            item.set(
                "validity",
                CheckStatus.PASS,
                f"valid from {doc['validFrom']}{until}",
                validFrom=doc.get("validFrom"),
                validUntil=doc.get("validUntil"),
            )

    def chain_snapshot(self, chain_id: int, registry: str, roots: Sequence[str]) -> Snapshot:
        """The registry's records of ``roots`` (batches, their issuers and keys), read as for
        credential files, with the same RPCs (a second opinion included): what the stack
        verifier reads a pathway's anchor with."""
        return self._client(chain_id, _checksum(registry)).snapshot(list(roots), [])

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
                        f"no RPC URL known for chain {chain_id}: pass --rpc URL or add it to networks.json"
                    )
                readers = [ChainReader(url, registry, timeout=self.timeout) for url in urls]
                self._clients[key] = readers[0] if len(readers) == 1 else Quorum(readers)
        return self._clients[key]

    def _indeterminate(self, group: Iterable[_Item], reason: str) -> None:
        for item in group:
            for name in ("anchor", "issuer", "signature", "revocation"):
                if name == "signature" and (item.cf is None or item.cf.signature is None):
                    continue
                if item.pending(name):
                    item.set(name, CheckStatus.INDETERMINATE, reason)

    def _chain_checks(self, chain_id: int, registry: str, group: list[_Item]) -> None:
        client: ChainReader | Quorum | None = None
        try:
            client = self._client(chain_id, registry)
            self._read_and_check(client, chain_id, registry, group)
            if isinstance(client, Quorum):  # the anchor check names the RPCs that agreed, and at which block
                agreed = {"rpcs": client.rpc_urls, "agreedBlock": client.block, "agreedBlockHash": client.block_hash}
                for item in group:
                    item.checks["anchor"].details.update(agreed)
        except ConfigError as exc:
            self._indeterminate(group, str(exc))
        except RpcDisagreement as exc:
            self._indeterminate(
                group,
                f"the RPCs given do not confirm each other: {exc}; verify again, or with RPC endpoints you trust",
            )
        except NotARegistry as exc:
            for item in group:
                item.set("anchor", CheckStatus.FAIL, str(exc))
            self._indeterminate(group, "not checked: the address is not a credential registry")
        except ChainUnavailable as exc:
            if isinstance(client, Quorum):
                self._indeterminate(
                    group,
                    f"no second opinion: the RPC {exc.url} could not answer ({exc.reason}), and with "
                    f"{len(client.readers)} RPCs given every one must answer alike; try again, or leave that RPC out "
                    "knowing that one RPC alone is trusted blindly",
                )
            else:
                self._indeterminate(group, f"could not read the chain ({exc.reason}); try again or use another RPC")

    def _trust_source(self, chain_id: int, registry: str) -> str | None:
        """:meth:`VerificationPolicy.trust_source`, remembered per registry when the policy names
        its trusted registries (the trust anchors, ``trusted=None``, are read each time)."""
        if self.policy.trusted is None:
            return self.policy.trust_source(chain_id, registry)
        key = (chain_id, registry)
        if key not in self._trust:
            self._trust[key] = self.policy.trust_source(chain_id, registry)
        return self._trust[key]

    def _read_and_check(self, client: ChainReader | Quorum, chain_id: int, registry: str, group: list[_Item]) -> None:
        if client.registry_address != registry:
            client.registry_address = registry
        pairs = [(i.root, i.digest) for i in group]
        identities = [i.identity for i in group if i.cf is not None]
        signing_keys = [i.signature.public_key for i in group if i.signature is not None and i.signature.ok]
        snap = client.snapshot([i.root for i in group], pairs, identities, [k for k in signing_keys if k is not None])
        if snap.chain_id != chain_id:
            self._indeterminate(
                group,
                f"the RPC {client.rpc_url} serves chain {snap.chain_id}, but the credential was anchored on chain "
                f"{chain_id}: give an RPC endpoint of chain {chain_id}",
            )
            return
        if isinstance(client, Quorum):  # read at the lowest head of the RPCs: a later anchor is not there yet
            claimed = {id(i): int(i.cf.proof.get("anchorBlock") or 0) for i in group if i.cf is not None}
            for item in [i for i in group if claimed.get(id(i), 0) > snap.head]:
                self._indeterminate(
                    [item],
                    f"the RPCs were read at block {snap.head}, the lowest of their heads, but the file says its "
                    f"batch was anchored in block {claimed[id(item)]}: an RPC is behind (or claims to be); verify "
                    "again shortly",
                )
            group = [i for i in group if claimed.get(id(i), 0) <= snap.head]
        if not snap.has_code:
            for item in group:
                item.set(
                    "anchor",
                    CheckStatus.FAIL,
                    f"there is no contract at {registry} on chain {chain_id}",
                )
            self._indeterminate(group, "not checked: the registry contract does not exist")
            return
        trusted = self._trust_source(chain_id, registry)
        directory = Directory(client)
        for item in group:
            batch = snap.batches.get(item.root.lower())
            if batch is None:
                item.set(
                    "anchor",
                    CheckStatus.FAIL,
                    f"the root {item.root} is not anchored in registry {registry} on chain {chain_id}",
                )
                self._indeterminate([item], "not checked: the batch root is not on chain")
                continue
            self._anchor(item, batch, snap.head, chain_id, registry)
            entry = snap.issuers[batch.issuer_id]
            assert item.cf is not None
            identity = item.identity
            conflict = identity_conflict(identity, entry, snap.owners.get(identity, 0), directory)
            if trusted is None:
                conflict = self._owner_elsewhere(client, chain_id, registry, identity)
            self._issuer(
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
                self._signature(item, batch, snap.signing_keys.get(item.signature.public_key))
            self._revocation(item, batch, snap.revocations.get((batch.issuer_id, item.digest.lower())))

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
                    self._elsewhere[key] = (
                        f"registry {registry} on chain {chain_id} is not one you trust, and the issuer this "
                        f"file names, {identity}, is admitted as entry #{owner} of registry {address}, which "
                        f"you do trust ({source}): a file in its name anchored in another registry is most "
                        "likely a look-alike's forgery. Do not trust this registry unless the issuer itself "
                        "confirms it uses it"
                    )
                    break
        return self._elsewhere[key]

    def _anchor(self, item: _Item, batch: BatchInfo, head: int, chain_id: int, registry: str) -> None:
        assert item.cf is not None
        confirmations = head - batch.block_number + 1
        details = {
            "chainId": chain_id,
            "registry": registry,
            "block": batch.block_number,
            "anchoredAt": _ts(batch.anchored_at),
            "confirmations": confirmations,
            "credentialCount": batch.count,
        }
        claimed_block = item.cf.proof.get("anchorBlock")
        if claimed_block != batch.block_number:
            item.set(
                "anchor",
                CheckStatus.FAIL,
                f"the file says the batch was anchored in block {claimed_block}, the chain says block "
                f"{batch.block_number}",
                **details,
            )
        elif confirmations < self.policy.min_confirmations:
            item.set(
                "anchor",
                CheckStatus.INDETERMINATE,
                f"anchored in block {batch.block_number} but only {confirmations} of "
                f"{self.policy.min_confirmations} confirmations yet; check again shortly",
                **details,
            )
        else:
            item.set(
                "anchor",
                CheckStatus.PASS,
                f"batch root anchored on chain {chain_id} in block {batch.block_number} at "
                f"{_ts(batch.anchored_at)} ({confirmations} confirmations)",
                **details,
            )

    def _issuer(
        self,
        item: _Item,
        batch: BatchInfo,
        key: KeyInfo,
        issuer: IssuerInfo,
        registry: str,
        trusted: str | None,
        identity_check: tuple[str, str | None],
        *,
        accreditor: AccreditorInfo | None = None,
    ) -> None:
        assert item.cf is not None
        # The body that admitted the issuer, by name when it has a directory entry (else, and on a
        # registry that predates entries, by address).
        body = accreditor or AccreditorInfo(issuer.admitted_by)
        named = item.cf.credential.get("issuer", {})
        named_id = named.get("id") if isinstance(named, dict) else named
        identity, conflict = identity_check  # the named identity (canonical), and why it is not this entry's
        claimed_key = _checksum(item.cf.proof["issuerAddress"])
        did = _did_of_uri(issuer.uri)  # IssuerInfo.did, memoised
        info = {
            "issuerId": issuer.issuer_id,
            "name": issuer.name,
            "uri": issuer.uri,
            "did": did,
            "accreditedBy": issuer.admitted_by,
            "accreditor": body.as_json(),
            "admittedAt": _ts(issuer.admitted_at),
            "anchoringKey": key.address,
            "suspendedAt": _ts(issuer.suspended_at) if issuer.suspended else None,
            "keyCompromisedAt": _ts(key.compromised_at) if key.compromised_at else None,
            "registryPinned": trusted is not None,
            "trustSource": trusted,
        }
        item.issuer_info = info
        if trusted is None and conflict is not None:  # a trusted registry admits the named identity
            item.set("issuer", CheckStatus.INDETERMINATE, conflict, lookalikeOf=identity, **info)
        elif trusted is None:
            item.set(
                "issuer",
                CheckStatus.INDETERMINATE,
                f"registry {registry} on chain {item.chain_id} is not one you trust, so its directory cannot "
                f"vouch for {issuer.name!r}: anyone can deploy a registry and admit any name. If it is the "
                f"registry you expect, trust it with `registry trust add {item.chain_id} {registry}` "
                '(or list it under "registries" in networks.json)',
                **info,
            )
        elif claimed_key != key.address:
            item.set(
                "issuer",
                CheckStatus.FAIL,
                f"the file names anchoring key {claimed_key}, but the batch was anchored by {key.address}",
                **info,
            )
        elif identity != did:
            item.set(
                "issuer",
                CheckStatus.FAIL,
                f"the credential names issuer {named_id!r}, but the batch was anchored by the key of "
                f"directory entry {did!r} ({issuer.name}): an issuer cannot issue in another's name",
                **info,
            )
        elif conflict is not None:
            item.set("issuer", CheckStatus.FAIL, conflict, **info)
        elif key.compromised_for(batch.anchored_at):
            item.set(
                "issuer",
                CheckStatus.FAIL,
                f"the anchoring key {key.address} was declared compromised from {_ts(key.compromised_at)}; "
                f"this batch was anchored after that, at {_ts(batch.anchored_at)}",
                **info,
            )
        elif batch.anchored_at < issuer.admitted_at:
            item.set("issuer", CheckStatus.FAIL, "the batch predates the issuer's admission", **info)
        elif issuer.suspended:
            item.set(
                "issuer",
                CheckStatus.FAIL,
                f"{issuer.name} ({did}) has been suspended by its accreditation body since {_ts(issuer.suspended_at)}",
                **info,
            )
        else:
            item.set(
                "issuer",
                CheckStatus.PASS,
                f"issued by {issuer.name} ({did}), admitted {_ts(issuer.admitted_at)} by accreditation "
                f"body {body.label}; anchoring key valid at anchoring time; registry trusted via {trusted}",
                **info,
            )

    def _signature(self, item: _Item, batch: BatchInfo, key: SigningKeyInfo | None) -> None:
        """The issuer signature's key binding: the key was the anchoring issuer's signing key,
        uncompromised, when the batch was anchored (docs/format.md v2 §4)."""
        assert item.cf is not None and item.cf.signature is not None
        method = item.cf.signature.get("verificationMethod")
        if key is None or key.issuer_id == 0:
            item.set(
                "signature",
                CheckStatus.FAIL,
                f"the signature verifies, but its key {method} is not a signing key of any issuer in the registry: "
                "anyone can make such a key",
                verificationMethod=method,
            )
            return
        if key.issuer_id != batch.issuer_id:
            item.set(
                "signature",
                CheckStatus.FAIL,
                f"the signing key {method} belongs to issuer #{key.issuer_id}, not to issuer #{batch.issuer_id} "
                "that anchored the batch",
                verificationMethod=method,
            )
            return
        problem = key.valid_at(batch.anchored_at)
        if problem is not None:
            item.set("signature", CheckStatus.FAIL, problem, verificationMethod=method)
            return
        item.set(
            "signature",
            CheckStatus.PASS,
            f"the issuer's Ed25519 signature (eddsa-rdfc-2022) verifies with its signing key of record since "
            f"{_ts(key.since)}",
            verificationMethod=method,
            keySince=_ts(key.since),
        )

    def _revocation(self, item: _Item, batch: BatchInfo, revocation: CredentialRevocation | None) -> None:
        if batch.revoked:
            reason = REVOCATION_REASONS.get(batch.revocation_reason, f"code {batch.revocation_reason}")
            item.set(
                "revocation",
                CheckStatus.FAIL,
                f"the whole batch was revoked by the issuer on {_ts(batch.revoked_at)}: {reason}",
                revokedAt=_ts(batch.revoked_at),
                reasonCode=batch.revocation_reason,
                scope="batch",
            )
        elif revocation is not None:
            reason = REVOCATION_REASONS.get(revocation.reason, f"code {revocation.reason}")
            item.set(
                "revocation",
                CheckStatus.FAIL,
                f"revoked by the issuer on {_ts(revocation.revoked_at)}: {reason}",
                revokedAt=_ts(revocation.revoked_at),
                reasonCode=revocation.reason,
                scope="credential",
            )
        else:
            item.set("revocation", CheckStatus.PASS, "neither the credential nor its batch is revoked")

    # -- report -------------------------------------------------------------------------

    def _report(self, item: _Item) -> Report:
        checks = [item.checks[name] for name in CHECK_NAMES if name in item.checks]
        if any(c.status is CheckStatus.FAIL for c in checks):
            verdict = Verdict.INVALID
            failed = [c for c in checks if c.status is CheckStatus.FAIL]
            summary = "; ".join(f"{c.name}: {c.reason}" for c in failed)
        elif any(c.status is CheckStatus.INDETERMINATE for c in checks):
            verdict = Verdict.INDETERMINATE
            open_ = [c for c in checks if c.status is CheckStatus.INDETERMINATE]
            summary = "; ".join(f"{c.name}: {c.reason}" for c in open_)
        else:
            verdict = Verdict.VALID
            summary = "all checks passed"
        credential: dict[str, Any] = {}
        hidden: list[str] = []
        redacted = 0
        proofs: list[str] = []
        if item.cf is not None:
            doc = item.cf.credential
            subject = doc.get("credentialSubject", {})
            achievement = subject.get("achievement", {}) if isinstance(subject, dict) else {}
            issuer = doc.get("issuer", {})
            credential = {
                "id": doc.get("id"),
                "name": doc.get("name") or achievement.get("name"),
                "achievement": achievement.get("name"),
                "issuerId": issuer.get("id") if isinstance(issuer, dict) else issuer,
                "issuerName": issuer.get("name") if isinstance(issuer, dict) else None,
                "validFrom": doc.get("validFrom"),
                "validUntil": doc.get("validUntil"),
                "digest": item.digest,
                "root": item.root,
                "chainId": item.chain_id,
                "registry": item.registry,
            }
            hidden = credfile.hidden_fields(item.cf)
            redacted = len(item.cf.redacted)
            if item.cf.signature is not None:
                proofs.append(f"{item.cf.signature.get('type')} {item.cf.signature.get('cryptosuite')}")
            proofs.append(str(item.cf.proof.get("type")))
        return Report(
            source=item.source,
            verdict=verdict,
            summary=summary,
            checks=checks,
            credential=credential,
            issuer=item.issuer_info,
            hidden_fields=hidden,
            redacted_field_count=redacted,
            proofs=proofs,
            offline=self.policy.offline,
            checked_at=self.policy.clock().isoformat(timespec="seconds"),
        )


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
    """The credential JSON inside a file: plain JSON, or extracted from a baked PNG/SVG badge."""
    from registry.core import baking

    return baking.extract_if_baked(path.read_bytes())
