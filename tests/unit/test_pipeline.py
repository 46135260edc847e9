"""Batch preparation and synthetic cohorts."""

from __future__ import annotations

import random

import pytest
from _core_fixtures import ACHIEVEMENT, ISSUER, credential

import registry.pipeline as pipeline
from registry.credfile import (
    check_inclusion,
    check_integrity,
    make_credential_file,
    parse_credential_file,
)
from registry.disclosure import compute_digest, flatten
from registry.merkle import verify_proof
from registry.pipeline import prepare_batch, synthetic_cohort


def test_synthetic_cohort_is_reproducible_and_varied() -> None:
    a = list(synthetic_cohort(20, ISSUER, ACHIEVEMENT, seed=3))
    b = list(synthetic_cohort(20, ISSUER, ACHIEVEMENT, seed=3))
    c = list(synthetic_cohort(20, ISSUER, ACHIEVEMENT, seed=4))
    assert a == b and a != c
    assert len({d["id"] for d in a}) == 20
    assert len({d["credentialSubject"]["identifier"][0]["identityHash"] for d in a}) == 20
    assert 30 <= len(flatten(a[0])) <= 45


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
        f = make_credential_file(docs[i], batch.salts[i], batch.digests[i], batch.tree.root, proof, ANCHOR)
        cf = parse_credential_file(f)
        check_integrity(cf)
        check_inclusion(cf)


def test_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match=r"at least one credential"):
        prepare_batch([])


def test_seeded_rng_never_repeats_salts_across_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_CHUNK", 4)
    docs = list(synthetic_cohort(12, ISSUER, ACHIEVEMENT, seed=2))
    batch = prepare_batch(docs, workers=2, rng=random.Random(5).randbytes)
    all_salts = [s for i in range(len(docs)) for s in batch.salts[i].values()]
    assert len(set(all_salts)) == len(all_salts)
