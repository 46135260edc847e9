"""The registry's state as :func:`registry.audit.replay.replay` rebuilds it from its events.

:class:`AuditEvent` (a registry event with its block's time), :class:`History` (the issuers, keys,
batches, revocations, supersessions and roles so far, and the findings replaying revealed), what
a handler records at its event (:func:`event_finding`, :func:`timeline_entry`,
:func:`unknown_issuer`) and :func:`select_issuer` (an issuer of a history by id, DID/URI or key
address). Pure: no chain, no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from registry.audit.report import (
    AccreditationBody,
    BatchRecord,
    Finding,
    IssuerTimeline,
    KeyRecord,
    RoleChange,
    Severity,
    SigningKeyRecord,
    SupersessionRecord,
    TimelineEntry,
    iso_time,
)
from registry.errors import NotFound

__all__ = ["AuditEvent", "History", "event_finding", "select_issuer", "timeline_entry", "unknown_issuer"]


@dataclass(frozen=True)
class AuditEvent:
    """A registry event with the time of its block."""

    block: int
    log_index: int
    tx: str
    timestamp: int
    name: str
    args: Mapping[str, Any]


@dataclass
class History:
    """The registry's state rebuilt from its events, plus what replaying them revealed.

    Issuers, keys and batches are the report's own records (``IssuerTimeline`` totals are
    filled in when a report is made).
    """

    issuers: dict[int, IssuerTimeline] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    key_by_id: dict[int, str] = field(default_factory=dict)
    signing_keys: dict[str, SigningKeyRecord] = field(default_factory=dict)
    """Ed25519 signing keys by 0x-hex public key."""
    batches: dict[str, BatchRecord] = field(default_factory=dict)
    revocations: dict[tuple[int, str], tuple[int, int | None, str]] = field(default_factory=dict)
    """Credential revocations by (issuer id, digest): (time, reason if emitted, transaction).
    A supersession is one too (reason 2), as on chain."""
    supersessions: dict[tuple[int, str], SupersessionRecord] = field(default_factory=dict)
    """Supersessions by (issuer id, superseded digest), in the order they happened."""
    roles: dict[str, set[str]] = field(default_factory=dict)
    role_changes: list[RoleChange] = field(default_factory=list)
    accreditors: dict[str, AccreditationBody] = field(default_factory=dict)
    """Every account that held the accreditation-body role, was appointed or admitted an issuer."""
    findings: list[Finding] = field(default_factory=list)
    events: int = 0
    bootstrapped: bool = False
    """Whether the constructor's grant of the first admin role has been seen."""

    def issuer_name(self, issuer_id: int) -> str:
        issuer = self.issuers.get(issuer_id)
        return f"{issuer.name} (issuer {issuer_id})" if issuer else f"unknown issuer {issuer_id}"

    def holds(self, role: str, account: str) -> bool:
        return account in self.roles.get(role, set())

    def body(self, address: str) -> AccreditationBody:
        """The accreditation-body record of ``address`` (an unnamed one is created)."""
        found = self.accreditors.get(address)
        if found is None:
            found = self.accreditors[address] = AccreditationBody(address=address)
        return found

    def body_label(self, address: str) -> str:
        """``NAME (URI) 0x..`` for a body named so far in the history, else the bare address."""
        found = self.accreditors.get(address)
        return f"{found.label} {address}" if found is not None and found.name else address


def event_finding(
    ev: AuditEvent, code: str, severity: Severity, check: str, title: str, message: str, **kw: Any
) -> Finding:
    """A finding located at the event that revealed it."""
    return Finding(
        code=code,
        severity=severity,
        check=check,
        title=title,
        message=message,
        tx=ev.tx,
        block=ev.block,
        at=iso_time(ev.timestamp),
        **kw,
    )


def unknown_issuer(ev: AuditEvent, iid: int, verb: str) -> Finding:
    """The finding for an event naming an issuer the history never admitted."""
    return event_finding(
        ev,
        "unknown-issuer",
        Severity.CRITICAL,
        "governance",
        "event for an unknown issuer",
        f"an event {verb} issuer {iid}, which was never admitted in this registry's history.",
        issuer_id=iid,
    )


def timeline_entry(ev: AuditEvent, kind: str, summary: str, **details: Any) -> TimelineEntry:
    """An issuer's timeline entry located at the event it records."""
    return TimelineEntry(
        at=iso_time(ev.timestamp),
        timestamp=ev.timestamp,
        block=ev.block,
        log_index=ev.log_index,
        tx=ev.tx,
        kind=kind,
        summary=summary,
        details=details,
    )


def select_issuer(h: History, wanted: str) -> int:
    """An issuer by id, DID/URI or any of its key addresses."""
    text = wanted.strip()
    if text.isdigit() and int(text) in h.issuers:
        return int(text)
    if text.startswith("0x") and len(text) == 42:
        key = h.keys.get(to_checksum_address(text))
        if key is not None:
            return key.issuer_id
    for issuer in h.issuers.values():
        if text in (issuer.uri, issuer.did):
            return issuer.issuer_id
    raise NotFound("issuer", f"{wanted!r} (give an issuer id, DID or key address of this registry)")
