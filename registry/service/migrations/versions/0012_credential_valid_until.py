"""each credential's validUntil in a column (``credential.valid_until``), filled in from the
stored documents, and the credential.expiring scan's index over it: the scan reads the
credentials that enter the window, not every released one

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 5000


def _valid_until(doc: str) -> datetime | None:
    """The document's validUntil, aware (UTC when it names no offset); None when absent or bad.
    (A copy of ``doc_valid_until`` as of this revision: a migration never imports the models.)"""
    try:
        value = json.loads(doc).get("validUntil")
        if not isinstance(value, str):
            return None
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid_until", UTCDateTime(), nullable=True))
    conn = op.get_bind()
    table = sa.table(
        "credential",
        sa.column("id", sa.String()),
        sa.column("doc", sa.Text()),
        sa.column("valid_until", UTCDateTime()),
    )
    after = ""
    while True:  # in chunks, by id: a million credentials never sit in memory at once
        rows = conn.execute(
            sa.select(table.c.id, table.c.doc)
            .where(table.c.id > after)
            .where(table.c.doc.like('%"validUntil"%'))
            .order_by(table.c.id)
            .limit(_CHUNK)
        ).all()
        found = [{"cid": cid, "until": until} for cid, doc in rows if (until := _valid_until(doc)) is not None]
        if found:
            conn.execute(
                table.update().where(table.c.id == sa.bindparam("cid")).values(valid_until=sa.bindparam("until")),
                found,
            )
        if len(rows) < _CHUNK:
            break
        after = rows[-1][0]
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_index("ix_credential_expiring_scan")
        batch_op.create_index(
            "ix_credential_expiring_scan", ["issuer_id", "state", "expiring_notified_at", "valid_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_index("ix_credential_expiring_scan")
        batch_op.create_index(
            "ix_credential_expiring_scan", ["issuer_id", "state", "expiring_notified_at", "id"], unique=False
        )
        batch_op.drop_column("valid_until")
