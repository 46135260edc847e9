"""The FastAPI application of the issuer service: ``create_api(state, lifespan=...)`` puts the
routers, error handlers, static files and body limits together.

It starts nothing itself: :func:`registry.service.runtime.create_app` gives it the lifespan that
migrates the database, checks the issuers' keys and runs the in-process anchoring worker.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from registry.service.api.errors import BodyLimit, install_error_handlers
from registry.service.api.routes import (
    achievements,
    apikeys,
    audit,
    batches,
    certificates,
    credentials,
    did,
    events,
    health,
    issuer,
    pages,
    pathways,
    public,
    verify_batch,
    verify_stack,
    webhooks,
)
from registry.service.api.state import ServiceState

__all__ = ["create_api"]

HERE = Path(__file__).resolve().parent


def create_api(
    state: ServiceState, *, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None
) -> FastAPI:
    """The service's routes over ``state``; ``lifespan`` starts and stops what runs beside them."""
    settings = state.settings
    app = FastAPI(
        title="Credential registry – issuer service",
        version="1",
        summary="Issue Open Badges 3.0 credentials anchored on an EVM chain; verify them trustlessly.",
        lifespan=lifespan,
        openapi_tags=[
            {"name": "issuer", "description": "Issuer API (X-API-Key): the issuer's profile and signing key"},
            {"name": "achievements", "description": "Issuer API (X-API-Key): achievement definitions"},
            {"name": "credentials", "description": "Issuer API (X-API-Key): issue, import, download, revoke"},
            {"name": "batches", "description": "Issuer API (X-API-Key): anchoring batches"},
            {"name": "events", "description": "Issuer API (X-API-Key): the service's event log"},
            {"name": "webhooks", "description": "Issuer API (X-API-Key): webhook receivers and deliveries"},
            {"name": "apikeys", "description": "Issuer API (X-API-Key): list and revoke the issuer's API keys"},
            {"name": "public", "description": "No key needed: verify, issuer directory"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
    )
    app.state.service = state
    install_error_handlers(app)
    for module in (
        health,
        public,
        did,
        verify_batch,
        verify_stack,
        issuer,
        achievements,
        credentials,
        batches,
        events,
        apikeys,
        pages,
        certificates,
        audit,
        webhooks,
        pathways,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes,
        upload_paths=("/v1/credentials/import", "/v1/verify/batch"),
    )
    return app
