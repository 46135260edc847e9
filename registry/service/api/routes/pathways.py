"""Pathways: the calling issuer creates versions and publishes them (anchored by the worker);
anyone reads a published definition; a learner's progress page hangs off the share link of any
of their credentials (``/c/{credential_id}/pathways/{pathway_id}``). docs/pathways.md."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import col, select

from registry.core.identity import canonical_issuer_id
from registry.errors import NotFound, RegistryError
from registry.service.api.deps import CurrentIssuer, SessionDep, StateDep
from registry.service.api.routes.pages import render
from registry.service.api.state import ServiceState
from registry.service.issuance import get_credential
from registry.service.pathways import (
    create_pathway,
    get_pathway,
    pathway_state,
    pathway_view,
    progress,
    publish,
)
from registry.service.store import Batch, CredentialState, Issuer, PathwayRow

router = APIRouter(tags=["pathways"])


def _base(state: ServiceState) -> str:
    return state.settings.public_url


@router.post("/v1/pathways", status_code=201)
async def create(request: Request, issuer: CurrentIssuer, session: SessionDep, state: StateDep) -> Response:
    """Store a version of a pathway definition (the body, docs/pathways.md) owned by the caller.
    201 when stored (or a draft replaced), 200 when the same version with the same content exists,
    409 when that version is published with other content (versions never change)."""
    row, created = create_pathway(session, issuer, await request.body())
    session.commit()
    return JSONResponse(pathway_view(session, row, base_url=_base(state)), status_code=201 if created else 200)


@router.get("/v1/pathways")
def list_(issuer: CurrentIssuer, session: SessionDep, state: StateDep) -> list[dict[str, Any]]:
    rows = session.exec(
        select(PathwayRow)
        .where(PathwayRow.issuer_id == issuer.id)
        .order_by(col(PathwayRow.uri), col(PathwayRow.version))
    )
    return [pathway_view(session, r, base_url=_base(state)) for r in rows]


@router.get("/v1/pathways/{pathway_id}")
def get(pathway_id: int, issuer: CurrentIssuer, session: SessionDep, state: StateDep) -> dict[str, Any]:
    return pathway_view(session, get_pathway(session, issuer, pathway_id), base_url=_base(state))


@router.post("/v1/pathways/{pathway_id}/publish", status_code=202)
def publish_(pathway_id: int, issuer: CurrentIssuer, session: SessionDep, state: StateDep) -> dict[str, Any]:
    """Anchor the version's digest (a batch of its own, sent by the worker). Idempotent."""
    row = get_pathway(session, issuer, pathway_id)
    publish(session, issuer, row)
    session.commit()
    return pathway_view(session, row, base_url=_base(state))


def _published(session: SessionDep, pathway_id: int) -> PathwayRow:
    row = session.get(PathwayRow, pathway_id)
    batch = session.get(Batch, row.batch_id) if row is not None and row.batch_id is not None else None
    if row is None or pathway_state(batch) != "published":
        raise NotFound("pathway", str(pathway_id))
    return row


@router.get("/v1/pathways/{pathway_id}/definition")
def definition(pathway_id: int, session: SessionDep) -> Response:
    """A published version's definition (public: what a verifier checks a stack against); drafts
    and versions still being anchored are not found."""
    row = _published(session, pathway_id)
    return Response(row.document, media_type="application/json", headers={"X-Pathway-Digest": row.digest})


def _issuer_names(state: ServiceState, session: SessionDep) -> dict[str, str]:
    """Canonical DID -> name: the chain's directory, else (chain down) this service's issuers."""
    names = {canonical_issuer_id(i.did): i.name for i in session.exec(select(Issuer))}
    try:
        entries, _ = state.issuer_directory(max_age=60.0)
    except RegistryError:
        return names
    for entry in entries:
        try:
            names[canonical_issuer_id(entry.did)] = entry.name
        except RegistryError:
            continue
    return names


@router.get("/c/{credential_id}/pathways/{pathway_id}", response_class=HTMLResponse, include_in_schema=False)
def progress_page(
    request: Request, credential_id: str, pathway_id: int, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """The learner's progress toward a published pathway: what is done (and by which of their
    credentials), what is missing and who offers it. Reached from the credential's share page."""
    try:
        cred = get_credential(session, None, credential_id)
        if cred.state != CredentialState.RELEASED:
            raise NotFound("credential", credential_id)
        row = _published(session, pathway_id)
    except NotFound:
        return render(
            request,
            "message.html",
            404,
            title="Not found",
            message="There is no published pathway or no credential at this address. Check the link.",
        )
    names = _issuer_names(state, session)
    done = progress(session, cred, row, names)
    return render(
        request,
        "progress.html",
        p=done,
        result=done.result,
        pathway=done.pathway,
        cred=cred,
        owner=names.get(done.pathway.owner, done.pathway.owner),
        definition_url=f"/v1/pathways/{row.id}/definition",
    )
