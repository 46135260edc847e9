"""Tests written against surviving mutants of ``make mutation`` (docs/testing.md, "Mutation
testing"): each pins a behaviour of the verdict-deciding core that no other unit test pinned."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from _core_fixtures import ANCHOR, credential, credential_file
from _golden import GOLDEN as GOLDEN_V1

from registry.core.credfile import (
    MAX_DEPTH,
    check_integrity,
    make_credential_file,
    parse_credential_file,
    redact,
)
from registry.core.disclosure import compute_digest, field_hash, flatten, salt_fields
from registry.core.filerules import _POINTER_RE, _SALT_RE, _is_pointer, check_strict, first_error
from registry.core.keccak import keccak256
from registry.core.merkle import MAX_PROOF_LENGTH, MerkleTree, leaf_hash, node_hash, process_proof, verify_proof
from registry.errors import CredentialFormatError, InvalidInput, InvalidProof, RedactionError

# --- merkle.py: proof verification ---------------------------------------------------------------


def test_leaf_hash_refuses_anything_but_32_bytes() -> None:
    for bad in (b"\x01" * 31, b"\x01" * 33, b""):
        with pytest.raises(InvalidInput, match=r"exactly 32 bytes"):
            leaf_hash(bad)
    with pytest.raises(InvalidInput, match=r"exactly 32 bytes"):
        leaf_hash("1" * 32)  # type: ignore[arg-type]


def test_node_hash_hashes_the_sorted_pair_either_way_round() -> None:
    lo, hi = b"\x01" * 32, b"\x02" * 32
    expected = keccak256(lo + hi)
    assert node_hash(lo, hi) == expected
    assert node_hash(hi, lo) == expected


def test_process_proof_accepts_the_longest_proof_and_no_longer() -> None:
    leaf = leaf_hash(b"\x07" * 32)
    longest = [bytes([i]) * 32 for i in range(MAX_PROOF_LENGTH)]
    h = leaf
    for p in longest:
        h = keccak256(min(h, p) + max(h, p))
    assert process_proof(leaf, longest) == h
    with pytest.raises(InvalidProof, match=r"more than 64"):
        process_proof(leaf, [*longest, b"\x00" * 32])


def test_process_proof_refuses_a_short_or_non_bytes_element() -> None:
    leaf = leaf_hash(b"\x07" * 32)
    with pytest.raises(InvalidProof, match=r"element 1 is not exactly 32 bytes"):
        process_proof(leaf, [b"\x01" * 32, b"\x02" * 31])
    with pytest.raises(InvalidProof, match=r"element 0 is not exactly 32 bytes"):
        process_proof(leaf, ["2" * 32])  # type: ignore[list-item]
    with pytest.raises(InvalidProof, match=r"leaf must be exactly 32 bytes"):
        process_proof("3" * 32, [])  # type: ignore[arg-type]


def test_verify_proof_accepts_the_longest_proof() -> None:
    digest = b"\x07" * 32
    longest = [bytes([i]) * 32 for i in range(MAX_PROOF_LENGTH)]
    root = process_proof(leaf_hash(digest), longest)
    verify_proof(root, digest, longest)


# --- credfile.py: assembling a file --------------------------------------------------------------


def _file_of(doc: dict[str, Any]) -> dict[str, Any]:
    salts = salt_fields(doc, rng=random.Random(7).randbytes)
    digest = compute_digest(doc, salts)
    tree = MerkleTree.build([digest, b"\x01" * 32])
    return make_credential_file(doc, salts, digest, tree.root, tree.proof(0), ANCHOR)


def test_the_file_owns_its_credential() -> None:
    """The file is a deep copy: changing the caller's document afterwards changes nothing."""
    doc = credential(3)
    file_dict = _file_of(doc)
    before = copy.deepcopy(file_dict)
    doc["credentialSubject"]["achievement"]["name"] = "Changed afterwards"
    doc["credentialSubject"]["achievement"]["criteria"]["narrative"] = "Changed too"
    assert file_dict == before
    parse_credential_file(file_dict)


def test_a_proof_already_on_the_document_is_replaced() -> None:
    doc = credential(4)
    with_proof = {**doc, "proof": {"type": "SomethingElse"}}
    assert _file_of(with_proof) == _file_of(doc)


# --- filerules.py: the format v2 rules beyond the schema (check_strict on its own) ------------------

_H = "0x" + "ab" * 32


def _v2(name: str) -> dict[str, Any]:
    from _golden_v2 import GOLDEN

    return json.loads((GOLDEN / name).read_text("utf-8"))


def _profiles_bad_value(f: dict[str, Any]) -> None:
    f["proof"][1]["profiles"]["without-result"]["proofValue"] = "not-base58"


def _profiles_bad_name(f: dict[str, Any]) -> None:
    f["proof"][1]["profiles"]["Without Result"] = f["proof"][1]["profiles"].pop("without-result")


def _profiles_bad_hide(f: dict[str, Any]) -> None:
    f["proof"][1]["profiles"]["without-result"]["hide"] = ["credentialSubject/result"]


def _redacted_but_signed(f: dict[str, Any]) -> None:
    f["proof"][1]["disclosure"] = "redacted"


def _profile_lists_profiles(f: dict[str, Any]) -> None:
    f["proof"][1]["profiles"] = _v2("credential.json")["proof"][1]["profiles"]


def _redacted_parent_of_a_disclosed_field(f: dict[str, Any]) -> None:
    f["proof"][0]["redacted"]["/credentialSubject/achievement"] = _H


def _redacted_and_disclosed(f: dict[str, Any]) -> None:
    f["proof"][0]["redacted"]["/name"] = _H


def _redacted_mandatory(f: dict[str, Any]) -> None:
    del f["validFrom"]
    f["proof"][0]["redacted"]["/validFrom"] = _H


def _redacted_under_mandatory(f: dict[str, Any]) -> None:
    del f["issuer"]
    f["proof"][0]["redacted"]["/issuer/name"] = _H


def _profile_unsigned(f: dict[str, Any]) -> None:
    f["proof"][0]["disclosure"] = "profile:without-result"


@pytest.mark.parametrize(
    ("name", "mutate", "message"),
    [
        ("credential.json", _profiles_bad_value, r"bad profile name or proofValue"),
        ("credential.json", _profiles_bad_name, r"bad profile name or proofValue"),
        ("credential.json", _profiles_bad_hide, r"is not a JSON pointer"),
        ("credential-profile-without-result.json", _redacted_but_signed, r"a redacted file hides fields"),
        ("credential-profile-without-result.json", _profile_lists_profiles, r"only a full file lists"),
        ("credential-redacted.json", _profile_unsigned, r"a profile file hides fields"),
        ("credential-redacted.json", _redacted_parent_of_a_disclosed_field, r"both redacted and disclosed"),
        ("credential-redacted.json", _redacted_and_disclosed, r"both redacted and disclosed"),
        ("credential-redacted.json", _redacted_mandatory, r"/validFrom is mandatory"),
        ("credential-redacted.json", _redacted_under_mandatory, r"/issuer is mandatory"),
    ],
)
def test_check_strict_v2_rules_on_their_own(name: str, mutate: Any, message: str) -> None:
    """check_strict states these rules itself (the schema is not the only guard)."""
    data = _v2(name)
    check_strict(copy.deepcopy(data))
    mutate(data)
    with pytest.raises(CredentialFormatError, match=message):
        check_strict(data)


def test_a_v2_file_may_hide_valid_until() -> None:
    """A v2 file may list ``/validUntil`` in ``redacted`` (a hidden expiry, which the verifier
    must then see as such, docs/format.md v2 §2) though ``registry redact`` never hides it."""
    data = _v2("credential-redacted.json")
    data["proof"][0]["redacted"]["/validUntil"] = _H
    check_strict(data)


# --- credfile.py: redaction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pointer",
    [
        "/credentialSubject/nosuch",  # no such member
        "/credentialSubject/name/x",  # through a string
        "/credentialSubject/result/x/value",  # not an index
        "/credentialSubject/result/00/value",  # an index with a leading zero
        "/credentialSubject/result/1/value",  # one past the end
        "/credentialSubject/result/7/value",  # far past the end
    ],
)
def test_redacting_a_missing_field_names_it(pointer: str) -> None:
    with pytest.raises(RedactionError, match=r"no such field") as caught:
        redact(credential_file(), [pointer])
    assert caught.value.field == pointer


def test_redaction_removes_the_objects_it_empties() -> None:
    doc = {**credential(5), "extension": {"note": "n", "more": {"deep": "d"}}}
    file_dict = _file_of(doc)
    out = redact(file_dict, ["/extension/note", "/extension/more/deep"])
    assert "extension" not in out
    check_integrity(parse_credential_file(out))
    partly = redact(file_dict, ["/extension/more/deep"])
    assert partly["extension"] == {"note": "n"}
    check_integrity(parse_credential_file(partly))


def test_an_unknown_profile_lists_the_known_ones() -> None:
    from _golden_v2 import GOLDEN

    full = json.loads((GOLDEN / "credential.json").read_text("utf-8"))
    profile = json.loads((GOLDEN / "credential-profile-without-result.json").read_text("utf-8"))
    with pytest.raises(RedactionError, match=r"\(profiles: without-result\)$"):
        redact(full, profile="nope")
    with pytest.raises(RedactionError, match=r"\(profiles: none\)$"):
        redact(profile, profile="nope")


def test_the_redacted_file_shares_nothing_with_its_input() -> None:
    file_dict = credential_file()
    before = copy.deepcopy(file_dict)
    out = redact(file_dict, ["/credentialSubject/name"])
    out["proof"][0]["merklePath"].append("0x" + "00" * 32)
    out["proof"][0]["salts"].clear()
    out["credentialSubject"]["achievement"]["name"] = "Changed"
    assert file_dict == before


# --- filerules.py: pointers, salts, dates, schema messages ------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("/", True),
        ("/a", True),
        ("/a/b", True),
        ("//", True),
        ("/a~0b", True),
        ("/a~1b/c", True),
        ("", False),
        ("a", False),
        ("a/b", False),
        ("~", False),
        ("a~0", False),
        ("/a~2", False),
        ("/a~", False),
    ],
)
def test_is_pointer_is_rfc_6901(text: str, ok: bool) -> None:
    assert _is_pointer(text) is ok
    assert (_POINTER_RE.fullmatch(text) is not None) is ok


def _v1() -> dict[str, Any]:
    return json.loads((GOLDEN_V1 / "credential.json").read_text("utf-8"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["proof"][0]["salts"].update({"credentialSubject/name": "0x" + "11" * 16}), r"bad pointer or salt"),
        (lambda f: f["proof"][0]["salts"].update({"/name": "0x" + "11" * 15}), r"bad pointer or salt"),
        (lambda f: f.update(validUntil="２０３０-02-28T09:00:00Z"), r"^/validUntil: .*ASCII digits"),
        (lambda f: f.update(validFrom="２０２５-02-01T09:00:00Z"), r"^/validFrom: .*ASCII digits"),
    ],
)
def test_check_strict_v1_salts_and_dates(mutate: Any, message: str) -> None:
    data = _v1()
    check_strict(copy.deepcopy(data))
    mutate(data)
    with pytest.raises(CredentialFormatError, match=message):
        check_strict(data)


SALT = "0x" + "ab" * 16
HASH = "0x" + "cd" * 32


@pytest.mark.parametrize(
    ("salts", "ok"),
    [
        ({}, True),
        ({"/a": SALT}, True),
        ({"/a": SALT, "/b~0c": SALT, "/d~1e/0": SALT}, True),  # escaped pointers: checked one by one
        ({"/a": SALT + "\n" + SALT, "/b": SALT}, False),  # a newline smuggling a second salt in
        ({"/a": SALT + "\n", "/b": SALT}, False),
        ({"/a": SALT.upper()}, False),
        ({"/a": SALT[:-1]}, False),
        ({"a": SALT}, False),
        ({"": SALT}, False),
        ({"/a~": SALT}, False),
        ({"/a~2": SALT}, False),
    ],
)
def test_salts_are_checked_as_one_by_one(salts: dict[str, Any], ok: bool) -> None:
    """check_strict tests all salts (and all hashes, below) with one match over their joined text,
        looking one by one only when that fails: the verdict is the per-salt rule's on every case (the
    file schema has made sure they are strings)."""
    data = json.loads((GOLDEN_V1 / "credential.json").read_text("utf-8"))
    data["proof"][0]["salts"] = salts
    assert all(_is_pointer(p) and _SALT_RE.fullmatch(v) is not None for p, v in salts.items()) is ok
    if ok:
        check_strict(data)
    else:
        with pytest.raises(CredentialFormatError, match=r"bad pointer or salt"):
            check_strict(data)


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ([], True),
        ([HASH] * 5, True),
        ([HASH, HASH + "\n" + HASH], False),
        ([HASH + "\n"], False),
        ([HASH, HASH.upper()], False),
        ([HASH, HASH[:-2]], False),
    ],
)
def test_merkle_path_hashes_are_checked_as_one_by_one(path: list[Any], ok: bool) -> None:
    data = json.loads((GOLDEN_V1 / "credential.json").read_text("utf-8"))
    data["proof"][0]["merklePath"] = path
    if ok:
        check_strict(data)
    else:
        with pytest.raises(CredentialFormatError, match=r"merklePath/\d+: must be '0x' \+ 64 lower-case hex"):
            check_strict(data)


def test_a_long_schema_message_is_cut_at_300_characters() -> None:
    data = _v1()
    data["validFrom"] = "9" * 400
    problem = first_error(0, data)
    assert problem is not None
    where, _, message = problem.partition(": ")
    assert where == "/validFrom"
    assert len(message) == 303 and message.endswith("...") and not message.endswith("....")


# --- credfile.py: the depth limit (MAX_DEPTH levels below the file's root) -------------------------


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def _depth_refused(data: Any) -> bool:
    try:
        parse_credential_file(data)
    except CredentialFormatError as exc:
        return "nested deeper than 32 levels" in str(exc)
    return False


def test_the_depth_limit_is_exact_in_the_credential_and_in_the_proof() -> None:
    assert MAX_DEPTH == 32
    for as_bytes in (False, True):
        for levels, refused in ((MAX_DEPTH - 1, False), (MAX_DEPTH, True)):  # leaf at depth levels + 1
            data = {**_v1(), "extension": _nested(levels)}
            assert _depth_refused(json.dumps(data).encode() if as_bytes else data) is refused, (as_bytes, levels)
        for levels, refused in ((MAX_DEPTH - 3, False), (MAX_DEPTH - 2, True)):  # leaf at depth levels + 3
            data = _v1()
            data["proof"][0]["extension"] = _nested(levels)
            assert _depth_refused(json.dumps(data).encode() if as_bytes else data) is refused, (as_bytes, levels)


# --- disclosure.py: flattening and encoding edge cases ----------------------------------------------


def test_long_arrays_get_decimal_index_pointers() -> None:
    fields = flatten({"a": list(range(1030))})
    assert [p for p, _ in fields[1022:1027]] == ["/a/1022", "/a/1023", "/a/1024", "/a/1025", "/a/1026"]
    assert fields[1025] == ("/a/1025", 1025)


@pytest.mark.parametrize("value", [b"", (), set(), 0j, b"x", (1,)])
def test_a_non_json_value_is_refused_even_when_empty(value: Any) -> None:
    with pytest.raises(CredentialFormatError, match=r"unsupported JSON value") as caught:
        field_hash("0x" + "11" * 16, "/x", value)
    assert caught.value.field == "/x"


def test_a_bad_redacted_hash_names_its_pointer() -> None:
    doc = {"@context": ["https://www.w3.org/ns/credentials/v2"], "name": "n"}
    with pytest.raises(CredentialFormatError, match=r"redacted field hash") as caught:
        compute_digest(doc, salt_fields(doc, rng=random.Random(1).randbytes), {"/hidden": "0x1234"}, version=2)
    assert caught.value.field == "/hidden"


def test_the_array_shape_rule_does_not_apply_to_the_proof() -> None:
    """Only the credential's own objects must not look like arrays (they would hash like one); a
    proof's maps may: a disclosure profile may be named "0"."""
    from _golden_v2 import GOLDEN

    data = json.loads((GOLDEN / "credential.json").read_text("utf-8"))
    profiles = data["proof"][1]["profiles"]
    profiles["0"] = profiles.pop("without-result")
    cf = parse_credential_file(data)
    assert list(cf.proof["profiles"]) == ["0"]
    with pytest.raises(CredentialFormatError, match=r"shaped like an array"):
        parse_credential_file({**data, "extension": {"0": "a", "1": "b"}})


@pytest.mark.parametrize("leaf", ["x", 0, None, {}, [], {"b": 1}, [1]])
def test_the_depth_limit_is_exact_for_every_kind_of_leaf(leaf: Any) -> None:
    """The checks skip calls for scalars; a scalar, an empty container or a small one at the
    boundary is still measured as before: refused exactly when something sits below level 32."""
    below = 1 if isinstance(leaf, dict | list) and leaf else 0  # a non-empty container adds a level
    for levels in range(MAX_DEPTH - 2, MAX_DEPTH + 2):
        value: Any = leaf
        for _ in range(levels):
            value = {"a": value}
        for data in ({**_v1(), "extension": value}, _v1()):
            if "extension" not in data:
                data["proof"][0]["extension"] = value  # in the proof: two levels lower
            deepest = levels + below + (1 if "extension" in data else 3)
            assert _depth_refused(json.dumps(data).encode()) is (deepest > MAX_DEPTH), (leaf, levels, deepest)


def test_the_depth_limit_counts_arrays_too() -> None:
    def nested_lists(levels: int) -> Any:
        value: Any = "x"
        for _ in range(levels):
            value = [value]
        return value

    for levels, refused in ((MAX_DEPTH - 1, False), (MAX_DEPTH, True)):  # leaf at depth levels + 1
        data = {**_v1(), "extension": nested_lists(levels)}
        assert _depth_refused(json.dumps(data).encode()) is refused, levels


def test_v1_hidden_paths_cannot_claim_a_field_under_a_mandatory_one() -> None:
    data = json.loads((GOLDEN_V1 / "credential-redacted.json").read_text("utf-8"))
    check_strict(copy.deepcopy(data))
    data["proof"][0]["hiddenPaths"].append("/issuer/nosuch")
    with pytest.raises(CredentialFormatError, match=r"/issuer is mandatory and cannot be hidden"):
        check_strict(data)
