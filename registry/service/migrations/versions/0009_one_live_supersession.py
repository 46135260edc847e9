"""at most one live (not failed) supersession per old credential: two concurrent reissues or
renewals of the same credential can no longer both be queued

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("state <> 'failed'")


def upgrade() -> None:
    op.create_index(
        "uq_supersession_live_old",
        "supersession",
        ["old_credential_id"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_supersession_live_old", table_name="supersession")
