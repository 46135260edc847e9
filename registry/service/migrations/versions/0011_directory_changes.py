"""the operators' directory changes through the recorded pipeline: ``directory_change``
requests, and ``anchor_tx`` rows that may belong to one (each recorded transaction still has
exactly one subject)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUBJECTS = ("batch_id", "revocation_id", "supersession_id", "key_change_id")


def _one_of(columns: Sequence[str]) -> str:
    """Exactly one of ``columns`` is set (CASE: PostgreSQL does not add booleans)."""
    return " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in columns) + " = 1"


def upgrade() -> None:
    op.create_table(
        "directory_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", AutoString(length=64), nullable=False),
        sa.Column("sender", AutoString(length=42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("registry_address", AutoString(length=42), nullable=False),
        sa.Column("call_data", sa.Text(), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("tx_hash", AutoString(length=66), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_directory_change_sender", "directory_change", ["sender"], unique=False)
    op.create_index("ix_directory_change_state", "directory_change", ["state"], unique=False)
    with op.batch_alter_table("anchor_tx", schema=None) as batch_op:
        batch_op.drop_constraint("ck_anchor_tx_one_subject", type_="check")
        batch_op.add_column(sa.Column("directory_change_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_anchor_tx_directory_change_id", ["directory_change_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_anchor_tx_directory_change_id", "directory_change", ["directory_change_id"], ["id"]
        )
        batch_op.create_check_constraint("ck_anchor_tx_one_subject", _one_of((*_SUBJECTS, "directory_change_id")))


def downgrade() -> None:
    op.execute("DELETE FROM anchor_tx WHERE directory_change_id IS NOT NULL")
    with op.batch_alter_table("anchor_tx", schema=None) as batch_op:
        batch_op.drop_constraint("ck_anchor_tx_one_subject", type_="check")
        batch_op.drop_constraint("fk_anchor_tx_directory_change_id", type_="foreignkey")
        batch_op.drop_index("ix_anchor_tx_directory_change_id")
        batch_op.drop_column("directory_change_id")
        batch_op.create_check_constraint("ck_anchor_tx_one_subject", _one_of(_SUBJECTS))
    op.drop_index("ix_directory_change_state", table_name="directory_change")
    op.drop_index("ix_directory_change_sender", table_name="directory_change")
    op.drop_table("directory_change")
