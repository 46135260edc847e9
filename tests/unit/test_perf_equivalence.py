"""The fast paths are the normative algorithm: batch digests, preimage tails, bulk verification.

Every fast path is compared with a direct transcription of docs/format.md (``rfc8785.dumps`` of
``[salt, pointer, value]``, keccak256, sorted concatenation) on random input.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import registry.core.disclosure as disclosure
from registry.core.disclosure import (
    SALT_BYTES,
    FieldTails,
    _Leaf,
    compute_digest,
    escape_pointer_token,
    flatten,
    fresh_digest,
)
from registry.core.keccak import keccak256
from registry.core.merkle import MerkleTree, verify_proof
from registry.errors import CredentialFormatError
from tests.proofcheck import verify_proofs

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
# Member names with the characters RFC 6901 escapes, quotes, controls and non-ASCII text.
names = st.text(
    alphabet=st.sampled_from(["a", "~", "/", "0", "1", '"', "\\", "\n", "\x00", "é", "ß", "€", "😀"]), max_size=6
) | st.text(max_size=6)
json_values = st.recursive(
    scalars | st.just({}) | st.just([]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=25,
)
documents = st.dictionaries(names, json_values, min_size=0, max_size=6)


def reference_digest(doc: dict[str, Any], salts: dict[str, str]) -> bytes:
    """docs/format.md section 2, literally."""
    hashes = [keccak256(rfc8785.dumps([salts[p], p, v])) for p, v in flatten(doc)]
    return keccak256(b"".join(sorted(hashes)))


def salts_of(pointers: tuple[str, ...], raw: bytes) -> dict[str, str]:
    hx = raw.hex()
    return {p: "0x" + hx[32 * i : 32 * i + 32] for i, p in enumerate(pointers)}


TAILS = FieldTails()  # shared by every example, as one batch shares it across its credentials


def check_fast_digest(doc: dict[str, Any], seed: int, tails: FieldTails = TAILS) -> None:
    pointers, raw, digest = fresh_digest(doc, random.Random(seed).randbytes, tails)
    assert list(pointers) == [p for p, _ in flatten(doc)]
    assert len(raw) == SALT_BYTES * len(pointers)
    salts = salts_of(pointers, raw)
    assert digest == reference_digest(doc, salts) == compute_digest(doc, salts)


@given(documents, st.integers(0, 2**32))
@settings(max_examples=300, deadline=None)
def test_batch_digest_equals_the_reference(doc: dict[str, Any], seed: int) -> None:
    check_fast_digest(doc, seed)
    check_fast_digest(doc, seed + 1)  # second pass: served from the tail caches


@given(st.lists(documents, min_size=2, max_size=8), st.integers(0, 2**32))
@settings(max_examples=100, deadline=None)
def test_volatile_pointers_encode_like_cached_ones(docs: list[dict[str, Any]], seed: int) -> None:
    # Pointers stop caching after _VOLATILE_AFTER distinct values; make that happen at once.
    saved = disclosure._VOLATILE_AFTER
    disclosure._VOLATILE_AFTER = 1  # type: ignore[misc]
    try:
        for i, doc in enumerate(docs * 2):
            check_fast_digest(doc, seed + i)
    finally:
        disclosure._VOLATILE_AFTER = saved  # type: ignore[misc]


@given(names, json_values)
@settings(max_examples=400, deadline=None)
def test_preimage_tail_is_rfc8785_of_the_field_array(key: str, value: Any) -> None:
    pointer = "/x/" + escape_pointer_token(key)
    salt = "0x" + random.Random(key).randbytes(16).hex()
    leaf = _Leaf(pointer, FieldTails())
    for _ in range(2):  # miss, then hit
        if (type(value) is dict or type(value) is list) and value:
            continue  # not a leaf
        assert b'["' + salt.encode() + leaf.tail(value) == rfc8785.dumps([salt, pointer, value])


@given(st.binary(min_size=0, max_size=40 * SALT_BYTES).map(lambda b: b[: len(b) - len(b) % SALT_BYTES]))
def test_salt_heads_split_in_c(raw: bytes) -> None:
    if not raw:
        return
    heads = (b'["0x' + raw.hex(":", SALT_BYTES).encode("ascii").replace(b":", b':["0x')).split(b":")
    expected = [b'["0x' + raw[i : i + SALT_BYTES].hex().encode() for i in range(0, len(raw), SALT_BYTES)]
    assert heads == expected


def test_many_distinct_values_switch_a_pointer_to_volatile() -> None:
    pointer = "/volatile-test/v"
    docs = [{"volatile-test": {"v": f"value {i}", "n": i, "f": i / 7}} for i in range(disclosure._VOLATILE_AFTER + 50)]
    tails = FieldTails()
    for i, doc in enumerate(docs):
        check_fast_digest(doc, i, tails)
    assert tails.members["/volatile-test"]["v"][1].cache is None
    assert tails.members["/volatile-test"]["v"][0] == pointer


def test_fast_path_reports_bad_values_like_the_reference() -> None:
    for doc in ({"a": "\ud800"}, {"a": {"\ud800": 1}}, {"a": 2**53}, {"a": float("nan")}, {"a": {1: 2}}):
        with pytest.raises(CredentialFormatError):
            fresh_digest(doc, random.Random(0).randbytes)


def test_list_indices_never_serve_non_string_member_names() -> None:
    check_fast_digest({"m": ["x", "y"]}, 1)
    with pytest.raises(CredentialFormatError, match="not a string"):
        fresh_digest({"m": {1: "y"}}, random.Random(0).randbytes)


@pytest.mark.parametrize("workers", [1, 2])
def test_bulk_verification_agrees_with_verify_proof(workers: int) -> None:
    r = random.Random(7)
    digests = [r.randbytes(32) for _ in range(300)]
    tree = MerkleTree.build(digests)
    items: list[tuple[Any, Any]] = [(d, p) for _, d, p in tree.iter_proofs()]
    d0, p0 = items[0]
    items += [
        (digests[1], p0),  # another leaf's proof
        (d0, [*p0, p0[0]]),  # unused extra element
        (d0, p0[:-1]),  # missing element
        (d0, [p0[0][:31], *p0[1:]]),  # short element
        (d0 + d0, p0),  # 64-byte value
        (d0, ["x" * 32 for _ in p0]),  # not bytes
        (d0, [b"\x00" * 32] * 65),  # too long
        ("0x" + d0.hex(), p0),  # not bytes
        (bytearray(d0), p0),  # not bytes
    ]
    expected = []
    for i, (d, p) in enumerate(items):
        try:
            verify_proof(tree.root, d, p)
        except Exception:
            expected.append(i)
    assert expected == list(range(300, len(items)))
    assert verify_proofs(tree.root, items, workers=workers) == expected


def test_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disclosure, "_CACHE_LIMIT", 8)
    tails = FieldTails()
    for i in range(50):
        check_fast_digest({f"k{i}": {"a": "same", "b": [i, "x"]}, "c": {"d": "v"}}, i, tails)
        assert len(tails.members) + len(tails.indices) <= 2 * 8 + 4
        assert tails.cached <= 8 + 8
