"""the anchoring keys an issuer rotated away from (``issuer_former_key``): the files of the
batches they anchored are still assembled with them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issuer_former_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("key_address", AutoString(length=42), nullable=False),
        sa.Column("key_source", AutoString(length=2048), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=False),
        sa.Column("tx_hash", AutoString(length=66), nullable=True),
        sa.ForeignKeyConstraint(["issuer_id"], ["issuer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_issuer_former_key_issuer_id", "issuer_former_key", ["issuer_id"], unique=False)
    op.create_index("ix_issuer_former_key_key_address", "issuer_former_key", ["key_address"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_issuer_former_key_key_address", table_name="issuer_former_key")
    op.drop_index("ix_issuer_former_key_issuer_id", table_name="issuer_former_key")
    op.drop_table("issuer_former_key")
