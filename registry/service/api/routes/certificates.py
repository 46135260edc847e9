"""The printable certificate of a released credential: ``GET /c/{id}/certificate.pdf``.

Public like the share page it belongs to; the QR code points at that page. Rendering:
:func:`registry.issue.certificate.render_certificate`.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from registry.errors import Conflict, NotFound
from registry.issue.certificate import render_certificate
from registry.locales import translator
from registry.service.api.deps import SessionDep, StateDep
from registry.service.api.routes.pages import page_language
from registry.service.issuance import credential_file, get_credential
from registry.service.store import CredentialState

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_REVOKED = "This credential has been revoked by its issuer: it no longer verifies."


@router.get("/c/{credential_id}/certificate.pdf")
def certificate_pdf(
    request: Request,
    credential_id: str,
    session: SessionDep,
    state: StateDep,
    paper: Annotated[str, Query(pattern="^(a4|letter)$")] = "a4",
    lang: Annotated[str | None, Query(description="en or es (else Accept-Language)", max_length=35)] = None,
) -> Response:
    """A4 or US Letter, landscape: issuer, learner, achievement, credits and level, dates, a QR
    code of the share page and how to verify the credential file. Language: ``?lang=``, else the
    share page's language switch (cookie), else ``Accept-Language``, else English."""
    try:
        row = get_credential(session, None, credential_id)
        data = credential_file(session, row)
    except NotFound:
        return Response("not found", status_code=404)
    except Conflict:
        return Response("not released yet: the credential is being anchored", status_code=409)
    language = page_language(request)  # reads ``lang`` (declared above for validation) from the query
    base = state.settings.public_url.rstrip("/")
    pdf = render_certificate(
        data,
        paper=paper,
        share_url=f"{base}/c/{row.id}",
        verify_url=f"{base}/verify",
        notice=translator(language)(_REVOKED) if row.state == CredentialState.REVOKED else None,
        lang=language,
    )
    name = re.sub(r"[^A-Za-z0-9_-]", "_", row.credential_uri.rsplit(":", 1)[-1])
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="certificate-{name}.pdf"',
            "Content-Language": language,
            "Vary": "Accept-Language, Cookie",
        },
    )
