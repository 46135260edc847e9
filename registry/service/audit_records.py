"""The issuer service's database as the auditor's :class:`registry.audit.records.IssuerRecords`.

The service implements the audit's port: this module is the only place that reads the
service's tables (:mod:`registry.service.store.models`) for the auditor (``registry audit --db
URL`` and the service's own ``/v1/audit``), with plain SELECTs. Nothing here writes.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from registry.audit.records import ANCHORED_STATES, RecordedBatch, RecordedIssuer, RecordedRevocation
from registry.chain.model import SUPERSEDED_REASON
from registry.errors import ConfigError
from registry.service.store.db import make_engine
from registry.service.store.models import (
    AnchorTx,
    Batch,
    CredentialRow,
    Event,
    Issuer,
    PathwayRow,
    Revocation,
    RevocationState,
    Supersession,
)

__all__ = ["ServiceDatabase", "open_issuer_records"]

_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")


class ServiceDatabase:
    """The issuer service's database (:mod:`registry.service.store`), read with plain SELECTs."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        if engine is not None:
            self.url = engine.url.render_as_string(hide_password=True)
            self.engine, self._owned = engine, False
        elif url is not None:
            self.url = url
            self.engine, self._owned = make_engine(url), True
        else:
            raise ConfigError("an issuer database needs a URL or an engine")
        url = self.url
        try:
            names = set(sa.inspect(self.engine).get_table_names())
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(f"cannot open the issuer database {_safe(url)}: {exc}") from exc
        missing = {"issuer", "batch", "revocation", "credential", "event"} - names
        if missing:
            raise ConfigError(
                f"{_safe(url)} is not an issuer service database (missing tables: "
                f"{', '.join(sorted(missing))}); run `registry db upgrade` on it first"
            )

    def issuers(self) -> list[RecordedIssuer]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(Issuer.id, Issuer.name, Issuer.did, Issuer.key_address)  # type: ignore[call-overload]
            ).all()
        return [RecordedIssuer(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def anchored_batches(self) -> list[RecordedBatch]:
        cols = (
            Batch.issuer_id,
            Batch.root,
            Batch.count,
            Batch.state,
            Batch.anchor_tx,
            Batch.anchor_block,
            Batch.chain_id,
            Batch.registry_address,
            Batch.metadata_hash,
        )
        query = sa.select(*cols).where(col(Batch.state).in_(sorted(ANCHORED_STATES)))  # type: ignore[call-overload]
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            pathways = self._pathway_labels(conn)
        return [
            RecordedBatch(
                issuer_db_id=int(r[0]),
                root=str(r[1]).lower(),
                count=int(r[2]),
                state=str(r[3]),
                anchor_tx=str(r[4]).lower() if r[4] else None,
                anchor_block=int(r[5]) if r[5] is not None else None,
                chain_id=int(r[6]) if r[6] is not None else None,
                registry=str(r[7]) if r[7] else None,
                metadata_hash=str(r[8]).lower() if r[8] else None,
                pathway=pathways.get(str(r[1]).lower()),
            )
            for r in rows
        ]

    def _pathway_labels(self, conn: sa.Connection) -> dict[str, str]:
        """Batch root -> "<pathway id> version <n> (<name>)" for the batches that publish a pathway
        (none in a database from before pathways)."""
        if "pathway" not in sa.inspect(conn).get_table_names():
            return {}
        query = sa.select(PathwayRow.digest, PathwayRow.uri, PathwayRow.version, PathwayRow.name).where(  # type: ignore[call-overload]
            col(PathwayRow.batch_id).is_not(None)
        )
        return {str(r[0]).lower(): f"{r[1]} version {r[2]} ({r[3]})" for r in conn.execute(query)}

    def revocations(self) -> list[RecordedRevocation]:
        query = (
            sa.select(  # type: ignore[call-overload]
                Revocation.issuer_id,
                Batch.root,
                CredentialRow.digest,
                Revocation.reason,
                Revocation.tx_hash,
            )
            .select_from(Revocation)
            .outerjoin(CredentialRow, CredentialRow.id == Revocation.credential_id)
            .outerjoin(
                Batch,
                Batch.id == sa.func.coalesce(Revocation.batch_id, CredentialRow.batch_id),
            )
            .where(Revocation.state == RevocationState.DONE)
        )
        with self.engine.connect() as conn:
            rows = [*conn.execute(query).all(), *self._supersessions(conn)]
        return [
            RecordedRevocation(
                issuer_db_id=int(r[0]),
                root=str(r[1]).lower() if r[1] else "",
                digest=str(r[2]).lower() if r[2] else None,
                reason=int(r[3] or 0),
                tx_hash=str(r[4]).lower() if r[4] else None,
            )
            for r in rows
        ]

    def _supersessions(self, conn: sa.Connection) -> list[Any]:
        """Done corrections and renewals, as the contract records them: revocations of the old
        credential with reason 2 (none in a database from before supersessions)."""
        if "supersession" not in sa.inspect(conn).get_table_names():
            return []
        query = (
            sa.select(  # type: ignore[call-overload]
                Supersession.issuer_id,
                Batch.root,
                CredentialRow.digest,
                sa.literal(SUPERSEDED_REASON),
                Supersession.tx_hash,
            )
            .select_from(Supersession)
            .join(CredentialRow, CredentialRow.id == Supersession.old_credential_id)
            .outerjoin(Batch, Batch.id == CredentialRow.batch_id)
            .where(Supersession.state == RevocationState.DONE)
        )
        return list(conn.execute(query).all())

    def mentioned_hashes(self) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as conn:
            for subject, data in conn.execute(sa.select(Event.subject, Event.data)):  # type: ignore[call-overload]
                found.update(m.lower() for m in _HEX32.findall(f"{subject} {data}"))
            for (tx_hash,) in conn.execute(sa.select(AnchorTx.tx_hash)):  # type: ignore[call-overload]
                found.add(str(tx_hash).lower())
        return found

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()


def open_issuer_records(url: str) -> ServiceDatabase:
    """The records of the issuer service database at SQLAlchemy ``url``."""
    return ServiceDatabase(url)


def _safe(url: str) -> str:
    """A database URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
