"""Migrations: a fresh database and one upgraded step by step (with data in it) end with the
same schema, and that schema is exactly what the models declare (no missing migration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from registry.service.store import CredentialRow, current_revision, head_revision, upgrade
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


_ROWS = (
    "INSERT INTO issuer (id, name, did, key_source, key_address, created_at) "
    "VALUES (1, 'I', 'did:web:i.example', 'dev:issuer', '0x00', CURRENT_TIMESTAMP)",
    "INSERT INTO batch (id, issuer_id, state, root, count, metadata_hash, sealed_at, attempts) "
    "VALUES (1, 1, 'pending', '0x01', 1, '0x02', CURRENT_TIMESTAMP, 0)",
    "INSERT INTO achievement (id, issuer_id, uri, name, data, created_at) "
    "VALUES (1, 1, 'urn:a', 'A', '{}', CURRENT_TIMESTAMP)",
    "INSERT INTO credential (id, issuer_id, achievement_id, seq, credential_uri, state, doc, created_at) "
    "VALUES ('old', 1, 1, 1, 'urn:old', 'released', '{}', CURRENT_TIMESTAMP)",
    "INSERT INTO credential (id, issuer_id, achievement_id, seq, credential_uri, state, doc, created_at) "
    "VALUES ('new', 1, 1, 2, 'urn:new', 'queued', '{}', CURRENT_TIMESTAMP)",
    "INSERT INTO supersession (id, issuer_id, old_credential_id, new_credential_id, kind, note, state, attempts, "
    "created_at) VALUES (1, 1, 'old', 'new', 1, '', 'pending', 0, CURRENT_TIMESTAMP)",
    "INSERT INTO key_change (id, issuer_id, public_key, state, attempts, created_at) "
    "VALUES (1, 1, '0x03', 'pending', 0, CURRENT_TIMESTAMP)",
)
_TX = sa.text(
    "INSERT INTO anchor_tx (batch_id, supersession_id, key_change_id, sender, nonce, tx_hash, raw_tx, gas_limit, "
    "max_fee_per_gas, max_priority_fee_per_gas, state, created_at) "
    "VALUES (:batch, :sup, :key, '0xabc', 0, :tx, '0x', 1, 1, 1, 'signed', CURRENT_TIMESTAMP)"
)


@pytest.mark.parametrize("kind", DB_KINDS)
def test_a_recorded_transaction_has_exactly_one_subject(kind: str, tmp_path: Path) -> None:
    """Since 0008 an ``anchor_tx`` row belongs to a batch, a revocation or a supersession, and
    since 0010 it may belong to a key change: one of them, never two, never none (the database
    refuses it, SQLite and PostgreSQL alike)."""
    gen = database(kind, tmp_path)
    db = next(gen)
    try:
        with db.engine.begin() as conn:
            for statement in _ROWS:
                conn.execute(sa.text(statement))
            conn.execute(_TX, {"batch": 1, "sup": None, "key": None, "tx": "0x1"})
            conn.execute(_TX, {"batch": None, "sup": 1, "key": None, "tx": "0x2"})
            conn.execute(_TX, {"batch": None, "sup": None, "key": 1, "tx": "0x5"})
        # no subject; two subjects; a key change and another subject
        for batch, sup, key, tx in ((None, None, None, "0x3"), (1, 1, None, "0x4"), (None, 1, 1, "0x6")):
            with (
                pytest.raises(sa.exc.IntegrityError, match=r"ck_anchor_tx_one_subject|CHECK constraint"),
                db.engine.begin() as conn,
            ):
                conn.execute(_TX, {"batch": batch, "sup": sup, "key": key, "tx": tx})
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM anchor_tx")).scalar_one() == 3
    finally:
        gen.close()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_the_valid_until_column_is_filled_in_from_the_stored_documents(kind: str, tmp_path: Path) -> None:
    """Migration 0012 reads each stored document's validUntil into ``credential.valid_until``
    (UTC; a value without offset is UTC; absent or unreadable: NULL), in chunks."""
    gen = database(kind, tmp_path, migrate=False)
    db = next(gen)
    docs = {
        "zulu": {"validUntil": "2030-01-01T00:00:00Z"},
        "offset": {"validUntil": "2031-05-06T07:08:09+02:00"},
        "naive": {"validUntil": "2032-02-03T04:05:06"},
        "none": {},
        "bad": {"validUntil": "next year"},
        "number": {"validUntil": 2030},
    }
    try:
        assert upgrade(db.engine, "0011") == "0011"
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO issuer (id, name, did, key_source, key_address, created_at) "
                    "VALUES (1, 'Old', 'did:web:old.example', 'dev:issuer', '0x00', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO achievement (id, issuer_id, uri, name, data, created_at) "
                    "VALUES (1, 1, 'urn:a', 'A', '{}', CURRENT_TIMESTAMP)"
                )
            )
            for seq, (cid, doc) in enumerate(docs.items()):
                conn.execute(
                    sa.text(
                        "INSERT INTO credential (id, issuer_id, achievement_id, seq, credential_uri, state, doc, "
                        "created_at) VALUES (:id, 1, 1, :seq, :uri, 'released', :doc, CURRENT_TIMESTAMP)"
                    ),
                    {"id": cid, "seq": seq, "uri": f"urn:c:{cid}", "doc": json.dumps({"id": f"urn:c:{cid}", **doc})},
                )
        assert upgrade(db.engine) == head_revision()
        with Session(db.engine) as session:
            got = {r.id: r.valid_until for r in session.exec(select(CredentialRow))}
        assert got == {
            "zulu": datetime(2030, 1, 1, tzinfo=UTC),
            "offset": datetime(2031, 5, 6, 5, 8, 9, tzinfo=UTC),
            "naive": datetime(2032, 2, 3, 4, 5, 6, tzinfo=UTC),
            "none": None,
            "bad": None,
            "number": None,
        }
    finally:
        gen.close()
