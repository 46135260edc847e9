"""One worker per issuer key: mutual exclusion between anchoring workers (threads or processes)
per issuer key and chain, so two workers never sign for the same batch or race on a key's nonce."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["PROCESS_LOCKS", "AnchorLocks", "ThreadLocks"]


class ThreadLocks:
    """Named locks shared by the threads of one process: the fallback of :class:`AnchorLocks`
    for a database no other process can open (SQLite ``:memory:``)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, name: str) -> threading.Lock:
        """The lock called ``name`` (created on first use)."""
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())


PROCESS_LOCKS = ThreadLocks()
"""The registry of this process: every worker of the process shares it by default."""


class AnchorLocks:
    """Mutual exclusion between workers (threads or processes) per issuer key and chain.

    Whoever holds the lock of a key signs, broadcasts, replaces and tracks that key's
    transactions; other workers skip the key for the pass. So one batch is never signed by two
    workers, and a key's nonce is never handed out twice.

    * PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a dedicated
      connection, keyed by database, schema, chain id and key address. It is released at the end
      of the pass, and by the server when the worker's connection dies (a killed worker never
      leaves a lock behind).
    * SQLite file: ``flock`` on ``<database>.anchor-<chain>-<address>.lock`` next to the database
      file, released by the kernel when the process dies. File locks work between processes of
      one host (SQLite cannot be shared between hosts anyway).
    * anything else (``:memory:``): a lock shared by the threads of this process
      (:data:`PROCESS_LOCKS`, unless another :class:`ThreadLocks` is given).
    """

    def __init__(self, engine: Engine, *, thread_locks: ThreadLocks | None = None) -> None:
        self.engine = engine
        self.thread_locks = thread_locks if thread_locks is not None else PROCESS_LOCKS
        self.dialect = engine.dialect.name
        database = engine.url.database or ""
        self.sqlite_file = Path(database) if self.dialect == "sqlite" and database not in ("", ":memory:") else None

    @contextmanager
    def hold(self, chain_id: int, address: str) -> Iterator[bool]:
        """Try to take the lock of ``address`` on ``chain_id``; yields whether it was taken."""
        name = f"registry-anchor:{chain_id}:{address.lower()}"
        if self.dialect == "postgresql":
            with self._pg(name) as got:
                yield got
        elif self.sqlite_file is not None:
            with self._flock(
                self.sqlite_file.with_name(f"{self.sqlite_file.name}.anchor-{chain_id}-{address.lower()}.lock")
            ) as got:
                yield got
        else:
            lock = self.thread_locks.get(name)
            got = lock.acquire(blocking=False)
            try:
                yield got
            finally:
                if got:
                    lock.release()

    @contextmanager
    def _pg(self, name: str) -> Iterator[bool]:
        key = sa.text("hashtextextended(current_database() || ':' || current_schema() || ':' || :name, 0)")
        conn = self.engine.connect()
        got = False
        try:
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key)), {"name": name}).scalar())
            conn.commit()  # the lock is session-level: it outlives this transaction
            yield got
        finally:
            try:
                if got:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(key)), {"name": name})
                    conn.commit()
            except Exception:  # a broken connection: the server released the lock with it
                conn.invalidate()
            conn.close()

    @contextmanager
    def _flock(self, path: Path) -> Iterator[bool]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
