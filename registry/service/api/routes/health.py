"""Liveness (``/healthz``) and readiness (``/readyz``: database at the newest migration, chain
reachable and serving the registry contract)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from registry.errors import RegistryError
from registry.service.api.deps import StateDep
from registry.service.store import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready; `checks` says why"}})
def ready(state: StateDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    ok = True
    try:
        with state.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        current, head = current_revision(state.engine), head_revision()
        checks["database"] = {"ok": current == head, "revision": current, "head": head}
        ok &= current == head
    except Exception as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        ok = False
    try:
        client = state.chain()
        head_block = client.reads.head()
        has_code = client.reads.has_code(client.registry_address or "0x" + "0" * 40)
        checks["chain"] = {
            "ok": has_code,
            "chainId": client.reads.chain_id(),
            "block": head_block,
            "registry": client.registry_address,
        }
        ok &= has_code
    except RegistryError as exc:
        checks["chain"] = {"ok": False, "error": exc.code, "message": str(exc)}
        ok = False
    worker = state.worker_thread
    checks["worker"] = {"inProcess": worker is not None, "alive": bool(worker and worker.is_alive())}
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503)
