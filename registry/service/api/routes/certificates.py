"""The printable certificate of a released credential: ``GET /c/{id}/certificate.pdf``.

Public like the share page it belongs to; the QR code points at that page. Rendering:
:func:`registry.issue.certificate.render_certificate`.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from registry.errors import Conflict, NotFound
from registry.issue.certificate import render_certificate
from registry.service.api.deps import SessionDep, StateDep
from registry.service.issuance import credential_file, get_credential
from registry.service.store import CredentialState

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_REVOKED = "This credential has been revoked by its issuer: it no longer verifies."


@router.get("/c/{credential_id}/certificate.pdf")
def certificate_pdf(
    credential_id: str,
    session: SessionDep,
    state: StateDep,
    paper: Annotated[str, Query(pattern="^(a4|letter)$")] = "a4",
) -> Response:
    """A4 or US Letter, landscape: issuer, learner, achievement, credits and level, dates, a QR
    code of the share page and how to verify the credential file."""
    try:
        row = get_credential(session, None, credential_id)
        data = credential_file(session, row)
    except NotFound:
        return Response("not found", status_code=404)
    except Conflict:
        return Response("not released yet: the credential is being anchored", status_code=409)
    base = state.settings.public_url.rstrip("/")
    pdf = render_certificate(
        data,
        paper=paper,
        share_url=f"{base}/c/{row.id}",
        verify_url=f"{base}/verify",
        notice=_REVOKED if row.state == CredentialState.REVOKED else None,
    )
    name = re.sub(r"[^A-Za-z0-9_-]", "_", row.credential_uri.rsplit(":", 1)[-1])
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificate-{name}.pdf"'},
    )
