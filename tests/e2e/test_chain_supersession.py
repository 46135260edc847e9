"""Supersession through the chain adapter against a real anvil: the typed write and its errors as
Revert members, the snapshot's supersessions (of reason-2 revocations and of a new file's claim)
with their event lookup, the extra rounds sent only when needed, the head cache, block pinning, a
quorum of RPCs, and a registry that predates supersession."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.chain.abi import Revert
from registry.chain.adapter import Chain
from registry.chain.headcache import HeadCache
from registry.chain.model import SUPERSEDED_REASON, Snapshot, Supersession, TxResult
from registry.chain.quorum import Quorum
from registry.chain.reads import ChainReader, head_cached_reader
from registry.core.keccak import keccak256
from registry.errors import TransactionFailed
from tests.chain_fixtures import Registry

pytestmark = pytest.mark.e2e

LEGACY = Path(__file__).resolve().parents[1] / "assets" / "legacy" / "CredentialRegistry-unnamed-accreditors.json"
CORRECTION, RENEWAL = 1, 2


@dataclass(frozen=True)
class Issued:
    """What a credential file says about itself on chain: id, root, digest and Merkle path."""

    id: str
    root: str
    digest: str
    path: list[str]


def issued(registry: Registry, n: int = 2, **kwargs: Any) -> list[Issued]:
    """A fresh batch of ``n`` credentials of issuer 1 (or ``key``'s), anchored."""
    out = []
    for file in registry.issue(n, **kwargs).files:
        data = json.loads(file.read_text())
        proof = data["proof"][-1]
        out.append(Issued(data["id"], proof["merkleRoot"], proof["credentialDigest"], proof["merklePath"]))
    return out


def supersede(
    registry: Registry, old: Issued, new: Issued, kind: int = CORRECTION, *, key: LocalAccount | None = None
) -> TxResult:
    return registry.client.writes.supersede_credential(
        key or registry.issuer_key, old.digest, new.root, new.digest, new.path, kind, new.id
    )


def expected(registry: Registry, old: Issued, new: Issued, kind: int, result: TxResult) -> Supersession:
    when = registry.client.history.block_timestamp(result.block_number)
    return Supersession(registry.issuer_id, old.digest, new.digest, new.root, new.id, kind, when, result.block_number)


def reader(registry: Registry) -> ChainReader:
    return ChainReader(registry.rpc_url, registry.client.registry_address)


def snapshot(
    chain_reader: ChainReader,
    *files: Issued,
    successors: list[tuple[str, str]] | None = None,
    block: int | None = None,
) -> Snapshot:
    """The snapshot a verifier of ``files`` reads (their roots and (root, digest) pairs)."""
    roots, pairs = [f.root for f in files], [(f.root, f.digest) for f in files]
    return chain_reader.snapshot(roots, pairs, block=block, successors=successors or [])


def cache_of(cached: ChainReader) -> HeadCache:
    assert cached.cache is not None
    return cached.cache


def test_supersede_and_read_back(registry: Registry) -> None:
    old, new = issued(registry)[0], issued(registry)[0]
    result = supersede(registry, old, new, RENEWAL)
    iid = registry.issuer_id
    # The write's events: the plain revocation first, then the link.
    assert [log.name for log in result.logs] == ["CredentialRevoked", "CredentialSuperseded"]
    assert result.events("CredentialRevoked") == [{"issuerId": iid, "digest": old.digest}]
    assert result.events("CredentialSuperseded") == [
        {
            "issuerId": iid,
            "digest": old.digest,
            "newDigest": new.digest,
            "newRoot": new.root,
            "kind": 2,
            "newId": new.id,
        }
    ]
    want = expected(registry, old, new, RENEWAL, result)
    assert want.kind_name == "renewal"
    # The old file: revoked with reason 2, and the snapshot names its successor.
    snap = snapshot(reader(registry), old)
    revocation = snap.revocations[(iid, old.digest)]
    assert revocation is not None and revocation.reason == SUPERSEDED_REASON
    assert snap.supersessions == {(iid, old.digest): want}
    # The new file's claim, looked up in the namespace of the issuer that anchored its root (read
    # although the root was not among `roots`); the new credential itself is not revoked.
    snap = snapshot(reader(registry), new, successors=[(new.root, old.digest)])
    assert snap.revocations == {(iid, new.digest): None}
    assert snap.supersessions == {(iid, old.digest): want}
    # The registry's history decodes the event like every other.
    (page,) = registry.client.history.get_logs(
        result.block_number, result.block_number, [registry.client.reads.abi.topic("CredentialSuperseded")]
    )
    (log,) = [registry.client.history.decode_log(raw) for raw in page.logs]
    assert (log.name, log.tx, log.args["newId"]) == ("CredentialSuperseded", result.tx_hash, new.id)


def test_claims_the_chain_does_not_back(registry: Registry) -> None:
    (old, other), new = issued(registry), issued(registry)[0]
    theirs = issued(registry, key=registry.issuer2_key, issuer=registry.profile(2))[0]
    supersede(registry, old, new)
    unknown_root = "0x" + "ab" * 32
    claims = [(new.root, other.digest), (theirs.root, old.digest), (unknown_root, old.digest)]
    snap = snapshot(reader(registry), successors=claims)
    # No link from `other`; issuer 2's namespace has no supersession of `old`; an unknown root has
    # no namespace to look in (its batch reads None).
    assert snap.supersessions == {(registry.issuer_id, other.digest): None, (registry.issuer2_id, old.digest): None}
    assert snap.batches[unknown_root] is None


def test_a_lineage_of_several_steps(registry: Registry) -> None:
    first, second, third = issued(registry, 1)[0], issued(registry, 1)[0], issued(registry, 1)[0]
    one = supersede(registry, first, second, CORRECTION)
    two = supersede(registry, second, third, RENEWAL)
    snap = snapshot(reader(registry), first, second, third)
    assert snap.supersessions == {
        (registry.issuer_id, first.digest): expected(registry, first, second, CORRECTION, one),
        (registry.issuer_id, second.digest): expected(registry, second, third, RENEWAL, two),
    }


def test_extra_rounds_only_when_needed(registry: Registry) -> None:
    """A snapshot sends the supersession round only for a reason-2 revocation or a claim, the event
    lookup only for a record found, and nothing again at the same head."""
    valid, plain, old = issued(registry, 3)
    new = issued(registry)[0]
    registry.client.writes.revoke_credentials(registry.issuer_key, [plain.digest], 3)
    supersede(registry, old, new)

    def rounds(claims: list[tuple[str, str]], *files: Issued) -> int:
        cached = head_cached_reader(registry.rpc_url, registry.client.registry_address)
        snapshot(cached, *files, successors=claims)
        return cache_of(cached).read_calls

    base = rounds([], valid)
    assert rounds([], plain) == base  # revoked, reason 3: nothing more
    assert rounds([], valid, plain) == base
    assert rounds([], old) == base + 2  # the supersession view, then its event
    assert rounds([(new.root, valid.digest)], new) == base + 1  # a claim with no record: no event lookup
    assert rounds([(new.root, old.digest)], new) == base + 2


def test_head_cache_answers_per_head(registry: Registry) -> None:
    old, new = issued(registry)[0], issued(registry)[0]
    cached = head_cached_reader(registry.rpc_url, registry.client.registry_address)
    cache = cache_of(cached)
    claim = [(new.root, old.digest)]
    before = snapshot(cached, old, successors=claim)
    assert before.supersessions == {(registry.issuer_id, old.digest): None}
    reads = cache.read_calls
    assert snapshot(cached, old, successors=claim) == before
    assert cache.read_calls == reads  # the same head: served from the cache
    result = supersede(registry, old, new)
    after = snapshot(cached, old, successors=claim)
    assert after.head == result.block_number
    assert after.supersessions == {(registry.issuer_id, old.digest): expected(registry, old, new, CORRECTION, result)}
    reads = cache.read_calls
    assert snapshot(cached, old, successors=claim) == after
    assert cache.read_calls == reads


def test_block_pinning(registry: Registry) -> None:
    old, new = issued(registry)[0], issued(registry)[0]
    earlier = registry.client.reads.head()
    result = supersede(registry, old, new)
    plain = reader(registry)
    claim = [(new.root, old.digest)]
    at_earlier = snapshot(plain, old, block=earlier, successors=claim)
    assert at_earlier.revocations == {(registry.issuer_id, old.digest): None}
    assert at_earlier.supersessions == {(registry.issuer_id, old.digest): None}
    at_result = snapshot(plain, old, block=result.block_number, successors=claim)
    want = expected(registry, old, new, CORRECTION, result)
    assert at_result.supersessions == {(registry.issuer_id, old.digest): want}
    # A quorum pins every RPC to one block and compares the supersessions too.
    quorum = Quorum([reader(registry), reader(registry)])
    pinned = quorum.snapshot([old.root], [(old.root, old.digest)], successors=claim)
    assert pinned.supersessions == at_result.supersessions


def test_errors_are_revert_members(registry: Registry) -> None:
    old, new = issued(registry)[0], issued(registry)[0]
    theirs = issued(registry, key=registry.issuer2_key, issuer=registry.profile(2))[0]
    unknown = Issued(new.id, "0x" + "ab" * 32, new.digest, new.path)
    same = Issued(new.id, new.root, old.digest, new.path)
    long_id = Issued("x" * 257, new.root, new.digest, new.path)
    dead = issued(registry)[0]
    registry.client.writes.revoke_credentials(registry.issuer_key, [dead.digest], 1)
    cases: list[tuple[Revert, str, Any]] = [
        (Revert.INVALID_SUPERSESSION, "correction", lambda: supersede(registry, old, new, 3)),
        (Revert.INVALID_SUPERSESSION, "different", lambda: supersede(registry, old, same)),
        (Revert.INVALID_SUPERSESSION, "256 bytes", lambda: supersede(registry, old, long_id)),
        (Revert.SUCCESSOR_NOT_ANCHORED, "anchor the new", lambda: supersede(registry, old, unknown)),
        (Revert.SUCCESSOR_NOT_ANCHORED, "same issuer", lambda: supersede(registry, old, theirs)),
        (Revert.SUCCESSOR_REVOKED, "itself revoked", lambda: supersede(registry, old, dead)),
        (Revert.UNKNOWN_KEY, "anchoring key", lambda: supersede(registry, old, new, key=registry.stranger)),
    ]
    for revert, hint, write in cases:
        with pytest.raises(TransactionFailed, match=hint) as info:
            write()
        assert info.value.revert is revert
        assert info.value.reason.startswith(revert.value + "(")
    # Refused before any transaction: nothing was revoked.
    assert snapshot(reader(registry), old).revocations == {(registry.issuer_id, old.digest): None}
    supersede(registry, old, new)
    with pytest.raises(TransactionFailed, match="already revoked") as info:
        supersede(registry, old, new)
    assert info.value.revert is Revert.CREDENTIAL_ALREADY_REVOKED


def test_a_registry_that_predates_supersession(registry: Registry) -> None:
    legacy = json.loads(LEGACY.read_text())
    chain = Chain(registry.rpc_url)
    chain.writes.deploy(registry.admin, bytecode=legacy["bytecode"])
    chain.writes.grant_accreditor(registry.admin, registry.accreditor.address)
    key: LocalAccount = Account.create()
    chain.rpc.call("anvil_setBalance", [key.address, hex(10**20)])
    iid = chain.writes.admit_issuer(registry.accreditor, "Old University", "did:web:old.example", key.address)
    root, digest = "0x" + keccak256(b"old root").hex(), "0x" + keccak256(b"old digest").hex()
    chain.writes.anchor(key, root, 1, b"old batch")
    chain.writes.revoke_credentials(key, [digest], SUPERSEDED_REASON)  # a plain revocation, reason 2
    # Reads: no supersession view, so none is recorded; the rest of the snapshot is unaffected.
    old_reader = ChainReader(registry.rpc_url, chain.registry_address)
    snap = old_reader.snapshot([root], [(root, digest)], successors=[(root, "0x" + "cd" * 32)])
    revocation = snap.revocations[(iid, digest)]
    assert revocation is not None and revocation.reason == SUPERSEDED_REASON
    assert snap.supersessions == {(iid, digest): None, (iid, "0x" + "cd" * 32): None}
    assert old_reader.snapshot([root], [(root, digest)]) == old_reader.snapshot([root], [(root, digest)])
    assert chain.registry_address in old_reader.view_calls.without_supersessions  # asked once, then known
    # Writes: refused before any transaction, saying why.
    with pytest.raises(TransactionFailed, match=r"predates supersession: it has no supersedeCredential"):
        chain.writes.supersede_credential(key, digest, root, "0x" + "cd" * 32, [], CORRECTION, "urn:x")
