"""Alembic environment: run programmatically with a connection in ``config.attributes``.

See :func:`registry.service.store.db.upgrade`. The target metadata is the sqlmodel tables of
:mod:`registry.service.store.models`; SQLite alterations use batch mode.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import registry.service.store.models  # noqa: F401 - registers the tables on the metadata

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through registry.service.store.db.upgrade (needs a connection)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
