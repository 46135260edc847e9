"""the issuer's LinkedIn organisation id (digits), for the share page's add-to-profile link

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issuer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("linkedin_organization_id", AutoString(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issuer", schema=None) as batch_op:
        batch_op.drop_column("linkedin_organization_id")
