"""The supersession side of the crash harness (``tests/reliability_harness.py``): corrections and
renewals requested during a campaign, and their invariants checked after every kill
(:func:`check_supersessions`; the key's transactions and nonces are checked for every purpose by
:func:`tests.reliability_revocations.check_revocations`)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from eth_utils import to_checksum_address
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain.adapter import Chain
from registry.service.store import (
    Batch,
    CredentialRow,
    CredentialState,
    Issuer,
    Revocation,
    RevocationState,
    Supersession,
)
from tests.reliability_revocations import key_transactions


def request_supersessions(engine: Engine, issuer_id: int, rng: random.Random, *, count: int = 1) -> list[int]:
    """Correct or renew (what POST /v1/credentials/{id}/reissue and /renew do) released
    credentials that nothing replaces or revokes yet (nor their batch); the supersession ids."""
    from registry.service.lineage import request_reissue, request_renewal

    out: list[int] = []
    with Session(engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        taken = set(session.exec(select(Supersession.old_credential_id))) | set(
            session.exec(select(Revocation.credential_id).where(col(Revocation.credential_id).is_not(None)))
        )
        revoked_batches = set(session.exec(select(Revocation.batch_id).where(col(Revocation.credential_id).is_(None))))
        candidates = sorted(
            c.id
            for c in session.exec(
                select(CredentialRow)
                .where(CredentialRow.state == CredentialState.RELEASED)
                .where(CredentialRow.issuer_id == issuer_id)  # another issuer's is not ours to replace
            )
            if c.id not in taken and c.batch_id not in revoked_batches
        )
        for cid in rng.sample(candidates, min(count, len(candidates))):
            if rng.random() < 0.5:
                sup = request_reissue(session, issuer, cid, {"/credentialSubject/name": f"Corrected {cid}"})
            else:
                until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=rng.randint(30, 3000))
                sup = request_renewal(session, issuer, cid, valid_until=until)
            out.append(int(sup.id or 0))
        session.commit()
    return out


def new_credentials(engine: Engine, requested: set[int]) -> set[str]:
    """The credentials the requested supersessions issued."""
    with Session(engine) as session:
        return {s.new_credential_id for s in session.exec(select(Supersession)) if s.id in requested}


def check_supersessions(
    engine: Engine, client: Chain, requested: set[int], address: str, *, final: bool = False, from_block: int = 0
) -> list[str]:
    """Every violation of the supersession invariants: no request lost; a new credential is
    never released (its file handed out) before the chain records that it replaces the old one;
    a supersession done in the database is on chain (old -> this new digest) with the old
    credential revoked and the new one released; ``final``: every request done, by the one
    ``supersedeCredential`` transaction it names."""
    problems: list[str] = []
    with Session(engine) as session:
        sups = {int(s.id or 0): s for s in session.exec(select(Supersession))}
        creds = {c.id: c for c in session.exec(select(CredentialRow))}
        roots = {int(b.id or 0): b.root for b in session.exec(select(Batch))}
    lost = requested - set(sups)
    if lost:
        problems.append(f"supersession request(s) lost: {sorted(lost)}")
    ours = client.reads.keys_by_address([address])[to_checksum_address(address)].issuer_id
    superseded_done = {s.old_credential_id for s in sups.values() if s.state == RevocationState.DONE}
    for sid, sup in sups.items():
        old, new = creds[sup.old_credential_id], creds[sup.new_credential_id]
        if sup.state in RevocationState.open_states() and new.state == CredentialState.RELEASED:
            problems.append(f"supersession {sid} is {sup.state} but its new credential {new.id} is released")
        if sup.state != RevocationState.DONE:
            continue
        assert old.digest is not None and new.batch_id is not None
        root = roots[int(new.batch_id)]
        snap = client.reads.snapshot([root], [], successors=[(root, old.digest)])
        record = snap.supersessions.get((ours, old.digest.lower()))
        if record is None or record.new_digest != str(new.digest).lower():
            problems.append(f"supersession {sid} is done but the chain does not record {old.id} -> {new.id}")
        # The new one stays released unless a later correction or renewal replaced it in turn
        # (A -> B -> C: B is revoked by its own supersession, done).
        replaced = new.id in superseded_done
        if (old.state, new.state) != (
            CredentialState.REVOKED,
            CredentialState.REVOKED if replaced else CredentialState.RELEASED,
        ):
            problems.append(f"supersession {sid} is done but old/new are {old.state}/{new.state}")
    if final:
        sent = [t for t in key_transactions(client, address, from_block) if t.function == "supersedeCredential"]
        for sid in sorted(requested & set(sups)):
            sup = sups[sid]
            if sup.state != RevocationState.DONE:
                problems.append(f"supersession {sid} is {sup.state} at the end: {sup.last_error}")
                continue
            digest = str(creds[sup.old_credential_id].digest).lower()
            mine = [t.tx_hash for t in sent if t.subject == digest and t.status == 1]
            if mine != [sup.tx_hash]:
                problems.append(f"supersession {sid} names {sup.tx_hash}, the chain's are {mine}")
    return problems
