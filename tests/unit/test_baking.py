"""Baked badges (Open Badges 3.0 baking): round trips, refusals, and fuzzed extractors."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path
from typing import Any

import png
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.core import baking
from registry.errors import CredentialFormatError
from registry.issue import badges

CREDENTIAL: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "name": "Cryptography ]]> & <friends>",
    "issuer": {"id": "did:web:uni.example", "name": "Universidad de Ejemplo — Ñandú"},
    "credentialSubject": {"achievement": {"name": "Applied Cryptography"}},
}


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    return [(bytes(t), bytes(d)) for t, d in png.Reader(bytes=data).chunks()]


def _tiny_png() -> bytes:
    out = io.BytesIO()
    png.Writer(2, 2, greyscale=True).write(out, [[0, 255], [255, 0]])
    return out.getvalue()


def _with_chunk(image: bytes, chunk: tuple[bytes, bytes]) -> bytes:
    chunks = _chunks(image)
    chunks.insert(len(chunks) - 1, chunk)
    out = io.BytesIO()
    png.write_chunks(out, chunks)
    return out.getvalue()


# -- PNG -------------------------------------------------------------------------------------------


def test_png_round_trip_uses_one_uncompressed_itxt_chunk_before_iend() -> None:
    baked = badges.baked_png(CREDENTIAL)
    assert json.loads(baking.extract_png(baked)) == CREDENTIAL
    chunks = _chunks(baked)
    itxt = [d for t, d in chunks if t == b"iTXt"]
    assert len(itxt) == 1
    assert itxt[0].startswith(b"openbadgecredential\x00\x00\x00")  # flag 0 = uncompressed
    assert chunks[-1][0] == b"IEND" and chunks[-2][0] == b"iTXt"
    # the image is still a decodable PNG
    width, height, _rows, _info = png.Reader(bytes=baked).read()
    assert (width, height) == (320, 320)


def test_png_rebake_replaces_the_credential() -> None:
    first = baking.bake_png(CREDENTIAL, _tiny_png())
    other = {**CREDENTIAL, "name": "second"}
    second = baking.bake_png(other, first)
    assert json.loads(baking.extract_png(second)) == other
    assert sum(1 for t, _ in _chunks(second) if t == b"iTXt") == 1


def test_png_default_image_is_small_and_cached() -> None:
    image = badges.badge_image_png(CREDENTIAL)
    assert image.startswith(baking.PNG_SIGNATURE)
    assert len(image) < 100_000
    assert badges.badge_image_png(CREDENTIAL) is image


def test_png_without_credential_is_refused() -> None:
    with pytest.raises(CredentialFormatError, match=r"no baked credential"):
        baking.extract_png(_tiny_png())


def test_png_open_badges_2_assertion_is_named() -> None:
    image = _with_chunk(_tiny_png(), (b"iTXt", b"openbadges\x00\x00\x00\x00\x00{}"))
    with pytest.raises(CredentialFormatError, match=r"Open Badges 2\.0"):
        baking.extract_png(image)


def test_png_compressed_itxt_is_accepted_within_limit() -> None:
    text = json.dumps(CREDENTIAL).encode()
    chunk = b"openbadgecredential\x00\x01\x00\x00\x00" + zlib.compress(text)
    assert json.loads(baking.extract_png(_with_chunk(_tiny_png(), (b"iTXt", chunk)))) == CREDENTIAL


def test_png_zip_bomb_is_refused() -> None:
    bomb = zlib.compress(b" " * (baking.MAX_CREDENTIAL_BYTES * 4), 9)
    chunk = b"openbadgecredential\x00\x01\x00\x00\x00" + bomb
    with pytest.raises(CredentialFormatError, match=r"more than the limit"):
        baking.extract_png(_with_chunk(_tiny_png(), (b"iTXt", chunk)))


def test_png_two_credentials_are_refused() -> None:
    chunk = (b"iTXt", b"openbadgecredential\x00\x00\x00\x00\x00{}")
    image = _with_chunk(_with_chunk(_tiny_png(), chunk), chunk)
    with pytest.raises(CredentialFormatError, match=r"2 baked credentials"):
        baking.extract_png(image)


def test_png_embedded_non_json_is_refused() -> None:
    image = _with_chunk(_tiny_png(), (b"iTXt", b"openbadgecredential\x00\x00\x00\x00\x00not json"))
    with pytest.raises(CredentialFormatError, match=r"not UTF-8 JSON"):
        baking.extract_png(image)


def test_png_corrupt_crc_is_refused() -> None:
    baked = bytearray(baking.bake_png(CREDENTIAL, _tiny_png()))
    baked[-20] ^= 0xFF  # inside the iTXt chunk
    with pytest.raises(CredentialFormatError, match=r"malformed PNG"):
        baking.extract_png(bytes(baked))


def test_oversized_image_is_refused() -> None:
    huge = baking.PNG_SIGNATURE + b"\x00" * baking.MAX_IMAGE_BYTES
    with pytest.raises(CredentialFormatError, match=r"at most 10 MB"):
        baking.extract_if_baked(huge)


def test_oversized_credential_is_refused_when_baking() -> None:
    big = {**CREDENTIAL, "padding": "x" * baking.MAX_CREDENTIAL_BYTES}
    with pytest.raises(CredentialFormatError, match=r"holds at most"):
        baking.bake_png(big, _tiny_png())
    with pytest.raises(CredentialFormatError, match=r"holds at most"):
        badges.baked_svg(big)


# -- SVG -------------------------------------------------------------------------------------------


def test_svg_round_trip_declares_the_ob3_namespace() -> None:
    baked = badges.baked_svg(CREDENTIAL)
    assert 'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked
    assert "<openbadges:credential><![CDATA[" in baked
    assert json.loads(baking.extract_svg(baked.encode())) == CREDENTIAL
    assert json.loads(baking.extract_if_baked(baked.encode())) == CREDENTIAL


def test_svg_bakes_into_a_given_image_and_rebakes_once() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>'
    first = baking.bake_svg(CREDENTIAL, svg)
    other = {**CREDENTIAL, "name": "second"}
    second = baking.bake_svg(other, first)
    assert second.count("<openbadges:credential>") == 1
    assert json.loads(baking.extract_svg(second)) == other
    assert "<rect" in second


def test_svg_without_credential_is_refused() -> None:
    with pytest.raises(CredentialFormatError, match=r"no baked credential"):
        baking.extract_svg(badges.badge_image_svg(CREDENTIAL))


def test_svg_credential_in_wrong_namespace_is_not_taken() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://example.org/other">'
        "<openbadges:credential>{}</openbadges:credential></svg>"
    )
    with pytest.raises(CredentialFormatError, match=r"no baked credential"):
        baking.extract_svg(svg)


@pytest.mark.parametrize(
    "svg",
    [
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
        '<?xml version="1.0"?><!DOCTYPE svg SYSTEM "http://example.org/x.dtd"><svg/>',
    ],
)
def test_svg_dtds_and_entities_are_refused(svg: str) -> None:
    with pytest.raises(CredentialFormatError, match=r"unsafe SVG refused"):
        baking.extract_svg(svg.encode())


def test_svg_with_markup_inside_the_credential_is_refused() -> None:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{baking.OB3_NAMESPACE}">'
        "<openbadges:credential><b>{}</b></openbadges:credential></svg>"
    )
    with pytest.raises(CredentialFormatError, match=r"contains markup"):
        baking.extract_svg(svg)


def test_not_svg_root_is_refused() -> None:
    with pytest.raises(CredentialFormatError, match=r"root element is not <svg>"):
        baking.extract_svg(b"<html><svg/></html>")


# -- dispatch --------------------------------------------------------------------------------------


def test_json_passes_through_unchanged() -> None:
    data = json.dumps(CREDENTIAL).encode()
    assert baking.extract_if_baked(data) is data
    assert baking.extract_if_baked(b"  \n" + data) == b"  \n" + data


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\nxxxx", "png"),
        (b'<?xml version="1.0"?><svg/>', "svg"),
        (b"%PDF-1.4\n", "pdf"),
        (b"{}", "json"),
    ],
)
def test_sniff(data: bytes, kind: str) -> None:
    assert baking.sniff(data) == kind


# -- fuzz: extractors never fail with anything but CredentialFormatError ---------------------


def _extract_or_format_error(data: bytes) -> None:
    try:
        out = baking.extract_if_baked(data)
    except CredentialFormatError:
        return
    if baking.sniff(data) == "json":
        assert out is data
    else:
        json.loads(out)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes_after_png_signature(tail: bytes) -> None:
    _extract_or_format_error(baking.PNG_SIGNATURE + tail)


_BAKED_PNG = baking.bake_png(CREDENTIAL, _tiny_png())
_BAKED_SVG = badges.baked_svg(CREDENTIAL).encode()


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(_BAKED_PNG) - 1), st.integers(min_value=0, max_value=255))
def test_fuzz_mutated_baked_png(position: int, value: int) -> None:
    data = bytearray(_BAKED_PNG)
    data[position] = value
    _extract_or_format_error(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(_BAKED_PNG)))
def test_fuzz_truncated_baked_png(length: int) -> None:
    _extract_or_format_error(_BAKED_PNG[:length])


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(_BAKED_SVG) - 1), st.integers(min_value=0, max_value=255))
def test_fuzz_mutated_baked_svg(position: int, value: int) -> None:
    data = bytearray(_BAKED_SVG)
    data[position] = value
    _extract_or_format_error(bytes(data))


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>/=\"' &;:![]{}CDATAsvgopenbadgescredential\n")),
        max_size=300,
    )
)
def test_fuzz_xmlish_text(text: str) -> None:
    _extract_or_format_error(("<svg " + text).encode())


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    )
)
def test_round_trip_any_json_object(value: Any) -> None:
    credential = {"payload": value, "note": "]]>"}
    assert json.loads(baking.extract_png(baking.bake_png(credential, _tiny_png()))) == credential
    assert json.loads(baking.extract_svg(badges.baked_svg(credential))) == credential


def test_read_credential_bytes_names_a_file_it_cannot_take_and_reads_no_further(tmp_path: Path) -> None:
    """The reader of ``registry clr``, ``pathway award``, ``batch`` and the auditor's sample: a
    folder, a missing file or a file larger than any badge is an error naming it (exit 3 in the
    CLI, a finding in an audit), never a traceback, and a large file is not read whole."""
    from registry.errors import InvalidInput
    from registry.verify import read_credential_bytes
    from registry.verify.verifier import MAX_READ_BYTES

    with pytest.raises(InvalidInput, match=r"cannot read .*folder\.json: Is a directory"):
        read_credential_bytes(_folder(tmp_path / "folder.json"))
    with pytest.raises(InvalidInput, match=r"cannot read .*gone\.json: No such file"):
        read_credential_bytes(tmp_path / "gone.json")
    big = tmp_path / "video.png"
    with big.open("wb") as handle:
        handle.truncate(64 * 1024**2)  # 64 MiB, sparse: no badge is that large
    with pytest.raises(InvalidInput, match=rf"video\.png is larger than {MAX_READ_BYTES} bytes"):
        read_credential_bytes(big)
    plain = tmp_path / "c.json"
    plain.write_bytes(b'{"a": 1}')
    assert read_credential_bytes(plain) == b'{"a": 1}'


def _folder(path: Path) -> Path:
    path.mkdir()
    return path
