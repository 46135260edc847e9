"""The snapshot of a CredentialRegistry: everything verification needs, in at most three batched
JSON-RPC round trips, two more where a supersession is involved (the one implementation;
:meth:`registry.chain.reads.ChainReader.snapshot`).

Accreditation bodies' directory entries and the issuers' Ed25519 signing keys are included
(unnamed bodies, unknown keys on a registry that predates them); a
:class:`~registry.chain.headcache.HeadCache` makes the snapshot answer from the reads already
made at the current head block.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from eth_utils import to_checksum_address

from registry.chain.headcache import ReadsAt
from registry.chain.model import SUPERSEDED_REASON, Snapshot, as_bytes32, as_hex
from registry.chain.viewcalls import ViewCalls, ViewSource, batch_info, issuer_info, key_info, revocation

__all__ = ["SnapshotSource", "read_snapshot"]


class SnapshotSource(ViewSource, Protocol):
    """What a snapshot reads through: a :class:`ViewSource` and its :class:`ViewCalls`."""

    view_calls: ViewCalls


def read_snapshot(
    reader: SnapshotSource,
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
    supersessions).

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

    ``successors`` are (root, old digest) pairs: a new credential under ``root`` claims to
    replace ``old digest``. ``snap.supersessions`` holds the supersession of each such pair (in the
    namespace of the issuer that anchored ``root``, which is read like ``roots``; none for a root
    never anchored) and of each revocation with reason :data:`SUPERSEDED_REASON`: rounds 4 (the
    ``supersession`` views) and 5 (each record's event, for the successor's root and id), sent
    only when there is something to ask that was not read at this head yet.
    """
    calls = reader.view_calls
    successor_keys = list(dict.fromkeys((as_hex(r), as_hex(d)) for r, d in successors))
    root_keys = list(dict.fromkeys([*(as_hex(r) for r in roots), *(r for r, _ in successor_keys)]))
    pair_keys = list(dict.fromkeys((as_hex(r), as_hex(d)) for r, d in pairs))
    public_keys = list(dict.fromkeys(as_bytes32(k) for k in signing_keys))
    registry = reader.require_registry()
    number: int | None = block
    if block is not None:
        at, reads = hex(block), ReadsAt("", registry)
    elif reader.cache is None:
        at, reads = "latest", ReadsAt("", registry)
    else:
        number, block_hash = reader.cache.current_head(reader.rpc, asked_at)
        at, reads = hex(number), reader.cache.reads_at(block_hash, registry)
    # Concurrent callers may read the same missing entries twice: equal values, last one wins.
    missing_roots = [k for k in root_keys if k not in reads.batches]
    need_code = reads.chain_id is None  # decided once: another thread may fill it meanwhile
    first: list[tuple[str, list[Any]]] = []
    if need_code:
        first += [("eth_chainId", []), ("eth_getCode", [registry, at])]
    if number is None:
        first.append(("eth_blockNumber", []))
    if first or missing_roots:
        answers = calls.batch(first + [calls.call_request("batch", as_bytes32(k), block=at) for k in missing_roots])
        if need_code:
            reads.has_code = str(answers[1]) not in ("0x", "0x0", "")
            reads.chain_id = int(answers[0], 16)
            answers = answers[2:]
        if number is None:
            number, answers = int(answers[0], 16), answers[1:]
        if reads.has_code:
            for k, r in zip(missing_roots, answers, strict=True):
                reads.batches[k] = batch_info(k, calls.decode_result("batch", r))
    assert reads.chain_id is not None and number is not None
    snap = Snapshot(chain_id=reads.chain_id, has_code=reads.has_code, head=number)
    if snap.has_code:
        _fill(calls, snap, reads, root_keys, pair_keys, list(dict.fromkeys(identities)), public_keys, at)
        _fill_supersessions(calls, snap, reads, successor_keys, at)
    return snap


def _fill(
    calls: ViewCalls,
    snap: Snapshot,
    reads: ReadsAt,
    root_keys: list[str],
    pair_keys: list[tuple[str, str]],
    identities: list[str],
    public_keys: list[bytes],
    block: str,
) -> None:
    """Rounds 2 and 3 of :func:`read_snapshot`: keys, issuers, their accreditation bodies,
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
        second, signing = calls.views_and_signing_keys(
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
            reads.issuers[i] = issuer_info(i, r)
        for p, r in zip(revs, second[len(key_ids) + len(issuer_ids) :], strict=True):
            reads.revocations[p] = revocation(r)
    new_addresses = [a for a in dict.fromkeys(addresses) if a not in reads.keys]
    bodies = [
        a for a in dict.fromkeys(reads.issuers[b.issuer_id].admitted_by for b in known) if a not in reads.accreditors
    ]
    if new_addresses or bodies:
        infos, entries = calls.views_and_accreditors([("keyInfo", (a,)) for a in new_addresses], bodies, block=block)
        for a, r in zip(new_addresses, infos, strict=True):
            reads.keys[a] = key_info(a, r)
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


def _fill_supersessions(
    calls: ViewCalls, snap: Snapshot, reads: ReadsAt, successor_keys: list[tuple[str, str]], block: str
) -> None:
    """Rounds 4 and 5 of :func:`read_snapshot`: the supersessions of the revocations with reason
    :data:`SUPERSEDED_REASON` and of the ``successors`` pairs whose root is anchored. Nothing is
    sent when there are none, or when this head already answered them all."""
    wanted = [p for p, rev in snap.revocations.items() if rev is not None and rev.reason == SUPERSEDED_REASON]
    wanted += [(batch.issuer_id, d) for r, d in successor_keys if (batch := snap.batches.get(r)) is not None]
    wanted = list(dict.fromkeys(wanted))
    missing = [p for p in wanted if p not in reads.supersessions]
    if missing:
        reads.supersessions.update(calls.supersessions(missing, block=block))
    for p in wanted:
        snap.supersessions[p] = reads.supersessions[p]
