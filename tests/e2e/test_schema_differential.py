"""Differential test of the compiled JSON Schema validator over the real tamper corpus: files
anchored on anvil (``tests.tamper_mutations.build_corpus``) and 2,000 tampered copies, every
mutator class. The compiled validator (``jsonschema-rs``) and the reference (``jsonschema``) must
accept or reject alike under both schemas (the rule and its one known difference:
``tests/unit/test_schema_differential.py``), and the verifier's ``format`` check must agree with
the reference on every case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.core import filerules
from registry.verify import VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.tamper_mutations import CLASSES, build_corpus, controls, generate
from tests.unit.test_schema_differential import check_cases

pytestmark = pytest.mark.e2e


class _RejectAll:
    """Stands in for a compiled validator: sends every document to the reference."""

    def is_valid(self, data: Any) -> bool:
        return False


def test_real_tamper_corpus_agrees(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = build_corpus(registry, 12)
    cases, _ = generate(corpus, 2000, seed=21)
    assert {name for name, _ in cases} >= set(CLASSES)
    seen = check_cases([*cases, *controls(corpus)])
    assert seen["accepted"] >= len(controls(corpus)) and seen["rejected"] > 100, seen
    # The verifier's format check, status and reason, is the same with the reference alone.
    policy = VerificationPolicy(trusted=registry.trust, now=datetime.now(UTC), offline=True)
    sample = [*cases[::5], *controls(corpus)]
    fast = Verifier(policy).verify_many(sample)
    monkeypatch.setattr(filerules, "_compiled", lambda: (_RejectAll(), _RejectAll(), _RejectAll()))
    reference = Verifier(policy).verify_many(sample)
    for (name, _), a, b in zip(sample, fast, reference, strict=True):
        assert (a.check("format").status, a.check("format").reason) == (
            b.check("format").status,
            b.check("format").reason,
        ), name
        assert a.verdict == b.verdict, name
