"""The auditor's replay and chain-only checks on scripted event lists (no chain needed).

These histories are impossible on the real contract (it refuses them), which is exactly why the
auditor checks them anyway: a different contract at the address, or a forged history, shows.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_utils import to_checksum_address

from registry.audit.checks import chain_checks
from registry.audit.records import RecordedBatch, RecordedIssuer, RecordedRevocation, StaticRecords
from registry.audit.replay import ACCREDITOR_ROLE, DEFAULT_ADMIN_ROLE, replay
from registry.audit.report import Severity
from registry.audit.state import AuditEvent

ADMIN, BODY, KEY, KEY2, MALLORY = (to_checksum_address(f"0x{c * 40}") for c in "abcde")
ROOT, ROOT2 = "0x" + "11" * 32, "0x" + "22" * 32
META = "0x" + "33" * 32


class Script:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def add(self, event: str, t: int, /, **args: Any) -> Script:
        n = len(self.events)
        self.events.append(AuditEvent(block=n + 1, log_index=0, tx=f"0x{n:064x}", timestamp=t, name=event, args=args))
        return self


def base() -> Script:
    return (
        Script()
        .add("RoleGranted", 100, role=DEFAULT_ADMIN_ROLE, account=ADMIN, sender=ADMIN)
        .add("RoleGranted", 101, role=ACCREDITOR_ROLE, account=BODY, sender=ADMIN)
        .add("IssuerAdmitted", 102, issuerId=1, key=KEY, admittedBy=BODY, keyId=1, name="Uni", uri="uni.example")
    )


def anchor(s: Script, t: int, root: str = ROOT, count: int = 3, key_id: int = 1) -> Script:
    return s.add("BatchAnchored", t, root=root, issuerId=1, keyId=key_id, count=count, metadataHash=META)


def test_a_normal_history_has_no_findings() -> None:
    s = anchor(base(), 110)
    s.add("KeyRotated", 120, issuerId=1, previousKey=KEY, newKey=KEY2, newKeyId=2, by=KEY)
    s.add("CredentialRevoked", 130, issuerId=1, digest="0x" + "44" * 32)
    s.add("BatchRevoked", 140, root=ROOT, keyId=2, reason=1)
    h = replay(s.events)
    assert h.findings == [] and chain_checks(h) == []
    assert [e.kind for e in h.issuers[1].timeline] == [
        "admitted",
        "batch_anchored",
        "key_rotated",
        "credential_revoked",
        "batch_revoked",
    ]
    assert h.keys[KEY].retired_at == 120


def test_role_granted_by_a_non_admin_is_critical() -> None:
    s = base().add("RoleGranted", 105, role=ACCREDITOR_ROLE, account=MALLORY, sender=MALLORY)
    codes = [f.code for f in replay(s.events).findings]
    assert codes == ["role-change-unauthorized"]


def test_renouncing_a_role_is_allowed_but_revoking_anothers_is_not() -> None:
    s = base().add("RoleRevoked", 105, role=ACCREDITOR_ROLE, account=BODY, sender=BODY)
    assert replay(s.events).findings == []
    s = base().add("RoleRevoked", 105, role=DEFAULT_ADMIN_ROLE, account=ADMIN, sender=MALLORY)
    assert [f.code for f in replay(s.events).findings] == ["role-change-unauthorized"]


def test_unknown_role_is_a_warning() -> None:
    s = base().add("RoleGranted", 105, role="0x" + "99" * 32, account=MALLORY, sender=ADMIN)
    findings = replay(s.events).findings
    assert [(f.code, f.severity) for f in findings] == [("unknown-role", Severity.WARNING)]


def test_directory_change_by_a_non_accreditor_is_critical() -> None:
    s = base().add("IssuerSuspended", 105, issuerId=1, by=MALLORY)
    s.add("KeyRotated", 106, issuerId=1, previousKey=KEY, newKey=KEY2, newKeyId=2, by=MALLORY)
    assert [f.code for f in replay(s.events).findings] == ["directory-change-unauthorized"] * 2


def test_anchor_while_suspended_and_with_a_retired_key() -> None:
    s = base().add("IssuerSuspended", 105, issuerId=1, by=BODY)
    anchor(s, 106)
    s.add("IssuerReinstated", 107, issuerId=1, by=BODY)
    s.add("KeyRotated", 108, issuerId=1, previousKey=KEY, newKey=KEY2, newKeyId=2, by=BODY)
    anchor(s, 109, root=ROOT2, key_id=1)
    findings = replay(s.events).findings
    assert [(f.code, f.root) for f in findings] == [
        ("anchor-while-suspended", ROOT),
        ("anchor-with-retired-key", ROOT2),
    ]
    assert all(f.severity is Severity.CRITICAL for f in findings)


def test_compromise_declared_later_catches_earlier_anchors_after_since() -> None:
    s = anchor(base(), 110)
    anchor(s, 200, root=ROOT2)
    s.add("KeyCompromised", 300, key=KEY, issuerId=1, since=150, by=BODY)
    findings = chain_checks(replay(s.events))
    assert [f.code for f in findings] == ["anchor-after-compromise"]
    assert findings[0].details["roots"] == [ROOT2]
    assert findings[0].details["compromised_since"] == 150


def test_revocation_of_an_unknown_root() -> None:
    s = base().add("BatchRevoked", 110, root=ROOT, keyId=1, reason=0)
    s.add("CredentialRevoked", 111, root=ROOT2, digest="0x" + "55" * 32, reason=0)  # older event shape
    findings = replay(s.events).findings
    assert [(f.code, f.root) for f in findings] == [
        ("revocation-unknown-root", ROOT),
        ("revocation-unknown-root", ROOT2),
    ]


def test_count_disagreeing_with_known_metadata() -> None:
    h = replay(anchor(base(), 110, count=3).events)
    good = json.dumps({"count": 3}).encode()
    bad = json.dumps({"count": 5}).encode()
    assert chain_checks(h, {META: good}) == []
    findings = chain_checks(h, {META: bad})
    assert [f.code for f in findings] == ["count-metadata-mismatch"]
    assert findings[0].details == {"chain_count": 3, "metadata_count": 5}
    assert [f.code for f in chain_checks(h, {META: b"not json"})] == ["metadata-unreadable"]


def test_reconcile_with_static_records() -> None:
    from registry.audit.reconcile import reconcile

    h = replay(anchor(base(), 110).events)
    issuer = RecordedIssuer(db_id=7, name="Uni", did="did:web:uni.example", key_address=KEY)
    records = StaticRecords(
        issuer_list=[issuer],
        batch_list=[RecordedBatch(7, ROOT, 3, "confirmed"), RecordedBatch(7, ROOT2, 1, "pending")],
        revocation_list=[RecordedRevocation(7, ROOT, "0x" + "66" * 32, 1)],
    )
    findings, summary = reconcile(h, records, chain_id=1, registry="0x" + "00" * 20)
    assert [f.code for f in findings] == ["db-revocation-not-on-chain"]  # the pending batch is not claimed
    assert summary["batches_recorded"] == 1


@pytest.mark.parametrize("wanted", ["1", "uni.example", "did:web:uni.example", KEY.lower()])
def test_issuer_selection(wanted: str) -> None:
    from registry.audit.state import select_issuer

    assert select_issuer(replay(base().events), wanted) == 1
