"""The column-major digesting of a block (registry.core.batch._shape_digests) and the bulk leaf and
pair hashing of registry.core.merkle equal their per-item definitions, byte for byte.

Whole blocks of one shape, format v1 (sorted field hashes) and v2 (pointer-bound, the shape's
``@context`` decides), are compared with a literal transcription of docs/format.md.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.batch import assemble, digest_chunk
from registry.core.credential import CONTEXTS_V2
from registry.core.disclosure import flatten
from registry.core.keccak import keccak256
from registry.core.merkle import hash_leaves, hash_pairs

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
names = st.text(alphabet=st.sampled_from(["a", "b", "~", "/", "é", "😀", '"', "0"]), min_size=1, max_size=4)
leaves: st.SearchStrategy[Any] = scalars | st.just({}) | st.just([])
documents = st.dictionaries(
    names,
    leaves | st.lists(leaves, min_size=1, max_size=3) | st.dictionaries(names, leaves, min_size=1, max_size=3),
    min_size=1,
    max_size=8,
)


def reference_digest(doc: dict[str, Any], salts: dict[str, str]) -> bytes:
    """docs/format.md v1 §2 and v2 §2, literally."""
    fields = flatten(doc)
    if doc.get("@context") == list(CONTEXTS_V2):
        ordered = sorted(fields, key=lambda f: f[0].encode("utf-8"))
        return keccak256(
            b"".join(keccak256(p.encode("utf-8")) + keccak256(rfc8785.dumps([salts[p], p, v])) for p, v in ordered)
        )
    return keccak256(b"".join(sorted(keccak256(rfc8785.dumps([salts[p], p, v])) for p, v in fields)))


def same_shape(template: dict[str, Any], r: random.Random, count: int) -> list[dict[str, Any]]:
    """``count`` documents of ``template``'s exact shape with string leaves varied."""
    out = []
    for i in range(count):
        doc = copy.deepcopy(template)
        for key, value in doc.items():
            if type(value) is str and r.random() < 0.7:
                doc[key] = f"{value}-{i}-{r.randrange(10**6)}"
        out.append(doc)
    return out


def check(docs: list[dict[str, Any]], seed: int) -> None:
    chunk = digest_chunk(docs, len(docs), random.Random(seed).randbytes)
    salts, digest_blob, leaves_blob = assemble([chunk], len(docs))
    for i, doc in enumerate(docs):
        assert digest_blob[32 * i : 32 * i + 32] == reference_digest(doc, salts[i])
    assert leaves_blob == b"".join(
        keccak256(keccak256(digest_blob[j : j + 32])) for j in range(0, len(digest_blob), 32)
    )


@given(documents, st.integers(0, 2**32), st.integers(1, 30), st.booleans())
@settings(max_examples=120, deadline=None)
def test_a_block_of_one_shape_equals_the_definition(
    template: dict[str, Any], seed: int, count: int, version_2: bool
) -> None:
    template = {k: v for k, v in template.items() if k != "proof"}
    if version_2:
        template = {"@context": list(CONTEXTS_V2), **template}
    check(same_shape(template, random.Random(seed), count), seed)


def test_many_fields_v1_and_v2() -> None:
    r = random.Random(4)
    base: dict[str, Any] = {f"f{j:03d}": (f"v{j}" if j % 3 else j) for j in range(90)}
    base["nested"] = {"list": [1, "two", None, {}, []], "x~/y": {"z": 2.5}}
    for template in (base, {"@context": list(CONTEXTS_V2), **base}):
        check(same_shape(template, r, 50), 11)


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=0, max_size=40))
def test_bulk_leaf_and_pair_hashing(values: list[bytes]) -> None:
    blob = b"".join(values)
    assert hash_leaves(blob) == b"".join(keccak256(keccak256(v)) for v in values)
    pairs = blob[: len(blob) - len(blob) % 64]
    assert hash_pairs(pairs) == b"".join(keccak256(pairs[j : j + 64]) for j in range(0, len(pairs), 64))
