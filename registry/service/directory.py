"""The operators' directory changes, recorded before they are sent (:mod:`registry.service.worker.directory`):
what ``registry accreditor``, ``registry issuer admit`` and ``registry directory`` run.

:func:`change_directory` records the change in the service's database (the same one the
service uses; a SQLite file in the data directory by default) unless the same change by the same
operator on the same registry is still open, and then drives it to done or failed in this
process, with the operator's key. A crash or Ctrl-C at any step loses nothing: the same command,
or ``registry directory resume``, carries on from the recorded step and never sends a second
transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain.adapter import Chain
from registry.chain.model import Call
from registry.config import Settings
from registry.errors import RegistryError
from registry.service.store import DirectoryChange, RevocationState, log_event, migrated_engine, session_scope
from registry.service.worker.directory import ACTIONS, DirectoryChanging
from registry.service.worker.faults import env_pause_hook
from registry.service.worker.locks import AnchorLocks
from registry.service.worker.stage import PassResult, WorkerContext

__all__ = ["DirectoryChangePending", "change_directory", "open_changes", "resume", "store_engine"]

POLL = 0.2
"""Seconds between two looks at a transaction waiting for its block or its confirmations."""


class DirectoryChangePending(RegistryError):
    """The change is recorded and sent, but not done within the time given (confirmations)."""

    code = "directory_change_pending"

    def __init__(self, row: DirectoryChange, waited: float) -> None:
        self.change_id = int(row.id or 0)
        super().__init__(
            f"directory change {row.id} ({row.action}) is {row.state} after {waited:.0f} s"
            f"{f' (transaction {row.tx_hash})' if row.tx_hash else ''}; it is recorded: run the same "
            "command again, or `registry directory resume`, to finish it"
        )


def store_engine(settings: Settings) -> Engine:
    """The service's database, migrated to the current schema."""
    return migrated_engine(settings.db_url, settings.db_schema)


def _stage(settings: Settings, engine: Engine, chain: Chain, account: LocalAccount, fault: Any) -> DirectoryChanging:
    hook = fault if fault is not None else env_pause_hook(chain)
    return DirectoryChanging(WorkerContext(settings, engine, chain, hook), account)


def change_directory(
    settings: Settings,
    chain: Chain,
    account: LocalAccount,
    action: str,
    call: Call,
    args: dict[str, Any],
    *,
    engine: Engine | None = None,
    timeout: float = 600.0,
    fault: Callable[[str], None] | None = None,
) -> DirectoryChange:
    """Record ``call`` (one of :data:`ACTIONS`) as ``account``'s directory change, or find the
    same one still open, and drive it to done or failed; the row as it ends.

    Raises :class:`DirectoryChangePending` when it is not done after ``timeout`` seconds (it
    stays recorded)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown directory change {action!r}")
    engine = engine or store_engine(settings)
    registry = chain.reads.require_registry()
    chain_id = chain.reads.chain_id()
    data = "0x" + call.data.hex()
    with session_scope(engine) as session:
        row = session.exec(
            select(DirectoryChange)
            .where(DirectoryChange.sender == account.address)
            .where(DirectoryChange.chain_id == chain_id)
            .where(DirectoryChange.registry_address == registry)
            .where(DirectoryChange.call_data == data)
            .where(col(DirectoryChange.state).in_(RevocationState.open_states()))
            .order_by(col(DirectoryChange.id))
        ).first()
        if row is None:
            row = DirectoryChange(
                action=action,
                sender=account.address,
                chain_id=chain_id,
                registry_address=registry,
                call_data=data,
                args=json.dumps(args, sort_keys=True),
            )
            session.add(row)
            session.flush()
            log_event(session, "directory_change.queued", subject=f"directory_change:{row.id}", action=action, **args)
        change_id = int(row.id or 0)
    return _drive(_stage(settings, engine, chain, account, fault), change_id, timeout)


def _drive(stage: DirectoryChanging, change_id: int, timeout: float) -> DirectoryChange:
    """Move the change step by step under the lock of the operator's key (the workers' lock: two
    commands of one operator never hand out one nonce twice) until it ends or ``timeout``."""
    assert stage.account is not None
    locks = AnchorLocks(stage.engine)
    chain_id = stage.client.reads.chain_id()
    start = time.monotonic()
    while True:
        with locks.hold(chain_id, stage.account.address) as mine:
            if mine:  # else another process of this operator is sending: wait for it
                stage._advance(change_id, PassResult())
        with Session(stage.engine) as session:
            row = session.get(DirectoryChange, change_id)
            assert row is not None
            session.expunge(row)
        if row.state not in RevocationState.open_states():
            return row
        if time.monotonic() - start > timeout:
            raise DirectoryChangePending(row, time.monotonic() - start)
        time.sleep(POLL)


def open_changes(engine: Engine, *, sender: str | None = None) -> list[DirectoryChange]:
    """Recorded directory changes still open (of ``sender``), oldest first."""
    with Session(engine) as session:
        query = select(DirectoryChange).where(col(DirectoryChange.state).in_(RevocationState.open_states()))
        if sender is not None:
            query = query.where(DirectoryChange.sender == sender)
        rows = list(session.exec(query.order_by(col(DirectoryChange.id))))
        for r in rows:
            session.expunge(r)
        return rows


def resume(
    settings: Settings,
    chain: Chain,
    account: LocalAccount,
    *,
    engine: Engine | None = None,
    timeout: float = 600.0,
    fault: Callable[[str], None] | None = None,
) -> list[DirectoryChange]:
    """Finish ``account``'s open directory changes on this chain's registry; the rows as they end."""
    engine = engine or store_engine(settings)
    registry = chain.reads.require_registry()
    chain_id = chain.reads.chain_id()
    stage = _stage(settings, engine, chain, account, fault)
    mine = [
        r
        for r in open_changes(engine, sender=account.address)
        if (r.chain_id, r.registry_address) == (chain_id, registry)
    ]
    return [_drive(stage, int(r.id or 0), timeout) for r in mine]


def all_changes(engine: Engine, *, limit: int = 100) -> list[DirectoryChange]:
    """The newest recorded directory changes, newest first."""
    with Session(engine) as session:
        rows = list(session.exec(select(DirectoryChange).order_by(col(DirectoryChange.id).desc()).limit(limit)))
        for r in rows:
            session.expunge(r)
        return rows
