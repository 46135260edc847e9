"""signing-key registrations through the recorded pipeline: ``key_change`` requests, and
``anchor_tx`` rows that may belong to one (each recorded transaction still has exactly one
subject)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_THREE_SUBJECTS = (
    "(CASE WHEN batch_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN revocation_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN supersession_id IS NULL THEN 0 ELSE 1 END) = 1"
)
_FOUR_SUBJECTS = (
    "(CASE WHEN batch_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN revocation_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN supersession_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN key_change_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade() -> None:
    op.create_table(
        "key_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("public_key", AutoString(length=66), nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("tx_hash", AutoString(length=66), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["issuer_id"], ["issuer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_key_change_issuer_id", "key_change", ["issuer_id"], unique=False)
    op.create_index("ix_key_change_state", "key_change", ["state"], unique=False)
    with op.batch_alter_table("anchor_tx", schema=None) as batch_op:
        batch_op.drop_constraint("ck_anchor_tx_one_subject", type_="check")
        batch_op.add_column(sa.Column("key_change_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_anchor_tx_key_change_id", ["key_change_id"], unique=False)
        batch_op.create_foreign_key("fk_anchor_tx_key_change_id", "key_change", ["key_change_id"], ["id"])
        batch_op.create_check_constraint("ck_anchor_tx_one_subject", _FOUR_SUBJECTS)


def downgrade() -> None:
    op.execute("DELETE FROM anchor_tx WHERE key_change_id IS NOT NULL")
    with op.batch_alter_table("anchor_tx", schema=None) as batch_op:
        batch_op.drop_constraint("ck_anchor_tx_one_subject", type_="check")
        batch_op.drop_constraint("fk_anchor_tx_key_change_id", type_="foreignkey")
        batch_op.drop_index("ix_anchor_tx_key_change_id")
        batch_op.drop_column("key_change_id")
        batch_op.create_check_constraint("ck_anchor_tx_one_subject", _THREE_SUBJECTS)
    op.drop_index("ix_key_change_state", table_name="key_change")
    op.drop_index("ix_key_change_issuer_id", table_name="key_change")
    op.drop_table("key_change")
