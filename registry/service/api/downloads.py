"""Credential files as downloads: JSON, or a baked Open Badges 3.0 PNG / SVG."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from fastapi.responses import Response
from sqlmodel import Session

from registry.errors import Conflict
from registry.service.issuance import credential_file
from registry.service.store import CredentialRow

__all__ = ["baking", "file_response"]

_MEDIA = {"json": "application/json", "png": "image/png", "svg": "image/svg+xml"}


def baking() -> Any:
    """The baking module (``bake_png``, ``bake_svg``, ``extract_if_baked``), or None."""
    try:
        return importlib.import_module("registry.core.baking")
    except ModuleNotFoundError as exc:
        if exc.name != "registry.core.baking":
            raise
        return None


def render(data: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    module = baking()
    if module is None:
        raise Conflict("baking_unavailable", "baked badges are not available in this installation")
    if fmt == "png":
        return bytes(module.bake_png(data))
    return str(module.bake_svg(data)).encode("utf-8")


def file_response(session: Session, row: CredentialRow, fmt: str) -> Response:
    data = credential_file(session, row)
    name = re.sub(r"[^A-Za-z0-9_-]", "_", row.credential_uri.rsplit(":", 1)[-1])
    return Response(
        render(data, fmt),
        media_type=_MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="credential-{name}.{fmt}"'},
    )
