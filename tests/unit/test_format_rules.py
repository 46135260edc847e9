"""One test per strict parsing rule of docs/format.md §5a, each on an input that only that rule
refuses: the JSON Schemas (whose ``$`` accepts a trailing newline) and the later checks would let
it through, so the test fails when the rule alone is removed from ``registry/core/filerules.py`` (or,
for the bounds and the array-shaped objects, ``registry/core/credfile.py``)."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from _core_fixtures import ANCHOR, credential

from registry.core import credfile, filerules
from registry.core.credential import CONTEXTS
from registry.core.disclosure import compute_digest, salt_fields
from registry.core.merkle import MerkleTree
from registry.errors import CredentialFormatError

GOLDEN = Path(__file__).resolve().parent.parent / "assets" / "golden-v1"
FILE: dict[str, Any] = json.loads((GOLDEN / "credential.json").read_text())
REDACTED: dict[str, Any] = json.loads((GOLDEN / "credential-redacted.json").read_text())


def _accepted(doc: dict[str, Any] | bytes) -> credfile.CredentialFile:
    """Parsed, and passing integrity and inclusion: what a verifier would accept offline."""
    cf = credfile.parse_credential_file(doc)
    credfile.check_integrity(cf)
    credfile.check_inclusion(cf)
    return cf


def _edit_proof(doc: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["proof"][0][name] = value
    return out


def test_the_golden_files_pass_every_rule() -> None:
    for doc in (FILE, REDACTED):
        _accepted(doc)


# -- canonical hex in lists ----------------------------------------------------------------------


def test_a_merkle_path_element_with_a_trailing_newline_is_refused() -> None:
    """The schema's ``^0x[0-9a-f]{64}$`` matches before a final newline and ``bytes.fromhex``
    skips whitespace, so ``"0x…\\n"`` would verify: only the canonical-hex rule refuses it."""
    path = FILE["proof"][0]["merklePath"]
    doc = _edit_proof(FILE, "merklePath", [path[0] + "\n", *path[1:]])
    with pytest.raises(CredentialFormatError, match=r"/proof/0/merklePath/0.*'0x' \+ 64 lower-case hex"):
        credfile.parse_credential_file(doc)


def test_a_redacted_hash_with_a_trailing_newline_is_refused() -> None:
    redacted = REDACTED["proof"][0]["redacted"]
    last = len(redacted) - 1
    doc = _edit_proof(REDACTED, "redacted", [*redacted[:last], redacted[last] + "\n"])  # still sorted
    with pytest.raises(CredentialFormatError, match=rf"/proof/0/redacted/{last}.*'0x' \+ 64 lower-case hex"):
        credfile.parse_credential_file(doc)


# -- the exact @context --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "contexts",
    [
        [*CONTEXTS[:2], "https://example.org/other-context.jsonld"],
        [*CONTEXTS[:2], {"@vocab": "https://example.org/terms#"}],
        [*CONTEXTS, "https://example.org/other-context.jsonld"],
        list(CONTEXTS[:2]),
    ],
    ids=["other-third", "inline-third", "extra", "missing"],
)
def test_context_must_be_exactly_the_three_contexts(contexts: list[str]) -> None:
    """The schemas pin only the first two entries (VC 2.0, OB 3.0); §1 fixes the exact list, since an
    added or swapped context changes what the terms mean to a JSON-LD processor."""
    doc = {**copy.deepcopy(FILE), "@context": contexts}
    with pytest.raises(CredentialFormatError, match=r"must be exactly \["):
        credfile.parse_credential_file(doc)


# -- hiddenPaths pointers ------------------------------------------------------------------------


def test_hidden_paths_must_be_json_pointers() -> None:
    """``hiddenPaths`` must hold RFC 6901 pointers. Two guards state this rule: the file schema's
    ``Pointer`` pattern and ``filerules``' own check (which runs on what the schema passed, and so
    is tested here on its own, the schema bypassed); each part fails when its guard is removed."""
    doc = _edit_proof(REDACTED, "hiddenPaths", ["credentialSubject/name", "/credentialSubject/result"])
    with pytest.raises(CredentialFormatError, match="hiddenPaths"):
        credfile.parse_credential_file(doc)
    own, _, _ = filerules._validators()
    assert any("hiddenPaths" in list(e.absolute_path) for e in own.iter_errors(doc))  # the schema's guard
    with pytest.raises(CredentialFormatError, match="'credentialSubject/name' is not a JSON pointer"):
        filerules.check_strict(doc)  # the code's guard, alone
    for bad in ("/a~2b", "/trailing~"):
        with pytest.raises(CredentialFormatError, match="is not a JSON pointer"):
            filerules.check_strict(_edit_proof(REDACTED, "hiddenPaths", [bad, "/credentialSubject/result"]))


def test_a_hidden_path_that_is_disclosed_is_refused() -> None:
    doc = _edit_proof(REDACTED, "hiddenPaths", ["/credentialSubject/identifier", "/credentialSubject/result"])
    with pytest.raises(CredentialFormatError, match="is listed as hidden but is disclosed"):
        credfile.parse_credential_file(doc)


# -- JSON literals and encoding ------------------------------------------------------------------


def _with_member(doc: dict[str, Any], literal: str) -> bytes:
    """The file's bytes with ``"x-note": <literal>`` added to the credential subject."""
    text = json.dumps(doc)
    marker = '"credentialSubject": {'
    assert text.count(marker) == 1
    return text.replace(marker, marker + f'"x-note": {literal}, ').encode()


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
def test_infinity_and_nan_literals_are_refused(literal: str) -> None:
    """Python's json module reads these non-JSON literals as floats; nothing downstream minds a
    float (the schema allows any value in an extension member), so the literal rule must."""
    with pytest.raises(CredentialFormatError, match=f"{literal} is not valid JSON"):
        credfile.parse_credential_file(_with_member(FILE, literal))


def test_a_number_too_large_for_a_double_is_refused() -> None:
    with pytest.raises(CredentialFormatError, match="out of range"):
        credfile.parse_credential_file(_with_member(FILE, "1e999"))


def test_a_leading_utf8_bom_is_accepted_as_the_same_file() -> None:
    """Windows editors save UTF-8 with a byte-order mark; the file is the same file."""
    plain = json.dumps(FILE).encode()
    assert _accepted(b"\xef\xbb\xbf" + plain) == _accepted(plain)


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf\xef\xbb\xbf" + json.dumps(FILE).encode(),  # a second BOM is content
        b"\xff\xfe" + json.dumps(FILE).encode("utf-16-le"),  # UTF-16 with its BOM
        json.dumps(FILE, ensure_ascii=False).encode("latin-1", "replace") + b"\xe9",
    ],
    ids=["double-bom", "utf-16", "latin-1"],
)
def test_only_utf8_with_at_most_one_bom_is_read(data: bytes) -> None:
    with pytest.raises(CredentialFormatError, match=r"not UTF-8|not valid JSON"):
        credfile.parse_credential_file(data)


# -- no array-shaped objects ---------------------------------------------------------------------


def _file_with_extension(value: Any) -> dict[str, Any]:
    """A genuinely anchored file whose subject has an extension member ``tags`` (not in OB 3.0)."""
    doc = credential(7, extra_subject={"tags": value})
    salts = salt_fields(doc, rng=random.Random(7).randbytes)
    digest = compute_digest(doc, salts)
    tree = MerkleTree.build([digest, bytes([1]) * 32, bytes([2]) * 32])
    return credfile.make_credential_file(doc, salts, digest, tree.root, tree.proof(0), ANCHOR)


def test_an_array_shaped_object_is_refused_even_where_the_schema_allows_objects() -> None:
    """``{"0": "a", "1": "b"}`` hashes like ``["a", "b"]`` (pointers do not record the container
    type), so without the rule a holder could swap one for the other and keep a valid digest. The
    field is an extension member the OB 3.0 schema does not pin (unlike ``result``)."""
    issued = _file_with_extension(["data", "ethics"])
    _accepted(issued)
    forged = copy.deepcopy(issued)
    forged["credentialSubject"]["tags"] = {"0": "data", "1": "ethics"}
    salts = issued["proof"][0]["salts"]
    assert compute_digest(forged, salts) == compute_digest(issued, salts)  # why the rule exists
    _, ob3, _ = filerules._validators()
    assert not list(ob3.iter_errors(forged))  # the OB 3.0 schema lets the object through
    with pytest.raises(CredentialFormatError, match="shaped like an array"):
        credfile.parse_credential_file(forged)


@pytest.mark.parametrize(
    "value",
    [{"1": "a", "2": "b"}, {"0": "a", "2": "b"}, {"00": "a"}, {"0": "a", "x": "b"}],
    ids=["from-one", "gap", "leading-zero", "mixed"],
)
def test_objects_that_are_not_array_shaped_are_kept(value: dict[str, str]) -> None:
    _accepted(_file_with_extension(value))
