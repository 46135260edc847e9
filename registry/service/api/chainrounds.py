"""The chain parts of concurrent verify requests, read together in rounds.

A request to ``POST /v1/verify`` whose offline checks are done waits here with the others for the
same verifier and registry. The first starts a round in a worker thread with every request then
waiting; those that arrive meanwhile wait for the next round, which starts as soon as that one
ends. A round is one thread hand-off and one set of chain reads (one head, one snapshot) for all
its requests instead of one each, and it reads at a head learned after the last of them arrived,
so each answer is as fresh as a read of its own (:mod:`registry.chain.headcache`). Rounds of
different registries run side by side (up to the limiter's threads): a slow RPC holds up only the
requests for its own registry, as before.
"""

from __future__ import annotations

import asyncio

import anyio
import anyio.to_thread

from registry.verify import Report, Verifier
from registry.verify.checks import Item

__all__ = ["ChainRounds"]

_Key = tuple[Verifier, int, str]
_Waiter = tuple[Item, float, "asyncio.Future[Report]"]


def _complete(verifier: Verifier, items: list[Item], asked_at: float) -> list[Report]:
    return [report for report, _ in verifier.complete(items, asked_at=asked_at)]


class ChainRounds:
    """Rounds of chain parts, per verifier and registry; used from the event loop only."""

    def __init__(self) -> None:
        self._waiting: dict[_Key, list[_Waiter]] = {}
        self._rounds: dict[_Key, asyncio.Task[None]] = {}  # the task reading each key's rounds
        self.rounds = 0  # for tests and benchmarks
        self.reports = 0

    async def report(self, verifier: Verifier, item: Item, asked_at: float, limiter: anyio.CapacityLimiter) -> Report:
        """The report of ``item`` (offline checks done) once its round has read the chain;
        ``asked_at``: the :func:`time.monotonic` moment its request arrived."""
        group = verifier.chain_group(item)
        if group is None:  # nothing to read on the chain: the report is made here
            return verifier.complete([item])[0][0]
        key = (verifier, *group)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Report] = loop.create_future()
        self._waiting.setdefault(key, []).append((item, asked_at, future))
        task = self._rounds.get(key)
        if task is None or task.done() or task.get_loop() is not loop:
            self._rounds[key] = loop.create_task(self._run(key, limiter))
        return await future

    async def _run(self, key: _Key, limiter: anyio.CapacityLimiter) -> None:
        """Rounds for ``key`` until nobody waits (the waiters of each popped at its start)."""
        verifier = key[0]
        try:
            while batch := self._waiting.pop(key, None):
                asked_at = max(asked for _, asked, _ in batch)
                try:
                    reports = await anyio.to_thread.run_sync(
                        _complete, verifier, [item for item, _, _ in batch], asked_at, limiter=limiter
                    )
                except Exception as exc:  # each request of the round fails as it would alone
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:  # cancelled (the service stops): so are its requests
                    for _, _, future in batch:
                        future.cancel()
                    raise
                self.rounds += 1
                self.reports += len(batch)
                for (_, _, future), report in zip(batch, reports, strict=True):
                    if not future.done():  # a request whose client left was cancelled
                        future.set_result(report)
        finally:
            if self._rounds.get(key) is asyncio.current_task():
                del self._rounds[key]
                for _, _, future in self._waiting.pop(key, []):  # left waiting only if cancelled
                    future.cancel()
