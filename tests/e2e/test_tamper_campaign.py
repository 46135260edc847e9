"""Mutation campaign (fast version): ~1,000 tampered copies of real files anchored on a real
anvil, verified against that chain; none may come out VALID. The 10,000-case campaign is
``scripts/bench.py --only tamper`` (figures ``tamper_cases``/``tamper_accepted``)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from registry.verify import CheckStatus, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.tamper_mutations import CLASSES, Corpus, _hide, build_corpus, run_campaign

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def corpus(registry: Registry) -> Corpus:
    return build_corpus(registry, 12)


def _verify(registry: Registry, data: dict[str, object] | bytes) -> tuple[Verdict, dict[str, CheckStatus]]:
    report = Verifier(
        VerificationPolicy(trusted=registry.trust, now=datetime.now(UTC)), rpc_url=registry.rpc_url
    ).verify(data)
    return report.verdict, {c.name: c.status for c in report.checks}


def test_campaign_no_tampered_file_is_valid(registry: Registry) -> None:
    figures = run_campaign(registry, 1000, seed=7, n_files=12)
    assert figures["tamper_cases"] == 1000
    assert figures["tamper_controls_valid"] == figures["tamper_controls"], "originals/redactions must stay VALID"
    assert set(figures["tamper_by_class"]) >= set(CLASSES), figures["tamper_by_class"]
    assert figures["tamper_accepted"] == 0, figures["tamper_examples"]


def test_hidden_expiry_is_not_valid(registry: Registry, corpus: Corpus) -> None:
    """Found by the campaign: hiding validUntil of an expired credential (by hand; redact()
    refuses) made it VALID 'with no expiry'. Now validity is INDETERMINATE."""
    import random

    f = copy.deepcopy(corpus.expired_redactable[0])
    assert _verify(registry, f)[1]["validity"] is CheckStatus.FAIL
    _hide(random.Random(0), f, "/validUntil")
    assert _verify(registry, f)[1]["format"] is CheckStatus.FAIL  # hiddenPaths names a mandatory field
    f["proof"][-1]["hiddenPaths"] = ["/credentialSubject/notes"]  # a forger lies there too
    verdict, checks = _verify(registry, f)
    assert checks["integrity"] is CheckStatus.PASS  # the digest cannot see it...
    assert checks["validity"] is CheckStatus.INDETERMINATE and verdict is not Verdict.VALID  # ...the verifier does


def test_trailing_newline_in_hex_is_refused(registry: Registry, corpus: Corpus) -> None:
    """Found by the campaign: the schema regexes end in ``$``, which accepts a final newline, and
    ``bytes.fromhex`` ignores whitespace, so ``merkleRoot + "\\n"`` verified VALID."""
    for name in ("merkleRoot", "credentialDigest"):
        f = copy.deepcopy(corpus.files[0])
        f["proof"][-1][name] += "\n"
        verdict, checks = _verify(registry, f)
        assert verdict is Verdict.INVALID and checks["format"] is CheckStatus.FAIL


@pytest.mark.parametrize("pointer", ["/@context/1", "/type/1"])
def test_hiding_a_mandatory_array_element_is_refused(registry: Registry, corpus: Corpus, pointer: str) -> None:
    import random

    f = _hide(random.Random(0), copy.deepcopy(corpus.files[0]), pointer)
    assert _verify(registry, f)[0] is Verdict.INVALID


def test_hidden_paths_must_match_redactions(registry: Registry, corpus: Corpus) -> None:
    """hiddenPaths is informational but may not lie about what is disclosed."""
    base = corpus.redacted[0]
    assert _verify(registry, base)[0] is Verdict.VALID
    lie = copy.deepcopy(base)
    lie["proof"][-1]["hiddenPaths"].append("/credentialSubject/achievement/name")
    assert _verify(registry, lie)[1]["format"] is CheckStatus.FAIL
    silent = copy.deepcopy(base)
    silent["proof"][-1]["hiddenPaths"] = []
    assert _verify(registry, silent)[1]["format"] is CheckStatus.FAIL
    # v2: each redacted hash is bound to its pointer; naming another pointer breaks the digest
    moved = copy.deepcopy(base)
    redacted = moved["proof"][-1]["redacted"]
    pointer = next(iter(redacted))
    redacted["/credentialSubject/achievement/name"] = redacted.pop(pointer)
    assert _verify(registry, moved)[0] is Verdict.INVALID


def test_array_shaped_object_is_refused(registry: Registry, corpus: Corpus) -> None:
    """{"a": ["x"]} and {"a": {"0": "x"}} hash identically (format.md §2): the second shape is
    refused wherever it appears, so the digest's ambiguity cannot be used."""
    f = copy.deepcopy(corpus.files[0])
    subject = f["credentialSubject"]
    subject["result"] = {str(i): v for i, v in enumerate(subject["result"])}
    verdict, checks = _verify(registry, f)
    assert verdict is Verdict.INVALID and checks["format"] is CheckStatus.FAIL
