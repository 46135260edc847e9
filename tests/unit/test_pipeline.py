"""Batch preparation and synthetic cohorts."""

from __future__ import annotations

import random

import pytest
from _core_fixtures import ACHIEVEMENT, ISSUER, credential

import registry.issue.prepare as pipeline
from registry.core.credfile import (
    check_inclusion,
    check_integrity,
    make_credential_file,
    parse_credential_file,
)
from registry.core.disclosure import compute_digest, flatten
from registry.core.merkle import verify_proof
from registry.core.signing import Signer, check_signature, derive_signing_key
from registry.issue.prepare import prepare_batch
from tests import cohort
from tests.cohort import Profile, synthetic_cohort, synthetic_source

SIGNER = Signer(derive_signing_key(b"\x07" * 32), ISSUER.id, "2025-03-01T00:00:00Z")


def test_synthetic_cohort_is_reproducible_and_varied() -> None:
    a = list(synthetic_cohort(20, ISSUER, ACHIEVEMENT, seed=3))
    b = list(synthetic_cohort(20, ISSUER, ACHIEVEMENT, seed=3))
    c = list(synthetic_cohort(20, ISSUER, ACHIEVEMENT, seed=4))
    assert a == b and a != c
    assert len({d["id"] for d in a}) == 20
    assert len({d["credentialSubject"]["identifier"][0]["identityHash"] for d in a}) == 20
    assert 30 <= len(flatten(a[0])) <= 70  # format v2: the EU elements are OB alignment entries (more leaves)


@pytest.mark.parametrize("workers", [1, 2])
def test_prepare_batch(workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_CHUNK", 7)
    docs = list(synthetic_cohort(30, ISSUER, ACHIEVEMENT, seed=1))
    docs.append(credential(extra_subject={"note": {"a": [1, 2.5, None, {}]}}))  # another layout
    batch = prepare_batch(docs, workers=workers)
    assert len(batch.salts) == len(batch.digests) == batch.tree.size == len(docs)
    assert batch.salts[-1] == batch.salts[len(docs) - 1]
    assert len(batch.salts[0:3]) == 3
    for i, doc in enumerate(docs):
        salts = batch.salts[i]
        assert set(salts) == {p for p, _ in flatten(doc)}
        assert compute_digest(doc, salts) == batch.digests[i]
        verify_proof(batch.tree.root, batch.digests[i], batch.tree.proof(i))
    all_salts = [s for i in range(len(docs)) for s in batch.salts[i].values()]
    assert len(set(all_salts)) == len(all_salts)
    with pytest.raises(IndexError):
        batch.salts[len(docs)]


def test_prepared_batch_gives_verifiable_files() -> None:
    from _core_fixtures import ANCHOR

    docs = list(synthetic_cohort(5, ISSUER, ACHIEVEMENT, seed=9))
    batch = prepare_batch(docs, rng=random.Random(1).randbytes)
    for i, _, proof in batch.tree.iter_proofs():
        f = make_credential_file(
            docs[i], batch.salts[i], batch.digests[i], batch.tree.root, proof, ANCHOR, signer=SIGNER
        )
        cf = parse_credential_file(f)
        check_integrity(cf)
        check_inclusion(cf)
        assert cf.signature is not None and check_signature(cf.credential, cf.signature).ok


def test_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match=r"at least one credential"):
        prepare_batch([])


def test_seeded_rng_never_repeats_salts_across_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_CHUNK", 4)
    docs = list(synthetic_cohort(12, ISSUER, ACHIEVEMENT, seed=2))
    batch = prepare_batch(docs, workers=2, rng=random.Random(5).randbytes)
    all_salts = [s for i in range(len(docs)) for s in batch.salts[i].values()]
    assert len(set(all_salts)) == len(all_salts)


@pytest.mark.parametrize("profile", ["microcredential", "basic"])
def test_synthetic_cohort_is_exactly_build_credential(profile: Profile) -> None:
    from registry.core.credential import build_credential

    docs = list(synthetic_cohort(300, ISSUER, ACHIEVEMENT, seed=11, profile=profile))
    for i, doc in enumerate(docs):
        learner = cohort._learner(11, i)
        randoms = iter([learner.credential_uuid, learner.identity_salt]).__next__
        expected = build_credential(
            achievement=ACHIEVEMENT,
            issuer=ISSUER,
            recipient_email=learner.email,
            recipient_name=learner.name,
            valid_from=learner.valid_from,
            valid_until=learner.valid_until,
            result=learner.result,
            rng=lambda _n, r=randoms: r(),  # type: ignore[misc]
        )
        if profile == "basic":
            expected = cohort._to_basic(expected)
        assert doc == expected
        assert flatten(doc) == flatten(expected)  # same member order, so the same layout
    pointers = {p for p, _ in flatten(docs[0])}
    assert ("/credentialSubject/achievement/alignment/0/targetCode" in pointers) == (profile == "microcredential")
    # any range on its own equals the same range of a longer run
    assert list(synthetic_cohort(5, ISSUER, ACHIEVEMENT, seed=11, start=100, profile=profile)) == docs[100:105]


def test_basic_profile_files_validate() -> None:
    from _core_fixtures import ANCHOR

    docs = list(synthetic_cohort(3, ISSUER, ACHIEVEMENT, seed=9, profile="basic"))
    batch = prepare_batch(docs)
    for i, _, proof in batch.tree.iter_proofs():
        f = make_credential_file(
            docs[i], batch.salts[i], batch.digests[i], batch.tree.root, proof, ANCHOR, signer=SIGNER
        )
        check_inclusion(parse_credential_file(f))  # parsing checks both JSON Schemas


@pytest.mark.parametrize("workers", [1, 2])
def test_prepare_batch_from_a_source(workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_CHUNK", 6)
    source = synthetic_source(ISSUER, ACHIEVEMENT, seed=4, profile="basic")
    batch = pipeline.prepare_batch_from(20, source, workers=workers)
    docs = list(synthetic_cohort(20, ISSUER, ACHIEVEMENT, seed=4, profile="basic"))
    for i, doc in enumerate(docs):
        assert compute_digest(doc, batch.salts[i]) == batch.digests[i]
        verify_proof(batch.tree.root, batch.digests[i], batch.tree.proof(i))
    all_salts = [s for i in range(len(docs)) for s in batch.salts[i].values()]
    assert len(set(all_salts)) == len(all_salts)


def test_a_short_source_is_an_error() -> None:
    with pytest.raises(ValueError, match="returned 2 documents"):
        pipeline.prepare_batch_from(3, lambda s, e: [{"a": 1}, {"a": 2}], workers=1)
    with pytest.raises(ValueError, match="unknown profile"):
        next(synthetic_cohort(1, ISSUER, ACHIEVEMENT, seed=1, profile="nope"))  # type: ignore[arg-type]


def test_urandom_pool_hands_out_each_byte_once() -> None:
    pool = pipeline._UrandomPool()
    parts = [pool(n) for n in (16, 608, 70_000, 5, 65_536)]
    assert [len(p) for p in parts] == [16, 608, 70_000, 5, 65_536]
    blob = b"".join(parts)
    chunks = {blob[i : i + 16] for i in range(0, len(blob) - 16, 16)}
    assert len(chunks) == (len(blob) - 16 + 15) // 16  # no repeated 16-byte block
