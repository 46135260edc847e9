"""revocations through the recorded-transaction pipeline: ``anchor_tx`` rows may belong to a
revocation instead of a batch, and revocations count their reverted transactions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("revocation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("anchor_tx", schema=None) as batch_op:
        batch_op.alter_column("batch_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("revocation_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_anchor_tx_revocation_id", ["revocation_id"], unique=False)
        batch_op.create_foreign_key("fk_anchor_tx_revocation_id", "revocation", ["revocation_id"], ["id"])
        batch_op.create_check_constraint("ck_anchor_tx_one_subject", "(batch_id IS NULL) <> (revocation_id IS NULL)")


def downgrade() -> None:
    op.execute("DELETE FROM anchor_tx WHERE batch_id IS NULL")
    with op.batch_alter_table("anchor_tx", schema=None) as batch_op:
        batch_op.drop_constraint("ck_anchor_tx_one_subject", type_="check")
        batch_op.drop_constraint("fk_anchor_tx_revocation_id", type_="foreignkey")
        batch_op.drop_index("ix_anchor_tx_revocation_id")
        batch_op.drop_column("revocation_id")
        batch_op.alter_column("batch_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("revocation", schema=None) as batch_op:
        batch_op.drop_column("attempts")
