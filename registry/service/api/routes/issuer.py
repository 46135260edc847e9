"""The calling issuer: its profile, its LinkedIn page, its signing-key registrations."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from registry.service.api.deps import CurrentIssuer, SessionDep, StateDep
from registry.service.api.schemas import IssuerOut, IssuerPatch, KeyChangeOut
from registry.service.issuers import key_changes, retry_key_change, set_linkedin_org
from registry.service.store import Issuer

router = APIRouter(prefix="/v1/issuer", tags=["issuer"])


def _out(session: Session, issuer: Issuer) -> IssuerOut:
    assert issuer.id is not None
    return IssuerOut(
        id=issuer.id,
        name=issuer.name,
        did=issuer.did,
        url=issuer.url,
        anchoring_key=issuer.key_address,
        linkedin_organization_id=issuer.linkedin_organization_id,
        key_changes=[KeyChangeOut.of(k) for k in key_changes(session, issuer)],
    )


@router.get("", response_model=IssuerOut)
def get(issuer: CurrentIssuer, session: SessionDep) -> IssuerOut:
    """The calling issuer, with its signing-key registrations (a failed one says why)."""
    return _out(session, issuer)


@router.patch("", response_model=IssuerOut)
def patch(body: IssuerPatch, issuer: CurrentIssuer, session: SessionDep) -> IssuerOut:
    """Change the issuer's LinkedIn organisation id (``null`` clears it); 422 names a bad value."""
    if "linkedin_organization_id" in body.model_fields_set:
        set_linkedin_org(session, issuer, body.linkedin_organization_id)
    session.commit()
    session.refresh(issuer)
    return _out(session, issuer)


@router.post("/key-changes/retry", status_code=202, response_model=KeyChangeOut)
def retry(issuer: CurrentIssuer, session: SessionDep, state: StateDep) -> KeyChangeOut:
    """Try the failed signing-key registration again (once its cause is dealt with): a new key
    change for the same key, which the worker sends; the issuer's waiting batches follow it.
    409 ``key_change_open`` / ``nothing_to_retry`` otherwise."""
    row = retry_key_change(session, issuer)
    session.commit()
    session.refresh(row)
    if state.worker_wake is not None:
        state.worker_wake.set()
    return KeyChangeOut.of(row)
