"""Salted per-field digest v1: canonical encoding, flattening, salts, tamper evidence."""

from __future__ import annotations

import json
import os
import random
from typing import Any

import pytest
import rfc8785
from _core_fixtures import credential
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.disclosure import (
    compute_digest,
    encode_field,
    field_hash,
    field_hashes,
    flatten,
    fresh_digest,
    parse_pointer,
    salt_fields,
)
from registry.core.keccak import keccak256
from registry.errors import CredentialFormatError

SALT = "0x" + "ab" * 16
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
documents = st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=6)


def _salted(doc: dict[str, Any], seed: int = 0) -> dict[str, str]:
    return salt_fields(doc, rng=random.Random(seed).randbytes)


@given(st.text(), scalars | st.just({}) | st.just([]))
@settings(max_examples=300, deadline=None)
def test_fast_encoding_is_byte_identical_to_rfc8785(pointer: str, value: Any) -> None:
    assert encode_field(SALT, pointer, value) == rfc8785.dumps([SALT, pointer, value])


@given(documents)
@settings(max_examples=100, deadline=None)
def test_field_hash_definition_and_batch_fast_path(doc: dict[str, Any]) -> None:
    salts = _salted(doc)
    hashes = field_hashes(doc, salts)
    for pointer, value in flatten(doc):
        assert hashes[pointer] == keccak256(rfc8785.dumps([salts[pointer], pointer, value]))
    expected = keccak256(b"".join(sorted(hashes.values())))
    assert compute_digest(doc, salts) == expected
    pointers, raw, digest = fresh_digest(doc, os.urandom)
    hx = raw.hex()
    fresh = {p: "0x" + hx[32 * i : 32 * i + 32] for i, p in enumerate(pointers)}
    assert list(pointers) == [p for p, _ in flatten(doc)]
    assert compute_digest(doc, fresh) == digest


def test_flatten_leaves_pointers_and_proof_exclusion() -> None:
    doc = {"a/b": {"c~d": [1, {}, [], {"e": None}]}, "empty": {}, "proof": [{"x": 1}]}
    assert flatten(doc) == [
        ("/a~1b/c~0d/0", 1),
        ("/a~1b/c~0d/1", {}),
        ("/a~1b/c~0d/2", []),
        ("/a~1b/c~0d/3/e", None),
        ("/empty", {}),
    ]
    assert parse_pointer("/a~1b/c~0d/0") == ["a/b", "c~d", "0"]
    with pytest.raises(CredentialFormatError, match=r"must be empty or start with '/'"):
        parse_pointer("a")
    with pytest.raises(CredentialFormatError, match=r"invalid '~' escape"):
        parse_pointer("/a~2")


def test_salts_are_fresh_16_byte_hex_per_field() -> None:
    doc = credential()
    a, b = salt_fields(doc), salt_fields(doc)
    assert set(a) == {p for p, _ in flatten(doc)}
    assert all(len(s) == 34 and s.startswith("0x") and s == s.lower() for s in a.values())
    assert len(set(a.values())) == len(a)
    assert not set(a.values()) & set(b.values())
    assert compute_digest(doc, a) != compute_digest(doc, b)


def test_salt_mismatches_name_the_pointer() -> None:
    doc = {"a": 1, "b": "x"}
    salts = _salted(doc)
    missing = {"/a": salts["/a"]}
    with pytest.raises(CredentialFormatError, match=r"^/b: disclosed field has no salt"):
        compute_digest(doc, missing)
    extra = {**salts, "/c": SALT}
    with pytest.raises(CredentialFormatError, match=r"^/c: proof.salts has a salt for a field"):
        compute_digest(doc, extra)
    bad = {**salts, "/a": "0x" + "AB" * 16}
    with pytest.raises(CredentialFormatError, match=r"^/a: salt must be '0x' followed by 32"):
        compute_digest(doc, bad)
    with pytest.raises(CredentialFormatError, match=r"redacted/0: a redacted field hash must be"):
        compute_digest(doc, salts, ["0x1234"])
    h = field_hash(salts["/a"], "/a", 1)
    with pytest.raises(CredentialFormatError, match=r"appears more than once"):
        compute_digest({"b": "x"}, {"/b": salts["/b"]}, [h, h])


def test_non_json_values_are_refused() -> None:
    with pytest.raises(CredentialFormatError, match=r"^/a: unsupported JSON value of type set"):
        compute_digest({"a": {1}}, {"/a": SALT})
    with pytest.raises(CredentialFormatError, match=r"^/n: value cannot be canonicalised"):
        compute_digest({"n": 2**60}, {"/n": SALT})
    with pytest.raises(CredentialFormatError, match=r"^/s: value cannot be canonicalised"):
        compute_digest({"s": "\ud800"}, {"/s": SALT})


@given(documents, st.data())
@settings(max_examples=100, deadline=None)
def test_any_tampering_changes_the_digest(doc: dict[str, Any], data: st.DataObject) -> None:
    salts = _salted(doc)
    fields = flatten(doc)
    digest = compute_digest(doc, salts)
    pointer, value = data.draw(st.sampled_from(fields))
    # a different salt for one field
    other = dict(salts)
    other[pointer] = "0x" + ("0" if salts[pointer][2] != "0" else "1") + salts[pointer][3:]
    assert compute_digest(doc, other) != digest
    # a different value for one field (same pointer)
    new_value = data.draw(scalars.filter(lambda v: json.dumps(v) != json.dumps(value)))
    if rfc8785.dumps(new_value) != rfc8785.dumps(value):
        altered = {p: (new_value if p == pointer else v) for p, v in fields}
        fake_hashes = [field_hash(salts[p], p, v) for p, v in altered.items()]
        assert keccak256(b"".join(sorted(fake_hashes))) != digest
    # hiding a field keeps the digest only with its exact field hash
    h = field_hash(salts[pointer], pointer, value)
    kept = [field_hash(salts[p], p, v) for p, v in fields if p != pointer]
    assert keccak256(b"".join(sorted([*kept, h]))) == digest
    flipped = bytes([h[0] ^ 1]) + h[1:]
    assert keccak256(b"".join(sorted([*kept, flipped]))) != digest


def test_empty_document_digest_is_keccak_of_nothing() -> None:
    assert compute_digest({}, {}) == keccak256(b"")
    assert fresh_digest({"proof": []}, os.urandom) == ((), b"", keccak256(b""))


def test_batch_fast_path_refuses_non_json_values() -> None:
    with pytest.raises(CredentialFormatError, match=r"^/a/0: unsupported JSON value of type set"):
        fresh_digest({"a": [{1}]}, os.urandom)
    with pytest.raises(CredentialFormatError, match=r"^/b: unsupported JSON value of type bytes"):
        fresh_digest({"b": b"x"}, os.urandom)
