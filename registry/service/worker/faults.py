"""Fault injection for the anchoring worker: the named steps a hook is called at, the crash a
test hook raises, and the pause hook of the crash harness (development chains only)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from registry.chain.adapter import Chain
from registry.chain.networks import DEV_CHAIN_IDS

__all__ = [
    "DIRECTORY_CHANGE_FAULT_POINTS",
    "EXPIRING_FAULT_POINTS",
    "FAULT_POINTS",
    "KEY_CHANGE_FAULT_POINTS",
    "PAUSE_AT_ENV",
    "PAUSE_FILE_ENV",
    "REVOCATION_FAULT_POINTS",
    "SUPERSESSION_FAULT_POINTS",
    "TRACE_FILE_ENV",
    "WorkerCrash",
    "env_pause_hook",
]

FAULT_POINTS = ("sealed", "signed", "sent", "broadcast", "mined", "releasing", "confirmed", "revoked")
"""Named points where a fault-injection hook is called (after the step's commit, except
``sent``: after broadcasting, before recording it, and ``releasing``: after the final checks
against the chain, before the transaction that confirms the batch and releases its files commits).
``replaced`` (a fee replacement recorded, not yet sent) is called only when a transaction is
stuck."""

REVOCATION_FAULT_POINTS = (
    "revocation_signed",
    "revocation_sent",
    "revocation_broadcast",
    "revocation_mined",
    "revoked",
)
"""The revocation's steps, like the anchor's: recorded (not sent), sent (not recorded as sent),
recorded as sent, mined (confirmations pending), done. ``replaced`` is shared with anchors."""

SUPERSESSION_FAULT_POINTS = (
    "supersession_signed",
    "supersession_sent",
    "supersession_broadcast",
    "supersession_mined",
    "superseded",
)
"""A correction's or renewal's ``supersedeCredential``, like a revocation's steps: recorded (not
sent), sent (not recorded as sent), recorded as sent, mined (confirmations pending), done (old
credential revoked, new one released). ``replaced`` is shared with anchors and revocations."""

KEY_CHANGE_FAULT_POINTS = (
    "key_change_signed",
    "key_change_sent",
    "key_change_broadcast",
    "key_change_mined",
    "key_changed",
)
"""The issuer's ``setSigningKey`` before its first anchor with a new key, like a revocation's
steps: recorded (not sent), sent (not recorded as sent), recorded as sent, mined (confirmations
pending), done (the anchor may be signed). ``replaced`` is shared with anchors."""

DIRECTORY_CHANGE_FAULT_POINTS = (
    "directory_change_signed",
    "directory_change_sent",
    "directory_change_broadcast",
    "directory_change_mined",
    "directory_changed",
)
"""An operator's directory change (``registry accreditor``, ``registry issuer admit``), driven by
the CLI process that holds the operator's key, like a revocation's steps: recorded (not sent),
sent (not recorded as sent), recorded as sent, mined (confirmations pending), done."""

EXPIRING_FAULT_POINTS = ("expiring_claimed",)
"""The ``credential.expiring`` scan: credentials claimed and their outbox rows written, not yet
committed (a crash there undoes both; called only when an issuer subscribes to the event)."""

PAUSE_AT_ENV = "REGISTRY_WORKER_PAUSE_AT"
PAUSE_FILE_ENV = "REGISTRY_WORKER_PAUSE_FILE"
TRACE_FILE_ENV = "REGISTRY_WORKER_TRACE_FILE"


def env_pause_hook(client: Chain) -> Callable[[str], None] | None:
    """The fault-injection hook of the crash harness (``tests/reliability_harness.py``).

    With ``REGISTRY_WORKER_PAUSE_AT=step[,step...]`` (or ``*``) and ``REGISTRY_WORKER_PAUSE_FILE``,
    a worker reaching one of those steps appends ``"<step> <pid>"`` to the file and then sleeps
    until it is killed, so the harness can SIGKILL it exactly there. With
    ``REGISTRY_WORKER_TRACE_FILE`` it appends every step it passes to that file (and goes on), so a
    kill at a random moment is known to have struck after the last step written; it writes
    ``start`` first, once the worker is built (so a harness can time a kill from then). Honoured
    on development chains only (31337, 1337): a production worker never pauses or traces.
    """
    steps = {s.strip() for s in os.environ.get(PAUSE_AT_ENV, "").split(",") if s.strip()}
    report = os.environ.get(PAUSE_FILE_ENV)
    trace = os.environ.get(TRACE_FILE_ENV)
    pausing = bool(steps and report)
    if trace and client.reads.chain_id() not in DEV_CHAIN_IDS:
        trace = None
    if not pausing and not trace:
        return None
    if trace:
        with open(trace, "a", encoding="utf-8") as fh:
            fh.write("start\n")

    def hook(step: str) -> None:
        if client.reads.chain_id() not in DEV_CHAIN_IDS:
            return
        if trace:
            with open(trace, "a", encoding="utf-8") as fh:
                fh.write(f"{step}\n")  # a SIGKILL keeps what write() handed to the kernel
        if not pausing or ("*" not in steps and step not in steps):
            return
        assert report is not None
        with open(report, "a", encoding="utf-8") as fh:
            fh.write(f"{step} {os.getpid()}\n")
            fh.flush()
            os.fsync(fh.fileno())
        while True:  # until SIGKILL
            time.sleep(3600)

    return hook


class WorkerCrash(BaseException):
    """Raised by a fault hook to simulate the process dying at a named step.

    A ``BaseException`` so that no recovery code catches it: it behaves like a kill.
    """

    def __init__(self, step: str) -> None:
        self.step = step
        super().__init__(f"simulated crash at {step}")
