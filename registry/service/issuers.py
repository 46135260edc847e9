"""What an issuer changes about itself in the service: its LinkedIn organisation id (named by the
share pages' add-to-profile links), a new try of a signing-key registration that failed, and its
anchoring key (rotated on chain through the recorded directory pipeline).

A key change (``key_change``) that failed is never retried behind the issuer's back (the worker
reports it each pass and the issuer's batches wait with their credentials): the cause is on
chain (the issuer was suspended meanwhile, the transaction kept reverting, the key was registered
and rotated away). Once the cause is dealt with, :func:`retry_key_change` queues a new key change
for the same key; the failed one stays as it was, for the record.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain import calls
from registry.chain.adapter import Chain
from registry.config import Settings
from registry.errors import Conflict, InvalidInput, TransactionFailed
from registry.service.directory import change_directory
from registry.service.keys import load_key, signer_for
from registry.service.store import (
    REQUEST_MODELS,
    Batch,
    BatchState,
    DirectoryChange,
    Issuer,
    IssuerFormerKey,
    KeyChange,
    RevocationState,
    log_event,
    session_scope,
)

__all__ = [
    "LINKEDIN_ORG",
    "check_linkedin_org",
    "key_changes",
    "open_chain_writes",
    "retry_key_change",
    "rotate_anchoring_key",
    "set_linkedin_org",
]

LINKEDIN_ORG = re.compile(r"[0-9]{1,32}")
"""A LinkedIn organisation id: the digits in https://www.linkedin.com/company/<id>/admin."""


def check_linkedin_org(value: str | None) -> str | None:
    """``value`` (None: no LinkedIn page), or InvalidInput saying what an id looks like."""
    if value is not None and not LINKEDIN_ORG.fullmatch(value):
        raise InvalidInput(
            "linkedin_organization_id",
            f"{value!r} is not a LinkedIn organisation id: digits only, 1 to 32 "
            "(the number in https://www.linkedin.com/company/<id>/admin)",
        )
    return value


def set_linkedin_org(session: Session, issuer: Issuer, value: str | None) -> None:
    """Set (or with None clear) the issuer's LinkedIn organisation id, in the caller's transaction."""
    check_linkedin_org(value)
    if issuer.linkedin_organization_id == value:
        return
    log_event(
        session,
        "issuer.updated",
        issuer_id=issuer.id,
        subject=f"issuer:{issuer.id}",
        linkedin_organization_id=value,
        was=issuer.linkedin_organization_id,
    )
    issuer.linkedin_organization_id = value
    session.add(issuer)


def key_changes(session: Session, issuer: Issuer) -> list[KeyChange]:
    """The issuer's signing-key registrations, newest first."""
    query = select(KeyChange).where(KeyChange.issuer_id == issuer.id).order_by(col(KeyChange.id).desc())
    return list(session.exec(query))


def retry_key_change(session: Session, issuer: Issuer) -> KeyChange:
    """Queue a new key change for the key of the issuer's newest one, which failed (in the
    caller's transaction). Conflict when the newest one did not fail (open: the worker is on it;
    done: nothing to retry) or there is none."""
    latest = next(iter(key_changes(session, issuer)), None)
    if latest is None:
        raise Conflict("nothing_to_retry", f"issuer {issuer.id} has no signing-key registration")
    if latest.state in RevocationState.open_states():
        raise Conflict("key_change_open", f"key change {latest.id} is {latest.state}: the worker is sending it")
    if latest.state != RevocationState.FAILED:
        raise Conflict("nothing_to_retry", f"key change {latest.id} is {latest.state}: nothing to retry")
    row = KeyChange(issuer_id=latest.issuer_id, public_key=latest.public_key)
    session.add(row)
    session.flush()
    log_event(
        session,
        "key_change.queued",
        issuer_id=issuer.id,
        subject=f"key_change:{row.id}",
        key=row.public_key,
        retry_of=latest.id,
        failed_with=latest.last_error,
    )
    return row


def open_chain_writes(session: Session, issuer_id: int) -> int:
    """How many of the issuer's batches and requests (revocations, supersessions, key changes)
    the worker has still to send or confirm."""
    open_batches = session.exec(
        select(sa.func.count())
        .select_from(Batch)
        .where(Batch.issuer_id == issuer_id)
        .where(col(Batch.state).in_(BatchState.open_states()))
    ).one()
    requests = sum(
        session.exec(
            select(sa.func.count())
            .select_from(model)
            .where(model.issuer_id == issuer_id)
            .where(col(model.state).in_(RevocationState.open_states()))
        ).one()
        for model in REQUEST_MODELS
    )
    return int(open_batches) + int(requests)


def rotate_anchoring_key(
    settings: Settings, engine: Engine, chain: Chain, issuer_id: int, key_source: str, *, timeout: float = 600.0
) -> tuple[Issuer, DirectoryChange | None]:
    """Make the key ``key_source`` names the issuer's anchoring key: ``rotateKey`` signed by the
    current key, through the recorded directory pipeline, then the service's record of the key
    (one transaction). The worker then registers the new key's signing key before the next anchor.

    Refused (Conflict ``issuer_busy``) while the worker has chain writes of the issuer open: they
    are signed with the current key. Run again after a crash, it carries on (the recorded change
    is resumed, or adopted when the chain already shows it) and then updates the service; with the
    rotation done everywhere, it returns (issuer, None)."""
    chain_id = chain.reads.chain_id()
    with Session(engine) as session:
        issuer = session.get(Issuer, issuer_id)
        if issuer is None:
            raise InvalidInput("issuer", f"no issuer {issuer_id} in the service")
        new = load_key(key_source, chain_id)
        if new.address.lower() == issuer.key_address.lower():
            return issuer, None
        busy = open_chain_writes(session, issuer_id)
        if busy:
            raise Conflict(
                "issuer_busy",
                f"issuer {issuer_id} has {busy} chain write(s) open, signed with its current key: let the worker "
                "finish them, then rotate",
            )
        old = signer_for(issuer, chain_id)
    onchain = chain.reads.keys_by_address([old.address])[old.address].issuer_id
    if not onchain:
        raise InvalidInput("issuer", f"the issuer's anchoring key {old.address} is not admitted on chain")
    call = calls.rotate_key(new.address)
    args = {"issuerId": onchain, "key": str(new.address)}
    row = change_directory(settings, chain, old, "rotate_key", call, args, engine=engine, timeout=timeout)
    if row.state != RevocationState.DONE:
        raise TransactionFailed(f"directory change {row.id}", row.last_error or row.state)
    with session_scope(engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        log_event(
            session,
            "issuer.key_rotated",
            issuer_id=issuer_id,
            subject=f"issuer:{issuer_id}",
            old=issuer.key_address,
            new=new.address,
            tx=row.tx_hash,
        )
        former = IssuerFormerKey(
            issuer_id=issuer_id, key_address=issuer.key_address, key_source=issuer.key_source, tx_hash=row.tx_hash
        )
        session.add(former)  # its batches' files are still assembled with it
        issuer.key_source = key_source
        issuer.key_address = new.address
        session.add(issuer)
    with Session(engine) as session:
        issuer = session.get(Issuer, issuer_id)
        assert issuer is not None
        session.expunge(issuer)
    return issuer, row
