"""Issuing credentials (one, many, CSV), reading them, downloading files, revoking."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlmodel import col, select

from registry.core.csvimport import IssueRequest, parse_csv, remap_rows
from registry.errors import ImportRejected, InvalidInput
from registry.service.api.deps import CurrentIssuer, SessionDep, SettingsDep
from registry.service.api.downloads import file_response
from registry.service.api.schemas import BulkIssue, CredentialOut, IssuedOut, RevocationOut, RevokeIn
from registry.service.issuance import get_credential, issue, queue_credentials
from registry.service.revocations import request_revocation
from registry.service.store import CredentialRow

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
    rows = session.exec(query.order_by(col(CredentialRow.seq)).offset(offset).limit(limit))
    return [CredentialOut.of(r, settings.public_url) for r in rows]


@router.get("/{credential_id}", response_model=CredentialOut)
def get(credential_id: str, issuer: CurrentIssuer, session: SessionDep, settings: SettingsDep) -> CredentialOut:
    return CredentialOut.of(get_credential(session, issuer, credential_id), settings.public_url)


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


_ = json
