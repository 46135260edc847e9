"""Issuing credentials (one, many, CSV), reading them, downloading files, revoking."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlmodel import col, select

from registry.core.csvimport import IssueRequest, parse_csv, remap_rows
from registry.errors import ImportRejected, InvalidInput
from registry.service.api.deps import CurrentIssuer, SessionDep, SettingsDep
from registry.service.api.downloads import file_response
from registry.service.api.schemas import (
    BulkIssue,
    CredentialOut,
    IssuedOut,
    ReissueIn,
    RenewIn,
    ReplacementOut,
    RevocationOut,
    RevokeIn,
    SupersessionOut,
)
from registry.service.issuance import get_credential, issue, queue_credentials
from registry.service.lineage import lineage_of, request_reissue, request_renewal
from registry.service.revocations import request_revocation
from registry.service.store import CredentialRow, Supersession

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])


@router.post("", status_code=201, response_model=CredentialOut)
def issue_one(body: IssueRequest, issuer: CurrentIssuer, session: SessionDep, settings: SettingsDep) -> CredentialOut:
    """Queue one credential for the next batch (its file is released once the batch is anchored)."""
    [row] = issue(session, issuer, [body])
    session.commit()
    return CredentialOut.of(row, settings.public_url)


@router.post("/bulk", status_code=201, response_model=IssuedOut)
def issue_many(body: BulkIssue, issuer: CurrentIssuer, session: SessionDep, settings: SettingsDep) -> IssuedOut:
    """Queue many credentials, all or nothing; errors name each bad item by 1-based ``row``."""
    if len(body.credentials) > settings.max_bulk:
        raise InvalidInput("credentials", f"at most {settings.max_bulk} per request")
    ids = queue_credentials(session, issuer, body.credentials, source="bulk")
    session.commit()
    return IssuedOut(count=len(ids), ids=ids)


@router.post("/import", status_code=201, response_model=IssuedOut)
def import_csv(
    issuer: CurrentIssuer,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV: email[,name,result,valid_from,valid_until,achievement_id]")],
    achievement_id: Annotated[int | None, Form()] = None,
) -> IssuedOut:
    """Import learners from a CSV upload. Any bad row rejects the whole file (nothing stored);
    the error lists every bad row by its line number in the file (header = row 1)."""
    pairs = parse_csv(file.file.read(), achievement_id)
    lines = [line for line, _ in pairs]
    try:
        ids = queue_credentials(session, issuer, [req for _, req in pairs], source=f"csv:{file.filename or 'upload'}")
    except ImportRejected as exc:
        session.rollback()
        raise remap_rows(exc, lines) from None
    session.commit()
    return IssuedOut(count=len(ids), ids=ids)


@router.get("", response_model=list[CredentialOut])
def list_(
    issuer: CurrentIssuer,
    session: SessionDep,
    settings: SettingsDep,
    state: Literal["queued", "batched", "released", "revoked"] | None = None,
    batch_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CredentialOut]:
    query = select(CredentialRow).where(CredentialRow.issuer_id == issuer.id)
    if state:
        query = query.where(CredentialRow.state == state)
    if batch_id is not None:
        query = query.where(CredentialRow.batch_id == batch_id)
    rows = list(session.exec(query.order_by(col(CredentialRow.seq)).offset(offset).limit(limit)))
    lineage = lineage_of(session, [r.id for r in rows])
    return [CredentialOut.of(r, settings.public_url, lineage.get(r.id)) for r in rows]


@router.get("/{credential_id}", response_model=CredentialOut)
def get(credential_id: str, issuer: CurrentIssuer, session: SessionDep, settings: SettingsDep) -> CredentialOut:
    """One credential, with its lineage (``supersedes`` / ``superseded_by``)."""
    row = get_credential(session, issuer, credential_id)
    return CredentialOut.of(row, settings.public_url, lineage_of(session, [row.id]).get(row.id))


@router.get(
    "/{credential_id}/file",
    responses={
        200: {"content": {"application/json": {}, "image/png": {}, "image/svg+xml": {}}},
        409: {"description": "not released yet (batch not anchored and confirmed)"},
    },
)
def download(
    credential_id: str,
    issuer: CurrentIssuer,
    session: SessionDep,
    format: Literal["json", "png", "svg"] = "json",
) -> Response:
    """The credential file (JSON) or a baked Open Badges 3.0 image (PNG or SVG)."""
    return file_response(session, get_credential(session, issuer, credential_id), format)


@router.post("/{credential_id}/revoke", status_code=202, response_model=RevocationOut)
def revoke(credential_id: str, body: RevokeIn, issuer: CurrentIssuer, session: SessionDep) -> RevocationOut:
    """Revoke one credential; the worker sends the revocation once its batch is anchored."""
    rev = request_revocation(session, issuer, credential_id, body.reason, body.note)
    session.commit()
    return RevocationOut.of(rev)


@router.post(
    "/{credential_id}/reissue",
    status_code=202,
    response_model=ReplacementOut,
    responses={409: {"description": "not released, revoked, being revoked or already replaced"}},
)
def reissue(
    credential_id: str, body: ReissueIn, issuer: CurrentIssuer, session: SessionDep, settings: SettingsDep
) -> ReplacementOut:
    """Correct a released credential: a corrected copy is queued for the next batch; once it is
    anchored the worker records on chain that it replaces this one, then releases it (its file
    says what it replaces) and this one verifies as superseded."""
    sup = request_reissue(session, issuer, credential_id, body.changes, note=body.note)
    session.commit()
    return _replacement(session, sup, settings.public_url)


@router.post(
    "/{credential_id}/renew",
    status_code=202,
    response_model=ReplacementOut,
    responses={409: {"description": "not released, revoked, being revoked or already replaced"}},
)
def renew(
    credential_id: str, body: RenewIn, issuer: CurrentIssuer, session: SessionDep, settings: SettingsDep
) -> ReplacementOut:
    """Renew a released credential: a copy with the new validity period replaces it, like a
    correction (kind ``renewal``)."""
    sup = request_renewal(
        session, issuer, credential_id, valid_until=body.validUntil, valid_from=body.validFrom, note=body.note
    )
    session.commit()
    return _replacement(session, sup, settings.public_url)


def _replacement(session: SessionDep, sup: Supersession, base_url: str) -> ReplacementOut:
    new = session.get(CredentialRow, sup.new_credential_id)
    assert new is not None
    lineage = lineage_of(session, [new.id]).get(new.id)
    return ReplacementOut(
        id=new.id, credential=CredentialOut.of(new, base_url, lineage), supersession=SupersessionOut.of(sup)
    )
