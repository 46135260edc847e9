"""The standalone verifier page against the Python verifier over the tamper corpus: real anvil,
real Chromium, the page opened from ``file://`` with only the RPC URL. Every verdict and every
check's status must agree (the 5,000+ file figure is ``scripts/bench.py --only page``)."""

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
from tests.chain_fixtures import Registry
from tests.e2e.test_pages import _require_browser
from tests.page_differential import Case, compare, open_page
from tests.tamper_mutations import CLASSES, Corpus, build_corpus, controls, generate

pytestmark = pytest.mark.e2e

CASES = 2_000


@pytest.fixture(scope="module")
def corpus(registry: Registry) -> Corpus:
    return build_corpus(registry, 12)


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


def test_page_agrees_on_trust_revocation_and_time(registry: Registry, corpus: Corpus, page: Any) -> None:
    revoked = registry.issue(3)
    files = [json.loads(Path(p).read_text()) for p in revoked.files]
    registry.client.writes.revoke_credentials(registry.issuer_key, [files[0]["proof"][0]["credentialDigest"]], 2)
    cases: list[Case] = [("revoked", files[0]), ("sibling", files[1]), *controls(corpus)[:6]]
    cases += [("impersonating", copy.deepcopy(f)) for f in corpus.impersonating[:2]]
    cases += [("expired", copy.deepcopy(f)) for f in corpus.expired_redactable[:2]]
    for trusted in (registry.trust, {}):  # trusted: VALID/INVALID; untrusted: issuer INDETERMINATE
        for now in (datetime.now(UTC), datetime(2020, 6, 1, tzinfo=UTC)):
            found = compare(page, cases, rpc=registry.rpc_url, trusted=trusted, now=now)
            assert not found.disagreements, f"trusted={trusted} now={now}: {_explain(found)}"
    untrusted = compare(page, cases[1:2], rpc=registry.rpc_url, trusted={}, now=datetime.now(UTC))
    assert untrusted.verdicts == {"INDETERMINATE": 1}
