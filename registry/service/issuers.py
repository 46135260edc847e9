"""What an issuer changes about itself in the service: its LinkedIn organisation id (named by the
share pages' add-to-profile links), and a new try of a signing-key registration that failed.

A key change (``key_change``) that failed is never retried behind the issuer's back (the worker
reports it each pass and the issuer's batches wait with their credentials): the cause is on
chain (the issuer was suspended meanwhile, the transaction kept reverting, the key was registered
and rotated away). Once the cause is dealt with, :func:`retry_key_change` queues a new key change
for the same key; the failed one stays as it was, for the record.
"""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from registry.errors import Conflict, InvalidInput
from registry.service.store import Issuer, KeyChange, RevocationState, log_event

__all__ = ["LINKEDIN_ORG", "check_linkedin_org", "key_changes", "retry_key_change", "set_linkedin_org"]

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
