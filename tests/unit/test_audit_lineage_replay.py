"""Supersessions in the auditor's replay (issue 14), on scripted event lists (no chain needed).

Each supersession is scripted as the contract emits it: ``CredentialRevoked`` then
``CredentialSuperseded`` in one transaction. The histories here are ones the contract lets happen;
the lineage checks flag the ones a reader should look at.
"""

from __future__ import annotations

from registry.audit.checks import chain_checks
from registry.audit.lineage import attach_keys, lineage_checks, lineages
from registry.audit.reconcile import reconcile
from registry.audit.records import RecordedBatch, RecordedIssuer, RecordedRevocation, StaticRecords
from registry.audit.replay import replay
from registry.audit.report import Severity
from registry.audit.state import AuditEvent, History
from registry.chain.model import SUPERSEDED_REASON
from tests.unit.test_audit_replay import KEY, KEY2, ROOT, ROOT2, Script, anchor, base

A, B, C, D = ("0x" + c * 64 for c in "abcd")


def supersede(
    s: Script, t: int, old: str, new: str, new_id: str, *, kind: int = 1, root: str = ROOT2, reverse: bool = False
) -> Script:
    """The two events of one ``supersedeCredential`` transaction (``reverse``: in the other order)."""
    n = len(s.events)
    args = {
        "CredentialRevoked": {"issuerId": 1, "digest": old},
        "CredentialSuperseded": {
            "issuerId": 1,
            "digest": old,
            "newDigest": new,
            "newRoot": root,
            "kind": kind,
            "newId": new_id,
        },
    }
    names = sorted(args, reverse=reverse)  # CredentialRevoked first, as the contract emits them
    s.events += [AuditEvent(n + 1, i, f"0x{n:064x}", t, name, args[name]) for i, name in enumerate(names)]
    return s


def two_batches() -> Script:
    return anchor(anchor(base(), 110), 111, root=ROOT2)


def codes(h: History) -> list[str]:
    return sorted(f.code for f in h.findings + lineage_checks(h))


def test_a_supersession_is_one_timeline_entry_and_no_plain_revocation() -> None:
    h = replay(supersede(two_batches(), 120, A, B, "urn:uuid:b").events)
    assert codes(h) == [] and chain_checks(h) == []
    entries = h.issuers[1].timeline
    assert [e.kind for e in entries] == ["admitted", "batch_anchored", "batch_anchored", "credential_superseded"]
    assert entries[-1].summary == "credential superseded: 0xaaaaaaaa…aaaa -> urn:uuid:b (correction)"
    assert entries[-1].details == {
        "digest": A,
        "new_digest": B,
        "new_root": ROOT2,
        "new_id": "urn:uuid:b",
        "supersession_kind": "correction",
    }
    assert h.revocations[(1, A)][1] == SUPERSEDED_REASON
    step = h.supersessions[(1, A)]
    assert (step.new_digest, step.new_root, step.kind_name, step.timestamp, step.at) == (
        B,
        ROOT2,
        "correction",
        120,
        "1970-01-01T00:02:00Z",
    )


def test_events_in_the_other_order_give_the_same_history() -> None:
    h = replay(supersede(two_batches(), 120, A, B, "urn:uuid:b", reverse=True).events)
    assert [e.kind for e in h.issuers[1].timeline][-1] == "credential_superseded"
    assert sum(e.kind == "credential_revoked" for e in h.issuers[1].timeline) == 0
    assert h.revocations[(1, A)][1] == SUPERSEDED_REASON and codes(h) == []


def test_steps_are_joined_into_one_line() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b")
    s = supersede(s, 130, B, C, "urn:uuid:c", kind=2)
    h = replay(s.events)
    (line,) = lineages(h, 1)
    assert line.digests == [A, B, C] and not line.current_revoked
    assert [step.kind_name for step in line.steps] == ["correction", "renewal"]
    assert line.path == "0xaaaaaaaa…aaaa -> urn:uuid:b (correction) -> urn:uuid:c (renewal)"
    assert line.model_dump()["path"] == line.path  # the JSON report carries it
    assert codes(h) == [] and lineages(h, 2) == []


def test_a_successor_revoked_later_ends_the_line_in_nothing_valid() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b")
    s.add("CredentialRevoked", 130, issuerId=1, digest=B)
    h = replay(s.events)
    assert codes(h) == ["successor-revoked"]
    (finding,) = lineage_checks(h)
    assert finding.severity is Severity.WARNING and finding.details["new_digest"] == B
    assert finding.details["revoked_at"] == "1970-01-01T00:02:10Z" and finding.root == ROOT2
    assert lineages(h, 1)[0].current_revoked
    assert [e.kind for e in h.issuers[1].timeline][-2:] == ["credential_superseded", "credential_revoked"]


def test_a_successor_revoked_before_it_was_named_is_critical() -> None:
    s = two_batches().add("CredentialRevoked", 115, issuerId=1, digest=B)
    h = replay(supersede(s, 120, A, B, "urn:uuid:b").events)
    (finding,) = lineage_checks(h)
    assert (finding.code, finding.severity) == ("successor-already-revoked", Severity.CRITICAL)
    assert "had been revoked on 1970-01-01T00:01:55Z" in finding.message


def test_a_loop_ends_where_it_comes_back_and_is_flagged() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b", root=ROOT2)
    s = supersede(s, 130, B, A, "urn:uuid:a", root=ROOT)
    h = replay(s.events)
    (line,) = lineages(h, 1)
    assert line.digests == [A, B, A] and line.current_revoked
    (finding,) = lineage_checks(h)
    assert finding.code == "successor-already-revoked" and finding.details["digest"] == B
    assert "superseded by urn:uuid:b" in finding.message


def test_a_successor_whose_batch_was_revoked_later() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b")
    s.add("BatchRevoked", 130, root=ROOT2, keyId=1, reason=1)
    h = replay(s.events)
    assert codes(h) == ["successor-batch-revoked"]
    assert lineages(h, 1)[0].current_revoked


def test_a_revoked_batch_matters_only_where_the_line_ends() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b")
    s = supersede(s, 125, B, C, "urn:uuid:c", kind=2, root=ROOT)
    s.add("BatchRevoked", 130, root=ROOT2, keyId=1, reason=1)  # B's batch: B was renewed already
    h = replay(s.events)
    assert codes(h) == [] and not lineages(h, 1)[0].current_revoked


def test_one_successor_named_for_two_credentials() -> None:
    s = supersede(two_batches(), 120, A, C, "urn:uuid:c")
    s = supersede(s, 125, B, C, "urn:uuid:c")
    s = supersede(s, 130, C, D, "urn:uuid:d", kind=2)
    h = replay(s.events)
    assert [line.digests for line in lineages(h, 1)] == [[A, C, D], [B, C, D]]
    (finding,) = lineage_checks(h)
    assert finding.code == "successor-shared" and finding.details["superseded"] == [A, B]


def test_a_second_supersession_of_a_digest_changes_nothing() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b")
    h = replay(supersede(s, 130, A, C, "urn:uuid:c").events)
    assert h.supersessions[(1, A)].new_digest == B and codes(h) == []
    assert [line.digests for line in lineages(h, 1)] == [[A, B]]


def test_keys_come_from_the_revocation_slots() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b")
    h = replay(s.events)
    attach_keys(h, {(1, A): 1, (1, C): 2})
    assert (h.supersessions[(1, A)].key_id, h.supersessions[(1, A)].key) == (1, KEY)
    assert codes(h) == []


def test_a_retired_key_may_supersede_but_is_flagged() -> None:
    s = two_batches().add("KeyRotated", 115, issuerId=1, previousKey=KEY, newKey=KEY2, newKeyId=2, by=KEY)
    h = replay(supersede(s, 120, A, B, "urn:uuid:b").events)
    attach_keys(h, {(1, A): 1})
    assert codes(h) == ["supersession-by-retired-key"]
    assert lineage_checks(h)[0].details["key"] == KEY


def test_a_rotation_in_the_same_second_after_the_supersession_is_no_finding() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b")
    s.add("KeyRotated", 120, issuerId=1, previousKey=KEY, newKey=KEY2, newKeyId=2, by=KEY)
    h = replay(s.events)
    attach_keys(h, {(1, A): 1})
    assert codes(h) == []


def test_a_supersession_after_the_keys_declared_compromise_is_critical() -> None:
    s = supersede(two_batches(), 120, A, B, "urn:uuid:b")
    s.add("KeyRotated", 125, issuerId=1, previousKey=KEY, newKey=KEY2, newKeyId=2, by=KEY)
    s.add("KeyCompromised", 130, key=KEY, issuerId=1, since=119, by=KEY2)
    h = replay(s.events)
    attach_keys(h, {(1, A): 1})
    (finding,) = lineage_checks(h)
    assert (finding.code, finding.severity, finding.details["key"]) == (
        "supersession-after-compromise",
        Severity.CRITICAL,
        KEY,
    )


def test_a_supersession_for_an_unknown_issuer() -> None:
    s = two_batches()
    args = {"issuerId": 9, "digest": A, "newDigest": B, "newRoot": ROOT2, "kind": 1, "newId": "x"}
    s.events.append(AuditEvent(99, 0, "0x" + "99" * 32, 130, "CredentialSuperseded", args))
    h = replay(s.events)
    assert [f.code for f in h.findings] == ["unknown-issuer"] and h.supersessions == {}


def records(*, batches: tuple[str, ...] = (ROOT, ROOT2), superseded: tuple[str, ...] = ()) -> StaticRecords:
    """The issuer's records: its anchored batches, and its supersessions as reason-2 revocations."""
    return StaticRecords(
        issuer_list=[RecordedIssuer(db_id=7, name="Uni", did="did:web:uni.example", key_address=KEY)],
        batch_list=[RecordedBatch(7, root, 3, "confirmed") for root in batches],
        revocation_list=[RecordedRevocation(7, ROOT, digest, SUPERSEDED_REASON) for digest in superseded],
    )


def reconciled(h: History, recorded: StaticRecords) -> list[str]:
    return [f.code for f in reconcile(h, recorded, chain_id=1, registry="0x" + "00" * 20)[0]]


def test_a_supersession_the_records_hold_reconciles() -> None:
    h = replay(supersede(two_batches(), 120, A, B, "urn:uuid:b").events)
    assert reconciled(h, records(superseded=(A,))) == []


def test_a_supersession_the_records_do_not_hold() -> None:
    h = replay(supersede(two_batches(), 120, A, B, "urn:uuid:b").events)
    findings, _summary = reconcile(h, records(), chain_id=1, registry="0x" + "00" * 20)
    assert [f.code for f in findings] == ["chain-supersession-unknown-to-db"]
    assert findings[0].details == {"digest": A, "new_digest": B, "new_id": "urn:uuid:b"}


def test_a_successor_in_a_batch_the_records_do_not_hold() -> None:
    h = replay(supersede(two_batches(), 120, A, B, "urn:uuid:b").events)
    assert reconciled(h, records(batches=(ROOT,), superseded=(A,))) == [
        "rogue-root",
        "supersession-successor-unrecorded",
    ]
