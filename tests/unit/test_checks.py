"""The per-file checks of registry/verify/checks.py on hand-made values, no chain: real credential
files (v1 from the core fixtures, v2 from the golden vectors) and hand-made chain records, as the
Verifier hands them over (docs/verification.md, "The checks"). Every status branch of every check,
with the exact status and the words of the reason; the e2e tests run the same checks on anvil."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _core_fixtures import ANCHOR, credential
from _golden_v2 import GOLDEN

from registry.chain.model import (
    AccreditorInfo,
    BatchInfo,
    CredentialRevocation,
    IssuerInfo,
    KeyInfo,
    SigningKeyInfo,
    Supersession,
)
from registry.core.credfile import make_credential_file, redact, with_supersedes
from registry.core.disclosure import compute_digest, salt_fields
from registry.core.merkle import MerkleTree
from registry.core.signing import Canonicalizer
from registry.verify.checks import (
    Item,
    _validity_check,
    anchor_check,
    checksum,
    issuer_check,
    lineage_check,
    offline_checks,
    report_of,
    revocation_check,
    signature_check,
)
from registry.verify.policy import VerificationPolicy
from registry.verify.report import CheckStatus, Verdict

PASS, FAIL, INDET = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.INDETERMINATE
CANON = Canonicalizer()
NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = VerificationPolicy(trusted={31337: {ANCHOR.registry: "test policy"}}, min_confirmations=3, now=NOW)

V2_FULL = json.loads((GOLDEN / "credential.json").read_text())
V2_REDACTED = json.loads((GOLDEN / "credential-redacted.json").read_text())
V2_PINS = json.loads((GOLDEN / "pins.json").read_text())
V2_KEY = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # golden v2 issuerAddress, checksummed

T_ANCHOR = 1_740_830_400  # 2025-03-01T12:00:00Z
T_ANCHOR_S = "2025-03-01T12:00:00Z"


def v1_file(*, seed: int = 1, hide: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    """A v1 file (leaf 0 of a 5-leaf tree), redacted when ``hide`` names fields."""
    doc = credential(seed, **overrides)
    salts = salt_fields(doc, rng=random.Random(seed + 1000).randbytes)
    digest = compute_digest(doc, salts)
    tree = MerkleTree.build([digest, *(bytes([i]) * 32 for i in range(1, 5))])
    file = make_credential_file(doc, salts, digest, tree.root, tree.proof(0), ANCHOR)
    return redact(file, hide) if hide else file


V1 = v1_file()


def item_of(data: dict[str, Any], policy: VerificationPolicy = POLICY) -> Item:
    return offline_checks("f.json", copy.deepcopy(data), policy, CANON)


def with_credential(item: Item, **changes: Any) -> Item:
    """``item`` with its credential changed (None removes a member): values a parsed file cannot
    have, for the branches that guard against them."""
    assert item.cf is not None
    doc = copy.deepcopy(item.cf.credential)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    item.cf = dataclasses.replace(item.cf, credential=doc)
    return item


def batch(**kw: Any) -> BatchInfo:
    args: dict[str, Any] = {
        "root": V2_PINS["merkleRoot"],
        "issuer_id": 1,
        "key_id": 4,
        "anchored_at": T_ANCHOR,
        "block_number": 42,
        "count": 3,
        "revoked_at": 0,
        "revocation_reason": 0,
    }
    args.update(kw)
    return BatchInfo(**args)


def key(**kw: Any) -> KeyInfo:
    args: dict[str, Any] = {
        "address": V2_KEY,
        "issuer_id": 1,
        "key_id": 4,
        "activated_at": T_ANCHOR - 1000,
        "retired_at": 0,
        "compromised_at": 0,
    }
    args.update(kw)
    return KeyInfo(**args)


def issuer(**kw: Any) -> IssuerInfo:
    args: dict[str, Any] = {
        "issuer_id": 1,
        "name": "Example University",
        "uri": "did:web:uni.example",
        "admitted_by": "0x" + "ac" * 20,
        "admitted_at": T_ANCHOR - 86400,
        "suspended_at": 0,
        "active_key": V2_KEY,
    }
    args.update(kw)
    return IssuerInfo(**args)


def signing_key(**kw: Any) -> SigningKeyInfo:
    args: dict[str, Any] = {
        "public_key": b"\x01" * 32,
        "issuer_id": 1,
        "since": T_ANCHOR - 3600,
        "until": 0,
        "compromised_since": 0,
    }
    args.update(kw)
    return SigningKeyInfo(**args)


def check_of(item: Item, name: str) -> tuple[CheckStatus, str]:
    c = item.checks[name]
    assert c.name == name
    return c.status, c.reason


# -- offline_checks ------------------------------------------------------------------------------


def test_offline_checks_of_a_good_v1_file() -> None:
    item = item_of(V1)
    assert item.source == "f.json"
    assert item.cf is not None and item.cf.version == 1
    proof = V1["proof"][0]
    assert item.digest == proof["credentialDigest"] and item.root == proof["merkleRoot"]
    assert item.chain_id == 31337 and isinstance(item.chain_id, int)
    assert item.registry == checksum(ANCHOR.registry) == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert item.identity == "did:web:uni.example"
    assert item.signature is None
    assert list(item.checks) == ["format", "integrity", "inclusion", "validity"]
    fmt = item.checks["format"]
    assert fmt.status is PASS
    assert fmt.reason == "well-formed credential file (credreg-proof-v1, Open Badges 3.0 schema)"
    assert fmt.details == {"version": 1, "disclosure": "full"}
    integrity = item.checks["integrity"]
    assert integrity.status is PASS
    assert integrity.reason == "credential digest recomputed from the disclosed fields and salts"
    assert integrity.details == {"digest": proof["credentialDigest"], "hidden": 0}
    inclusion = item.checks["inclusion"]
    assert inclusion.status is PASS
    assert inclusion.reason == "the Merkle path leads from the credential digest to the batch root"
    assert inclusion.details == {"root": proof["merkleRoot"], "depth": 3}
    validity = item.checks["validity"]
    assert validity.status is PASS
    assert validity.reason == "valid from 2025-02-01T09:00:00Z until 2030-02-01T09:00:00Z"
    assert validity.details == {"validFrom": "2025-02-01T09:00:00Z", "validUntil": "2030-02-01T09:00:00Z"}


def test_offline_checks_of_a_redacted_v1_file_count_the_hidden_fields() -> None:
    item = item_of(v1_file(hide=["/credentialSubject/name"]))
    assert item.checks["integrity"].status is PASS
    assert item.checks["integrity"].details["hidden"] == 1
    assert item.checks["format"].details == {"version": 1, "disclosure": "redacted"}


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not json", "not valid JSON (line 1, column 1): Expecting value"),
        (b"{}", "not a credreg-proof-v1 credential file: /: '@context' is a required property"),
        ("[]", "a credential file must be a JSON object"),
    ],
)
def test_offline_checks_of_a_file_that_is_not_a_credential_file(data: Any, why: str) -> None:
    item = offline_checks("x", data, POLICY, CANON)
    assert item.cf is None and item.digest == "" and item.identity == ""
    assert item.checks["format"].status is FAIL and item.checks["format"].reason == why
    rest = {n: c for n, c in item.checks.items() if n != "format"}
    assert list(rest) == ["integrity", "inclusion", "anchor", "issuer", "revocation", "validity"]
    for c in rest.values():
        assert c.status is INDET
        assert c.reason == "not checked: the file is not a valid credential file"
    report = report_of(item, POLICY)
    assert report.verdict is Verdict.INVALID
    assert report.summary.startswith("format: ")
    assert report.credential == {} and report.hidden_fields == [] and report.proofs == []
    assert report.redacted_field_count == 0 and report.issuer is None
    assert report.summary == f"format: {why}"


def test_a_format_failure_at_a_member_keeps_its_pointer() -> None:
    """A file refused at one member (here a merkleRoot with a trailing newline) says where: the reason is
    the pointer and the problem, where a refusal of the whole file gives its problem alone."""
    data = copy.deepcopy(V1)
    data["proof"][0]["merkleRoot"] += "\n"  # the schemas' patterns accept a trailing newline; the strict rules do not
    item = offline_checks("x", json.dumps(data).encode(), POLICY, CANON)
    why = "/proof/0/merkleRoot: not in canonical form (lower-case hex / ISO 8601)"
    assert item.checks["format"].status is FAIL and item.checks["format"].reason == why
    assert report_of(item, POLICY).summary == f"format: {why}"


def test_offline_checks_of_an_altered_v1_file_fail_integrity() -> None:
    data = copy.deepcopy(V1)
    data["credentialSubject"]["name"] = "Eve"
    item = item_of(data)
    assert item.checks["format"].status is PASS
    status, reason = check_of(item, "integrity")
    assert status is FAIL
    assert reason.startswith("the content does not match the anchored digest: ")
    assert reason.endswith(". The file was altered after issuance.")
    assert item.checks["inclusion"].status is PASS


def test_offline_checks_of_a_wrong_merkle_path_fail_inclusion() -> None:
    data = copy.deepcopy(V1)
    data["proof"][0]["merklePath"][0] = "0x" + "77" * 32
    item = item_of(data)
    assert item.checks["integrity"].status is PASS
    status, reason = check_of(item, "inclusion")
    assert status is FAIL
    assert reason.endswith(": this credential is not part of the batch it names")
    assert len(reason) > len(": this credential is not part of the batch it names")


def test_offline_checks_of_a_signed_v2_file_leave_the_key_binding_to_the_chain() -> None:
    item = item_of(V2_FULL)
    assert item.cf is not None and item.cf.version == 2
    assert item.signature is not None and item.signature.ok and item.signature.public_key is not None
    assert item.pending("signature")
    assert item.checks["format"].reason == "well-formed credential file (credreg-proof-v2, Open Badges 3.0 schema)"
    assert item.checks["format"].details == {"version": 2, "disclosure": "full"}
    assert item.checks["inclusion"].details == {"root": V2_PINS["merkleRoot"], "depth": 2}
    assert item.registry == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    validity = item.checks["validity"]
    assert validity.status is PASS and validity.reason == "valid from 2025-02-28T09:00:00Z with no expiry"
    assert validity.details == {"validFrom": "2025-02-28T09:00:00Z", "validUntil": None}


def test_offline_checks_of_an_altered_signed_v2_file_fail_the_signature() -> None:
    data = copy.deepcopy(V2_FULL)
    data["credentialSubject"]["name"] = "Eve"
    item = item_of(data)
    assert item.signature is not None and not item.signature.ok
    c = item.checks["signature"]
    assert c.status is FAIL and c.reason == item.signature.reason and c.reason
    assert c.details == {"verificationMethod": V2_PINS["verificationMethod"]}
    assert item.checks["integrity"].status is FAIL


def test_offline_checks_of_a_redacted_v2_file_have_no_signature() -> None:
    item = item_of(V2_REDACTED)
    assert item.signature is None and item.pending("signature")
    assert item.checks["integrity"].status is PASS and item.checks["integrity"].details["hidden"] == 1
    assert item.checks["validity"].status is PASS  # hides /credentialSubject/name, provably not validUntil


# -- validity ------------------------------------------------------------------------------------


def at(moment: datetime) -> VerificationPolicy:
    return dataclasses.replace(POLICY, now=moment)


FROM_V1 = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
UNTIL_V1 = datetime(2030, 2, 1, 9, 0, tzinfo=UTC)


def test_validity_before_valid_from_fails() -> None:
    item = item_of(V1, at(FROM_V1 - timedelta(seconds=1)))
    c = item.checks["validity"]
    assert c.status is FAIL and c.reason == "not yet valid: valid from 2025-02-01T09:00:00Z"
    assert c.details == {"validFrom": "2025-02-01T09:00:00Z"}


def test_validity_from_the_first_second_to_the_last_passes() -> None:
    assert item_of(V1, at(FROM_V1)).checks["validity"].status is PASS
    assert item_of(V1, at(UNTIL_V1)).checks["validity"].status is PASS


def test_validity_after_valid_until_fails() -> None:
    item = item_of(V1, at(UNTIL_V1 + timedelta(seconds=1)))
    c = item.checks["validity"]
    assert c.status is FAIL and c.reason == "expired on 2030-02-01T09:00:00Z"
    assert c.details == {"validUntil": "2030-02-01T09:00:00Z"}


@pytest.mark.parametrize("value", [None, 20250201, "yesterday", ""])
def test_validity_without_a_valid_from_date_fails(value: Any) -> None:
    item = with_credential(item_of(V1), validFrom=value)  # None: no validFrom at all
    _validity_check(item, POLICY)
    c = item.checks["validity"]
    assert c.status is FAIL and c.reason == "validFrom is missing or not a date-time" and c.details == {}


def test_validity_reads_a_date_time_without_offset_as_utc() -> None:
    item = with_credential(item_of(V1), validFrom="2025-02-01T09:00:00", validUntil="2030-02-01T09:00:00")
    _validity_check(item, at(FROM_V1 - timedelta(seconds=1)))
    assert item.checks["validity"].status is FAIL
    _validity_check(item, at(UNTIL_V1 + timedelta(seconds=1)))
    assert item.checks["validity"].reason == "expired on 2030-02-01T09:00:00"
    _validity_check(item, at(FROM_V1))
    assert item.checks["validity"].status is PASS


def test_validity_with_an_offset_compares_instants() -> None:
    item = with_credential(item_of(V1), validFrom="2025-02-01T10:00:00+01:00", validUntil="2030-02-01T10:00:00+01:00")
    _validity_check(item, at(FROM_V1))
    assert item.checks["validity"].status is PASS
    _validity_check(item, at(UNTIL_V1 + timedelta(seconds=1)))
    assert item.checks["validity"].status is FAIL


def test_validity_with_an_unreadable_valid_until_counts_as_none() -> None:
    item = with_credential(item_of(V1), validUntil="soon")
    _validity_check(item, at(UNTIL_V1 + timedelta(days=1)))
    c = item.checks["validity"]
    assert c.status is PASS and c.reason == "valid from 2025-02-01T09:00:00Z with no expiry"
    assert c.details == {"validFrom": "2025-02-01T09:00:00Z", "validUntil": "soon"}


def test_validity_of_a_full_v1_file_without_valid_until_passes() -> None:
    item = item_of(v1_file(valid_until=None), at(datetime(2099, 1, 1, tzinfo=UTC)))
    c = item.checks["validity"]
    assert c.status is PASS and c.reason == "valid from 2025-02-01T09:00:00Z with no expiry"


def test_validity_of_a_redacted_v1_file_without_valid_until_is_indeterminate() -> None:
    item = item_of(v1_file(valid_until=None, hide=["/credentialSubject/name", "/credentialSubject/result"]))
    c = item.checks["validity"]
    assert c.status is INDET
    assert c.reason == (
        "the file shows no validUntil but hides 3 field(s): an expiry date may be among them (a correct "
        "redaction never hides validUntil); ask the holder for a copy that hides less"
    )
    assert c.details == {"validFrom": "2025-02-01T09:00:00Z"}
    # Not yet valid and expired are decided before the hidden expiry:
    early = item_of(v1_file(valid_until=None, hide=["/credentialSubject/name"]), at(FROM_V1 - timedelta(seconds=1)))
    assert early.checks["validity"].status is FAIL


def test_validity_of_a_redacted_v1_file_that_shows_valid_until_is_decided() -> None:
    data = v1_file(hide=["/credentialSubject/name"])
    assert item_of(data).checks["validity"].status is PASS
    late = item_of(data, at(UNTIL_V1 + timedelta(seconds=1)))
    assert late.checks["validity"].status is FAIL and late.checks["validity"].reason.startswith("expired on ")


def test_validity_of_a_v2_file_that_hides_valid_until_is_indeterminate() -> None:
    item = item_of(V2_REDACTED)
    assert item.cf is not None
    item.cf = dataclasses.replace(item.cf, redacted_pointers={**item.cf.redacted_pointers, "/validUntil": b"\x00" * 32})
    _validity_check(item, POLICY)
    c = item.checks["validity"]
    assert c.status is INDET
    assert c.reason == (
        "the file hides its validUntil: the expiry date cannot be checked; ask the holder for a copy that shows it"
    )
    assert c.details == {"validFrom": "2025-02-28T09:00:00Z"}


# -- anchor --------------------------------------------------------------------------------------


def anchored(head: int, b: BatchInfo | None = None, policy: VerificationPolicy = POLICY) -> Item:
    item = item_of(V2_FULL)
    anchor_check(item, b or batch(), head, 31337, "0xREG", policy)
    return item


def test_anchor_passes_with_enough_confirmations() -> None:
    item = anchored(44)  # blocks 42, 43, 44: 3 confirmations, as the policy asks
    c = item.checks["anchor"]
    assert c.status is PASS
    assert c.reason == f"batch root anchored on chain 31337 in block 42 at {T_ANCHOR_S} (3 confirmations)"
    assert c.details == {
        "chainId": 31337,
        "registry": "0xREG",
        "block": 42,
        "anchoredAt": T_ANCHOR_S,
        "confirmations": 3,
        "credentialCount": 3,
    }
    assert anchored(50).checks["anchor"].reason.endswith("(9 confirmations)")


def test_anchor_without_enough_confirmations_is_indeterminate() -> None:
    c = anchored(43).checks["anchor"]
    assert c.status is INDET
    assert c.reason == "anchored in block 42 but only 2 of 3 confirmations yet; check again shortly"
    assert c.details["confirmations"] == 2 and c.details["block"] == 42
    one = anchored(42, policy=dataclasses.replace(POLICY, min_confirmations=1)).checks["anchor"]
    assert one.status is PASS and one.details["confirmations"] == 1


@pytest.mark.parametrize("block", [41, 43])
def test_anchor_in_another_block_than_the_file_says_fails(block: int) -> None:
    c = anchored(100, batch(block_number=block)).checks["anchor"]
    assert c.status is FAIL
    assert c.reason == f"the file says the batch was anchored in block 42, the chain says block {block}"
    assert c.details["block"] == block and c.details["confirmations"] == 101 - block


def test_anchor_of_a_file_without_an_anchor_block_fails() -> None:
    item = item_of(V2_FULL)
    assert item.cf is not None
    item.cf = dataclasses.replace(item.cf, proof={k: v for k, v in item.cf.proof.items() if k != "anchorBlock"})
    anchor_check(item, batch(), 44, 31337, "0xREG", POLICY)
    assert check_of(item, "anchor") == (
        FAIL,
        "the file says the batch was anchored in block None, the chain says block 42",
    )


# -- issuer --------------------------------------------------------------------------------------


def issuer_item(
    *,
    b: BatchInfo | None = None,
    k: KeyInfo | None = None,
    entry: IssuerInfo | None = None,
    trusted: str | None = "test policy",
    identity: str = "did:web:uni.example",
    conflict: str | None = None,
    accreditor: AccreditorInfo | None = None,
    item: Item | None = None,
) -> Item:
    item = item or item_of(V2_FULL)
    issuer_check(
        item, b or batch(), k or key(), entry or issuer(), "0xREG", trusted, (identity, conflict), accreditor=accreditor
    )
    return item


INFO = {
    "issuerId": 1,
    "name": "Example University",
    "uri": "did:web:uni.example",
    "did": "did:web:uni.example",
    "accreditedBy": "0x" + "ac" * 20,
    "accreditor": {"address": "0x" + "ac" * 20, "name": None, "uri": None},
    "admittedAt": "2025-02-28T12:00:00Z",
    "anchoringKey": V2_KEY,
    "suspendedAt": None,
    "keyCompromisedAt": None,
    "registryPinned": True,
    "trustSource": "test policy",
}


def test_issuer_passes() -> None:
    item = issuer_item()
    c = item.checks["issuer"]
    assert c.status is PASS
    assert c.reason == (
        f"issued by Example University (did:web:uni.example), admitted 2025-02-28T12:00:00Z by accreditation body "
        f"0x{'ac' * 20}; anchoring key valid at anchoring time; registry trusted via test policy"
    )
    assert c.details == INFO
    assert item.issuer_info == INFO


def test_issuer_names_a_named_accreditation_body() -> None:
    body = AccreditorInfo("0x" + "ac" * 20, "Quality Agency", "did:web:qa.example", 5)
    c = issuer_item(accreditor=body).checks["issuer"]
    assert c.status is PASS
    assert "by accreditation body Quality Agency (did:web:qa.example);" in c.reason
    assert c.details["accreditor"] == {
        "address": "0x" + "ac" * 20,
        "name": "Quality Agency",
        "uri": "did:web:qa.example",
    }


def test_issuer_in_an_untrusted_registry_is_indeterminate() -> None:
    c = issuer_item(trusted=None).checks["issuer"]
    assert c.status is INDET
    assert c.reason == (
        "registry 0xREG on chain 31337 is not one you trust, so its directory cannot vouch for 'Example University': "
        "anyone can deploy a registry and admit any name. If it is the registry you expect, trust it with "
        '`registry trust add 31337 0xREG` (or list it under "registries" in networks.json)'
    )
    assert c.details == {**INFO, "registryPinned": False, "trustSource": None}


def test_issuer_in_an_untrusted_registry_names_the_trusted_owner_of_the_identity() -> None:
    c = issuer_item(trusted=None, conflict="a look-alike").checks["issuer"]
    assert c.status is INDET and c.reason == "a look-alike"
    assert c.details == {**INFO, "registryPinned": False, "trustSource": None, "lookalikeOf": "did:web:uni.example"}


def test_issuer_untrusted_beats_every_failure() -> None:
    c = issuer_item(trusted=None, k=key(address="0x" + "11" * 20, compromised_at=1), entry=issuer(suspended_at=5))
    assert c.checks["issuer"].status is INDET


def test_issuer_when_the_file_names_another_anchoring_key_fails() -> None:
    other = checksum("0x" + "11" * 20)
    c = issuer_item(k=key(address=other)).checks["issuer"]
    assert c.status is FAIL
    assert c.reason == f"the file names anchoring key {V2_KEY}, but the batch was anchored by {other}"
    assert c.details["anchoringKey"] == other


def test_issuer_compares_the_anchoring_key_checksummed() -> None:
    item = item_of(V2_FULL)
    assert item.cf is not None
    item.cf.proof["issuerAddress"] = V2_KEY.lower()
    assert issuer_item(item=item).checks["issuer"].status is PASS


def test_issuer_naming_another_entry_than_the_keys_fails() -> None:
    entry = issuer(name="Other College", uri="did:web:other.example")
    c = issuer_item(entry=entry).checks["issuer"]
    assert c.status is FAIL
    assert c.reason == (
        "the credential names issuer 'did:web:uni.example', but the batch was anchored by the key of directory "
        "entry 'did:web:other.example' (Other College): an issuer cannot issue in another's name"
    )
    assert c.details["did"] == "did:web:other.example" and c.details["uri"] == "did:web:other.example"


def test_issuer_named_by_a_plain_string_is_quoted_as_is() -> None:
    item = with_credential(item_of(V2_FULL), issuer="did:web:uni.example")
    c = issuer_item(item=item, entry=issuer(uri="https://other.example", name="O")).checks["issuer"]
    assert c.status is FAIL
    assert c.reason.startswith("the credential names issuer 'did:web:uni.example', but ")
    assert "entry 'did:web:other.example' (O)" in c.reason


def test_issuer_did_is_the_canonical_form_of_the_entrys_uri() -> None:
    c = issuer_item(entry=issuer(uri="https://uni.example")).checks["issuer"]
    assert c.status is PASS and c.details["did"] == "did:web:uni.example" and c.details["uri"] == "https://uni.example"


def test_issuer_whose_identity_is_claimed_by_another_entry_fails() -> None:
    conflict = "the identity did:web:uni.example belongs to directory entry #2 ..."
    c = issuer_item(conflict=conflict).checks["issuer"]
    assert c.status is FAIL and c.reason == conflict and c.details == INFO


def test_issuer_with_a_key_compromised_at_anchoring_time_fails() -> None:
    for compromised in (T_ANCHOR, T_ANCHOR - 1):
        item = issuer_item(k=key(compromised_at=compromised))
        c = item.checks["issuer"]
        assert c.status is FAIL
        assert c.reason == (
            f"the anchoring key {V2_KEY} was declared compromised from "
            f"{'2025-03-01T12:00:00Z' if compromised == T_ANCHOR else '2025-03-01T11:59:59Z'}; this batch was "
            f"anchored after that, at {T_ANCHOR_S}"
        )
        assert c.details["keyCompromisedAt"] is not None


def test_issuer_with_a_key_compromised_after_anchoring_passes() -> None:
    c = issuer_item(k=key(compromised_at=T_ANCHOR + 1)).checks["issuer"]
    assert c.status is PASS
    assert c.details["keyCompromisedAt"] == "2025-03-01T12:00:01Z"


def test_issuer_batch_before_admission_fails() -> None:
    c = issuer_item(entry=issuer(admitted_at=T_ANCHOR + 1)).checks["issuer"]
    assert c.status is FAIL and c.reason == "the batch predates the issuer's admission"
    assert c.details["admittedAt"] == "2025-03-01T12:00:01Z"
    assert issuer_item(entry=issuer(admitted_at=T_ANCHOR)).checks["issuer"].status is PASS


def test_issuer_suspended_fails() -> None:
    c = issuer_item(entry=issuer(suspended_at=T_ANCHOR + 60)).checks["issuer"]
    assert c.status is FAIL
    assert c.reason == (
        "Example University (did:web:uni.example) has been suspended by its accreditation body since "
        "2025-03-01T12:01:00Z"
    )
    assert c.details == {**INFO, "suspendedAt": "2025-03-01T12:01:00Z"}


def test_issuer_failures_in_order() -> None:
    """Several faults: the first in the documented order names the reason."""
    k = key(compromised_at=T_ANCHOR)
    e = issuer(suspended_at=1, admitted_at=T_ANCHOR + 5)
    assert issuer_item(k=k, entry=e).checks["issuer"].reason.startswith("the anchoring key ")
    assert issuer_item(entry=e).checks["issuer"].reason == "the batch predates the issuer's admission"
    assert issuer_item(k=k, entry=e, conflict="taken").checks["issuer"].reason == "taken"
    named = issuer_item(k=k, entry=issuer(uri="did:web:x.example", suspended_at=1), conflict="taken")
    assert named.checks["issuer"].reason.startswith("the credential names issuer ")
    other_key = issuer_item(k=key(address=checksum("0x" + "11" * 20), compromised_at=1), conflict="taken")
    assert other_key.checks["issuer"].reason.startswith("the file names anchoring key ")


# -- signature (the key binding) -----------------------------------------------------------------


METHOD = V2_PINS["verificationMethod"]


def signed(k: SigningKeyInfo | None, b: BatchInfo | None = None) -> tuple[CheckStatus, str, dict[str, Any]]:
    item = item_of(V2_FULL)
    signature_check(item, b or batch(), k)
    c = item.checks["signature"]
    return c.status, c.reason, c.details


def test_signature_with_the_key_of_record_passes() -> None:
    status, reason, details = signed(signing_key())
    assert status is PASS
    assert reason == (
        "the issuer's Ed25519 signature (eddsa-rdfc-2022) verifies with its signing key of record since "
        "2025-03-01T11:00:00Z"
    )
    assert details == {"verificationMethod": METHOD, "keySince": "2025-03-01T11:00:00Z"}


@pytest.mark.parametrize("k", [None, signing_key(issuer_id=0)], ids=["absent", "unregistered"])
def test_signature_with_a_key_of_no_issuer_fails(k: SigningKeyInfo | None) -> None:
    status, reason, details = signed(k)
    assert status is FAIL
    assert reason == (
        f"the signature verifies, but its key {METHOD} is not a signing key of any issuer in the registry: "
        "anyone can make such a key"
    )
    assert details == {"verificationMethod": METHOD}


def test_signature_with_another_issuers_key_fails() -> None:
    status, reason, details = signed(signing_key(issuer_id=2))
    assert status is FAIL
    assert reason == f"the signing key {METHOD} belongs to issuer #2, not to issuer #1 that anchored the batch"
    assert details == {"verificationMethod": METHOD}


def test_signature_with_a_key_of_record_only_after_the_anchor_fails() -> None:
    status, reason, details = signed(signing_key(since=T_ANCHOR + 1))
    assert status is FAIL
    assert reason == signing_key(since=T_ANCHOR + 1).valid_at(T_ANCHOR)
    assert "after the batch was anchored" in reason and details == {"verificationMethod": METHOD}


def test_signature_with_a_key_retired_before_the_anchor_fails() -> None:
    status, reason, _ = signed(signing_key(until=T_ANCHOR - 1))
    assert status is FAIL and "was retired at 2025-03-01T11:59:59Z" in reason
    assert signed(signing_key(until=T_ANCHOR))[0] is PASS  # replaced in the very second: still of record


def test_signature_with_a_key_compromised_before_the_anchor_fails() -> None:
    status, reason, _ = signed(signing_key(compromised_since=T_ANCHOR))
    assert status is FAIL and "declared compromised from 2025-03-01T12:00:00Z" in reason
    assert signed(signing_key(compromised_since=T_ANCHOR + 1))[0] is PASS


# -- revocation ----------------------------------------------------------------------------------


def revoked(b: BatchInfo, r: CredentialRevocation | None) -> tuple[CheckStatus, str, dict[str, Any]]:
    item = item_of(V2_FULL)
    revocation_check(item, b, r)
    c = item.checks["revocation"]
    return c.status, c.reason, c.details


def test_revocation_none_passes() -> None:
    assert revoked(batch(), None) == (PASS, "neither the credential nor its batch is revoked", {})


@pytest.mark.parametrize(
    ("code", "words"), [(0, "unspecified"), (3, "academic or professional misconduct"), (99, "code 99")]
)
def test_revocation_of_the_credential_fails_with_its_reason(code: int, words: str) -> None:
    status, reason, details = revoked(batch(), CredentialRevocation(T_ANCHOR + 60, code, 4))
    assert status is FAIL
    assert reason == f"revoked by the issuer on 2025-03-01T12:01:00Z: {words}"
    assert details == {"revokedAt": "2025-03-01T12:01:00Z", "reasonCode": code, "scope": "credential"}


@pytest.mark.parametrize(("code", "words"), [(0, "unspecified"), (4, "issuer key compromised"), (7, "code 7")])
def test_revocation_of_the_batch_fails_with_its_reason(code: int, words: str) -> None:
    b = batch(revoked_at=T_ANCHOR + 120, revocation_reason=code)
    status, reason, details = revoked(b, CredentialRevocation(T_ANCHOR + 60, 1, 4))  # the batch is named first
    assert status is FAIL
    assert reason == f"the whole batch was revoked by the issuer on 2025-03-01T12:02:00Z: {words}"
    assert details == {"revokedAt": "2025-03-01T12:02:00Z", "reasonCode": code, "scope": "batch"}
    assert revoked(b, None)[0] is FAIL


OLD_ID = "urn:uuid:00000000-0000-4000-8000-000000000001"
OLD_DIGEST = "0x" + "ab" * 32


def supersession(new_digest: str, *, kind: int = 1, at: int = T_ANCHOR + 86_400 + 5) -> Supersession:
    return Supersession(
        issuer_id=1,
        digest=OLD_DIGEST,
        new_digest=new_digest,
        new_root="0x" + "cd" * 32,
        new_id="urn:uuid:00000000-0000-4000-8000-000000000002",
        kind=kind,
        superseded_at=at,
        block=42,
    )


@pytest.mark.parametrize(("kind", "words"), [(1, "correction"), (2, "renewal"), (9, "kind 9")])
def test_a_superseded_credential_fails_naming_its_successor(kind: int, words: str) -> None:
    item = item_of(V2_FULL)
    s = supersession("0x" + "ef" * 32, kind=kind)
    revocation_check(item, batch(), CredentialRevocation(s.superseded_at, 2, 4), s)
    c = item.checks["revocation"]
    assert (c.status, c.reason) == (FAIL, f"superseded by {s.new_id} on 2025-03-02: {words}")
    assert c.details == {
        "revokedAt": "2025-03-02T12:00:05Z",
        "reasonCode": 2,
        "scope": "credential",
        "supersededBy": s.new_id,
        "supersededByDigest": s.new_digest,
        "supersededAt": "2025-03-02T12:00:05Z",
        "kind": words,
    }
    # the whole batch revoked is named first; a revocation without a supersession keeps its words
    revocation_check(item, batch(revoked_at=T_ANCHOR + 9, revocation_reason=1), CredentialRevocation(1, 2, 4), s)
    assert item.checks["revocation"].details["scope"] == "batch"
    assert revoked(batch(), CredentialRevocation(T_ANCHOR, 2, 4))[1].endswith(": superseded by a new credential")


def test_supersession_dates_are_utc_whatever_the_machine_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The date in "superseded by ... on DATE" and "replaces ... on DATE" is the UTC date: a
    verifier east of UTC+12 (12:00:05Z is already the next day there) must say the same."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
    time.tzset()
    try:
        assert datetime.fromtimestamp(T_ANCHOR + 86_400 + 5).date().isoformat() == "2025-03-03"  # the zone applies
        item = item_of(V2_FULL)
        s = supersession("0x" + "ef" * 32)
        revocation_check(item, batch(), CredentialRevocation(s.superseded_at, 2, 4), s)
        assert item.checks["revocation"].reason == f"superseded by {s.new_id} on 2025-03-02: correction"
    finally:
        monkeypatch.undo()
        time.tzset()


def claimed(kind: str = "correction") -> Item:
    """The v2 golden file claiming to replace OLD_ID by a ``kind``."""
    return item_of(with_supersedes(V2_FULL, old_id=OLD_ID, old_digest=OLD_DIGEST, kind=kind))


def lineage(item: Item, s: Supersession | None) -> tuple[CheckStatus, str, dict[str, Any]]:
    lineage_check(item, s)
    c = item.checks["lineage"]
    return c.status, c.reason, c.details


CLAIM = {"replaces": OLD_ID, "replacesDigest": OLD_DIGEST}


@pytest.mark.parametrize("kind", ["correction", "renewal"])
def test_a_claim_the_chain_confirms_passes_and_says_what_it_replaces(kind: str) -> None:
    item = claimed(kind)
    status, reason, details = lineage(item, supersession(item.digest.lower(), kind=1 if kind == "correction" else 2))
    assert (status, reason) == (PASS, f"replaces {OLD_ID} ({kind}, on 2025-03-02)")
    assert details == {**CLAIM, "kind": kind, "supersededAt": "2025-03-02T12:00:05Z"}


def test_a_claim_without_a_record_or_with_another_successor_fails() -> None:
    item = claimed()
    expected = (
        FAIL,
        f"claims to replace {OLD_ID} but the registry records no such supersession",
        {**CLAIM, "kind": "correction"},
    )
    assert lineage(item, None) == expected
    assert lineage(claimed(), supersession("0x" + "ef" * 32)) == expected


def test_a_claim_of_another_kind_than_the_record_fails() -> None:
    item = claimed("renewal")
    status, reason, details = lineage(item, supersession(item.digest.lower(), kind=1))
    assert status is FAIL
    assert reason == f"claims to replace {OLD_ID} by a renewal, but the registry records a correction"
    assert details == {**CLAIM, "kind": "renewal"}


def test_lineage_applies_only_to_a_file_with_a_claim() -> None:
    assert claimed().applies("lineage") and not item_of(V2_FULL).applies("lineage")
    assert item_of(V2_FULL).applies("signature") and not item_of(V1).applies("signature")


# -- report_of -----------------------------------------------------------------------------------


def full_item(**statuses: CheckStatus) -> Item:
    """A v2 file with every check passed, then ``statuses`` set (reason: ``NAME why``)."""
    item = item_of(V2_FULL)
    for name in ("anchor", "issuer", "signature", "revocation"):
        item.set(name, PASS, f"{name} ok")
    for name, status in statuses.items():
        item.set(name, status, f"{name} why")
    return item


def test_report_of_all_passed_is_valid() -> None:
    report = report_of(full_item(), POLICY)
    assert report.verdict is Verdict.VALID and report.summary == "all checks passed"
    assert [c.name for c in report.checks] == [
        "format",
        "integrity",
        "inclusion",
        "anchor",
        "issuer",
        "signature",
        "revocation",
        "validity",
    ]
    assert report.source == "f.json"
    assert report.offline is False
    assert report.checked_at == "2026-01-01T00:00:00+00:00"
    assert report.proofs == ["DataIntegrityProof eddsa-rdfc-2022", "CredentialRegistryAnchorProof"]
    assert report.hidden_fields == [] and report.redacted_field_count == 0
    assert report.credential == {
        "id": V2_FULL["id"],
        "name": V2_FULL["name"],
        "achievement": V2_FULL["credentialSubject"]["achievement"]["name"],
        "issuerId": "did:web:uni.example",
        "issuerName": "Example University",
        "validFrom": "2025-02-28T09:00:00Z",
        "validUntil": None,
        "digest": V2_PINS["credentialDigest"],
        "root": V2_PINS["merkleRoot"],
        "chainId": 31337,
        "registry": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    }
    assert report.issuer is None


def test_report_of_indeterminate_lists_the_open_checks() -> None:
    report = report_of(full_item(revocation=INDET, anchor=INDET), POLICY)
    assert report.verdict is Verdict.INDETERMINATE
    assert report.summary == "anchor: anchor why; revocation: revocation why"


def test_report_of_invalid_beats_indeterminate_and_lists_the_failures() -> None:
    report = report_of(full_item(validity=FAIL, anchor=INDET, integrity=FAIL), POLICY)
    assert report.verdict is Verdict.INVALID
    assert report.summary == "integrity: integrity why; validity: validity why"
    one = report_of(full_item(signature=FAIL), POLICY)
    assert one.verdict is Verdict.INVALID and one.summary == "signature: signature why"


def test_report_of_keeps_the_issuer_details_and_the_policy() -> None:
    item = issuer_item()
    report = report_of(item, dataclasses.replace(POLICY, offline=True, now=datetime(2026, 5, 6, 7, 8, 9, 500, UTC)))
    assert report.issuer == INFO
    assert report.offline is True and report.checked_at == "2026-05-06T07:08:09+00:00"
    assert report.verdict is Verdict.VALID  # only the checks set so far; none failed or open


def test_report_of_a_redacted_v1_file() -> None:
    data = v1_file(hide=["/credentialSubject/name", "/credentialSubject/result"])
    report = report_of(item_of(data), POLICY)
    assert report.redacted_field_count == len(data["proof"][0]["redacted"]) == 3
    assert report.proofs == ["CredentialRegistryAnchorProof"]
    assert report.hidden_fields == data["proof"][0]["hiddenPaths"]
    assert report.credential["validUntil"] == "2030-02-01T09:00:00Z"
    assert report.credential["digest"] == data["proof"][0]["credentialDigest"]


def test_report_of_a_redacted_v2_file_names_the_hidden_fields() -> None:
    report = report_of(item_of(V2_REDACTED), POLICY)
    assert report.hidden_fields == ["/credentialSubject/name"]
    assert report.redacted_field_count == 1
    assert report.proofs == ["CredentialRegistryAnchorProof"]


def test_report_of_a_credential_without_a_name_shows_the_achievements() -> None:
    item = with_credential(item_of(V2_FULL), name=None)
    achievement = V2_FULL["credentialSubject"]["achievement"]["name"]
    assert report_of(item, POLICY).credential["name"] == achievement


def test_report_of_odd_shapes() -> None:
    item = with_credential(item_of(V2_FULL), name=None, credentialSubject="x", issuer="did:web:uni.example")
    credential = report_of(item, POLICY).credential
    assert credential["name"] is None and credential["achievement"] is None
    assert credential["issuerId"] == "did:web:uni.example" and credential["issuerName"] is None
    item = with_credential(item_of(V2_FULL), credentialSubject=None, issuer=None)
    credential = report_of(item, POLICY).credential
    assert credential["achievement"] is None and credential["issuerId"] is None and credential["issuerName"] is None
    assert credential["name"] == V2_FULL["name"]


# -- Item ----------------------------------------------------------------------------------------


def test_item_set_and_pending() -> None:
    item = Item(source="s")
    assert item.pending("anchor") and item.checks == {}
    item.set("anchor", FAIL, "why", block=3)
    assert not item.pending("anchor") and item.pending("issuer")
    c = item.checks["anchor"]
    assert (c.name, c.status, c.reason, c.details) == ("anchor", FAIL, "why", {"block": 3})
    assert (item.cf, item.digest, item.root, item.chain_id, item.registry, item.identity) == (None, "", "", 0, "", "")
    assert item.issuer_info is None and item.signature is None


def test_report_of_a_subject_without_an_achievement() -> None:
    item = with_credential(item_of(V2_FULL), name=None, credentialSubject={"type": ["AchievementSubject"]})
    credential = report_of(item, POLICY).credential
    assert credential["name"] is None and credential["achievement"] is None
