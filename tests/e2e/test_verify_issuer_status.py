"""Issuer-status failure paths: suspension, key rotation and key compromise, on a real anvil."""

from __future__ import annotations

import json
from typing import Any

from registry.chain import calls
from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry


def verify(registry: Registry, path: Any) -> Any:
    return Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(
        json.loads(path.read_text())
    )


def advance(registry: Registry, seconds: int) -> None:
    registry.client.rpc.batch([("evm_increaseTime", [seconds]), ("evm_mine", [])])


def test_rotation_keeps_old_batches_and_compromise_invalidates_later_ones(
    registry: Registry,
) -> None:
    from registry.chain.devkeys import dev_account

    client = registry.client
    old_key = registry.issuer_key
    before = registry.issue(2)  # anchored with the old key, before the compromise
    advance(registry, 100)
    after = registry.issue(2)  # anchored with the old key, after the compromise time
    compromise_time = client.reads.batches([after.root])[after.root].anchored_at - 10  # type: ignore[union-attr]

    new_key = dev_account("issuer-rotated", 31337)
    client.writes.transact(old_key, calls.rotate_key(new_key.address))
    rotated = registry.issue(2, key=new_key)
    # Rotation alone keeps every batch valid.
    for batch in (before, after, rotated):
        assert verify(registry, batch.files[0]).verdict is Verdict.VALID

    client.writes.transact(new_key, calls.declare_key_compromised(old_key.address, compromise_time))
    assert verify(registry, before.files[0]).verdict is Verdict.VALID
    report = verify(registry, after.files[0])
    assert report.verdict is Verdict.INVALID
    issuer = report.check("issuer")
    assert issuer.status is CheckStatus.FAIL
    assert "declared compromised" in issuer.reason
    assert verify(registry, rotated.files[0]).verdict is Verdict.VALID
    # the contract's own view agrees
    proof = json.loads(after.files[0].read_text())["proof"][-1]
    assert client.reads.check_credential(proof["merkleRoot"], proof["credentialDigest"], proof["merklePath"]) == 5


def test_suspended_issuer_fails_issuer_check_and_reinstatement_restores(registry: Registry) -> None:
    client = registry.client
    batch = registry.issue(2, key=registry.issuer2_key, issuer=registry.profile(2))
    assert verify(registry, batch.files[0]).verdict is Verdict.VALID
    client.writes.transact(registry.accreditor, calls.suspend_issuer(registry.issuer2_id))
    report = verify(registry, batch.files[0])
    assert report.verdict is Verdict.INVALID
    issuer = report.check("issuer")
    assert issuer.status is CheckStatus.FAIL
    assert "suspended" in issuer.reason
    proof = json.loads(batch.files[0].read_text())["proof"][-1]
    assert client.reads.check_credential(proof["merkleRoot"], proof["credentialDigest"], proof["merklePath"]) == 4
    client.writes.transact(registry.accreditor, calls.reinstate_issuer(registry.issuer2_id))
    assert verify(registry, batch.files[0]).verdict is Verdict.VALID
