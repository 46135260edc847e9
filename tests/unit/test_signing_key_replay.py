"""The auditor's replay of the signing-key events (SigningKeySet, SigningKeyCompromised) on
scripted histories: the issuer's signing-key history, and the impossible ones flagged."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from registry.audit.checks import chain_checks
from registry.audit.replay import ACCREDITOR_ROLE, DEFAULT_ADMIN_ROLE, replay
from registry.audit.report import Severity
from registry.audit.state import AuditEvent
from registry.core.signing import public_key_multibase

ADMIN, BODY, KEY, KEY2, MALLORY, OTHER = (to_checksum_address(f"0x{c * 40}") for c in "abcdef")
PK1, PK2, PK3 = ("0x" + c * 64 for c in "123")
NONE = "0x" + "00" * 32


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
        .add(
            "IssuerAdmitted", 102, issuerId=1, key=KEY, admittedBy=BODY, keyId=1, name="Uni", uri="did:web:uni.example"
        )
        .add(
            "IssuerAdmitted",
            103,
            issuerId=2,
            key=OTHER,
            admittedBy=BODY,
            keyId=2,
            name="Other",
            uri="did:web:o.example",
        )
    )


def codes(s: Script) -> list[str]:
    return [f.code for f in replay(s.events).findings]


def test_an_issuers_signing_key_history() -> None:
    s = base().add("SigningKeySet", 110, issuerId=1, publicKey=PK1, previous=NONE)
    s.add("SigningKeySet", 120, issuerId=1, publicKey=PK2, previous=PK1)
    s.add("SigningKeyCompromised", 130, publicKey=PK1, issuerId=1, since=115, by=BODY)
    s.add("SigningKeyCompromised", 131, publicKey=PK1, issuerId=1, since=112, by=KEY)  # earlier, by the issuer
    h = replay(s.events)
    assert h.findings == [] and chain_checks(h) == []
    issuer = h.issuers[1]
    assert issuer.signing_key == PK2
    first, second = issuer.signing_keys
    assert (first.public_key, first.since, first.until, first.compromised_since) == (PK1, 110, 120, 112)
    assert (first.compromise_declared_at, first.compromise_declared_by) == (131, KEY)
    assert (second.public_key, second.since, second.until, second.compromised_since) == (PK2, 120, None, None)
    assert first.multikey == public_key_multibase(bytes.fromhex(PK1[2:])) and first.multikey.startswith("z6Mk")
    kinds = [e.kind for e in issuer.timeline]
    assert kinds == [
        "admitted",
        "signing_key_set",
        "signing_key_set",
        "signing_key_compromised",
        "signing_key_compromised",
    ]
    assert issuer.timeline[2].summary.endswith(f"set, retiring {PK1[:10]}…{PK1[-4:]}")
    assert "declared compromised from 1970-01-01T00:01:52Z by" in issuer.timeline[4].summary
    # The report carries the history (issuer id stays replay state).
    dumped = issuer.model_dump()
    assert dumped["signing_key"] == PK2
    assert dumped["signing_keys"][0] == {
        "public_key": PK1,
        "multikey": first.multikey,
        "since": 110,
        "until": 120,
        "compromised_since": 112,
        "compromise_declared_at": 131,
        "compromise_declared_by": KEY,
    }
    assert h.issuers[2].signing_keys == [] and h.issuers[2].signing_key is None


def test_impossible_signing_key_changes_are_critical() -> None:
    # reused by another issuer, set while suspended, and a wrong `previous`
    s = base().add("SigningKeySet", 110, issuerId=1, publicKey=PK1, previous=NONE)
    assert codes(s.add("SigningKeySet", 111, issuerId=2, publicKey=PK1, previous=NONE)) == [
        "signing-key-set-impossibly"
    ]
    s = base().add("IssuerSuspended", 110, issuerId=1, by=BODY)
    findings = replay(s.add("SigningKeySet", 111, issuerId=1, publicKey=PK1, previous=NONE).events).findings
    assert [(f.code, f.severity, f.check) for f in findings] == [
        ("signing-key-set-impossibly", Severity.CRITICAL, "keys")
    ]
    assert "while suspended since 1970-01-01T00:01:50Z" in findings[0].message
    s = base().add("SigningKeySet", 110, issuerId=1, publicKey=PK1, previous=PK3)
    assert codes(s) == ["signing-key-set-impossibly"]
    assert codes(base().add("SigningKeySet", 110, issuerId=9, publicKey=PK1, previous=NONE)) == ["unknown-issuer"]


def test_who_may_declare_a_signing_key_compromised() -> None:
    s = base().add("SigningKeySet", 110, issuerId=1, publicKey=PK1, previous=NONE)
    assert codes(s.add("SigningKeyCompromised", 120, publicKey=PK1, issuerId=1, since=115, by=MALLORY)) == [
        "directory-change-unauthorized"
    ]
    s = base().add("SigningKeySet", 110, issuerId=1, publicKey=PK1, previous=NONE)
    assert codes(s.add("SigningKeyCompromised", 120, publicKey=PK1, issuerId=1, since=115, by=OTHER)) == [
        "directory-change-unauthorized"  # another issuer's key
    ]
    s = base().add("SigningKeySet", 110, issuerId=1, publicKey=PK1, previous=NONE)
    s.add("KeyRotated", 112, issuerId=1, previousKey=KEY, newKey=KEY2, newKeyId=3, by=KEY)
    assert codes(s.add("SigningKeyCompromised", 120, publicKey=PK1, issuerId=1, since=115, by=KEY)) == [
        "directory-change-unauthorized"  # a retired anchoring key
    ]


def test_compromise_of_a_key_the_issuer_never_set() -> None:
    s = base().add("SigningKeySet", 110, issuerId=1, publicKey=PK1, previous=NONE)
    assert codes(s.add("SigningKeyCompromised", 120, publicKey=PK2, issuerId=1, since=115, by=BODY)) == [
        "unknown-signing-key"
    ]
    s = base().add("SigningKeySet", 110, issuerId=1, publicKey=PK1, previous=NONE)
    assert codes(s.add("SigningKeyCompromised", 120, publicKey=PK1, issuerId=2, since=115, by=BODY)) == [
        "unknown-signing-key"  # the key belongs to issuer 1
    ]
