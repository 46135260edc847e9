"""The column fast path of batch preparation is the per-credential definition, byte for byte.

:func:`registry.core.batch.digest_chunk` digests the documents of a chunk that share a shape
column by column (compiled shape extractors, tails, salts and keccak over whole lists). Here it
is compared, on random documents of shared and diverging shapes, with the plain per-credential
path (:func:`fresh_digest`, one document at a time, salts from the same seeded generator) and
with a literal transcription of docs/format.md: same pointers, same salts, same digests, same
leaves, same errors.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import registry.core.batch as batch
import registry.core.disclosure as disclosure
from registry.core.batch import BatchCaches, assemble, digest_chunk
from registry.core.credential import CONTEXTS_V2
from registry.core.disclosure import SALT_BYTES, FieldTails, flatten, fresh_digest
from registry.core.keccak import keccak256
from registry.errors import CredentialFormatError
from tests.cohort import synthetic_cohort

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
names = st.text(
    alphabet=st.sampled_from(["a", "~", "/", "0", "1", '"', "\\", "\n", "\x00", "é", "€", "😀", "'", "{", " "]),
    max_size=5,
) | st.text(max_size=5)
json_values = st.recursive(
    scalars | st.just({}) | st.just([]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=20,
)
documents = st.dictionaries(names, json_values, min_size=0, max_size=6)


def reference_digest(doc: dict[str, Any], salts: dict[str, str]) -> bytes:
    """docs/format.md v1 §2 and v2 §2, literally (v2: the document's contexts are exactly the
    VC 2.0 and OB 3.0.3 ones)."""
    fields = flatten(doc)
    if doc.get("@context") == list(CONTEXTS_V2):
        ordered = sorted(fields, key=lambda f: f[0].encode("utf-8"))
        return keccak256(
            b"".join(keccak256(p.encode("utf-8")) + keccak256(rfc8785.dumps([salts[p], p, v])) for p, v in ordered)
        )
    hashes = [keccak256(rfc8785.dumps([salts[p], p, v])) for p, v in fields]
    return keccak256(b"".join(sorted(hashes)))


def _leaves_of(doc: Any) -> list[tuple[list[Any], Any]]:
    """(path of containers and keys, leaf value) of every leaf, to swap values in place."""
    out: list[tuple[list[Any], Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        items = node.items() if type(node) is dict else enumerate(node)
        for key, value in items:
            if (type(value) is dict or type(value) is list) and value:
                walk(value, [*path, key])
            else:
                out.append(([*path, key], value))

    if type(doc) is dict:
        walk(doc, [])
    return out


def _set(doc: Any, path: list[Any], value: Any) -> None:
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def variants(template: dict[str, Any], r: random.Random, count: int, values: list[Any]) -> list[Any]:
    """``count`` documents of ``template``'s shape (leaf values swapped), some with diverging
    shapes: a leaf turned into a non-empty container, a member dropped, reordered or added,
    an array lengthened, a ``proof`` member."""
    leaves = _leaves_of(template)
    docs: list[Any] = []
    for _ in range(count):
        doc = copy.deepcopy(template)
        for path, _ in leaves:
            if r.random() < 0.6:
                _set(doc, path, r.choice(values))
        kind = r.randrange(12)
        if kind == 0 and leaves:
            _set(doc, r.choice(leaves)[0], r.choice([{"x": 1}, [1, "y"], {"": {}}]))
        elif kind == 1 and doc:
            del doc[next(iter(doc))]
        elif kind == 2 and len(doc) > 1:
            doc = dict(reversed(list(doc.items())))
        elif kind == 3:
            doc["added~/"] = r.choice(values)
        elif kind == 4:
            doc["proof"] = [{"type": "ignored"}]
        elif kind == 5 and leaves:
            path = r.choice(leaves)[0]
            container = template
            for key in path[:-1]:
                container = container[key]
            if type(container) is list:
                node = doc
                for key in path[:-1]:
                    node = node[key]
                node.append("extra")
        docs.append(doc)
    return docs


VALUES: list[Any] = [
    "a",
    "b",
    'Grüße ~ "q"',
    "\n\x00\\",
    "😀",
    "",
    0,
    1,
    -7,
    2**53 - 1,
    2.5,
    -0.0,
    1e21,
    5.0,
    True,
    False,
    None,
    {},
    [],
]


def per_credential(docs: list[Any], seed: int) -> tuple[list[tuple[str, ...]], list[bytes], list[bytes]]:
    """The plain path: fresh_digest document by document, salts from the same seeded rng."""
    rng = random.Random(seed).randbytes
    out = [fresh_digest(doc, rng, FieldTails()) for doc in docs]
    return [o[0] for o in out], [o[1] for o in out], [o[2] for o in out]


def check_chunk(docs: list[Any], seed: int, caches: BatchCaches | None = None) -> None:
    pointers, raws, digests = per_credential(docs, seed)
    chunk = digest_chunk(docs, len(docs), random.Random(seed).randbytes, caches)
    salts, digest_blob, leaves_blob = assemble([chunk], len(docs) or 1)
    assert digest_blob == b"".join(digests)
    assert leaves_blob == b"".join(keccak256(keccak256(d)) for d in digests)
    assert chunk.salts == b"".join(raws)
    for i, doc in enumerate(docs):
        assert tuple(salts[i]) == pointers[i] == tuple(p for p, _ in flatten(doc))
        hx = raws[i].hex()
        assert salts[i] == {p: "0x" + hx[32 * j : 32 * j + 32] for j, p in enumerate(pointers[i])}
        assert digests[i] == reference_digest(doc, salts[i])


@given(documents, st.integers(0, 2**32), st.integers(1, 40))
@settings(max_examples=150, deadline=None)
def test_chunks_of_one_shape_and_its_neighbours_equal_the_definition(
    template: dict[str, Any], seed: int, count: int
) -> None:
    docs = variants(template, random.Random(seed), count, VALUES)
    check_chunk(docs, seed)


@given(st.lists(documents, min_size=1, max_size=5), st.integers(0, 2**32))
@settings(max_examples=80, deadline=None)
def test_interleaved_shapes_across_blocks_and_chunks(templates: list[dict[str, Any]], seed: int) -> None:
    r = random.Random(seed)
    docs = [d for t in templates for d in variants(t, r, 6, VALUES)]
    r.shuffle(docs)
    caches = BatchCaches()  # shared by consecutive chunks, as in a worker process
    saved = batch._BLOCK
    batch._BLOCK = 4  # type: ignore[misc]
    try:
        check_chunk(docs[: len(docs) // 2], seed, caches)
        check_chunk(docs[len(docs) // 2 :], seed + 1, caches)
    finally:
        batch._BLOCK = saved  # type: ignore[misc]


@given(documents, st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_volatile_columns_and_the_shape_limit(template: dict[str, Any], seed: int) -> None:
    r = random.Random(seed)
    docs = variants(template, r, 12, [*VALUES, *(f"v{i}" for i in range(40)), *range(100, 140)])
    saved = (disclosure._VOLATILE_AFTER, batch._MAX_SHAPES)
    disclosure._VOLATILE_AFTER = 1  # type: ignore[misc]
    batch._MAX_SHAPES = 1  # type: ignore[misc]
    try:
        check_chunk(docs, seed)
        check_chunk(docs, seed + 1)
    finally:
        disclosure._VOLATILE_AFTER, batch._MAX_SHAPES = saved  # type: ignore[misc]


def test_a_synthetic_cohort_equals_the_definition() -> None:
    from _core_fixtures import ACHIEVEMENT, ISSUER

    for profile in ("basic", "microcredential"):
        docs: list[Any] = list(synthetic_cohort(300, ISSUER, ACHIEVEMENT, seed=8, profile=profile))
        docs[7] = {**docs[7], "proof": [{"type": "x"}]}
        check_chunk(docs, 3)


BAD: list[Any] = [
    {"a": "\ud800"},
    {"a": {"\ud800": 1}},
    {"a": 2**53},
    {"a": float("nan")},
    {"a": float("inf")},
    {"a": {1: 2}},
    {"a": b"x"},
    {"a": (1, 2)},
    ["not an object"],
]


@pytest.mark.parametrize("bad", BAD, ids=range(len(BAD)))
def test_errors_are_the_per_credential_errors(bad: Any) -> None:
    docs: list[Any] = [{"a": "ok", "b": [1, 2]} for _ in range(5)]
    docs[3] = bad
    with pytest.raises(CredentialFormatError) as expected:
        per_credential(docs, 1)
    with pytest.raises(CredentialFormatError) as got:
        digest_chunk(docs, len(docs), random.Random(1).randbytes)
    assert (got.value.field, str(got.value)) == (expected.value.field, str(expected.value))


def test_same_shape_bad_value_is_reported_at_its_document() -> None:
    docs: list[Any] = [{"a": f"v{i}", "b": [1, {"c": True}]} for i in range(9)]
    docs[4] = {"a": "\udfff", "b": [1, {"c": True}]}
    docs[6] = {"a": "x", "b": [2**60, {"c": True}]}
    with pytest.raises(CredentialFormatError, match="/a") as got:
        digest_chunk(docs, len(docs), random.Random(1).randbytes)
    assert got.value.field == "/a"


def test_salts_come_one_rng_call_per_document_in_order() -> None:
    calls: list[int] = []
    r = random.Random(5)

    def rng(n: int) -> bytes:
        calls.append(n)
        return r.randbytes(n)

    docs: list[Any] = [{"a": i, "b": {"c": "x"}} for i in range(5)] + [{"z": []}, {"a": 1, "b": {"c": "y"}}]
    digest_chunk(docs, len(docs), rng)
    assert calls == [2 * SALT_BYTES] * 5 + [SALT_BYTES, 2 * SALT_BYTES]


def test_shapes_name_members_only_as_constants() -> None:
    evil = {'"), __import__("os").system("exit 1"), ("': "x", "\\": {"'''": [1, {"\n": None}]}}
    check_chunk([evil, copy.deepcopy(evil), {**evil, "\\": {"'''": [2, {"\n": "y"}]}}], 9)


def test_a_short_rng_is_refused_like_the_per_credential_path() -> None:
    docs: list[Any] = [{"a": i} for i in range(4)]
    with pytest.raises(ValueError, match="wrong number of bytes"):
        digest_chunk(docs, len(docs), lambda n: b"\x00" * (n - 1))
    with pytest.raises(ValueError, match="wrong number of bytes"):
        digest_chunk([*docs, {"b": []}], len(docs) + 1, lambda n: b"\x00" * (n - 1))
