"""A bulk verification's reports are the one-file path's (real anvil): a mixed batch (valid,
revoked, tampered, expired, superseded, not a credential, a baked PNG, and enough valid files to
take the process-pool path) verified one file at a time with :meth:`Verifier.verify`, in one
:meth:`Verifier.verify_many`, and through :func:`verify_batch` with a process pool gives, file for
file and in order, the same checks, reasons, details and verdicts, and the same learner names."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from registry.issue.badges import baked_png
from registry.verify import Report, VerificationPolicy, Verifier
from registry.verify.parallel import MIN_PARALLEL_FILES, process_pool
from registry.verify.tabular import BatchFile, learner_name, verify_batch
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.cohort import synthetic_cohort

pytestmark = pytest.mark.e2e

CORRECTION = 1


def _same(report: Report) -> dict[str, object]:
    return report.model_dump(mode="json")


def test_a_mixed_batch_gives_the_one_file_reports(registry: Registry) -> None:
    docs = list(synthetic_cohort(5, registry.profile(), ACHIEVEMENT, seed=1313))
    docs[3]["validFrom"], docs[3]["validUntil"] = "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"
    batch = registry.issue(docs=docs)
    loaded = [json.loads(f.read_text()) for f in batch.files]
    registry.client.writes.revoke_credentials(registry.issuer_key, [loaded[1]["proof"][-1]["credentialDigest"]], 1)
    old = loaded[4]["proof"][-1]
    successor = json.loads(registry.issue(1).files[0].read_text())
    new = successor["proof"][-1]
    registry.client.writes.supersede_credential(
        registry.issuer_key,
        old["credentialDigest"],
        new["merkleRoot"],
        new["credentialDigest"],
        new["merklePath"],
        CORRECTION,
        successor["id"],
    )
    tampered = copy.deepcopy(loaded[2])
    tampered["credentialSubject"]["result"][0]["value"] = "A+ (forged)"
    named = {
        "valid.json": batch.files[0].read_bytes(),
        "revoked.json": batch.files[1].read_bytes(),
        "tampered.json": json.dumps(tampered).encode(),
        "expired.json": batch.files[3].read_bytes(),
        "superseded.json": batch.files[4].read_bytes(),
        "notes.json": b'{"hello": "not a credential"}',
        "badge.png": baked_png(loaded[0]),
    }
    many = registry.issue(MIN_PARALLEL_FILES).files
    named.update({f"more/{f.name}": f.read_bytes() for f in many})
    files = [BatchFile(name, data) for name, data in named.items()]
    policy = VerificationPolicy(trusted=registry.trust, now=datetime.now(UTC))
    verifier = Verifier(policy, rpc_url=registry.rpc_url)

    from registry.core.baking import extract_if_baked

    one_by_one = [
        Verifier(policy, rpc_url=registry.rpc_url).verify(extract_if_baked(f.data or b""), f.source) for f in files
    ]
    in_one_call = verifier.verify_many([(f.source, extract_if_baked(f.data or b"")) for f in files])
    serial = verify_batch(Verifier(policy, rpc_url=registry.rpc_url), files)
    pool = process_pool(1)
    assert pool is not None
    with pool:
        pooled = verify_batch(Verifier(policy, rpc_url=registry.rpc_url), files, pool=pool)

    expected = [_same(r) for r in one_by_one]
    assert [_same(r) for r in in_one_call] == expected
    assert [_same(r) for r, _ in serial] == expected
    assert [_same(r) for r, _ in pooled] == expected
    names = [learner_name(extract_if_baked(f.data or b"")) for f in files]
    assert [n for _, n in serial] == names and [n for _, n in pooled] == names
    verdicts = {r.source: (r.verdict.value, [c.name for c in r.checks if c.status.value == "fail"]) for r in one_by_one}
    assert verdicts["valid.json"] == ("VALID", [])
    assert verdicts["badge.png"] == ("VALID", [])
    assert verdicts["revoked.json"] == ("INVALID", ["revocation"])
    assert verdicts["tampered.json"][0] == "INVALID" and "integrity" in verdicts["tampered.json"][1]
    assert verdicts["expired.json"] == ("INVALID", ["validity"])
    assert verdicts["superseded.json"] == ("INVALID", ["revocation"])
    assert one_by_one[4].check("revocation").reason.startswith("superseded by ")
    assert verdicts["notes.json"] == ("INVALID", ["format"])
    assert all(verdicts[f"more/{f.name}"] == ("VALID", []) for f in many)
