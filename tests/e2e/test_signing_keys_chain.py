"""Signing keys through the chain adapter against a real anvil: the typed writes and their
errors, the single reads, the snapshot (same round trips, head cache), a quorum of RPCs that must
agree on them, a registry that predates them, and the auditor's signing-key history."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.audit.auditor import Auditor
from registry.audit.cache import AuditCache
from registry.chain.abi import Revert
from registry.chain.adapter import Chain
from registry.chain.headcache import HeadCache
from registry.chain.model import SigningKeyInfo
from registry.chain.quorum import Quorum, RpcDisagreement
from registry.chain.reads import ChainReader
from registry.core.keccak import keccak256
from registry.errors import InvalidInput, TransactionFailed
from tests.chain_fixtures import Registry

pytestmark = pytest.mark.e2e

LEGACY = Path(__file__).resolve().parents[1] / "assets" / "legacy" / "CredentialRegistry-unnamed-accreditors.json"
_issuers = iter(range(1, 1000))


def pk(label: str) -> bytes:
    return keccak256(f"ed25519-e2e-{label}".encode())


def fresh_issuer(registry: Registry) -> tuple[LocalAccount, int]:
    """A newly admitted issuer with a funded anchoring key, so tests do not share keys."""
    n = next(_issuers)
    key: LocalAccount = Account.create()
    registry.client.rpc.call("anvil_setBalance", [key.address, hex(10**20)])
    issuer_id = registry.client.writes.admit_issuer(
        registry.accreditor, f"Signing Test {n}", f"did:web:signing-{n}.example", key.address
    )
    return key, issuer_id


def block_time(chain: Chain, block: int) -> int:
    return int(chain.rpc.call("eth_getBlockByNumber", [hex(block), False])["timestamp"], 16)


def test_set_and_replace_a_signing_key(registry: Registry) -> None:
    chain = registry.client
    key, iid = fresh_issuer(registry)
    assert chain.reads.current_signing_key(iid) is None
    assert chain.reads.signing_key(pk("a")) is None
    first = chain.writes.set_signing_key(key, pk("a"))
    assert first.events("SigningKeySet") == [
        {"issuerId": iid, "publicKey": "0x" + pk("a").hex(), "previous": "0x" + "00" * 32}
    ]
    t1 = block_time(chain, first.block_number)
    assert chain.reads.signing_key(pk("a")) == SigningKeyInfo(pk("a"), iid, t1, 0, 0)
    assert chain.reads.current_signing_key(iid) == pk("a")
    chain.rpc.call("evm_increaseTime", [30])
    second = chain.writes.set_signing_key(key, "0x" + pk("b").hex())  # hex is accepted too
    t2 = block_time(chain, second.block_number)
    assert t2 >= t1 + 30
    retired = chain.reads.signing_key(pk("a"))
    assert retired == SigningKeyInfo(pk("a"), iid, t1, t2, 0)
    assert chain.reads.current_signing_key(iid) == pk("b")
    # The validity rule the verifier applies at a batch's anchoring time.
    assert retired.valid_at(t1) is None and retired.valid_at(t2) is None  # the same second still counts
    assert "retired" in (retired.valid_at(t2 + 1) or "")
    print(f"setSigningKey gas: first {first.gas_used}, replacement {second.gas_used}")


def test_write_errors_name_the_custom_error_and_what_it_means(registry: Registry) -> None:
    chain = registry.client
    key, iid = fresh_issuer(registry)
    chain.writes.set_signing_key(key, pk("dup"))
    with pytest.raises(
        TransactionFailed, match=r"SigningKeyAlreadyRegistered\(0x[0-9a-f]{64}, \d+\): signing keys are never reused"
    ) as info:
        chain.writes.set_signing_key(key, pk("dup"))
    assert info.value.revert is Revert.SIGNING_KEY_ALREADY_REGISTERED
    assert info.value.action == "set signing key"
    with pytest.raises(TransactionFailed, match="the sender is no anchoring key") as info:
        chain.writes.set_signing_key(registry.stranger, pk("stranger"))
    assert info.value.revert is Revert.UNKNOWN_KEY
    with pytest.raises(TransactionFailed, match="not an Ed25519 public key") as info:
        chain.writes.set_signing_key(key, bytes(32))
    assert info.value.revert is Revert.INVALID_SIGNING_KEY
    with pytest.raises(InvalidInput, match="32-byte"):
        chain.writes.set_signing_key(key, b"short")
    head = block_time(chain, chain.reads.head())
    with pytest.raises(TransactionFailed, match="UnauthorizedSigningKeyCompromise") as info:
        chain.writes.declare_signing_key_compromised(registry.stranger, pk("dup"), head)
    assert info.value.revert is Revert.UNAUTHORIZED_SIGNING_KEY_COMPROMISE
    with pytest.raises(TransactionFailed, match="UnknownSigningKey") as info:
        chain.writes.declare_signing_key_compromised(registry.accreditor, pk("never"), head)
    assert info.value.revert is Revert.UNKNOWN_SIGNING_KEY
    with pytest.raises(TransactionFailed, match="must be after 0 and not in the future") as info:
        chain.writes.declare_signing_key_compromised(key, pk("dup"), head + 10_000)
    assert info.value.revert is Revert.INVALID_COMPROMISE_TIME
    result = chain.writes.declare_signing_key_compromised(key, pk("dup"), head)
    assert result.events("SigningKeyCompromised") == [
        {"publicKey": "0x" + pk("dup").hex(), "issuerId": iid, "since": head, "by": key.address}
    ]
    with pytest.raises(TransactionFailed, match="can only move earlier") as info:
        chain.writes.declare_signing_key_compromised(registry.accreditor, pk("dup"), head)
    assert info.value.revert is Revert.SIGNING_KEY_ALREADY_COMPROMISED
    chain.writes.declare_signing_key_compromised(registry.accreditor, pk("dup"), head - 5)
    info_after = chain.reads.signing_key(pk("dup"))
    assert info_after is not None and info_after.compromised_since == head - 5
    assert "declared compromised" in (info_after.valid_at(head) or "")


def _count_batches(reader: ChainReader) -> list[int]:
    """Count the reader's JSON-RPC batches (round trips)."""
    counter = [0]
    batch = reader.rpc.batch

    def counting(requests_: Any) -> list[Any]:
        counter[0] += 1
        return batch(requests_)

    reader.rpc.batch = counting  # type: ignore[method-assign]
    return counter


def test_the_snapshot_reads_signing_keys_in_the_same_round_trips(registry: Registry) -> None:
    chain = registry.client
    key, iid = fresh_issuer(registry)
    chain.writes.set_signing_key(key, pk("snap"))
    batch = registry.issue(2)  # the fixture's issuer anchors a batch (and sets its own signing key)
    root, digest = batch.root, json.loads(batch.files[0].read_text())
    pairs = [(root, proof["credentialDigest"]) for proof in digest["proof"] if "credentialDigest" in proof]
    reader = ChainReader(registry.rpc_url, chain.registry_address)
    plain = _count_batches(reader)
    without = reader.snapshot([root], pairs, ["did:web:uni.example"])
    rounds_without = plain[0]
    snap = reader.snapshot([root], pairs, ["did:web:uni.example"], [pk("snap"), pk("nobody")])
    assert plain[0] - rounds_without == rounds_without, "signing keys must not add a round trip"
    assert without.signing_keys == {}
    assert snap.signing_keys[pk("snap")] == chain.reads.signing_key(pk("snap"))
    assert snap.signing_keys[pk("snap")].issuer_id == iid
    assert snap.signing_keys[pk("nobody")] == SigningKeyInfo(pk("nobody"), 0, 0, 0, 0)
    assert replace(snap, signing_keys={}) == without
    # only signing keys asked: still one round trip after the first
    before = plain[0]
    reader.snapshot([], [], [], ["0x" + pk("snap").hex()])
    assert plain[0] - before == 2  # round 1 (chain id, code, head) and round 2


def test_the_head_cache_answers_signing_keys_it_has_read(registry: Registry) -> None:
    chain = registry.client
    key, _ = fresh_issuer(registry)
    chain.writes.set_signing_key(key, pk("cached"))
    cache = HeadCache()
    reader = ChainReader(registry.rpc_url, chain.registry_address, cache=cache)
    first = reader.snapshot([], [], [], [pk("cached")])
    reads = cache.read_calls
    again = reader.snapshot([], [], [], [pk("cached")])
    assert again.signing_keys == first.signing_keys
    assert cache.read_calls == reads, "answered from the reads at this head"
    # A new block (here: the key declared compromised) starts over, so the change shows.
    chain.writes.declare_signing_key_compromised(key, pk("cached"), first.signing_keys[pk("cached")].since)
    assert reader.snapshot([], [], [], [pk("cached")]).signing_keys[pk("cached")].compromised_since != 0


class _RewritingRpc:
    """A JSON-RPC proxy that replaces ``lie`` by ``truth`` (hex, no 0x) in every eth_call's data."""

    def __init__(self, upstream: str, lie: str, truth: str) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body = [proxy.rewrite(r) for r in body] if isinstance(body, list) else proxy.rewrite(body)
                answer = requests.post(upstream, json=body, timeout=10)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *_: Any) -> None:
                pass

        self.lie, self.truth = lie, truth
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, name="rewriting-rpc", daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def rewrite(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") != "eth_call":
            return request
        call = dict(request["params"][0])
        call["data"] = call["data"].replace(self.lie, self.truth)
        return {**request, "params": [call, *request["params"][1:]]}


@pytest.fixture
def rewriting_rpc(registry: Registry) -> Iterator[Any]:
    proxies: list[_RewritingRpc] = []

    def make(lie: bytes, truth: bytes) -> _RewritingRpc:
        proxies.append(_RewritingRpc(registry.rpc_url, lie.hex(), truth.hex()))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.server.shutdown()
        proxy.server.server_close()


def test_a_quorum_must_agree_on_signing_keys(registry: Registry, rewriting_rpc: Any) -> None:
    chain = registry.client
    key, iid = fresh_issuer(registry)
    chain.writes.set_signing_key(key, pk("q-genuine"))
    address = chain.registry_address
    honest = Quorum([ChainReader(registry.rpc_url, address), ChainReader(registry.rpc_url, address)])
    snap = honest.snapshot([], [], [], [pk("q-genuine"), pk("q-forged")])
    assert snap.signing_keys[pk("q-genuine")].issuer_id == iid
    assert snap.signing_keys[pk("q-forged")].issuer_id == 0
    # An RPC that answers about the genuine key when asked about a forged one (a forger's key
    # passed off as the issuer's) is caught by the honest one.
    liar = rewriting_rpc(pk("q-forged"), pk("q-genuine"))
    quorum = Quorum([ChainReader(registry.rpc_url, address), ChainReader(liar.url, address)])
    with pytest.raises(RpcDisagreement, match=f"on signing key 0x{pk('q-forged').hex()}") as info:
        quorum.snapshot([], [], [], [pk("q-forged")])
    (_, honest_answer), (_, lying_answer) = info.value.answers
    assert honest_answer == "not registered"
    assert lying_answer.startswith(f"registered (issuer_id {iid}, since ")


def test_a_registry_that_predates_signing_keys(registry: Registry) -> None:
    legacy = json.loads(LEGACY.read_text())
    chain = Chain(registry.rpc_url)
    chain.writes.deploy(registry.admin, bytecode=legacy["bytecode"])
    chain.writes.grant_accreditor(registry.admin, registry.accreditor.address)
    key: LocalAccount = Account.create()
    chain.rpc.call("anvil_setBalance", [key.address, hex(10**20)])
    iid = chain.writes.admit_issuer(registry.accreditor, "Old University", "did:web:old.example", key.address)
    # Reads: no signingKey view, so every key is unknown; the rest of the snapshot is unaffected.
    reader = ChainReader(registry.rpc_url, chain.registry_address)
    snap = reader.snapshot([], [], ["did:web:old.example"], [pk("old")])
    assert snap.owners == {"did:web:old.example": iid}
    assert snap.signing_keys == {pk("old"): SigningKeyInfo(pk("old"), 0, 0, 0, 0)}
    assert reader.snapshot([], [], ["did:web:old.example"], [pk("old")]) == snap  # asked once, then known
    assert chain.reads.signing_key(pk("old")) is None
    assert chain.reads.current_signing_key(iid) is None
    # Writes: refused before any transaction, saying why.
    with pytest.raises(TransactionFailed, match=r"predates signing keys .*: it has no setSigningKey"):
        chain.writes.set_signing_key(key, pk("old"))


def test_the_audit_report_carries_the_signing_key_history(registry: Registry, tmp_path: Path) -> None:
    chain = registry.client
    key, iid = fresh_issuer(registry)
    chain.writes.set_signing_key(key, pk("audit-1"))
    chain.writes.set_signing_key(key, pk("audit-2"))
    since = chain.reads.signing_key(pk("audit-1"))
    assert since is not None
    chain.writes.declare_signing_key_compromised(registry.accreditor, pk("audit-1"), since.since)
    cache = AuditCache(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    try:
        report = Auditor(chain, cache, from_block=0).run(check_bytecode=False)
    finally:
        cache.close()
    assert not [f for f in report.findings if f.check == "keys"], report.findings
    issuer = next(i for i in report.issuers if i.issuer_id == iid)
    assert issuer.signing_key == "0x" + pk("audit-2").hex()
    first, second = issuer.signing_keys
    assert first.public_key == "0x" + pk("audit-1").hex()
    assert (first.until, first.compromised_since) == (second.since, since.since)
    assert first.compromise_declared_by == registry.accreditor.address
    assert [e.kind for e in issuer.timeline if e.kind.startswith("signing_key")] == [
        "signing_key_set",
        "signing_key_set",
        "signing_key_compromised",
    ]
