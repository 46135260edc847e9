"""The auditor's own database of the events read so far (SQLite file or any SQLAlchemy URL).

Derived data: when :data:`CACHE_SCHEMA_VERSION` changes the tables are dropped and rebuilt from
the chain; an event an older reader stored as ``Unknown`` is read again once the auditor decodes
it (:meth:`AuditCache.undecoded`), so a new event type needs no new schema version. One row per
event with its block hash, so a reorg is noticed and rewound; a resume point per (chain,
registry); and compiled runtime bytecode by sources fingerprint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from registry.audit.state import AuditEvent

__all__ = ["CACHE_SCHEMA_VERSION", "AuditCache", "CacheSource"]

CACHE_SCHEMA_VERSION: Final = 1

_md = sa.MetaData()
_meta_t = sa.Table(
    "audit_meta",
    _md,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
_source_t = sa.Table(
    "audit_source",
    _md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("chain_id", sa.BigInteger, nullable=False),
    sa.Column("registry", sa.String(42), nullable=False),
    sa.Column("from_block", sa.BigInteger, nullable=False),
    sa.Column("scanned_to", sa.BigInteger, nullable=True),
    sa.Column("scanned_hash", sa.String(66), nullable=True),
    sa.UniqueConstraint("chain_id", "registry"),
)
_log_t = sa.Table(
    "audit_log",
    _md,
    sa.Column("source_id", sa.Integer, primary_key=True),
    sa.Column("block", sa.BigInteger, primary_key=True),
    sa.Column("log_index", sa.Integer, primary_key=True),
    sa.Column("tx", sa.String(66), nullable=False),
    sa.Column("block_hash", sa.String(66), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("args", sa.Text, nullable=False),
)
_compiled_t = sa.Table(
    "audit_compiled",
    _md,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("runtime", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class CacheSource:
    """One audited (chain, registry): where its history starts and how far it was read."""

    id: int
    from_block: int
    scanned_to: int | None
    scanned_hash: str | None


class AuditCache:
    """The auditor's own database of events read so far (SQLite file or any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url)
        self.rebuilt = False
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        inspector = sa.inspect(self.engine)
        names = set(inspector.get_table_names())
        version: str | None = None
        if "audit_meta" in names:
            with self.engine.connect() as conn:
                version = conn.execute(sa.select(_meta_t.c.value).where(_meta_t.c.key == "schema_version")).scalar()
        if version != str(CACHE_SCHEMA_VERSION):
            ours = [t for t in ("audit_log", "audit_source", "audit_compiled", "audit_meta") if t in names]
            if ours:
                self.rebuilt = True
                with self.engine.begin() as conn:
                    for table in ours:
                        conn.execute(sa.text(f'DROP TABLE "{table}"'))
            _md.create_all(self.engine)
            with self.engine.begin() as conn:
                conn.execute(_meta_t.insert().values(key="schema_version", value=str(CACHE_SCHEMA_VERSION)))

    def source(self, chain_id: int, registry: str, from_block: int) -> CacheSource:
        registry = registry.lower()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(_source_t).where((_source_t.c.chain_id == chain_id) & (_source_t.c.registry == registry))
            ).first()
            if row is not None and int(row.from_block) != from_block:
                conn.execute(_log_t.delete().where(_log_t.c.source_id == row.id))
                conn.execute(_source_t.delete().where(_source_t.c.id == row.id))
                row = None
            if row is None:
                conn.execute(_source_t.insert().values(chain_id=chain_id, registry=registry, from_block=from_block))
                row = conn.execute(
                    sa.select(_source_t).where((_source_t.c.chain_id == chain_id) & (_source_t.c.registry == registry))
                ).one()
        return CacheSource(int(row.id), int(row.from_block), row.scanned_to, row.scanned_hash)

    def rewind(self, source: CacheSource, to_block: int | None) -> None:
        """Forget events at and after ``to_block`` (None: forget everything)."""
        with self.engine.begin() as conn:
            query = _log_t.delete().where(_log_t.c.source_id == source.id)
            if to_block is not None:
                query = query.where(_log_t.c.block >= to_block)
            conn.execute(query)
            scanned = None if to_block is None or to_block <= source.from_block else to_block - 1
            conn.execute(
                _source_t.update().where(_source_t.c.id == source.id).values(scanned_to=scanned, scanned_hash=None)
            )

    def last_stored(self, source: CacheSource) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_log_t.c.block, _log_t.c.block_hash)
                .where(_log_t.c.source_id == source.id)
                .order_by(_log_t.c.block.desc())
                .limit(1)
            ).first()
        return (int(row[0]), str(row[1])) if row else None

    def append(self, source: CacheSource, rows: list[dict[str, Any]], scanned_to: int, scanned_hash: str) -> None:
        """Store one page of events and move the resume point, in one transaction."""
        with self.engine.begin() as conn:
            if rows:
                conn.execute(_log_t.insert(), [{"source_id": source.id, **r} for r in rows])
            conn.execute(
                _source_t.update()
                .where(_source_t.c.id == source.id)
                .values(scanned_to=scanned_to, scanned_hash=scanned_hash)
            )

    def events(self, source: CacheSource) -> list[AuditEvent]:
        cols = (_log_t.c.block, _log_t.c.log_index, _log_t.c.tx, _log_t.c.timestamp, _log_t.c.name, _log_t.c.args)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*cols).where(_log_t.c.source_id == source.id).order_by(_log_t.c.block, _log_t.c.log_index)
            ).all()
        return [AuditEvent(int(r[0]), int(r[1]), str(r[2]), int(r[3]), str(r[4]), json.loads(r[5])) for r in rows]

    def undecoded(self, source: CacheSource) -> list[tuple[int, str | None]]:
        """(block, topic0) of each stored event its reader could not decode (named ``Unknown``).

        A cache written by an auditor whose ABI lacked an event (``CredentialSuperseded`` before
        issue 14) holds that event's logs so; a newer auditor reads those blocks again.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_log_t.c.block, _log_t.c.args).where(
                    (_log_t.c.source_id == source.id) & (_log_t.c.name == "Unknown")
                )
            ).all()
        return [(int(block), _topic0(args)) for block, args in rows]

    def compiled(self, fingerprint: str) -> bytes | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(_compiled_t.c.runtime).where(_compiled_t.c.fingerprint == fingerprint)
            ).scalar()
        return bytes.fromhex(value) if value else None

    def store_compiled(self, fingerprint: str, code: bytes) -> None:
        with self.engine.begin() as conn:
            conn.execute(_compiled_t.delete().where(_compiled_t.c.fingerprint == fingerprint))
            conn.execute(_compiled_t.insert().values(fingerprint=fingerprint, runtime=code.hex()))

    def close(self) -> None:
        self.engine.dispose()


def _topic0(args: str) -> str | None:
    """The event signature topic of an ``Unknown`` row's stored arguments (``{"topics": [...]}``)."""
    topics = json.loads(args).get("topics") or [None]
    return str(topics[0]).lower() if topics[0] else None
