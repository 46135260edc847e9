"""Issuer directory: roles, admission, suspension and reinstatement."""

from __future__ import annotations

import pytest
from ape.exceptions import ContractLogicError
from conftest import ISSUER_SUSPENDED, VALID, block_time, events, expect_error
from eth_utils import keccak

ZERO = "0x0000000000000000000000000000000000000000"


def test_constructor_grants_admin_role_only(project, admin, registry, stranger):
    assert registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), admin)
    assert not registry.hasRole(registry.ACCREDITOR_ROLE(), admin)
    assert registry.ACCREDITOR_ROLE() == keccak(text="ACCREDITOR_ROLE")
    # Ape does not decode custom errors of a failed deployment: compare the raw revert data.
    with pytest.raises(ContractLogicError) as info:
        project.CredentialRegistry.deploy(ZERO, sender=stranger)
    assert str(info.value) == "0x" + keccak(text="InvalidKey(address)")[:4].hex() + "00" * 32


def test_admin_grants_and_revokes_accreditor(registry, admin, stranger, spare_keys):
    role = registry.ACCREDITOR_ROLE()
    registry.grantRole(role, stranger, sender=admin)
    registry.admitIssuer("New", "did:web:new.example", spare_keys[0], sender=stranger)
    registry.revokeRole(role, stranger, sender=admin)
    with expect_error(registry.AccessControlUnauthorizedAccount, account=stranger, neededRole=role):
        registry.admitIssuer("New 2", "did:web:new2.example", spare_keys[1], sender=stranger)


def test_only_admin_grants_roles(registry, accreditor, stranger):
    with expect_error(registry.AccessControlUnauthorizedAccount, account=accreditor):
        registry.grantRole(registry.ACCREDITOR_ROLE(), stranger, sender=accreditor)


def test_admit_issuer_records_directory_entry(chain, registry, accreditor, spare_keys):
    key = spare_keys[0]
    receipt = registry.admitIssuer("Training Co", "did:web:training.example", key, sender=accreditor)
    assert receipt.return_value == 3
    now = block_time(chain, receipt)
    assert registry.issuerCount() == 3
    assert registry.keyCount() == 3
    name, uri, admitted_by, admitted_at, suspended_at, active_key = registry.issuer(3)
    assert (name, uri) == ("Training Co", "did:web:training.example")
    assert admitted_by == accreditor.address
    assert admitted_at == now
    assert suspended_at == 0
    assert active_key == key.address
    assert registry.issuerIdByUri("did:web:training.example") == 3
    assert registry.issuerIdByUri("training.example") == 0
    assert tuple(registry.keyInfo(key)) == (3, 3, now, 0, 0, False)
    assert registry.keyAddress(3) == key.address
    assert events(receipt, registry.IssuerAdmitted) == [
        {
            "issuerId": 3,
            "key": key.address,
            "admittedBy": accreditor.address,
            "keyId": 3,
            "name": "Training Co",
            "uri": "did:web:training.example",
        }
    ]


def test_fixture_issuers_are_sequential(registry, issuer, other_issuer, accreditor, second_accreditor):
    assert registry.issuer(1)[:3] == (
        "University of Example",
        "did:web:uni.example",
        accreditor.address,
    )
    assert registry.issuer(2)[:3] == ("Other College", "did:web:other.example", second_accreditor.address)
    assert registry.keyInfo(issuer)[:2] == (1, 1)
    assert registry.keyInfo(other_issuer)[:2] == (2, 2)


def test_unknown_entries_read_as_zero(registry, stranger):
    assert tuple(registry.issuer(99)) == ("", "", ZERO, 0, 0, ZERO)
    assert tuple(registry.keyInfo(stranger)) == (0, 0, 0, 0, 0, False)
    assert registry.keyAddress(0) == ZERO
    assert registry.keyAddress(99) == ZERO
    assert registry.issuerIdByUri("did:web:nobody.example") == 0


@pytest.mark.parametrize("who", ["stranger", "issuer", "admin"])
def test_admit_requires_accreditor_role(request, registry, spare_keys, who):
    caller = request.getfixturevalue(who)
    with expect_error(
        registry.AccessControlUnauthorizedAccount,
        account=caller,
        neededRole=registry.ACCREDITOR_ROLE(),
    ):
        registry.admitIssuer("X", "did:web:x.example", spare_keys[0], sender=caller)


def test_admit_rejects_empty_name_and_uri(registry, accreditor, spare_keys):
    with expect_error(registry.EmptyName):
        registry.admitIssuer("", "did:web:x.example", spare_keys[0], sender=accreditor)
    with expect_error(registry.EmptyUri):
        registry.admitIssuer("X", "", spare_keys[0], sender=accreditor)


def test_admit_rejects_duplicate_uri(registry, accreditor, spare_keys):
    with expect_error(registry.UriAlreadyRegistered, uri="did:web:other.example", issuerId=2):
        registry.admitIssuer("Impostor", "did:web:other.example", spare_keys[0], sender=accreditor)


def test_admit_rejects_zero_and_used_keys(registry, accreditor, issuer):
    with expect_error(registry.InvalidKey, key=ZERO):
        registry.admitIssuer("X", "did:web:x.example", ZERO, sender=accreditor)
    with expect_error(registry.KeyAlreadyRegistered, key=issuer):
        registry.admitIssuer("X", "did:web:x.example", issuer, sender=accreditor)


def test_suspend_and_reinstate(chain, registry, accreditor, second_accreditor, issuer, anchored):
    root, values, proofs, _ = anchored
    receipt = registry.suspendIssuer(1, sender=second_accreditor)
    assert events(receipt, registry.IssuerSuspended) == [{"issuerId": 1, "by": second_accreditor.address}]
    assert registry.issuer(1)[4] == block_time(chain, receipt)
    assert registry.keyInfo(issuer)[5] is True
    assert registry.checkCredential(root, values[0], proofs[0]) == ISSUER_SUSPENDED
    with expect_error(registry.SuspendedIssuer, issuerId=1):
        registry.anchor(keccak(text="new"), 1, b"\x00" * 32, sender=issuer)

    receipt = registry.reinstateIssuer(1, sender=accreditor)
    assert events(receipt, registry.IssuerReinstated) == [{"issuerId": 1, "by": accreditor.address}]
    assert registry.issuer(1)[4] == 0
    assert registry.keyInfo(issuer)[5] is False
    assert registry.checkCredential(root, values[0], proofs[0]) == VALID
    registry.anchor(keccak(text="new"), 1, b"\x00" * 32, sender=issuer)


def test_suspended_issuer_may_still_revoke(registry, accreditor, issuer, anchored):
    root, values, _, _ = anchored
    registry.suspendIssuer(1, sender=accreditor)
    registry.revokeCredential(values[0], 1, sender=issuer)
    registry.revokeCredentials(values[1:3], 1, sender=issuer)
    registry.revokeBatch(root, 1, sender=issuer)


def test_suspension_errors(registry, accreditor, stranger, issuer):
    with expect_error(registry.UnknownIssuer, issuerId=7):
        registry.suspendIssuer(7, sender=accreditor)
    with expect_error(registry.UnknownIssuer, issuerId=0):
        registry.reinstateIssuer(0, sender=accreditor)
    with expect_error(registry.IssuerNotSuspended, issuerId=1):
        registry.reinstateIssuer(1, sender=accreditor)
    registry.suspendIssuer(1, sender=accreditor)
    with expect_error(registry.SuspendedIssuer, issuerId=1):
        registry.suspendIssuer(1, sender=accreditor)
    for caller in (stranger, issuer):
        with expect_error(registry.AccessControlUnauthorizedAccount, account=caller):
            registry.reinstateIssuer(1, sender=caller)
        with expect_error(registry.AccessControlUnauthorizedAccount, account=caller):
            registry.suspendIssuer(2, sender=caller)


def test_suspension_does_not_affect_other_issuers(registry, accreditor, other_issuer):
    registry.suspendIssuer(1, sender=accreditor)
    registry.anchor(keccak(text="other"), 3, b"\x00" * 32, sender=other_issuer)
