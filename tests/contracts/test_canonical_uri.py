"""Issuer URIs: only canonical DIDs are admitted, so byte-uniqueness is identity-uniqueness.

The rule (CanonicalDid in contracts/CredentialRegistry.sol, docs/contract.md "Issuer directory"):
`did:` + method [a-z0-9]+ + `:` + a non-empty method-specific id; for did:web only [a-z0-9.-:]
and upper-case `%XX`, no empty segment, no label starting or ending with `.`; for other methods
DID Core idchars, `:` and `%XX`, no trailing `:`; never whitespace or a byte >= 0x80.
"""

from __future__ import annotations

import random
import re

import pytest
from conftest import events, expect_error

CANONICAL = {
    "plain did:web": "did:web:training.example",
    "did:web with a port": "did:web:localhost%3A8443",
    "did:web with a path": "did:web:uni.example:dept:cs",
    "did:web punycode host": "did:web:xn--80ak6aa92e.example",
    "did:key": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "other method, mixed case and escapes": "did:example:A_b-c.d:%3a",
}

# One refused spelling per rule; the comment names the rule it breaks.
NON_CANONICAL = {
    "bare domain": "uni.example",  # must start with did:
    "URL": "https://uni.example",  # must start with did:
    "upper-case host": "did:web:UNI.example",  # did:web: lower case only
    "leading space": " did:web:uni.example",  # no whitespace
    "trailing space": "did:web:uni.example ",  # no whitespace
    "trailing dot": "did:web:uni.example.",  # no label ending with "."
    "empty label": "did:web:uni..example",  # no ".."
    "label starting with a dot": "did:web:.uni.example",  # no label starting with "."
    "empty did:web id": "did:web:",  # method-specific id is non-empty
    "upper-case method": "did:WEB:uni.example",  # method is [a-z0-9]+
    "empty method": "did::uni.example",  # method is 1+ chars
    "no method-specific id": "did:web",  # ":" and an id follow the method
    "trailing colon (did:web)": "did:web:uni.example:",  # no empty segment
    "empty segment": "did:web:uni.example::cs",  # no empty segment
    "Cyrillic e in the host": "did:web:uni.\u0435xample",  # no byte >= 0x80: punycode instead
    "lower-case escape": "did:web:host%3a1",  # did:web escapes are upper case
    "truncated escape": "did:web:host%3",  # "%" needs two hex digits
    "underscore in did:web": "did:web:uni_example",  # did:web: [a-z0-9.-:%] only
    "trailing colon (other method)": "did:key:z6Mk:",  # DID Core: no trailing ":"
    "bad escape (other method)": "did:key:z6Mk%zz",  # "%" needs two hex digits
    "slash (other method)": "did:example:a/b",  # not a DID Core idchar
}


@pytest.mark.parametrize("uri", CANONICAL.values(), ids=CANONICAL.keys())
def test_admits_canonical_did(registry, accreditor, spare_keys, uri):
    receipt = registry.admitIssuer("New", uri, spare_keys[0], sender=accreditor)
    assert events(receipt, registry.IssuerAdmitted)[0]["uri"] == uri
    assert registry.issuerIdByUri(uri) == 3


@pytest.mark.parametrize("uri", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_refuses_non_canonical_uri(registry, accreditor, spare_keys, uri):
    with expect_error(registry.NonCanonicalUri, uri=uri):
        registry.admitIssuer("Impostor", uri, spare_keys[0], sender=accreditor)
    assert registry.issuerCount() == 2


@pytest.mark.parametrize(
    "spelling", ["uni.example", "https://uni.example", "did:web:UNI.example", " did:web:uni.example", "uni.example "]
)
def test_other_spellings_of_an_admitted_identity_are_refused(registry, accreditor, spare_keys, spelling):
    """The issue-15 attack: a second entry for did:web:uni.example under another spelling."""
    with expect_error(registry.NonCanonicalUri, uri=spelling):
        registry.admitIssuer("Universidad de Ejemplo", spelling, spare_keys[0], sender=accreditor)
    with expect_error(registry.UriAlreadyRegistered, uri="did:web:uni.example", issuerId=1):
        registry.admitIssuer("Universidad de Ejemplo", "did:web:uni.example", spare_keys[0], sender=accreditor)


def test_order_of_checks(registry, accreditor, issuer):
    """Empty beats non-canonical; non-canonical beats duplicate and key checks."""
    with expect_error(registry.EmptyUri):
        registry.admitIssuer("X", "", issuer, sender=accreditor)
    with expect_error(registry.NonCanonicalUri, uri="uni.example"):
        registry.admitIssuer("X", "uni.example", issuer, sender=accreditor)


# Reference implementation of the rule, independent of the contract's byte loop.
_LABEL = r"(?:[a-z0-9-]|%[0-9A-F]{2})+"
_SEGMENT = rf"{_LABEL}(?:\.{_LABEL})*"
_WEB = re.compile(rf"did:web:{_SEGMENT}(?::{_SEGMENT})*")
_IDCHAR = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
_OTHER = re.compile(rf"did:(?!web:)[a-z0-9]+:(?:{_IDCHAR}|:)*{_IDCHAR}")


def _reference(uri: str) -> bool:
    return bool(_WEB.fullmatch(uri) or _OTHER.fullmatch(uri))


def test_check_matches_reference_on_random_uris(gas_probe):
    """The assembly loop agrees with a regex of the rule on random strings near the boundary."""
    rng = random.Random(15)
    alphabet = [*"abz09-.:%_AFGaf3 /", "\t", "\u0435", "\u00e9", "\x00", "\x7f"]
    prefixes = ["did:web:", "did:key:", "did:", "did:web", "did:WEB:", "did:w:", "", "did:webs:", "did::"]
    uris = [
        rng.choice(prefixes) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40 if i % 10 == 0 else 8)))
        for i in range(300)
    ]
    uris += list(CANONICAL.values()) + list(NON_CANONICAL.values())
    results = {uri: bool(gas_probe.measureUriCheck(uri)[1]) for uri in uris}
    assert {u: r for u, r in results.items() if r != _reference(u)} == {}
    assert sum(results.values()) > 20  # the sample reaches both outcomes
