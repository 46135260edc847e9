"""The revocation side of the crash harness (``tests/reliability_harness.py``): the key's
transactions read back from the chain, revocation requests made during a campaign, and the
revocation invariants checked after every kill (:func:`check_revocations`)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.chain import calls
from registry.chain.adapter import Chain
from registry.service.store import (
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Issuer,
    Revocation,
    RevocationState,
    Supersession,
    TxState,
)

RECORDED_FUNCTIONS = ("anchor", "revokeCredential", "revokeCredentials", "revokeBatch", "supersedeCredential")
"""Chain writes of the worker that must go through the recorded-transaction pipeline."""
_ZERO = b"\0" * 32
_SELECTORS = {
    "0x" + c.data[:4].hex(): c.function
    for c in (
        calls.anchor(_ZERO, 1, _ZERO),
        calls.revoke_credential(_ZERO, 0),
        calls.revoke_credentials([_ZERO], 0),
        calls.revoke_batch(_ZERO, 0),
        calls.supersede_credential(_ZERO, _ZERO, b"\1" * 32, [], 1, "urn:x"),
        calls.set_signing_key(b"\1" * 32),
    )
}
_FIRST_ARGUMENT = ("anchor", "revokeCredential", "revokeBatch", "supersedeCredential", "setSigningKey")


@dataclass(frozen=True)
class KeyTx:
    """A transaction of one key in the canonical chain."""

    tx_hash: str
    nonce: int
    block: int
    function: str | None
    """The registry function it calls when it is one of RECORDED_FUNCTIONS."""
    subject: str | None
    """Its first argument (root or digest) for anchor / revokeCredential / revokeBatch /
    supersedeCredential (the old digest)."""
    status: int


def key_transactions(client: Chain, address: str, from_block: int = 0, chunk: int = 200) -> list[KeyTx]:
    """Every transaction ``address`` sent in blocks ``from_block``..head, with its status."""
    return senders_transactions(client, [address], from_block, chunk)[address.lower()]


def senders_transactions(
    client: Chain, addresses: list[str], from_block: int = 0, chunk: int = 200
) -> dict[str, list[KeyTx]]:
    """Every transaction each of ``addresses`` sent in blocks ``from_block``..head (one pass over
    the blocks for all of them), by lower-case address."""
    wanted = {a.lower() for a in addresses}
    head = client.reads.head()
    found: list[dict[str, Any]] = []
    for first in range(from_block, head + 1, chunk):
        numbers = range(first, min(head + 1, first + chunk))
        for block in client.rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in numbers]):
            for tx in (block or {}).get("transactions") or []:
                if str(tx.get("from", "")).lower() in wanted:
                    found.append(tx)
    receipts = client.sender.receipts([t["hash"] for t in found]) if found else {}
    out: dict[str, list[KeyTx]] = {a: [] for a in wanted}
    for t in found:
        data = str(t.get("input") or t.get("data") or "0x")
        function = _SELECTORS.get(data[:10])
        subject = "0x" + data[10:74] if function in _FIRST_ARGUMENT else None
        receipt = receipts.get(str(t["hash"]).lower())
        out[str(t["from"]).lower()].append(
            KeyTx(
                tx_hash=str(t["hash"]).lower(),
                nonce=int(t["nonce"], 16),
                block=int(t["blockNumber"], 16),
                function=function,
                subject=subject,
                status=receipt.status if receipt is not None else -1,
            )
        )
    return out


def request_revocations(
    engine: Engine, issuer_id: int, rng: random.Random, *, credentials: int = 1, batch: bool = False
) -> list[int]:
    """Request revocations (what POST /v1/credentials/{id}/revoke and /v1/batches/{id}/revoke do)
    of released credentials, and of a whole confirmed batch when ``batch``; their ids. Credentials
    a correction or renewal replaces or issued (and their batches) are left to it."""
    from registry.service.revocations import request_batch_revocation, request_revocation

    ids: list[int] = []
    with Session(engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        asked = set(session.exec(select(Revocation.credential_id).where(Revocation.credential_id.is_not(None))))  # type: ignore[union-attr]
        asked_batches = set(
            session.exec(select(Revocation.batch_id).where(Revocation.credential_id.is_(None)))  # type: ignore[union-attr]
        )
        sups = session.exec(select(Supersession))
        lineage = {cid for s in sups for cid in (s.old_credential_id, s.new_credential_id)}
        asked |= lineage
        asked_batches |= {c.batch_id for c in session.exec(select(CredentialRow)) if c.id in lineage}
        candidates = sorted(
            c.id
            for c in session.exec(
                select(CredentialRow)
                .where(CredentialRow.state == CredentialState.RELEASED)
                .where(CredentialRow.issuer_id == issuer_id)  # another issuer's is not ours to revoke
            )
            if c.id not in asked
        )
        for cid in rng.sample(candidates, min(credentials, len(candidates))):
            ids.append(int(request_revocation(session, issuer, cid, rng.randint(1, 6), "crash campaign").id or 0))
        if batch:
            confirmed = sorted(
                int(b.id or 0)
                for b in session.exec(
                    select(Batch).where(Batch.state == BatchState.CONFIRMED).where(Batch.issuer_id == issuer_id)
                )
                if b.id not in asked_batches
            )
            if confirmed:
                rev = request_batch_revocation(session, issuer, rng.choice(confirmed), 6, "crash campaign")
                ids.append(int(rev.id or 0))
        session.commit()
    return ids


def check_revocations(
    engine: Engine, client: Chain, requested: set[int], address: str, *, final: bool = False, from_block: int = 0
) -> list[str]:
    """Every violation of the revocation invariants: no requested revocation lost; a revocation
    done in the database is revoked on chain; every chain write of the key was recorded before it
    was sent (no unrecorded anchor or revocation); no revocation sent twice (a second one, with
    another nonce, would revert as already revoked); no two recorded transactions of different
    purposes on one nonce; no hole in the recorded nonces in flight (it would hold back every
    later transaction). ``final``: every request done, once, by the transaction it names."""
    problems: list[str] = []
    with Session(engine) as session:
        revs = {int(r.id or 0): r for r in session.exec(select(Revocation))}
        rows = list(session.exec(select(AnchorTx).where(AnchorTx.sender == to_checksum_address(address))))
        batches = {int(b.id or 0): b for b in session.exec(select(Batch))}
        creds = {c.id: c for c in session.exec(select(CredentialRow))}
    lost = requested - set(revs)
    if lost:
        problems.append(f"revocation request(s) lost: {sorted(lost)}")
    chain_txs = key_transactions(client, address, from_block)
    recorded = {r.tx_hash.lower() for r in rows}
    by_subject: Counter[tuple[str, str]] = Counter()
    for t in chain_txs:
        if t.function is None:
            continue
        if t.tx_hash not in recorded:
            problems.append(f"{t.function} transaction {t.tx_hash} (nonce {t.nonce}) was sent but never recorded")
        if t.status != 1:
            problems.append(f"{t.function} transaction {t.tx_hash} (nonce {t.nonce}) reverted")
        if t.function != "anchor" and t.subject is not None:
            by_subject[(t.function, t.subject)] += 1
    for (function, subject), n in by_subject.items():
        if n > 1:
            problems.append(f"{function}({subject}) sent {n} times")
    # Nonces: one purpose per nonce; no hole among the recorded transactions in flight.
    purposes: dict[int, set[tuple[int | None, int | None, int | None, int | None]]] = {}
    for r in rows:
        if r.state in (TxState.SIGNED, TxState.BROADCAST, TxState.MINED, TxState.CONFIRMED):
            purposes.setdefault(r.nonce, set()).add((r.batch_id, r.revocation_id, r.supersession_id, r.key_change_id))
    for nonce, owners in sorted(purposes.items()):
        if len(owners) > 1:
            problems.append(f"nonce {nonce} recorded for {len(owners)} purposes: {sorted(owners, key=str)}")
    pending = client.sender.nonce(address)
    live = {r.nonce for r in rows if r.state in (TxState.SIGNED, TxState.BROADCAST)}
    for nonce in sorted(n for n in live if n > pending):
        holes = [n for n in range(pending, nonce) if n not in live]
        if holes:
            problems.append(f"nonce {nonce} in flight behind unrecorded hole(s) {holes[:3]} (pending nonce {pending})")
            break
    # Done in the database: revoked on chain.
    ours = client.reads.keys_by_address([address])[to_checksum_address(address)].issuer_id
    for rid, rev in revs.items():
        if rev.state != RevocationState.DONE or rev.batch_id is None:
            continue
        batch = batches.get(int(rev.batch_id))
        if batch is None or batch.state == BatchState.FAILED:
            continue
        if rev.credential_id is not None:
            digest = creds[rev.credential_id].digest
            assert digest is not None
            if next(iter(client.reads.revocations([(ours, digest)]).values())) is None:
                problems.append(f"revocation {rid} is done but credential {rev.credential_id} is not revoked on chain")
            if creds[rev.credential_id].state != CredentialState.REVOKED:
                problems.append(f"revocation {rid} is done but credential {rev.credential_id} is not revoked")
        else:
            info = client.reads.batches([batch.root])[batch.root]
            if info is None or not info.revoked:
                problems.append(f"revocation {rid} is done but batch {batch.id} is not revoked on chain")
    if final:
        sent = {(t.function, t.subject): t.tx_hash for t in chain_txs if t.status == 1}
        for rid in sorted(requested):
            if rid not in revs:
                continue
            rev = revs[rid]
            if rev.state != RevocationState.DONE:
                problems.append(f"revocation {rid} is {rev.state} at the end: {rev.last_error}")
                continue
            batch = batches[int(rev.batch_id or 0)]
            if rev.credential_id is not None:
                key = ("revokeCredential", str(creds[rev.credential_id].digest).lower())
            else:
                key = ("revokeBatch", batch.root.lower())
            if by_subject.get(key, 0) != 1:
                problems.append(f"revocation {rid} sent {by_subject.get(key, 0)} times on chain")
            elif rev.tx_hash != sent.get(key):
                problems.append(f"revocation {rid} names {rev.tx_hash}, the chain's is {sent.get(key)}")
        if live:
            problems.append(f"transactions still in flight at the end: nonces {sorted(live)}")
        if pending != client.sender.nonce(address, "latest"):
            problems.append("transactions of the key still waiting in the pool at the end")
    return problems
