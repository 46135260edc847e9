"""The FastAPI application of the issuer service: ``create_app(settings)``.

On start-up the database is migrated to the newest revision and every issuer's anchoring key is
loaded: on a chain that is not a development chain, a development key (or a missing keystore)
stops the service from starting. The anchoring worker runs in the process unless
``worker_in_process`` is off (then run ``registry worker``).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from registry.config import Settings
from registry.errors import RegistryError
from registry.service.api.errors import BodyLimit, install_error_handlers
from registry.service.api.routes import achievements, apikeys, batches, credentials, events, health, pages, public
from registry.service.api.state import ServiceState
from registry.service.store import make_engine, upgrade
from registry.service.worker import Worker, check_issuer_keys

__all__ = ["create_app", "prepare", "serve_in_background"]

log = logging.getLogger("registry.service.api")

HERE = Path(__file__).resolve().parent


def prepare(settings: Settings, engine: Engine | None = None) -> Engine:
    """Migrate the database and check every issuer's key for the configured chain.

    Raises ConfigError when a key is unusable, in particular a development key on a chain that
    is not a development chain: the service refuses to start.
    """
    engine = engine or make_engine(settings.db_url, schema=settings.db_schema)
    upgrade(engine)
    check_issuer_keys(engine, settings.profile.chain_id)
    return engine


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The service application. Start-up (lifespan) migrates, checks keys, starts the worker."""
    settings = settings or Settings()
    state = ServiceState(settings=settings, engine=engine or make_engine(settings.db_url, schema=settings.db_schema))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare(settings, state.engine)
        if settings.worker_in_process:
            try:
                state.worker = Worker(settings, state.engine, state.chain())
            except RegistryError as exc:
                log.warning("anchoring worker not started (chain unavailable?): %s", exc)
            else:
                state.worker_thread, state.worker_stop = state.worker.start()
        try:
            yield
        finally:
            if state.worker_stop is not None and state.worker is not None:
                state.worker_stop.set()
                state.worker.wake.set()
                if state.worker_thread is not None:
                    state.worker_thread.join(10)
            state.engine.dispose()

    app = FastAPI(
        title="Credential registry – issuer service",
        version="1",
        summary="Issue Open Badges 3.0 credentials anchored on an EVM chain; verify them trustlessly.",
        lifespan=lifespan,
        openapi_tags=[
            {"name": "achievements", "description": "Issuer API (X-API-Key): achievement definitions"},
            {"name": "credentials", "description": "Issuer API (X-API-Key): issue, import, download, revoke"},
            {"name": "batches", "description": "Issuer API (X-API-Key): anchoring batches"},
            {"name": "events", "description": "Issuer API (X-API-Key): the service's event log"},
            {"name": "apikeys", "description": "Issuer API (X-API-Key): list and revoke the issuer's API keys"},
            {"name": "public", "description": "No key needed: verify, issuer directory"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
    )
    app.state.service = state
    install_error_handlers(app)
    for module in (health, public, achievements, credentials, batches, events, apikeys, pages):
        app.include_router(module.router)
    try:
        audit = importlib.import_module("registry.service.api.routes.audit")
    except ModuleNotFoundError as exc:
        if exc.name != "registry.service.api.routes.audit":
            raise
    else:
        app.include_router(audit.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes,
        upload_paths=("/v1/credentials/import",),
    )
    return app


def serve_in_background(
    settings: Settings, *, host: str = "127.0.0.1", port: int | None = None
) -> tuple[Any, threading.Thread]:
    """Start the service with uvicorn in a daemon thread (the demo, tests); returns
    ``(server, thread)``: stop with ``server.should_exit = True; thread.join()``."""
    import time

    import uvicorn

    prepare(settings)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=host, port=port or settings.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="registry-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start on {host}:{port or settings.port}")
        time.sleep(0.05)
    return server, thread
