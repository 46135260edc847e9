"""pathway versions, the learner reference of credentials, service secrets

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 08:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pathway",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("uri", AutoString(length=2048), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", AutoString(length=500), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("digest", AutoString(length=66), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.ForeignKeyConstraint(["issuer_id"], ["issuer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
        sa.UniqueConstraint("uri", "version"),
    )
    op.create_index("ix_pathway_issuer_id", "pathway", ["issuer_id"], unique=False)
    op.create_index("ix_pathway_batch_id", "pathway", ["batch_id"], unique=False)
    op.create_table(
        "service_secret",
        sa.Column("name", AutoString(length=64), nullable=False),
        sa.Column("value", AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("learner_ref", AutoString(length=64), nullable=True))
        batch_op.create_index("ix_credential_learner_ref", ["learner_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_index("ix_credential_learner_ref")
        batch_op.drop_column("learner_ref")
    op.drop_table("service_secret")
    op.drop_index("ix_pathway_batch_id", table_name="pathway")
    op.drop_index("ix_pathway_issuer_id", table_name="pathway")
    op.drop_table("pathway")
