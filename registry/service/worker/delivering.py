"""The webhook stage of the worker: sends the outbox's due deliveries (claimed, signed, retried
with backoff; see :mod:`registry.service.webhooks`)."""

from __future__ import annotations

import logging

from registry.service.webhooks import deliver_due
from registry.service.worker.stage import PassResult, Stage

__all__ = ["Delivering"]

log = logging.getLogger("registry.service.worker")


class Delivering(Stage):
    """Runs after the chain stages of a pass; a receiver's failure never stops the pass, and a pass
    starts no new request after 5 s (a slow receiver delays anchoring by at most that plus one
    timeout)."""

    def run(self, result: PassResult) -> int:
        try:
            return deliver_due(
                self.engine,
                timeout=self.settings.webhook_timeout,
                max_attempts=self.settings.webhook_max_attempts,
                budget=5.0,
            )
        except Exception as exc:  # the database is down: the chain stages report it too
            log.warning("webhook delivery pass failed: %s", exc)
            result.errors.append(f"webhooks: {exc}")
            return 0
