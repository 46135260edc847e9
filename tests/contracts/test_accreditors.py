"""Accreditation bodies: appointment with a directory entry (onboardAccreditor), the entry view
(accreditor), updates, and what a role revocation keeps."""

from __future__ import annotations

import pytest
from conftest import block_time, events, expect_error
from eth_utils import keccak

ZERO = "0x0000000000000000000000000000000000000000"
ANECA = ("Agencia Nacional de Evaluación", "did:web:aneca.example")


def test_onboard_grants_role_and_records_entry(chain, registry, admin, stranger, spare_keys):
    role = registry.ACCREDITOR_ROLE()
    receipt = registry.onboardAccreditor(*ANECA, stranger, sender=admin)
    assert registry.hasRole(role, stranger)
    assert tuple(registry.accreditor(stranger)) == (*ANECA, block_time(chain, receipt))
    # RoleGranted first (OpenZeppelin's _grantRole), then the entry.
    assert events(receipt, registry.RoleGranted) == [
        {"role": role, "account": stranger.address, "sender": admin.address}
    ]
    assert events(receipt, registry.AccreditorAppointed) == [
        {"account": stranger.address, "name": ANECA[0], "uri": ANECA[1]}
    ]
    registry.admitIssuer("New", "did:web:new.example", spare_keys[0], sender=stranger)
    assert registry.issuer(3)[2] == stranger.address


def test_unnamed_body_and_unknown_address_read_empty(registry, accreditor, stranger):
    # `accreditor` was granted the role with plain grantRole (conftest): it has no entry.
    assert tuple(registry.accreditor(accreditor)) == ("", "", 0)
    assert tuple(registry.accreditor(stranger)) == ("", "", 0)
    assert tuple(registry.accreditor(ZERO)) == ("", "", 0)


def test_naming_a_body_that_holds_the_role_emits_no_role_event(chain, registry, admin, accreditor):
    receipt = registry.onboardAccreditor(*ANECA, accreditor, sender=admin)
    assert events(receipt, registry.RoleGranted) == []
    assert events(receipt, registry.AccreditorAppointed) == [
        {"account": accreditor.address, "name": ANECA[0], "uri": ANECA[1]}
    ]
    assert tuple(registry.accreditor(accreditor)) == (*ANECA, block_time(chain, receipt))
    # the issuer it admitted before it was named is unchanged, and now nameable
    assert registry.issuer(1)[2] == accreditor.address


def test_update_replaces_name_uri_and_time(chain, registry, admin, stranger):
    first = registry.onboardAccreditor(*ANECA, stranger, sender=admin)
    chain.mine(1, deltatime=100)
    second = registry.onboardAccreditor("ANECA", "did:web:www.aneca.example", stranger, sender=admin)
    assert block_time(chain, second) >= block_time(chain, first) + 100
    assert tuple(registry.accreditor(stranger)) == ("ANECA", "did:web:www.aneca.example", block_time(chain, second))
    assert events(second, registry.AccreditorAppointed) == [
        {"account": stranger.address, "name": "ANECA", "uri": "did:web:www.aneca.example"}
    ]


def test_two_addresses_may_share_a_body_uri(registry, admin, stranger, spare_keys):
    registry.onboardAccreditor(*ANECA, stranger, sender=admin)
    registry.onboardAccreditor("ANECA (second signer)", ANECA[1], spare_keys[0], sender=admin)
    assert registry.accreditor(spare_keys[0])[1] == registry.accreditor(stranger)[1] == ANECA[1]


def test_revoking_the_role_keeps_the_entry(chain, registry, admin, stranger, spare_keys):
    role = registry.ACCREDITOR_ROLE()
    appointed = registry.onboardAccreditor(*ANECA, stranger, sender=admin)
    registry.admitIssuer("New", "did:web:new.example", spare_keys[0], sender=stranger)
    registry.revokeRole(role, stranger, sender=admin)
    assert not registry.hasRole(role, stranger)
    assert tuple(registry.accreditor(stranger)) == (*ANECA, block_time(chain, appointed))
    with expect_error(registry.AccessControlUnauthorizedAccount, account=stranger, neededRole=role):
        registry.admitIssuer("New 2", "did:web:new2.example", spare_keys[1], sender=stranger)
    # appointing it again grants the role back
    again = registry.onboardAccreditor(*ANECA, stranger, sender=admin)
    assert len(events(again, registry.RoleGranted)) == 1
    assert registry.hasRole(role, stranger)


def test_renouncing_the_role_keeps_the_entry(registry, admin, stranger):
    registry.onboardAccreditor(*ANECA, stranger, sender=admin)
    registry.renounceRole(registry.ACCREDITOR_ROLE(), stranger, sender=stranger)
    assert registry.accreditor(stranger)[:2] == ANECA


@pytest.mark.parametrize("who", ["accreditor", "issuer", "stranger"])
def test_only_the_admin_onboards(request, registry, stranger, who):
    caller = request.getfixturevalue(who)
    with expect_error(
        registry.AccessControlUnauthorizedAccount,
        account=caller,
        neededRole=registry.DEFAULT_ADMIN_ROLE(),
    ):
        registry.onboardAccreditor(*ANECA, stranger, sender=caller)


def test_onboard_validates_the_entry(registry, admin, stranger):
    with expect_error(registry.InvalidAccreditor, account=ZERO):
        registry.onboardAccreditor(*ANECA, ZERO, sender=admin)
    with expect_error(registry.EmptyName):
        registry.onboardAccreditor("", ANECA[1], stranger, sender=admin)
    with expect_error(registry.EmptyUri):
        registry.onboardAccreditor(ANECA[0], "", stranger, sender=admin)
    # the same canonical-DID rule as admitIssuer
    for uri in ("aneca.example", "https://aneca.example", "did:web:ANECA.example", "did:web:aneca.example."):
        with expect_error(registry.NonCanonicalUri, uri=uri):
            registry.onboardAccreditor(ANECA[0], uri, stranger, sender=admin)
    assert tuple(registry.accreditor(stranger)) == ("", "", 0)
    assert not registry.hasRole(registry.ACCREDITOR_ROLE(), stranger)


def test_selector_sorts_below_revoke_credential():
    """The function's name was picked for its selector: the dispatcher compares selectors in
    sorted order, and revokeCredential (48,000-gas budget) must not get a comparison longer."""
    onboard = keccak(text="onboardAccreditor(string,string,address)")[:4]
    revoke = keccak(text="revokeCredential(bytes32,uint8)")[:4]
    assert onboard.hex() == "006fdf2e"
    assert onboard < revoke
