"""The key-change part of the crash campaign (tests/reliability_harness.py): fresh issuers whose
first batch needs a ``setSigningKey``, and the invariants of key changes checked after every
kill: every ``setSigningKey`` on chain was recorded before it was sent, none sent twice or
reverted; a key change done in the database is the issuer's current key on chain; a batch on
chain was anchored after its issuer's key change (a later nonce) and while that key is current;
``final``: every key change done."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from eth_account import Account
from eth_utils import to_checksum_address
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain.adapter import Chain
from registry.service.issuance import create_achievement, create_issuer
from registry.service.store import AnchorTx, Batch, Issuer, KeyChange, RevocationState
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.reliability_revocations import senders_transactions
from tests.service_support import Database

__all__ = ["KEYSTORE_PASSPHRASE", "check_key_changes", "fresh_issuer"]

KEYSTORE_PASSPHRASE = "crash-campaign"
"""The passphrase of the fresh issuers' keystores (the worker process gets it in its env)."""


def fresh_issuer(registry: Registry, db: Database, workdir: Path, tag: str) -> tuple[int, int]:
    """A new issuer with its own anchoring key (an encrypted keystore under ``workdir``), admitted
    on chain by the fixture's accreditation body and funded; its service id and an achievement id."""
    account = Account.create()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"issuer-{tag}.json"
    path.write_text(json.dumps(Account.encrypt(account.key, KEYSTORE_PASSPHRASE, kdf="pbkdf2", iterations=1000)))
    label = f"{tag}-{secrets.token_hex(3)}"
    name, did = f"Fresh College {label}", f"did:web:{label}.fresh.example"
    registry.client.writes.admit_issuer(registry.accreditor, name, did, account.address)
    registry.client.rpc.call("anvil_setBalance", [account.address, hex(10**20)])
    with Session(db.engine) as session:
        issuer = create_issuer(session, name=name, did=did, key_source=f"keystore:{path}", key_address=account.address)
        data = json.loads(ACHIEVEMENT.model_dump_json())
        data["id"] = f"https://example.org/achievements/{secrets.token_hex(4)}"
        ach = create_achievement(session, issuer, data)
        session.commit()
        assert issuer.id is not None and ach.id is not None
        return issuer.id, ach.id


def check_key_changes(engine: Engine, client: Chain, *, final: bool = False, from_block: int = 0) -> list[str]:
    """Every violation of the key-change invariants (see the module docstring)."""
    problems: list[str] = []
    with Session(engine) as session:
        changes = list(session.exec(select(KeyChange).order_by(col(KeyChange.id))))
        issuers = {int(i.id or 0): i for i in session.exec(select(Issuer))}
        batches = list(session.exec(select(Batch)))
        recorded = {
            t.tx_hash.lower() for t in session.exec(select(AnchorTx).where(col(AnchorTx.key_change_id).is_not(None)))
        }
    by_issuer: dict[int, list[KeyChange]] = {}
    for change in changes:
        by_issuer.setdefault(change.issuer_id, []).append(change)
    roots = {b.root for b in batches}
    on_chain = client.reads.batches(roots) if roots else {}
    addresses = [issuers[i].key_address for i in by_issuer]
    every_txs = senders_transactions(client, addresses, from_block) if addresses else {}
    for issuer_id, rows in by_issuer.items():
        address = issuers[issuer_id].key_address
        ours = client.reads.keys_by_address([address])[to_checksum_address(address)].issuer_id
        current = client.reads.current_signing_key(ours) if ours else None
        current_hex = "0x" + current.hex() if current is not None else None
        txs = every_txs[address.lower()]
        sets = [t for t in txs if t.function == "setSigningKey"]
        for t in sets:
            if t.tx_hash not in recorded:
                problems.append(f"issuer {issuer_id}: setSigningKey {t.tx_hash} was sent but never recorded")
            if t.status != 1:
                problems.append(f"issuer {issuer_id}: setSigningKey {t.tx_hash} reverted")
        for change in rows:
            if change.state == RevocationState.DONE and current_hex != change.public_key:
                problems.append(f"key_change {change.id} is done but the chain's current key is {current_hex}")
            if final and change.state != RevocationState.DONE:
                problems.append(f"key_change {change.id} is {change.state} at the end")
            mined = [t for t in sets if t.status == 1 and t.subject == change.public_key]
            if len(mined) > 1:
                problems.append(f"key_change {change.id}: setSigningKey sent {len(mined)} times")
        wanted = rows[-1].public_key
        key_set = [t for t in sets if t.status == 1 and t.subject == wanted]
        for b in batches:
            if b.issuer_id != issuer_id or on_chain.get(b.root) is None:
                continue
            anchors = [t for t in txs if t.function == "anchor" and t.subject == b.root.lower()]
            if not key_set:
                problems.append(f"batch {b.id} is on chain but its issuer's key {wanted} was never registered")
            elif any(a.nonce < key_set[0].nonce for a in anchors):
                problems.append(f"batch {b.id} was anchored before its issuer's key change")
            if current_hex != wanted:
                problems.append(f"batch {b.id} is on chain while its issuer's current key is {current_hex}")
    return problems
