"""corrections and renewals: ``supersession`` requests, and ``anchor_tx`` rows that may belong to
one (each recorded transaction still has exactly one subject)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TWO_SUBJECTS = "(batch_id IS NULL) <> (revocation_id IS NULL)"
_THREE_SUBJECTS = (
    "(CASE WHEN batch_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN revocation_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN supersession_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade() -> None:
    op.create_table(
        "supersession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("old_credential_id", AutoString(length=32), nullable=False),
        sa.Column("new_credential_id", AutoString(length=32), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("note", AutoString(length=1000), nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("tx_hash", AutoString(length=66), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["issuer_id"], ["issuer.id"]),
        sa.ForeignKeyConstraint(["old_credential_id"], ["credential.id"]),
        sa.ForeignKeyConstraint(["new_credential_id"], ["credential.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("new_credential_id"),
    )
    op.create_index("ix_supersession_issuer_id", "supersession", ["issuer_id"], unique=False)
    op.create_index("ix_supersession_old_credential_id", "supersession", ["old_credential_id"], unique=False)
    op.create_index("ix_supersession_state", "supersession", ["state"], unique=False)
    with op.batch_alter_table("anchor_tx", schema=None) as batch_op:
        batch_op.drop_constraint("ck_anchor_tx_one_subject", type_="check")
        batch_op.add_column(sa.Column("supersession_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_anchor_tx_supersession_id", ["supersession_id"], unique=False)
        batch_op.create_foreign_key("fk_anchor_tx_supersession_id", "supersession", ["supersession_id"], ["id"])
        batch_op.create_check_constraint("ck_anchor_tx_one_subject", _THREE_SUBJECTS)


def downgrade() -> None:
    op.execute("DELETE FROM anchor_tx WHERE supersession_id IS NOT NULL")
    with op.batch_alter_table("anchor_tx", schema=None) as batch_op:
        batch_op.drop_constraint("ck_anchor_tx_one_subject", type_="check")
        batch_op.drop_constraint("fk_anchor_tx_supersession_id", type_="foreignkey")
        batch_op.drop_index("ix_anchor_tx_supersession_id")
        batch_op.drop_column("supersession_id")
        batch_op.create_check_constraint("ck_anchor_tx_one_subject", _TWO_SUBJECTS)
    op.drop_index("ix_supersession_state", table_name="supersession")
    op.drop_index("ix_supersession_old_credential_id", table_name="supersession")
    op.drop_index("ix_supersession_issuer_id", table_name="supersession")
    op.drop_table("supersession")
