"""The service under schemathesis (fast version) and its input limits, over real HTTP against a
real anvil and SQLite database. The long run is ``scripts/bench.py --only tamper --long``."""

from __future__ import annotations

import http.client
import json
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from registry.core import baking
from registry.core.csvimport import MAX_CSV_ROWS
from registry.issue import badges
from registry.service.api.errors import MAX_JSON_DEPTH
from tests.api_fuzz import Service, fuzz, serve
from tests.chain_fixtures import Registry

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with serve(registry, tmp_path_factory.mktemp("api-fuzz")) as svc:
        yield svc


def _code(response: requests.Response) -> str:
    return str(response.json()["error"]["code"])


def test_schemathesis_finds_no_server_error(service: Service) -> None:
    result = fuzz(service, examples_per_operation=6)
    assert result.cases > 250, result.by_operation
    assert result.server_errors == 0, result.failures[:5]
    assert set(result.by_status) - {200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 415, 422} == set()


def test_valid_file_verifies_through_the_api(service: Service) -> None:
    r = requests.post(f"{service.base_url}/v1/verify", json=service.credential_file, timeout=30)
    assert r.status_code == 200 and r.json()["verdict"] == "VALID", r.text


def test_body_size_limit(service: Service) -> None:
    big = b'{"x": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    r = requests.post(f"{service.base_url}/v1/verify", data=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and _code(r) == "body_too_large"
    # no Content-Length (chunked): refused while streaming
    r = requests.post(
        f"{service.base_url}/v1/verify", data=iter([big[i : i + 65536] for i in range(0, len(big), 65536)])
    )
    assert r.status_code == 413 and _code(r) == "body_too_large"


@pytest.mark.parametrize("path", ["/v1/verify", "/v1/credentials", "/v1/credentials/bulk", "/v1/achievements"])
def test_json_depth_limit(service: Service, path: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    r = requests.post(
        f"{service.base_url}{path}",
        data=deep,
        headers={"Content-Type": "application/json", "X-API-Key": service.api_key},
        timeout=30,
    )
    assert r.status_code == 400 and _code(r) == "json_too_deep", r.text
    assert str(MAX_JSON_DEPTH) in r.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/v1/verify", "/v1/credentials"])
def test_a_too_deep_body_is_refused_while_it_streams_in(service: Service, path: str) -> None:
    """Refused while streaming, never parsed, shown without a clock: the body is never finished
    (a chunked upload left open), so only a server that refuses mid-stream can answer at all. The
    socket timeout is a hang guard, not a measurement."""
    url = urlsplit(service.base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("X-API-Key", service.api_key)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"[" * (MAX_JSON_DEPTH + 1)
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))  # ... and no terminating chunk, ever
        response = conn.getresponse()
        assert response.status == 400
        assert json.loads(response.read())["error"]["code"] == "json_too_deep"
    finally:
        conn.close()


def test_depth_within_api_limit_but_over_file_limit_is_a_clear_report(service: Service) -> None:
    doc = {**service.credential_file, "deep": json.loads("[" * 40 + "]" * 40)}
    r = requests.post(f"{service.base_url}/v1/verify", json=doc, timeout=30)
    assert r.status_code == 200 and r.json()["verdict"] == "INVALID"
    assert "nested deeper than 32" in r.json()["checks"][0]["reason"]


def test_brackets_inside_strings_do_not_count(service: Service) -> None:
    doc = {**service.credential_file, "note": "[" * 500 + "{" * 500 + '\\"['}
    r = requests.post(f"{service.base_url}/v1/verify", json=doc, timeout=30)
    assert r.status_code == 200 and r.json()["verdict"] == "INVALID"  # an undeclared field, not a 400


def _import(service: Service, data: bytes) -> requests.Response:
    return requests.post(
        f"{service.base_url}/v1/credentials/import",
        files={"file": ("learners.csv", data, "text/csv")},
        data={"achievement_id": str(service.achievement_id)},
        headers={"X-API-Key": service.api_key},
        timeout=60,
    )


def test_csv_limits(service: Service) -> None:
    rows = b"email\n" + b"".join(b"learner%d@example.org\n" % i for i in range(MAX_CSV_ROWS + 1))
    r = _import(service, rows)
    assert r.status_code == 422 and f"more than {MAX_CSV_ROWS}" in r.json()["error"]["message"], r.text
    r = _import(service, b'email\n"' + b"a" * 200_000 + b'"\n')  # was a 500 (csv.Error)
    assert r.status_code == 422 and "field limit" in r.json()["error"]["message"], r.text
    r = _import(service, b"email\nada\x00@example.org\n")
    assert r.status_code == 422 and _code(r) == "import_rejected", r.text


def test_csv_upload_size_limit(service: Service) -> None:
    r = _import(service, b"email\n" + b"x" * (21 * 1024 * 1024))
    assert r.status_code == 413 and _code(r) == "body_too_large"


def test_image_limits(service: Service) -> None:
    png = badges.baked_png(service.credential_file)
    r = requests.post(f"{service.base_url}/v1/verify", data=png, headers={"Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 200 and r.json()["verdict"] == "VALID", r.text
    huge = png + b"\x00" * (3 * 1024 * 1024)
    r = requests.post(f"{service.base_url}/v1/verify", data=huge, headers={"Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 413
    # a compression bomb in the iTXt chunk: inflated only up to the credential limit
    import io

    import png as pypng

    chunks = [(t, d) for t, d in pypng.Reader(bytes=badges.badge_image_png({})).chunks() if t != b"IEND"]
    bomb = baking.PNG_KEYWORD + b"\x00\x01\x00\x00\x00" + zlib.compress(b" " * (40 * 1024 * 1024))
    out = io.BytesIO()
    pypng.write_chunks(out, [*chunks, (b"iTXt", bomb), (b"IEND", b"")])
    r = requests.post(f"{service.base_url}/v1/verify", data=out.getvalue(), headers={"Content-Type": "image/png"})
    assert r.status_code == 422 and "limit" in r.json()["error"]["message"], r.text


def test_out_of_range_ids_are_client_errors(service: Service) -> None:
    """Found by schemathesis: ids past 2**63 raised OverflowError in the SQLite driver (500)."""
    headers = {"X-API-Key": service.api_key}
    for path in ("/v1/batches/302231454903657293676544", "/v1/achievements/302231454903657293676544"):
        r = requests.get(f"{service.base_url}{path}", headers=headers, timeout=30)
        assert r.status_code == 422, (path, r.status_code, r.text)


def test_huge_number_literal_is_a_client_error(service: Service) -> None:
    body = b'{"n": ' + b"9" * 5000 + b"}"
    r = requests.post(f"{service.base_url}/v1/verify", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
