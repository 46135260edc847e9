"""Credential files as downloads: JSON, or a baked Open Badges 3.0 PNG / SVG."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.responses import Response
from sqlmodel import Session

from registry.issue.badges import baked_png, baked_svg
from registry.service.issuance import credential_file
from registry.service.store import CredentialRow

__all__ = ["file_response", "render"]

_MEDIA = {"json": "application/json", "png": "image/png", "svg": "image/svg+xml"}


def render(data: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if fmt == "png":
        return baked_png(data)
    return baked_svg(data).encode("utf-8")


def file_response(session: Session, row: CredentialRow, fmt: str) -> Response:
    data = credential_file(session, row)
    name = re.sub(r"[^A-Za-z0-9_-]", "_", row.credential_uri.rsplit(":", 1)[-1])
    return Response(
        render(data, fmt),
        media_type=_MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="credential-{name}.{fmt}"'},
    )
