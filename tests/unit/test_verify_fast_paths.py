"""The verifier's fast paths give exactly the answers of the plain algorithms they replace.

- ``field_hashes`` (digest recomputation) goes through cached preimage tails per thread: compared
  with ``keccak256(rfc8785.dumps([salt, pointer, value]))`` per field, warm and cold, and its
  refusals with those of the field-by-field loop.
- ``_twins`` (the RDFC-1.0 work bound) groups objects by key set before writing JSON: compared
  with the literal definition (count of equal shallow JSON signatures).
- ``JsonDepthScanner`` skips the scan of a last chunk that cannot reach the limit, and scans a
  chunk without backslashes with numpy: compared with a plain byte-by-byte definition over random
  bodies cut into random chunks (same refusals, same depth and string state after every chunk).
- the memoised Multikey decoding still refuses what is not a string.
"""

from __future__ import annotations

import dataclasses
import json
import random
from itertools import pairwise
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import registry.core.disclosure as disclosure
from registry.core.disclosure import field_hash, field_hashes, flatten
from registry.core.keccak import keccak256
from registry.core.signing import Canonicalizer, TooManyTwins, _twin_bound, _twins, public_key_from_multibase
from registry.errors import CredentialFormatError, InvalidInput
from registry.service.api.errors import MAX_JSON_DEPTH, JsonDepthScanner
from registry.verify import VerificationPolicy, Verifier
from tests.unit.test_perf_equivalence import documents, json_values

ROOT = Path(__file__).resolve().parents[2]


def _salts(doc: dict[str, Any], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {p: "0x" + rng.randbytes(16).hex() for p, _ in flatten(doc)}


def _reference(doc: dict[str, Any], salts: dict[str, str]) -> dict[str, bytes]:
    return {p: keccak256(rfc8785.dumps([salts[p], p, v])) for p, v in flatten(doc)}


def _loop_error(doc: Any, salts: dict[str, Any]) -> tuple[str, str] | None:
    """The refusal of the field-by-field loop (the path the cache falls back to)."""
    with patch.object(disclosure, "_cached_field_hashes", return_value=None):
        return _error(doc, salts)


def _error(doc: Any, salts: dict[str, Any]) -> tuple[str, str] | None:
    try:
        field_hashes(doc, salts)
    except CredentialFormatError as exc:
        return exc.field, str(exc)
    return None


@given(documents, st.integers(0, 2**32))
@settings(max_examples=300, deadline=None)
def test_field_hashes_equal_the_reference_cold_and_warm(doc: dict[str, Any], seed: int) -> None:
    for i in range(3):  # the second and third pass are served from the tails cached by the first
        salts = _salts(doc, seed + i)
        assert field_hashes(doc, salts) == _reference(doc, salts)


@pytest.mark.parametrize("values", [[1, True, 1.0, "1"], [0, False, 0.0, None, "", {}, []], ["a", "a", 2, 2.0]])
def test_equal_values_of_other_types_never_share_a_cached_encoding(values: list[Any]) -> None:
    for round_ in range(2):
        for i, value in enumerate(values):
            doc = {"x": {"same": value}}
            salts = _salts(doc, 100 * round_ + i)
            assert field_hashes(doc, salts) == _reference(doc, salts), value


bad_salts = st.sampled_from(
    ["0x" + "0" * 31, "0x" + "A" * 32, "0x" + "0" * 32 + "\n", "0X" + "0" * 32, "", "0x" + "٠" * 32, 5, None]
)


@given(documents, st.integers(0, 2**32), st.data())
@settings(max_examples=300, deadline=None)
def test_refusals_are_those_of_the_field_by_field_loop(doc: dict[str, Any], seed: int, data: st.DataObject) -> None:
    salts: dict[str, Any] = _salts(doc, seed)
    pointers = sorted(salts)
    change = data.draw(st.sampled_from(["drop", "bad", "extra", "surrogate"]))
    if change == "drop" and pointers:
        salts.pop(data.draw(st.sampled_from(pointers)))
    elif change == "bad" and pointers:
        salts[data.draw(st.sampled_from(pointers))] = data.draw(bad_salts)
    elif change == "extra":
        salts["/not/a/field"] = "0x" + "1" * 32
    elif change == "surrogate":
        doc = {**doc, "s": "\ud800"}
        salts["/s"] = "0x" + "2" * 32
    want = _loop_error(doc, salts)
    assert _error(doc, salts) == want
    if want is None:
        with patch.object(disclosure, "_cached_field_hashes", return_value=None):
            want_hashes = field_hashes(doc, salts)
        assert field_hashes(doc, salts) == want_hashes == {p: field_hash(salts[p], p, v) for p, v in flatten(doc)}


def test_a_document_that_is_not_an_object_is_refused_as_before() -> None:
    assert _error(["not", "an", "object"], {}) == _loop_error(["not", "an", "object"], {})  # type: ignore[arg-type]


def _twins_by_definition(doc: Any) -> int:
    counts: dict[str, int] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "id" not in node and "@id" not in node:
                sig = json.dumps(
                    {k: ("{}" if isinstance(v, dict) else v) for k, v in node.items()}, sort_keys=True, default=str
                )
                counts[sig] = counts.get(sig, 0) + 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return max(counts.values(), default=0)


small_keys = st.sampled_from(["a", "b", "id", "@id", "type"])
repetitive = st.recursive(
    st.sampled_from([None, 1, "x", "y", True]) | st.just({}),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(small_keys, inner, max_size=3),
    max_leaves=40,
)


@given(repetitive | json_values)
@settings(max_examples=500, deadline=None)
def test_twins_count_as_defined(doc: Any) -> None:
    assert _twins(doc) == _twins_by_definition(doc)


@given(repetitive | json_values)
@settings(max_examples=500, deadline=None)
def test_the_shape_bound_never_undercounts_twins(doc: Any) -> None:
    # Canonicalizer.checked counts twins only for a shape whose bound exceeds the limit: sound
    # only if the bound (objects sharing a key set) is never below the count (sharing a signature).
    assert _twin_bound(doc) >= _twins(doc)
    if isinstance(doc, dict):
        for limit in (0, 1, 2, 8):
            try:
                Canonicalizer().checked(doc, max_twins=limit)
            except TooManyTwins:
                assert _twins(doc) > limit
            except Exception:  # no @context: refused after the twins check, so within the limit
                assert _twins(doc) <= limit


def test_twins_of_a_credential_with_many_equal_results() -> None:
    doc = {"results": [{"type": "Result", "value": "pass"} for _ in range(9)] + [{"type": "Result", "value": "x"}]}
    assert _twins(doc) == 9 == _twins_by_definition(doc)


@pytest.mark.parametrize("body", [b"[" * 65 + b"]" * 65, b'{"a":' * 65 + b"1" + b"}" * 65])
def test_a_too_deep_last_chunk_is_still_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="deeper than"):
        JsonDepthScanner().feed(body, last=True)


def test_a_shallow_body_with_many_brackets_is_scanned_and_accepted() -> None:
    body = json.dumps({"list": [[1], [2]] * 100, "text": "[[[[" * 50}).encode()
    assert body.count(b"[") > MAX_JSON_DEPTH
    scanner = JsonDepthScanner()
    scanner.feed(body, last=True)
    assert scanner.depth == 0


def test_depth_carried_over_from_earlier_chunks_counts() -> None:
    scanner = JsonDepthScanner()
    scanner.feed(b"[" * (MAX_JSON_DEPTH - 1))
    with pytest.raises(ValueError, match="deeper than"):
        scanner.feed(b"[[]]", last=True)


def _depth_by_definition(body: bytes) -> tuple[int, int, bool, bool]:
    """Byte by byte: the deepest nesting reached, the final depth, inside a string at the end,
    and whether the next byte is escaped (brackets and quotes inside strings, escaped, do not count)."""
    deepest = depth = 0
    in_string = escaped = False
    for c in body:
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:
                escaped = True
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in b"]}":
            depth -= 1
    return deepest, depth, in_string, escaped


_BODY_BYTES = st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b","]), max_size=300).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(_BODY_BYTES, st.lists(st.integers(0, 300), max_size=6), st.integers(1, 8), st.booleans())
def test_the_depth_scan_is_the_byte_by_byte_definition(body: bytes, cuts: list[int], limit: int, last: bool) -> None:
    bounds = sorted({0, len(body), *(min(c, len(body)) for c in cuts)})
    chunks = [body[a:b] for a, b in pairwise(bounds)] or [b""]
    scanner = JsonDepthScanner(limit)
    refused = False
    try:
        for i, chunk in enumerate(chunks):
            final = i == len(chunks) - 1
            scanner.feed(chunk, last=last and final)
            if not (last and final):  # the state after a chunk (a skipped last chunk leaves none)
                deepest, depth, in_string, escaped = _depth_by_definition(b"".join(chunks[: i + 1]))
                assert deepest <= limit
                assert (scanner.depth, scanner.in_string, scanner.skip_next) == (depth, in_string, escaped)
    except ValueError as exc:
        assert "deeper than" in str(exc)
        refused = True
    assert refused == (_depth_by_definition(body)[0] > limit)


def test_the_numpy_scan_runs_on_a_batch_body_and_agrees() -> None:
    docs = [{"id": f"urn:uuid:{i}", "proof": {"path": ["0x" + "ab" * 32] * 3}, "s": "[{"} for i in range(500)]
    body = json.dumps(docs).encode()
    scanner = JsonDepthScanner()
    with patch.object(JsonDepthScanner, "_feed_bytewise", side_effect=AssertionError("bytewise path taken")):
        for i in range(0, len(body) - 1, 4096):
            scanner.feed(body[i : min(i + 4096, len(body) - 1)])
    assert (scanner.depth, scanner.in_string) == (1, False)  # all but the closing "]"


@pytest.mark.parametrize("value", [None, 5, b"z6Mk", ["z6Mk"]])
def test_a_key_that_is_not_a_string_is_refused(value: Any) -> None:
    with pytest.raises(InvalidInput):
        public_key_from_multibase(value)


def test_a_verifier_with_another_policy_keeps_the_shape_templates() -> None:
    # The verify API asks for one with ?confirmations=N: it must not learn every shape again with
    # pyld (about 10 ms a request), and it must answer exactly as the first.
    raw = (ROOT / "tests" / "assets" / "golden-v2" / "credential.json").read_bytes()
    first = Verifier(VerificationPolicy(offline=True))
    want = first.verify(raw)
    other = first.with_policy(dataclasses.replace(first.policy, min_confirmations=3))
    assert other.policy.min_confirmations == 3
    slow = first._canonicalizer.slow
    got = other.verify(raw)
    assert first._canonicalizer.slow == slow and first._canonicalizer.fast >= 2
    assert got.model_dump(exclude={"checked_at"}) == want.model_dump(exclude={"checked_at"})
