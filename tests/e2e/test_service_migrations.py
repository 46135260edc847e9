"""Migrations: a fresh database and one upgraded step by step (with data in it) end with the
same schema, and that schema is exactly what the models declare (no missing migration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from registry.service.store import current_revision, head_revision, upgrade
from tests.service_support import DB_KINDS, database

pytestmark = pytest.mark.e2e


def schema(engine: sa.Engine) -> dict[str, Any]:
    inspector = sa.inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        out[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]).split("(")[0].upper(), bool(c["nullable"]))
                for c in inspector.get_columns(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
            "pk": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
        }
    return out


@pytest.mark.parametrize("kind", DB_KINDS)
def test_fresh_and_upgraded_databases_have_the_same_schema(kind: str, tmp_path: Path) -> None:
    fresh_gen = database(kind, tmp_path / "fresh", migrate=False)
    old_gen = database(kind, tmp_path / "old", migrate=False)
    (tmp_path / "fresh").mkdir()
    (tmp_path / "old").mkdir()
    fresh, old = next(fresh_gen), next(old_gen)
    try:
        assert upgrade(fresh.engine) == head_revision()
        # The old database lives at the first revision with data, then is upgraded.
        assert upgrade(old.engine, "0001") == "0001"
        with old.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO issuer (name, did, key_source, key_address, created_at) "
                    "VALUES ('Old', 'did:web:old.example', 'dev:issuer', '0x00', CURRENT_TIMESTAMP)"
                )
            )
        assert upgrade(old.engine) == head_revision()
        assert upgrade(old.engine) == head_revision()  # idempotent
        assert current_revision(old.engine) == current_revision(fresh.engine)
        assert schema(old.engine) == schema(fresh.engine)
        with old.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM issuer")).scalar_one() == "Old"
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert "batch" in schema(fresh.engine) and "confirmations_required" in [
            c[0] for c in schema(fresh.engine)["batch"]["columns"]
        ]
    finally:
        for gen in (fresh_gen, old_gen):
            gen.close()


def test_event_log_is_append_only(tmp_path: Path) -> None:
    from sqlmodel import Session, select

    from registry.service.store import Event, log_event

    gen = database("sqlite", tmp_path)
    db = next(gen)
    try:
        with Session(db.engine) as session:
            log_event(session, "test.event", subject="x", n=1)
            session.commit()
            event = session.exec(select(Event)).one()
            event.kind = "rewritten"
            session.add(event)
            with pytest.raises(PermissionError, match="append-only"):
                session.commit()
            session.rollback()
            with pytest.raises(PermissionError, match="append-only"):
                session.delete(session.exec(select(Event)).one())
                session.commit()
    finally:
        gen.close()
