"""The one place that creates database engines and runs migrations.

SQLite (default: ``registry.db`` in the data directory, WAL mode, foreign keys on) or PostgreSQL
(``DATABASE_URL`` / ``REGISTRY_DATABASE_URL``). Migrations are Alembic revisions shipped in
``registry/service/migrations`` and run programmatically: on service start-up and by ``registry db upgrade``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.service.store.models import Event, utcnow

__all__ = [
    "current_revision",
    "head_revision",
    "log_event",
    "make_engine",
    "migrated_engine",
    "normalize_url",
    "session_scope",
    "upgrade",
]

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def normalize_url(url: str) -> str:
    """``postgres://`` and driverless ``postgresql://`` URLs use psycopg2 (the pinned driver)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> Engine:
    """An engine for ``url``; ``schema`` (PostgreSQL only) sets the search path (tests).

    ``hide_parameters``: a database error's message (which ends up in logs and tracebacks) never
    carries the statement's values (credential documents, names, key hashes)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, echo=echo, hide_parameters=True, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return sa.create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args=connect_args,
    )


def _config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the schema to ``revision`` (idempotent); returns the revision now current."""
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)
    return current_revision(engine)


@cache
def migrated_engine(url: str, schema: str | None = None) -> Engine:
    """The engine of a database migrated to the newest schema, made once per database and
    schema in a process (the CLI's commands)."""
    engine = make_engine(url, schema=schema)
    upgrade(engine)
    return engine


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def log_event(session: Session, kind: str, *, issuer_id: int | None = None, subject: str = "", **data: Any) -> None:
    """Append one entry to the event log (in the caller's transaction)."""
    session.add(
        Event(
            at=utcnow(),
            issuer_id=issuer_id,
            kind=kind,
            subject=subject,
            data=json.dumps(data, default=str, sort_keys=True),
        )
    )
