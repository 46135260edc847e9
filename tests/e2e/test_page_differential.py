"""The standalone verifier page against the Python verifier: real anvil, real Chromium, the page
opened from ``file://`` with only the RPC URL. Every verdict, every check's status (in report
order) and the proofs each report names must agree: over the tamper corpus issued as format v1
files, over format v2 files (full, redacted, profiles, tampered, re-signed), over corrections and
renewals (superseded files, successors' ``supersedes`` claims, confirmed or not) and over the
tamper corpus as ``tests/tamper_mutations.py`` issues it today (the 5,000+ file figure is
``scripts/bench.py --only page``)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from registry.cli.app import app
from registry.verify import CheckStatus, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.e2e.test_pages import _require_browser
from tests.page_differential import (
    EDGE_CASES,
    Case,
    compare,
    open_page,
    supersession_cases,
    v1_corpus,
    v2_cases,
    v2_edge_cases,
)
from tests.tamper_mutations import CLASSES, Corpus, build_corpus, controls, generate

pytestmark = pytest.mark.e2e

CASES = 2_000


@pytest.fixture(scope="module")
def corpus(registry: Registry) -> Corpus:
    """The tamper corpus of format v1 files (v1 files keep verifying forever)."""
    return v1_corpus(registry, 12)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _require_browser()
    out = tmp_path_factory.mktemp("page") / "verifier.html"
    result = CliRunner().invoke(app, ["verifier-page", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open_page(out) as p:
        yield p


def _explain(found: Any) -> str:
    return json.dumps(found.disagreements[:3], indent=1, default=str)[:4000]


def test_page_agrees_with_python_over_the_tamper_corpus(registry: Registry, corpus: Corpus, page: Any) -> None:
    cases, _ = generate(corpus, CASES, seed=11)
    cases += controls(corpus)
    found = compare(page, cases, rpc=registry.rpc_url, trusted=registry.trust, now=datetime.now(UTC))
    assert found.files == len(cases)
    assert not found.disagreements, f"{len(found.disagreements)} disagreements: {_explain(found)}"
    assert found.verdicts.get("VALID", 0) == len(controls(corpus))  # the harness is honest both ways
    assert set(found.verdicts) >= {"VALID", "INVALID"}
    assert {name for name, _ in cases} >= set(CLASSES)


def test_page_agrees_with_python_on_v2_files(registry: Registry, page: Any) -> None:
    cases = v2_cases(registry)
    for trusted in (registry.trust, {}):
        found = compare(page, cases, rpc=registry.rpc_url, trusted=trusted, now=datetime.now(UTC))
        assert not found.disagreements, f"trusted={trusted}: {len(found.disagreements)}: {_explain(found)}"
        if trusted:
            assert found.verdicts.get("VALID", 0) >= 12  # full, redacted, profiles, no expiry
            assert {"INVALID", "INDETERMINATE"} <= set(found.verdicts)
    past = compare(page, cases, rpc=registry.rpc_url, trusted=registry.trust, now=datetime(2020, 6, 1, tzinfo=UTC))
    assert not past.disagreements, _explain(past)


@pytest.fixture(scope="module")
def edge_cases(registry: Registry) -> dict[str, Case]:
    return {name: (name, data) for name, data in v2_edge_cases(registry)}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_page_agrees_with_python_on_v2_strictness_corner_cases(
    registry: Registry, page: Any, edge_cases: dict[str, Case], name: str
) -> None:
    """Both verifiers fail these files, on the same check (whole-string patterns, JSON-LD terms
    no context defines, a pointer that is not Unicode)."""
    failing, why = EDGE_CASES[name]
    found = compare(page, [edge_cases[name]], rpc=registry.rpc_url, trusted=registry.trust, now=datetime.now(UTC))
    assert not found.disagreements, f"{why}: {_explain(found)}"
    assert found.verdicts.get("INVALID", 0) == 1
    report = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(edge_cases[name][1])
    assert report.check(failing).status is CheckStatus.FAIL, why


def test_page_agrees_over_the_tamper_corpus_as_issued_today(registry: Registry, page: Any) -> None:
    """``tests/tamper_mutations.py`` on the files ``Registry.issue`` writes today (format v2)."""
    corpus = build_corpus(registry, 12)
    assert all(f["proof"][-1]["format"] == "credreg-proof-v2" for f in corpus.files)
    cases, _ = generate(corpus, CASES // 2, seed=12)
    cases += controls(corpus)
    found = compare(page, cases, rpc=registry.rpc_url, trusted=registry.trust, now=datetime.now(UTC))
    assert not found.disagreements, f"{len(found.disagreements)} disagreements: {_explain(found)}"
    assert found.verdicts.get("VALID", 0) == len(controls(corpus))


def test_page_agrees_on_trust_revocation_and_time(registry: Registry, corpus: Corpus, page: Any) -> None:
    revoked = registry.issue(3)
    files = [json.loads(Path(p).read_text()) for p in revoked.files]
    registry.client.writes.revoke_credentials(registry.issuer_key, [files[0]["proof"][-1]["credentialDigest"]], 2)
    cases: list[Case] = [("revoked", files[0]), ("sibling", files[1]), *controls(corpus)[:6]]
    cases += [("impersonating", copy.deepcopy(f)) for f in corpus.impersonating[:2]]
    cases += [("expired", copy.deepcopy(f)) for f in corpus.expired_redactable[:2]]
    for trusted in (registry.trust, {}):  # trusted: VALID/INVALID; untrusted: issuer INDETERMINATE
        for now in (datetime.now(UTC), datetime(2020, 6, 1, tzinfo=UTC)):
            found = compare(page, cases, rpc=registry.rpc_url, trusted=trusted, now=now)
            assert not found.disagreements, f"trusted={trusted} now={now}: {_explain(found)}"
    untrusted = compare(page, cases[1:2], rpc=registry.rpc_url, trusted={}, now=datetime.now(UTC))
    assert untrusted.verdicts == {"INDETERMINATE": 1}


def test_page_agrees_on_supersessions(registry: Registry, page: Any) -> None:
    """Superseded files name their successor, successors' claims are checked on chain (the
    ``lineage`` check, only in files with a claim): the same verdicts and check statuses, trusted
    or not, now and in the past, and one file at a time as in a batch (shared reads)."""
    cases = supersession_cases(registry)
    for trusted in (registry.trust, {}):
        for now in (datetime.now(UTC), datetime(2020, 6, 1, tzinfo=UTC)):
            found = compare(page, cases, rpc=registry.rpc_url, trusted=trusted, now=now)
            assert not found.disagreements, f"trusted={trusted} now={now}: {_explain(found)}"
    one_by_one = [
        compare(page, [case], rpc=registry.rpc_url, trusted=registry.trust, now=datetime.now(UTC)) for case in cases
    ]
    assert not [f.disagreements for f in one_by_one if f.disagreements]
    verdicts = {name: next(iter(f.verdicts)) for (name, _), f in zip(cases, one_by_one, strict=True)}
    assert {n for n, v in verdicts.items() if v == "VALID"} == {
        "not superseded",
        "successor of a correction, with the claim",
        "successor of a renewal, with the claim",
        "successor of a correction, redacted",
        "successor, without the claim",
        "successor of a batch later revoked, with the claim",
    }
