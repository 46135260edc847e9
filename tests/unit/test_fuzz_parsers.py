"""Hypothesis fuzzing of every parser that reads outside input: credential files, proof objects,
redaction requests, CSV imports and baked badge images. Arbitrary input may only ever raise the
project's own errors (RegistryError subclasses) and must be answered quickly; huge or deeply
nested JSON gets a clear error.

The credential-file cases also have an oracle that can fail: whenever ``format``, ``integrity``
and ``inclusion`` all pass, the disclosed document is JCS-equal to one that was issued (the golden
file's, or its redacted copy's); and the verifier's own three checks agree with the parser's."""

from __future__ import annotations

import contextlib
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from registry.core import baking, credfile
from registry.core.csvimport import MAX_CSV_ROWS, parse_csv
from registry.errors import CredentialFormatError, InvalidInput, InvalidProof, RegistryError
from registry.issue import badges
from registry.verify import CheckStatus, VerificationPolicy, Verifier
from tests.jsonfuzz import json_values, pointers, replace_at

GOLDEN = Path(__file__).resolve().parent.parent / "assets" / "golden-v1"
FILE: dict[str, Any] = json.loads((GOLDEN / "credential.json").read_text())
REDACTED: dict[str, Any] = json.loads((GOLDEN / "credential-redacted.json").read_text())

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POINTERS = pointers(FILE)


def _credential(doc: dict[str, Any]) -> bytes:
    return rfc8785.dumps({k: v for k, v in doc.items() if k != "proof"})


#: The disclosed documents that were really issued (JCS bytes): what an accepted file may show.
ISSUED = {_credential(FILE), _credential(REDACTED)}
OFFLINE = Verifier(VerificationPolicy(offline=True))


def _full_check(data: Any) -> credfile.CredentialFile | None:
    """Parse, then run every offline check; only RegistryError may escape.

    Returns the parsed file when format, integrity and inclusion all pass, and then asserts the
    oracle: the disclosed document is JCS-equal to one that was issued.
    """
    try:
        cf = credfile.parse_credential_file(data)
    except CredentialFormatError:
        return None
    try:
        credfile.check_integrity(cf)
        credfile.check_inclusion(cf)
    except (CredentialFormatError, InvalidProof):
        with contextlib.suppress(CredentialFormatError, InvalidProof):
            credfile.check_inclusion(cf)  # runs on its own too: it must not crash either
        return None
    assert _credential(cf.credential) in ISSUED, "a file whose disclosed content was never issued passed"
    return cf


def _assert_verifier_agrees(data: Any) -> None:
    """The (offline) verifier passes format, integrity and inclusion exactly when the parser does."""
    accepted = _full_check(data) is not None
    report = OFFLINE.verify(data)
    passed = [report.check(n).status is CheckStatus.PASS for n in ("format", "integrity", "inclusion")]
    assert all(passed) == accepted, [(c.name, c.status, c.reason) for c in report.checks[:3]]


# -- credential files -------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
@example(b"")
@example(b"\xef\xbb\xbf{}")
@example(b'{"a": ' + b"9" * 5000 + b"}")
@example(b'{"a": 1e999}')
@example(b'{"a": -1e999}')
@example(b'{"a": NaN}')
@example(b'{"a": "\\ud800"}')
@example(b'{"a": 1, "a": 2}')
def test_parse_arbitrary_bytes(data: bytes) -> None:
    _assert_verifier_agrees(data)


@FUZZ
@given(json_values)
def test_parse_arbitrary_json(value: Any) -> None:
    _full_check(json.dumps(value))
    if isinstance(value, dict):
        _full_check(value)


@FUZZ
@given(st.sampled_from(POINTERS), json_values)
def test_parse_golden_with_any_subtree_replaced(pointer: str, value: Any) -> None:
    """Structure-aware: every node of a real file (credential and proof) replaced by any JSON."""
    doc = replace_at(FILE, pointer, value)
    _full_check(doc)
    _assert_verifier_agrees(json.dumps(doc).encode())


@FUZZ
@given(st.sampled_from(pointers(REDACTED)), json_values)
def test_parse_redacted_golden_with_any_subtree_replaced(pointer: str, value: Any) -> None:
    """The same on a file with hidden fields: no edit makes hidden or disclosed content pass as other."""
    _assert_verifier_agrees(replace_at(REDACTED, pointer, value))


def test_the_oracle_accepts_the_issued_files_and_catches_an_edit() -> None:
    """The oracle is live: the real files pass it, and an edited disclosed value that (wrongly)
    passed integrity would be caught by the JCS comparison."""
    for doc in (FILE, REDACTED):
        assert _full_check(doc) is not None
        _assert_verifier_agrees(doc)
    edited = replace_at(FILE, "/name", "Forged")
    assert _credential(edited) not in ISSUED
    assert _full_check(edited) is None


@FUZZ
@given(st.sampled_from(POINTERS), st.text(max_size=40))
def test_parse_golden_with_string_edits(pointer: str, text: str) -> None:
    _full_check(replace_at(FILE, pointer, text))


@FUZZ
@given(json_values)
def test_proof_object_fuzz(value: Any) -> None:
    for proof in (value, [value], [value, value]):
        _full_check({**FILE, "proof": proof})
    if isinstance(value, dict):
        _full_check({**FILE, "proof": [{**FILE["proof"][0], **value}]})


@FUZZ
@given(st.lists(st.text(max_size=30) | st.sampled_from(POINTERS), max_size=4))
def test_redact_arbitrarypointers(hide: list[str]) -> None:
    for source in (FILE, REDACTED):
        try:
            out = credfile.redact(source, hide)
        except RegistryError:
            continue
        cf = credfile.parse_credential_file(out)  # whatever redact returns parses and verifies
        credfile.check_integrity(cf)
        credfile.check_inclusion(cf)


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"x": "' + b"a" * (3 * 1024 * 1024) + b'"}',
        json.dumps({**FILE, "deep": json.loads("[" * 40 + "]" * 40)}).encode(),
    ],
    ids=["deep-array", "deep-object", "huge", "depth-40"],
)
def test_huge_or_deep_json_gets_a_clear_error(data: bytes) -> None:
    with pytest.raises(CredentialFormatError, match=r"nested|larger than"):
        credfile.parse_credential_file(data)


def test_deep_python_mapping_is_refused() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(CredentialFormatError, match="nested"):
        credfile.parse_credential_file({**FILE, "deep": deep})


def test_bugs_found_by_fuzzing() -> None:
    """Each of these escaped as a non-RegistryError (ValueError, OverflowError) before."""
    with pytest.raises(CredentialFormatError, match="digits"):
        credfile.parse_credential_file(b'{"a": ' + b"1" * 5000 + b"}")
    late = replace_at(FILE, "/proof/0/anchoredAt", "0001-01-01T00:00:00+01:00")
    with pytest.raises(CredentialFormatError, match="anchor"):
        credfile.parse_credential_file(late)
    with pytest.raises(CredentialFormatError, match="canonical"):
        credfile.parse_credential_file(replace_at(FILE, "/proof/0/merkleRoot", FILE["proof"][0]["merkleRoot"] + "\n"))
    with pytest.raises(CredentialFormatError, match="ASCII"):
        credfile.parse_credential_file(replace_at(FILE, "/validFrom", "２０２５-02-28T09:00:00Z"))


# -- CSV -------------------------------------------------------------------------------------------

csv_cells = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["a@b.co", "2025-01-01", "1", "²", "٣", '"', '""', "\r\n", "x,y", "\x00", "99999999999999999999999"]
)


@FUZZ
@given(st.binary(max_size=1500))
@example(b"email\n" + b'"' + b"a" * 200_000 + b'"\n')
@example(b"email\nx\x00@y.z\n")
@example(b"email,achievement_id\na@b.co,\xc2\xb2\n")
@example(b'email\n"unterminated\n')
def test_csv_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        parse_csv(data, 1)


@FUZZ
@given(
    st.lists(
        st.sampled_from(["email", "name", "result", "valid_from", "valid_until", "achievement_id", "x"]),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.lists(csv_cells, max_size=7), max_size=6),
    st.sampled_from([None, 1]),
)
def test_csv_structured(header: list[str], rows: list[list[str]], default: int | None) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    try:
        out = parse_csv(buf.getvalue().encode("utf-8", "surrogatepass"), default)
    except InvalidInput:
        return
    for line, request in out:
        assert line >= 2 and "@" in request.recipient_email


def test_csv_limits_and_errors_are_clear() -> None:
    too_many = b"email\n" + b"".join(b"l%d@x.org\n" % i for i in range(MAX_CSV_ROWS + 1))
    with pytest.raises(InvalidInput, match=f"more than {MAX_CSV_ROWS} learners"):
        parse_csv(too_many, 1)
    assert len(parse_csv(b"email\n" + b"".join(b"l%d@x.org\n" % i for i in range(50)), 1)) == 50
    with pytest.raises(InvalidInput, match="field limit"):
        parse_csv(b'email\n"' + b"a" * 200_000 + b'"\n', 1)
    with pytest.raises(InvalidInput, match="more than once"):
        parse_csv(b"email,email\na@b.co,c@d.eu\n", 1)
    with pytest.raises(InvalidInput, match="control characters"):
        parse_csv(b"email\nx\x00@y.z\n", 1)
    with pytest.raises(InvalidInput, match="achievement id"):
        parse_csv(b"email,achievement_id\na@b.co,\xc2\xb2\n", None)  # "²".isdigit() but int() fails
    with pytest.raises(InvalidInput, match="out of range"):
        parse_csv(b"email,valid_from\na@b.co,0001-01-01T00:00:00+01:00\n", 1)


# -- baked images ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baked() -> tuple[bytes, bytes]:
    return badges.baked_png(FILE), badges.baked_svg(FILE).encode()


def _extract(data: bytes) -> None:
    try:
        out = baking.extract_if_baked(data)
    except CredentialFormatError:
        return
    _full_check(out)


@FUZZ
@given(st.binary(max_size=3000))
@example(baking.PNG_SIGNATURE)
@example(baking.PNG_SIGNATURE + b"\x00\x00\x00\x00IEND\xaeB`\x82")
@example(b"<svg")
@example(b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>')
def test_extract_arbitrary_bytes(data: bytes) -> None:
    _extract(data)
    _extract(baking.PNG_SIGNATURE + data)
    _extract(b'<svg xmlns="http://www.w3.org/2000/svg">' + data)


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_extract_mutated_real_badges(baked: tuple[bytes, bytes], data: st.DataObject) -> None:
    for image in baked:
        pos = data.draw(st.integers(0, len(image) - 1))
        how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if how == "flip":
            mutated = image[:pos] + bytes([image[pos] ^ data.draw(st.integers(1, 255))]) + image[pos + 1 :]
        elif how == "cut":
            mutated = image[:pos]
        else:
            mutated = image[:pos] + data.draw(st.binary(min_size=1, max_size=64)) + image[pos:]
        _extract(mutated)


def _png_with_itxt(payload: bytes, compressed: bool) -> bytes:
    import io

    import png

    chunks = [(t, d) for t, d in png.Reader(bytes=badges.badge_image_png(FILE)).chunks() if t != b"IEND"]
    text = zlib.compress(payload) if compressed else payload
    chunk = baking.PNG_KEYWORD + b"\x00" + (b"\x01\x00" if compressed else b"\x00\x00") + b"\x00\x00" + text
    out = io.BytesIO()
    png.write_chunks(out, [*chunks, (b"iTXt", chunk), (b"IEND", b"")])
    return out.getvalue()


def test_image_limits_and_bombs() -> None:
    big = baking.PNG_SIGNATURE + b"\x00" * (baking.MAX_IMAGE_BYTES + 1)
    with pytest.raises(CredentialFormatError, match="at most 10 MB"):
        baking.extract_if_baked(big)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg">' + b" " * (baking.MAX_IMAGE_BYTES + 1) + b"</svg>"
    with pytest.raises(CredentialFormatError, match="at most 10 MB"):
        baking.extract_if_baked(svg)
    # a zip bomb in a compressed iTXt chunk is inflated only up to the limit
    bomb = _png_with_itxt(b"{" + b" " * (50 * 1024 * 1024) + b"}", compressed=True)
    assert len(bomb) < 200_000
    with pytest.raises(CredentialFormatError, match="more than the limit"):
        baking.extract_if_baked(bomb)
    deep = _png_with_itxt(b"[" * 100_000 + b"]" * 100_000, compressed=False)
    with pytest.raises(CredentialFormatError, match="nested too deeply"):
        baking.extract_if_baked(deep)
    nested_svg = b'<svg xmlns="http://www.w3.org/2000/svg">' + b"<g>" * 50_000 + b"</g>" * 50_000 + b"</svg>"
    with pytest.raises(CredentialFormatError, match="no baked credential"):  # RecursionError before
        baking.extract_if_baked(nested_svg)
    laughs = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]><svg>&b;</svg>'
    with pytest.raises(CredentialFormatError, match="unsafe SVG"):
        baking.extract_if_baked(laughs)
