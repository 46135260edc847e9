"""Storage of the issuer service: sqlmodel tables, the engine, migrations, the event log."""

from registry.service.store.db import (
    current_revision,
    head_revision,
    log_event,
    make_engine,
    session_scope,
    upgrade,
)
from registry.service.store.models import (
    AchievementRow,
    AnchorTx,
    ApiKey,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Event,
    Issuer,
    Revocation,
    RevocationState,
    TxState,
    utcnow,
)

__all__ = [
    "AchievementRow",
    "AnchorTx",
    "ApiKey",
    "Batch",
    "BatchState",
    "CredentialRow",
    "CredentialState",
    "Event",
    "Issuer",
    "Revocation",
    "RevocationState",
    "TxState",
    "current_revision",
    "head_revision",
    "log_event",
    "make_engine",
    "session_scope",
    "upgrade",
    "utcnow",
]
