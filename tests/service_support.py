"""Helpers for the service tests: databases (SQLite always, PostgreSQL too, each test in its own
schema) and issuer set-up.

PostgreSQL is ``REGISTRY_TEST_POSTGRES_URL``, else this machine kind's local server
(``postgresql://postgres@127.0.0.1:5432/test``, what ``.ci/run`` uses). When it cannot be reached,
the PostgreSQL variants skip with the reason in the summary, and under ``CI=true`` they fail: CI
never drops them silently. ``REGISTRY_TEST_POSTGRES_URL=none`` turns them off on purpose (a skip,
and still a failure under ``CI=true``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.config import Settings
from registry.service.auth import create_api_key
from registry.service.issuance import create_achievement, create_issuer
from registry.service.store import Issuer, make_engine, upgrade
from registry.service.store.db import normalize_url
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.ci import missing

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
DB_KINDS = ["sqlite", "postgresql"]
_POSTGRES_PROBE: list[str | None] = []


def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used (``None``: it can); probed once per session."""
    if not _POSTGRES_PROBE:
        problem: str | None = None
        if POSTGRES_URL.lower() == "none":
            problem = "turned off by REGISTRY_TEST_POSTGRES_URL=none"
        else:
            engine = sa.create_engine(normalize_url(POSTGRES_URL), connect_args={"connect_timeout": 5})
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
            except sa.exc.SQLAlchemyError as exc:
                first = str(exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc).strip().splitlines()[0]
                problem = f"{_redact(POSTGRES_URL)} is unreachable ({first})"
            finally:
                engine.dispose()
        _POSTGRES_PROBE.append(problem)
    return _POSTGRES_PROBE[0]


def _redact(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def require_postgres() -> str:
    """The PostgreSQL URL, or skip the test (fail it under ``CI=true``) saying why there is none."""
    problem = _postgres_problem()
    if problem is None:
        return POSTGRES_URL
    message = (
        f"PostgreSQL variant not run: {problem}; set REGISTRY_TEST_POSTGRES_URL to a database "
        "the tests may create schemas in"
    )
    missing(message, f"CI=true: {message}")


class Database:
    """A migrated database for one test; ``url``/``schema`` recreate engines (a restart)."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.schema: str | None = None
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp / f'db-{secrets.token_hex(4)}.sqlite'}"
        else:
            self.url = require_postgres()
            self.schema = "t_" + secrets.token_hex(6)
            admin = make_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            admin.dispose()
        self.engine = self.new_engine()

    def new_engine(self) -> Engine:
        return make_engine(self.url, schema=self.schema)

    def settings_env(self) -> dict[str, str]:
        """What a service process needs to open this database."""
        env = {"REGISTRY_DATABASE_URL": self.url}
        if self.schema:
            env["REGISTRY_DB_SCHEMA"] = self.schema
        return env

    def drop(self) -> None:
        self.engine.dispose()
        if self.schema:
            admin = make_engine(self.url)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            admin.dispose()


def database(kind: str, tmp: Path, *, migrate: bool = True) -> Iterator[Database]:
    db = Database(kind, tmp)
    try:
        if migrate:
            upgrade(db.engine)
        yield db
    finally:
        db.drop()


def service_settings(registry: Registry, db: Database, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": registry.settings.home,
        "rpc_url": registry.rpc_url,
        "database_url": db.url,
        "db_schema": db.schema,
        "worker_in_process": False,
        "batch_size": 1000,
        "batch_max_age": 3600.0,
        "worker_interval": 0.2,
        "public_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)


def add_issuer(
    session: Session, registry: Registry, which: int = 1, *, key_source: str | None = None
) -> tuple[Issuer, str, int]:
    """The fixture's issuer ``which`` in the service DB, an API key, and an achievement id."""
    info = registry.client.reads.issuers([registry.issuer_id if which == 1 else registry.issuer2_id])
    entry = next(iter(info.values()))
    key = registry.issuer_key if which == 1 else registry.issuer2_key
    issuer = create_issuer(
        session,
        name=entry.name,
        did=entry.did,
        key_source=key_source or ("dev:issuer" if which == 1 else "dev:issuer2"),
        key_address=key.address,
    )
    assert issuer.id is not None
    _, token = create_api_key(session, issuer.id, "test")
    data = json.loads(ACHIEVEMENT.model_dump_json())
    data["id"] = f"https://example.org/achievements/{secrets.token_hex(4)}"
    ach = create_achievement(session, issuer, data)
    session.commit()
    assert ach.id is not None
    return issuer, token, ach.id


@pytest.fixture(params=DB_KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A freshly migrated database: SQLite, and PostgreSQL (skipped, or failed under CI=true,
    when it cannot be reached)."""
    yield from database(str(request.param), tmp_path)
