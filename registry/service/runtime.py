"""The running issuer service: the API (:mod:`registry.service.api`) and the anchoring worker
(:mod:`registry.service.worker`) wired to one database and one chain.

On start-up the database is migrated to the newest revision and every issuer's anchoring key is
loaded: on a chain that is not a development chain, a development key (or a missing keystore)
stops the service from starting. The anchoring worker runs in the process unless
``worker_in_process`` is off (then run ``registry worker``, :func:`standalone_worker`).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from registry import gctuning
from registry.config import Settings
from registry.errors import ConfigError, RegistryError
from registry.service.api import ServiceState, create_api
from registry.service.keys import chain_client, check_issuer_keys
from registry.service.store import make_engine, upgrade
from registry.service.worker import Worker

__all__ = ["create_app", "prepare", "serve_in_background", "serve_workers", "standalone_worker"]

log = logging.getLogger("registry.service.api")


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
    state = ServiceState(
        settings=settings,
        engine=engine or make_engine(settings.db_url, schema=settings.db_schema),
        connect=chain_client,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare(settings, state.engine)
        gctuning.tune()  # this process has imported what it serves with
        worker: Worker | None = None
        stop: threading.Event | None = None
        if settings.worker_in_process:
            try:
                worker = Worker(settings, state.engine, state.chain())
            except RegistryError as exc:
                log.warning("anchoring worker not started (chain unavailable?): %s", exc)
            else:
                state.worker_thread, stop = worker.start()
                state.worker_wake = worker.wake
        try:
            yield
        finally:
            if stop is not None and worker is not None:
                stop.set()
                worker.wake.set()
                if state.worker_thread is not None:
                    state.worker_thread.join(10)
            state.engine.dispose()

    return create_api(state, lifespan=lifespan)


APP = "registry.service.runtime:create_app"
"""The application factory each uvicorn worker process imports."""


class ReusePortListener(socket.socket):
    """The listening socket handed to uvicorn's worker processes, one of its own in each.

    uvicorn's supervisor gives every worker the one socket the parent bound, and a worker's
    event loop accepts every connection waiting when it wakes: a client keeping a few
    connections alive (an HR system's pool, a reverse proxy, a load generator) may find them
    all on one process, with the other cores idle (measured: 16 keep-alive connections split
    16/0 or 12/4 as often as evenly; one process served 300 verifications/s where two served
    700). This socket travels to each worker as "a new socket for this address": unpickled there
    (uvicorn starts its workers with ``spawn``), it is created with ``SO_REUSEPORT`` and bound,
    so each worker listens on a socket of its own and Linux spreads new connections over them
    by their addresses. In the parent it is only a placeholder (never bound: a bound socket
    that never listens must not take part).
    """

    host: str
    port: int

    @classmethod
    def for_address(cls, host: str, port: int) -> ReusePortListener:
        """The placeholder for ``host:port`` (port 0: a free port chosen here), after checking
        that a worker can bind it: a port another program holds is refused now, once, rather
        than by every worker the supervisor would start."""
        try:
            with _bound(host, port) as probe:
                family, port = probe.family, probe.getsockname()[1]
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        listener = cls(family, socket.SOCK_STREAM)
        listener.host, listener.port = host, port
        return listener

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickled in a worker: that process's own socket for the address (its loop listens).
        return (_bound, (self.host, self.port))


def _bound(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT`` (not listening yet)."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def standalone_worker(settings: Settings) -> Worker:
    """The worker of ``registry worker``: migrate, check every issuer's key, connect to the
    chain and refuse an unsafe configuration for it (:meth:`Settings.check_safe`)."""
    engine = prepare(settings)
    client = chain_client(settings)
    settings.check_safe(client.reads.chain_id())
    return Worker(settings, engine, client)


def serve_in_background(
    settings: Settings, *, host: str = "127.0.0.1", port: int | None = None
) -> tuple[Any, threading.Thread]:
    """Start the service with uvicorn in a daemon thread (the demo, tests); returns
    ``(server, thread)``: stop with ``server.should_exit = True; thread.join()``."""
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


def serve_workers(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve with ``workers`` uvicorn processes (each builds its app from the environment, as
    :func:`create_app` does) while this process runs the one anchoring worker, if any: the HTTP
    workers never start their own. Returns when uvicorn stops (SIGINT/SIGTERM)."""
    import uvicorn

    # Each HTTP process listens on a socket of its own where Linux can spread connections over them.
    own_sockets = hasattr(socket, "SO_REUSEPORT") and sys.platform == "linux"
    listener = ReusePortListener.for_address(host, port) if own_sockets else None  # a port in use: refused now
    os.environ["REGISTRY_WORKER_IN_PROCESS"] = "false"  # read by the HTTP workers' Settings()
    worker: Worker | None = None
    stop: threading.Event | None = None
    thread: threading.Thread | None = None
    if settings.worker_in_process:
        engine = make_engine(settings.db_url, schema=settings.db_schema)
        try:
            worker = Worker(settings, engine, chain_client(settings))
        except RegistryError as exc:
            log.warning("anchoring worker not started (chain unavailable?): %s", exc)
        else:
            thread, stop = worker.start()
    try:
        options: dict[str, Any] = {
            "factory": True,
            "host": host,
            "port": port,
            "workers": workers,
            "log_level": "info",
            "proxy_headers": True,
        }
        if listener is not None:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(uvicorn.Config(APP, **options), sockets=[listener]).run()
        else:
            uvicorn.run(APP, **options)
    finally:
        if worker is not None and stop is not None and thread is not None:
            stop.set()
            worker.wake.set()
            thread.join(10)
