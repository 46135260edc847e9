r"""Differential test of the compiled JSON Schema validator against the reference.

:func:`registry.core.credfile.parse_credential_file` validates with ``jsonschema-rs`` (compiled,
``format`` not asserted); ``jsonschema`` (pure Python, no format checker) is the reference. On
every case (the tamper campaign's mutators applied to files made offline, the Hypothesis fuzz
strategies of ``test_fuzz_parsers``, and arbitrary JSON) both must accept or reject alike, under
the file schema and under the OB 3.0 AchievementCredential schema. The same campaign over files
anchored on a real chain is ``tests/e2e/test_schema_differential.py``.

One difference is known: JSON Schema's ``pattern`` is an ECMA-262 regular expression, where ``$``
matches only at the end and ``\d`` only ASCII digits; Python's ``re`` also lets ``$`` match
before a final newline and ``\d`` match any Unicode digit, and the compiled validator (like the
verifier page's ajv) follows ECMA-262. So the comparison is exact against the reference with
ECMA-262 patterns, and against the plain reference everywhere except where that rule decides
(each such case shown to hold a trailing newline or a non-ASCII digit, and there the compiled
validator is the stricter one). The parser asks the compiled validator only whether a document
is valid; one it rejects goes to the reference, which decides and words the error, so what the
parser accepts and every reason it gives are the reference's on every input.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft201909Validator, ValidationError, validators

from registry.core import credfile, filerules
from registry.core.credfile import AnchorInfo, make_credential_file, redact
from registry.core.disclosure import compute_digest, salt_fields
from registry.core.merkle import MerkleTree
from registry.core.signing import Signer, derive_signing_key
from registry.errors import CredentialFormatError
from tests.chain_fixtures import ACHIEVEMENT
from tests.cohort import synthetic_cohort
from tests.jsonfuzz import json_values, pointers, replace_at
from tests.tamper_mutations import HIDEABLE, Case, Corpus, controls, generate
from tests.unit._core_fixtures import ISSUER, credential_file

GOLDEN = Path(__file__).resolve().parent.parent / "assets" / "golden-v1"
SCHEMAS = {0: "file schema v1", 1: "OB 3.0 schema", 2: "file schema v2"}
REGISTRY = "0x" + "ab" * 20
OTHER_KEY = "0x" + "cd" * 20


def reference_accepts(which: int, data: Any) -> bool:
    return bool(filerules._validators()[which].is_valid(data))


@cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ECMA-262 meaning in Python: ``$`` only at the very end, ASCII ``\\d``."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return re.compile(pattern, re.ASCII)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = validators.extend(Draft201909Validator, {"pattern": _ecma_pattern})


@cache
def _ecma_validators() -> tuple[Any, Any, Any]:
    return (
        EcmaValidator(filerules.file_schema()),
        EcmaValidator(filerules.ob3_schema()),
        EcmaValidator(filerules.file_schema(2)),
    )


def ecma_reference_accepts(which: int, data: Any) -> bool:
    return bool(_ecma_validators()[which].is_valid(data))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _regex_rule_decides(data: Any) -> bool:
    """Whether ``data`` has a string on which Python's ``re`` and ECMA-262 can disagree."""
    return any(s.endswith("\n") or any(c.isdigit() and not c.isascii() for c in s) for s in _strings(data))


REGEX_RULE: list[int] = [0]
"""How many (case, schema) comparisons the ECMA-262 pattern rule decided."""


def compiled_accepts(which: int, data: Any) -> bool:
    """The compiled validator's answer (for a value it cannot take, the parser asks the reference)."""
    try:
        return bool(filerules._compiled()[which].is_valid(data))
    except Exception:
        return reference_accepts(which, data)


def disagreements(data: Any) -> list[str]:
    """The schemas under which the two validators disagree on ``data`` (empty: they agree)."""
    out = []
    for which, name in SCHEMAS.items():
        ref, ecma, fast = (f(which, data) for f in (reference_accepts, ecma_reference_accepts, compiled_accepts))
        if ecma != fast:
            verbs = ["accepts" if ok else "rejects" for ok in (ecma, fast)]
            out.append(f"{name}: reference {verbs[0]}, compiled {verbs[1]}")
        elif ref != fast:  # the one intended difference: only where the ECMA-262 pattern rule decides
            REGEX_RULE[0] += 1
            if not _regex_rule_decides(data):
                out.append(f"{name}: the plain reference disagrees without a newline or non-ASCII digit")
    return out


def _batch(docs: list[dict[str, Any]], seed: int, *, key: str = "0x" + "11" * 20) -> list[dict[str, Any]]:
    """Credential files of ``docs``, one Merkle tree, anchored (on paper) in ``REGISTRY``."""
    rng = random.Random(seed)
    signer = Signer(derive_signing_key(bytes([seed]) * 32), ISSUER.id, "2025-03-01T00:00:00Z")
    salts = [salt_fields(d, rng=rng.randbytes) for d in docs]
    digests = [compute_digest(d, s) for d, s in zip(docs, salts, strict=True)]
    tree = MerkleTree.build(digests)
    anchor = AnchorInfo(
        chain_id=31337,
        registry=REGISTRY,
        issuer_address=key,
        anchor_tx="0x" + rng.randbytes(32).hex(),
        anchor_block=rng.randrange(2, 10_000),
        anchored_at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    return [
        make_credential_file(d, s, g, tree.root, tree.proof(i), anchor, signer=signer)
        for i, (d, s, g) in enumerate(zip(docs, salts, digests, strict=True))
    ]


def offline_corpus(n_files: int = 12) -> Corpus:
    """The tamper campaign's corpus (``tests.tamper_mutations.build_corpus``) made without a chain."""
    issuer = {"id": ISSUER.id, "name": ISSUER.name}
    files = _batch(list(synthetic_cohort(n_files, issuer, ACHIEVEMENT, seed=1)), 1)
    others = _batch(list(synthetic_cohort(4, issuer, ACHIEVEMENT, seed=2)), 2)
    impersonating = _batch(list(synthetic_cohort(4, issuer, ACHIEVEMENT, seed=3)), 3, key=OTHER_KEY)
    expired_docs = list(synthetic_cohort(4, issuer, ACHIEVEMENT, seed=777))
    for d in expired_docs:
        d["validFrom"], d["validUntil"] = "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"
    expired = _batch(expired_docs, 4)
    hide = [[HIDEABLE[i % len(HIDEABLE)], HIDEABLE[(i + 1) % len(HIDEABLE)]] for i in range(len(files))]
    redacted = [redact(f, h) for f, h in zip(files, hide, strict=True)]
    return Corpus(
        files=files + others,
        redacted=redacted,
        expired_redactable=expired,
        impersonating=impersonating,
        other_issuer_address=OTHER_KEY,
        chain_id=31337,
        registry=REGISTRY,
        foreign_roots=[others[0]["proof"][-1]["merkleRoot"], impersonating[0]["proof"][-1]["merkleRoot"]],
    )


def loaded(case: dict[str, Any] | bytes) -> dict[str, Any] | None:
    """The JSON object the schemas see (what ``parse_credential_file`` hands them), or None when
    the file is refused before (size, depth, syntax, duplicate members)."""
    try:
        return credfile._load(case)
    except CredentialFormatError:
        return None


def check_cases(cases: list[Case]) -> dict[str, int]:
    """Compare both validators on every case; returns how many reached the schemas, were
    accepted and rejected (so a test can tell the corpus exercised both outcomes)."""
    seen = {"schema_checked": 0, "refused_before": 0, "accepted": 0, "rejected": 0}
    failures = []
    for name, case in cases:
        data = loaded(case)
        if data is None:
            seen["refused_before"] += 1
            continue
        seen["schema_checked"] += 1
        found = disagreements(data)
        if found:
            failures.append(f"{name}: {found}: {json.dumps(data)[:300]}")
        # A file is accepted under the OB 3.0 schema and the file schema of its version.
        ok = reference_accepts(1, data) and (reference_accepts(0, data) or reference_accepts(2, data))
        seen["accepted" if ok else "rejected"] += 1
    assert not failures, f"{len(failures)} disagreement(s):\n" + "\n".join(failures[:10])
    return seen


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return offline_corpus()


def test_the_offline_corpus_is_valid(corpus: Corpus) -> None:
    for _, f in controls(corpus):
        credfile.check_integrity(credfile.parse_credential_file(f))


def test_tamper_mutations_agree(corpus: Corpus) -> None:
    """Every mutator class of the tamper campaign, 1,500 cases, plus the controls."""
    cases, _ = generate(corpus, 1500, seed=13)
    seen = check_cases([*cases, *controls(corpus)])
    assert seen["accepted"] > len(controls(corpus)) and seen["rejected"] > 100, seen


def test_the_parser_decides_like_the_reference_where_the_pattern_rule_decides(corpus: Corpus) -> None:
    """Where only the ECMA-262 rule separates the validators (a trailing newline in a hash, an
    address, a date), the parser's outcome and reason are the reference's (here ``_strict``)."""
    f = copy.deepcopy(corpus.files[0])
    for name, value in (
        ("merkleRoot", f["proof"][-1]["merkleRoot"] + "\n"),
        ("registry", f["proof"][-1]["registry"] + "\n"),
        ("anchoredAt", "٢٠٢٥-03-01T00:00:00Z"),
    ):
        g = copy.deepcopy(f)
        g["proof"][-1][name] = value
        assert reference_accepts(2, g) and not compiled_accepts(2, g)  # the v2 file schema
        with pytest.raises(CredentialFormatError, match=r"canonical form|ASCII digits"):
            credfile.parse_credential_file(g)
    g = copy.deepcopy(f)  # an OB 3.0 member no other rule checks: accepted, as the reference does
    g["credentialSubject"]["achievement"]["inLanguage"] = "en\n"
    assert reference_accepts(1, g) and not compiled_accepts(1, g)
    assert filerules.first_error(1, g) is None


def test_golden_files_agree() -> None:
    for path in sorted(GOLDEN.glob("*.json")):
        data = loaded(path.read_bytes())
        if data is not None:
            assert not disagreements(data), path.name


def test_each_keyword_kind_is_exercised() -> None:
    """Hand-picked edits hitting each kind of schema error both validators must see alike."""
    base = credential_file()
    edits = [
        lambda f: f["proof"][0].update(extra=1),  # additionalProperties
        lambda f: f["proof"][0].pop("salts"),  # required
        lambda f: f.update(validFrom=5),  # type
        lambda f: f["proof"][0].update(merkleRoot="0xZZ"),  # pattern
        lambda f: f["proof"][0].update(merkleRoot="0x" + "a" * 64 + "\n"),  # pattern with a trailing newline
        lambda f: f["proof"][0].update(chainId=0),  # minimum
        lambda f: f["proof"][0].update(chainId=10**40),  # a big integer
        lambda f: f["proof"][0].update(chainId=1.0),  # an integral float
        lambda f: f.update(type=["VerifiableCredential"]),  # contains / enum
        lambda f: f.update(validFrom="not a date"),  # format (not asserted by either)
        lambda f: f["credentialSubject"].update({"\udc00x": 1}),  # a lone surrogate in a member name
        lambda f: f.update(name="a\ud800b"),  # a lone surrogate in a value
        lambda f: f.update(proof=[]),  # minItems
        lambda f: f.update(proof=[f["proof"][0], f["proof"][0]]),  # maxItems
        lambda f: f.update(issuer="did:web:uni.example"),  # a string where an object is expected
    ]
    for i, edit in enumerate(edits):
        f = copy.deepcopy(base)
        edit(f)
        assert not disagreements(f), i


def test_error_messages_name_the_path() -> None:
    f = credential_file()
    f["proof"][0].pop("salts")
    with pytest.raises(CredentialFormatError, match=r"/proof/0: 'salts' is a required property"):
        credfile.parse_credential_file(f)
    f = credential_file()
    f["proof"][0]["merkleRoot"] = "0xZZ"
    with pytest.raises(CredentialFormatError, match=r"/proof/0/merkleRoot: .*does not match"):
        credfile.parse_credential_file(f)
    f = credential_file()
    f["proof"][0]["extra"] = 1
    with pytest.raises(CredentialFormatError, match=r"properties are not allowed \('extra' was unexpected\)"):
        credfile.parse_credential_file(f)


# -- Hypothesis: the fuzz strategies of test_fuzz_parsers ------------------------------------------

DIFF = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILE: dict[str, Any] = json.loads((GOLDEN / "credential.json").read_text())


@DIFF
@given(json_values)
@example({"proof": [{}]})
def test_arbitrary_json_agrees(value: Any) -> None:
    assert not disagreements(value)


@DIFF
@given(st.sampled_from(pointers(FILE)), json_values)
def test_golden_with_any_subtree_replaced_agrees(pointer: str, value: Any) -> None:
    assert not disagreements(replace_at(FILE, pointer, value))


@DIFF
@given(st.sampled_from(pointers(FILE)), st.text(max_size=40))
@example("/proof/0/merkleRoot", "0x" + "0" * 64 + "\n")
@example("/validFrom", "2025-01-01T00:00:00Z\n")
def test_golden_with_string_edits_agrees(pointer: str, text: str) -> None:
    assert not disagreements(replace_at(FILE, pointer, text))


def test_every_proof_set_agrees(corpus: Corpus) -> None:
    """The compiled v2 file schema counts anchor proofs by their ``type`` (filerules._quick_contains)
    where the published one validates each item against the anchor definition again: every proof
    array of up to three items, drawn from valid and broken proofs of both kinds and from things
    that are neither, gets the same verdict from both, and both outcomes occur."""
    f = corpus.files[0]
    di, anchor = f["proof"]
    assert di["type"] == "DataIntegrityProof" and anchor["type"] == "CredentialRegistryAnchorProof"
    parts = [
        di,
        anchor,
        {**anchor, "merkleRoot": "0xZZ"},  # an anchor proof the anchor definition refuses
        {k: v for k, v in anchor.items() if k != "salts"},
        {**anchor, "extra": 1},
        {**di, "proofValue": "not base58"},  # a signature proof its definition refuses
        {**di, "type": "CredentialRegistryAnchorProof"},  # the anchor type on a signature's members
        {k: v for k, v in anchor.items() if k != "type"},  # no type at all
        {**anchor, "type": "SomethingElse"},
        "CredentialRegistryAnchorProof",
        None,
        [],
    ]
    seen: dict[bool, int] = {True: 0, False: 0}
    failures = []
    for size in range(4):
        for picks in itertools.product(range(len(parts)), repeat=size):
            data = {**f, "proof": [copy.deepcopy(parts[i]) for i in picks]}
            ref = reference_accepts(2, data)
            if ref != compiled_accepts(2, data):
                failures.append(picks)
            seen[ref] += 1
    assert not failures, f"{len(failures)} disagreement(s), e.g. the proof parts {failures[:5]}"
    assert seen[True] >= 3 and seen[False] > 1000, seen  # [anchor], [di, anchor], [anchor, di]
