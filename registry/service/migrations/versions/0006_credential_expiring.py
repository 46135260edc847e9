"""the credential.expiring webhook: when each credential's event went to the outbox, and the
index its scan walks (an issuer's released, not yet notified credentials in id order)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expiring_notified_at", UTCDateTime(), nullable=True))
        batch_op.create_index(
            "ix_credential_expiring_scan", ["issuer_id", "state", "expiring_notified_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_index("ix_credential_expiring_scan")
        batch_op.drop_column("expiring_notified_at")
