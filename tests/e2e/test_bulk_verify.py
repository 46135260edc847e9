"""Bulk verification end to end (real anvil, real service app, real Chromium): a mixed batch
(valid, revoked, tampered, expired, a hostile learner name, not a credential, a broken image, a
baked PNG) gives one correct row per file through ``POST /v1/verify/batch`` (JSON array,
multipart, zip), through ``registry verify DIR --format json|csv|table`` and through the verifier
page's many-file drop zone; the CSV parses back with the same rows, formula-like cells escaped,
and the page's CSV equals Python's for the same reports; limits give clear 4xx codes."""

from __future__ import annotations

import copy
import csv
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from registry.cli.app import app as cli_app
from registry.issue.badges import baked_png
from registry.service.api.schemas import VerifyBatchOut
from registry.service.runtime import create_app
from registry.verify import Report
from registry.verify.tabular import COLUMNS, csv_text, rows
from tests import spreadsheet
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.cohort import synthetic_cohort
from tests.service_support import Database, database, service_settings

pytestmark = pytest.mark.e2e

HOSTILE = '=HYPERLINK("http://evil.example","click")'


@dataclass
class Mixed:
    """The mixed batch: file name -> bytes, and the verdict and failing checks each must get."""

    files: dict[str, bytes]
    expected: dict[str, tuple[str, str]]
    learners: dict[str, str]


@pytest.fixture(scope="module")
def mixed(registry: Registry) -> Mixed:
    docs = list(synthetic_cohort(5, registry.profile(), ACHIEVEMENT, seed=4242))
    docs[3]["validFrom"], docs[3]["validUntil"] = "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"
    docs[4]["credentialSubject"]["name"] = HOSTILE
    batch = registry.issue(docs=docs)
    loaded = [json.loads(f.read_text()) for f in batch.files]
    revoked = loaded[1]["proof"][-1]["credentialDigest"]
    registry.client.writes.revoke_credentials(registry.issuer_key, [revoked], 1)
    tampered = copy.deepcopy(loaded[2])
    tampered["credentialSubject"]["result"][0]["value"] = "A+ (forged)"
    files = {
        "valid.json": batch.files[0].read_bytes(),
        "revoked.json": batch.files[1].read_bytes(),
        "tampered.json": json.dumps(tampered).encode(),
        "expired.json": batch.files[3].read_bytes(),
        "hostile.json": batch.files[4].read_bytes(),
        "notes.json": b'{"hello": "not a credential"}',
        "broken.png": b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10,
        "badge.png": baked_png(loaded[0]),
    }
    expected = {
        "valid.json": ("VALID", ""),
        "revoked.json": ("INVALID", "revocation"),
        "tampered.json": ("INVALID", "integrity, signature"),  # both proofs fail
        "expired.json": ("INVALID", "validity"),
        "hostile.json": ("VALID", ""),
        "notes.json": ("INVALID", "format"),
        "broken.png": ("INVALID", "format"),
        "badge.png": ("VALID", ""),
    }
    names = {n: loaded[i]["credentialSubject"]["name"] for i, n in enumerate(["valid.json", "revoked.json"])}
    learners = {**names, "badge.png": names["valid.json"], "hostile.json": HOSTILE}
    return Mixed(files, expected, learners)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    yield from database("sqlite", tmp_path_factory.mktemp("bulk-db"))


@pytest.fixture(scope="module")
def http(registry: Registry, db: Database) -> Iterator[TestClient]:
    settings = service_settings(registry, db, max_verify_batch=12, max_upload_bytes=400 * 1024)
    with TestClient(create_app(settings, engine=db.engine)) as client:
        yield client


def check_rows(table: list[dict[str, str]], mixed: Mixed, names: list[str] | None = None) -> None:
    """One row per file, in order, with the expected verdict, failing checks and learner."""
    names = names or list(mixed.files)
    assert [r["file"] for r in table] == names
    for r, name in zip(table, names, strict=True):
        base = name.rsplit("/", 1)[-1]
        verdict, failed = mixed.expected[base]
        assert (r["verdict"], r["failed_checks"]) == (verdict, failed), (name, r["reason"])
        assert r["learner_name"] == mixed.learners.get(base, r["learner_name"]), name
        if verdict == "VALID":
            assert r["issuer_name"] == "Universidad de Ejemplo" and r["issuer_did"] == "did:web:uni.example"
            assert r["accreditation_body"] == "Demo Accreditation Agency (did:web:accreditation.example)"
            assert r["anchored_at"].endswith("Z") and r["valid_until"] and r["credential_id"].startswith("urn:uuid:")
            assert r["reason"] == ""
        else:
            assert r["reason"].startswith(f"{failed.split(', ')[0]}: ")


def parse_csv(text: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header, *body = list(reader)
    assert tuple(header) == COLUMNS
    return [dict(zip(COLUMNS, r, strict=True)) for r in body]


def unescape(table: list[dict[str, str]]) -> list[dict[str, str]]:
    """The cells as written before formula escaping (a leading ' removed where it was added)."""
    return [{k: v[1:] if v[:2] in ("'=", "'+", "'-", "'@") else v for k, v in r.items()} for r in table]


# -- the API ---------------------------------------------------------------------------------


def test_json_array_gives_one_row_per_file(http: TestClient, mixed: Mixed) -> None:
    texts = [mixed.files[n] for n in mixed.files if n.endswith(".json")]
    body = b"[" + b",".join(texts) + b"]"
    r = http.post("/v1/verify/batch?reports=true", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    data = r.json()
    VerifyBatchOut.model_validate(data)  # the answer is what the OpenAPI schema publishes
    names = [n for n in mixed.files if n.endswith(".json")]
    assert data["count"] == len(names) and len(data["reports"]) == len(names)
    assert data["verdicts"] == {"VALID": 2, "INVALID": 4, "INDETERMINATE": 0}
    assert [row["file"] for row in data["rows"]] == [f"[{i}]" for i in range(len(names))]
    for row, name in zip(data["rows"], names, strict=True):
        row["file"] = name
    check_rows(data["rows"], mixed, names)
    # The elements keep the strict rules of a single file: a duplicate key is a format failure.
    dup = b'[{"id": "a", "id": "b"}, ' + mixed.files["valid.json"] + b"]"
    r = http.post("/v1/verify/batch", content=dup, headers={"content-type": "application/json"})
    assert [(x["verdict"], x["failed_checks"]) for x in r.json()["rows"]] == [("INVALID", "format"), ("VALID", "")]


def applicants_zip(mixed: Mixed) -> io.BytesIO:
    """The mixed files in an archive as a Mac's Finder makes it: a folder entry, resource forks
    and hidden files beside them (none of which is a file to verify)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in mixed.files.items():
            z.writestr(f"applicants/{name}", data)
        z.writestr("__MACOSX/applicants/._valid.json", b"resource fork")
        for hidden in (".DS_Store", "applicants/.DS_Store", "applicants/._valid.json", ".git/config"):
            z.writestr(hidden, b"not sent on purpose")
        z.writestr("applicants/", b"")
    return archive


def test_multipart_and_zip_give_one_row_per_file(http: TestClient, mixed: Mixed) -> None:
    upload = [("files", (name, data, "application/octet-stream")) for name, data in mixed.files.items()]
    r = http.post("/v1/verify/batch", files=upload)
    assert r.status_code == 200, r.text
    check_rows(r.json()["rows"], mixed)

    archive = applicants_zip(mixed)
    names = [f"upload.zip/applicants/{n}" for n in mixed.files]
    r = http.post("/v1/verify/batch", content=archive.getvalue(), headers={"content-type": "application/zip"})
    assert r.status_code == 200, r.text
    check_rows(r.json()["rows"], mixed, names)
    # the same archive among other files of a multipart upload, plus a broken archive
    upload = [
        ("files", ("valid.json", mixed.files["valid.json"], "application/json")),
        ("files", ("cv.zip", archive.getvalue(), "application/zip")),
        ("files", ("broken.zip", b"PK\x03\x04 not really", "application/zip")),
    ]
    r = http.post("/v1/verify/batch", files=upload)
    assert r.status_code == 200, r.text  # 1 + 8 + 1 files: within the limit of 12
    table = r.json()["rows"]
    assert [x["file"] for x in table] == ["valid.json", *[f"cv.zip/applicants/{n}" for n in mixed.files], "broken.zip"]
    assert table[-1]["verdict"] == "INVALID" and "not a readable zip archive" in table[-1]["reason"]
    # an archive with nothing to verify in it is a row of its own, never an empty answer
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr(".DS_Store", b"hidden")
    r = http.post("/v1/verify/batch", content=empty.getvalue(), headers={"content-type": "application/zip"})
    assert r.status_code == 200, r.text
    assert [(x["file"], x["verdict"], x["reason"]) for x in r.json()["rows"]] == [
        ("upload.zip", "INVALID", "format: the zip archive holds no file to verify")
    ]


def test_csv_parses_back_with_the_same_rows_and_escapes_formulas(http: TestClient, mixed: Mixed) -> None:
    upload = [("files", (name, data, "application/octet-stream")) for name, data in mixed.files.items()]
    as_json = http.post("/v1/verify/batch", files=upload).json()["rows"]
    r = http.post("/v1/verify/batch?format=csv&bom=true", files=upload)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b'\xef\xbb\xbf"file",')
    assert all(line.startswith('"') for line in r.text.removeprefix("\ufeff").split("\r\n") if line)
    table = parse_csv(r.text)
    hostile = next(x for x in table if x["file"] == "hostile.json")
    assert hostile["learner_name"] == "'" + HOSTILE
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for x in table for v in x.values())
    assert unescape(table) == as_json
    by_accept = http.post("/v1/verify/batch", files=upload, headers={"accept": "text/csv"})
    assert by_accept.text == r.text.removeprefix("\ufeff")


def test_the_csv_opens_in_a_spreadsheet_with_every_cell_in_place_and_no_formula(
    http: TestClient, mixed: Mixed, tmp_path: Path
) -> None:
    """LibreOffice Calc, importing with formulas evaluated, puts every field of the HR CSV in its
    own cell, as text or as the number it spells, and makes no formula of any cell; the same rows
    written without the escaping give Calc a live HYPERLINK formula (the hostile learner name)."""
    upload = [("files", (name, data, "application/octet-stream")) for name, data in mixed.files.items()]
    r = http.post("/v1/verify/batch?format=csv&bom=true", files=upload)
    assert r.status_code == 200
    fields = [list(COLUMNS)] + [[row[c] for c in COLUMNS] for row in parse_csv(r.text)]
    sheet = spreadsheet.open_csv(r.content, tmp_path / "escaped")
    assert len(sheet) == len(fields) == len(mixed.files) + 1
    for cells, row in zip(sheet, fields, strict=True):
        while row and not row[-1]:
            row = row[:-1]
        assert len(cells) == len(row), (row, cells)  # quoting held: no field split or merged
        for cell, field in zip(cells, row, strict=True):
            assert cell.formula is None, (field, cell)
            if cell.kind == "float":
                assert cell.value is not None and float(cell.value) == float(field), (field, cell)
            else:
                assert cell.kind in ("string", None) and cell.text == field, (field, cell)
    hostile = fields[1 + [r[0] for r in fields[1:]].index("hostile.json")][COLUMNS.index("learner_name")]
    assert hostile == "'" + HOSTILE
    # The control: without the escaping, the same spreadsheet runs the learner's formula.
    plain = io.StringIO()
    csv.writer(plain, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(
        [fields[0]] + [list(x.values()) for x in unescape([dict(zip(COLUMNS, f, strict=False)) for f in fields[1:]])]
    )
    control = spreadsheet.open_csv(plain.getvalue().encode("utf-8"), tmp_path / "unescaped")
    formulas = [cell.formula for cells in control for cell in cells if cell.formula]
    assert formulas and all(f.startswith("of:=HYPERLINK(") for f in formulas), formulas


def test_limits_give_clear_codes(http: TestClient, mixed: Mixed) -> None:
    one = mixed.files["valid.json"]
    r = http.post(
        "/v1/verify/batch", content=b"[" + b",".join([one] * 13) + b"]", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_files", r.text
    r = http.post("/v1/verify/batch", files=[("files", (f"{i}.json", b"{}", "application/json")) for i in range(13)])
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_files", r.text
    r = http.post("/v1/verify/batch", content=b"x" * (401 * 1024), headers={"content-type": "application/zip"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    bomb = io.BytesIO()  # 4 x 150 KB of zeros: a few hundred bytes packed, 600 KB unpacked
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(4):
            z.writestr(f"{i}.json", b"0" * 150_000)
    assert len(bomb.getvalue()) < 5000
    r = http.post("/v1/verify/batch", content=bomb.getvalue(), headers={"content-type": "application/zip"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large", r.text
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as z:
        for i in range(13):
            z.writestr(f"{i}.json", b"{}")
    r = http.post("/v1/verify/batch", content=many.getvalue(), headers={"content-type": "application/zip"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_files"
    for body, code, status in [
        (b"[]", "empty_batch", 422),
        (one, "not_an_array", 422),
        (b"[{", "malformed_json", 400),
        (b"[{}] x", "malformed_json", 400),
    ]:
        r = http.post("/v1/verify/batch", content=body, headers={"content-type": "application/json"})
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body[:20]
    r = http.post("/v1/verify/batch", content=b"<xml/>", headers={"content-type": "application/xml"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_verifies_a_folder_in_every_format(registry: Registry, mixed: Mixed, tmp_path: Path) -> None:
    folder = tmp_path / "applicants"
    (folder / "more").mkdir(parents=True)
    for name, data in mixed.files.items():
        (folder / ("more" if name.endswith(".png") else "") / name).write_bytes(data)
    (folder / "README.txt").write_text("not picked up")
    (folder / ".hidden.json").write_text("{}")
    (folder / "folder.json").mkdir()  # a directory named like a file is searched, not read
    env = {"REGISTRY_HOME": str(registry.settings.home)}
    base = ["verify", "--rpc", registry.rpc_url, str(folder)]
    order = sorted(
        [
            *[str(folder / n) for n in mixed.files if n.endswith(".json")],
            str(folder / "more/badge.png"),
            str(folder / "more/broken.png"),
        ]
    )

    result = CliRunner().invoke(cli_app, [*base, "--format", "csv"], env=env)
    assert result.exit_code == 1, result.output
    table = parse_csv(result.stdout)
    named = {r["file"]: r for r in table}
    assert sorted(named) == order
    check_rows([{**r, "file": Path(r["file"]).name} for r in unescape(table)], mixed, [Path(f).name for f in order])
    assert named[str(folder / "hostile.json")]["learner_name"] == "'" + HOSTILE
    # the file the folder held but that was not verified is named on stderr, not left to guess
    assert result.stderr == f"not verified (not *.json, *.png, *.svg or *.zip): {folder / 'README.txt'}\n"

    result = CliRunner().invoke(cli_app, [*base, "--json"], env=env)
    reports = json.loads(result.stdout)
    assert [r["source"] for r in reports] == order
    assert unescape(table) == rows(
        [Report.model_validate(r) for r in reports], [r["learner_name"] for r in unescape(table)]
    )

    result = CliRunner().invoke(cli_app, [*base, "--format", "table"], env=env)
    assert result.exit_code == 1 and "VALID" in result.stdout and "3 VALID, 5 INVALID, 0 INDETERMINATE" in result.stdout

    # several files named, one of them unreadable in a batch: its own row, never a crash
    result = CliRunner().invoke(
        cli_app,
        [
            "verify",
            "--rpc",
            registry.rpc_url,
            "--format",
            "csv",
            str(folder / "valid.json"),
            str(folder / "more/broken.png"),
        ],
        env=env,
    )
    assert result.exit_code == 1
    table = parse_csv(result.stdout)
    assert [(r["verdict"], r["failed_checks"]) for r in table] == [("VALID", ""), ("INVALID", "format")]
    assert "not a PNG image" in table[1]["reason"] or "malformed PNG" in table[1]["reason"]


def encrypted(archive: bytes, name: bytes) -> bytes:
    """``archive`` with the entry ``name`` marked encrypted (bit 0 of its flags, in its local and
    central headers), as an archive made with a password is: no password can be given."""
    out = bytearray(archive)
    for signature, flags, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = out.find(signature)
        while at >= 0 and out[at + name_at : at + name_at + len(name)] != name:
            at = out.find(signature, at + 1)
        assert at >= 0, (signature, name)
        out[at + flags] |= 0x1
    return bytes(out)


def odd_zip(mixed: Mixed) -> bytes:
    """Entries that cannot be verified, each its own row: a bomb, an encrypted entry, a zip inside
    the zip (never opened) and a note."""
    odd = io.BytesIO()
    with zipfile.ZipFile(odd, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.json", b" " * (10 * 1024 * 1024 + 1))  # a bomb: 10 kB packed, over the limit unpacked
        z.writestr("locked.json", mixed.files["valid.json"])  # marked encrypted below
        z.writestr("nested.zip", applicants_zip(mixed).getvalue())  # never opened: an entry like any other
        z.writestr("notes.txt", b"call back on Monday")
    return encrypted(odd.getvalue(), b"locked.json")


def empty_zip() -> bytes:
    """An archive of what is skipped only: still a row, never vanishing."""
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("__MACOSX/._cv.json", b"resource fork")
        z.writestr("folder/", b"")
    return empty.getvalue()


BROKEN_ZIP = b"PK\x03\x04 not really"


def test_cli_verifies_zip_archives_with_the_rows_the_api_gives(
    registry: Registry, mixed: Mixed, http: TestClient, tmp_path: Path
) -> None:
    """An HR inbox holds zips (an applicant tracking system's "download all"): ``registry verify``
    verifies their entries as the API does, row for row, without unpacking anything to disk."""
    archive = applicants_zip(mixed).getvalue()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "cv.zip").write_bytes(archive)
    (inbox / "odd.ZIP").write_bytes(odd_zip(mixed))
    (inbox / "broken.zip").write_bytes(BROKEN_ZIP)
    (inbox / "empty.zip").write_bytes(empty_zip())
    (inbox / "valid.json").write_bytes(mixed.files["valid.json"])
    download = tmp_path / "download"  # named on the command line: a zip by its content, not its name
    download.write_bytes(archive)
    env = {"REGISTRY_HOME": str(registry.settings.home)}
    cmd = ["verify", "--rpc", registry.rpc_url, "--format", "csv", str(inbox), str(download)]
    result = CliRunner().invoke(cli_app, cmd, env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr == ""  # every entry has a row: nothing passed over in silence
    table = unescape(parse_csv(result.stdout))
    entries = [f"applicants/{n}" for n in mixed.files]
    assert [r["file"] for r in table] == [
        str(inbox / "broken.zip"),
        *[f"{inbox / 'cv.zip'}/{e}" for e in entries],
        str(inbox / "empty.zip"),
        *[f"{inbox / 'odd.ZIP'}/{e}" for e in ("big.json", "locked.json", "nested.zip", "notes.txt")],
        str(inbox / "valid.json"),
        *[f"{download}/{e}" for e in entries],
    ]
    by_file = {r["file"]: r for r in table}
    assert by_file[str(inbox / "broken.zip")]["reason"].startswith("format: not a readable zip archive: ")
    assert by_file[str(inbox / "empty.zip")]["reason"] == "format: the zip archive holds no file to verify"
    big, locked_row, nested, notes = (
        by_file[f"{inbox / 'odd.ZIP'}/{e}"] for e in ("big.json", "locked.json", "nested.zip", "notes.txt")
    )
    assert big["reason"] == "format: the file is larger than 10485760 bytes"
    assert (
        locked_row["reason"].startswith("format: cannot read this zip entry: ") and "encrypted" in locked_row["reason"]
    )
    assert all((r["verdict"], r["failed_checks"]) == ("INVALID", "format") for r in (big, locked_row, nested, notes))

    # the archive's rows are the API's rows for the same archive, cell for cell
    api = http.post("/v1/verify/batch", content=archive, headers={"content-type": "application/zip"})
    assert api.status_code == 200, api.text
    api_rows = api.json()["rows"]
    for prefix in (f"{inbox / 'cv.zip'}", str(download)):
        cli_rows = [
            {**r, "file": r["file"].replace(prefix, "upload.zip", 1)}
            for r in table
            if r["file"].startswith(prefix + "/")
        ]
        assert cli_rows == api_rows
    check_rows(api_rows, mixed, [f"upload.zip/{e}" for e in entries])

    # an archive named alone is a batch too: its rows, not one report
    result = CliRunner().invoke(cli_app, ["verify", "--rpc", registry.rpc_url, str(download)], env=env)
    assert result.exit_code == 1
    assert result.stdout.count(f"{download}/applicants/") == len(entries)


# -- the page --------------------------------------------------------------------------------


@contextmanager
def verifier_page(registry: Registry, tmp_path: Path) -> Iterator[Any]:
    """The standalone verifier page (``registry verifier-page``) open in Chromium, its chain
    settings filled in for the test registry."""
    from tests.e2e.test_pages import ARGS, CHROMIUM, _require_browser

    _require_browser()
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "verifier.html"
    result = CliRunner().invoke(cli_app, ["verifier-page", "--out", str(page_file), "--no-trust"])
    assert result.exit_code == 0, result.output
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(page_file.as_uri())
            page.fill("#rpc", registry.rpc_url)
            page.fill("#trusted", f"31337 {registry.client.registry_address}")
            yield page
        finally:
            browser.close()


def downloaded_csv(page: Any) -> str:
    """The page's "Download CSV" file, as text."""
    with page.expect_download() as download:
        page.click("#bulk-csv")
    return Path(download.value.path()).read_bytes().decode("utf-8")


def test_page_drop_zone_verifies_several_files_and_its_csv_equals_pythons(
    registry: Registry, mixed: Mixed, tmp_path: Path
) -> None:
    paths = []
    for name, data in mixed.files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    with verifier_page(registry, tmp_path) as page:
        page.evaluate(  # every text the status line shows during the run
            """() => {
                const status = document.getElementById("bulk-status");
                window.statuses = [];
                new MutationObserver(() => window.statuses.push(status.textContent))
                    .observe(status, {childList: true, characterData: true, subtree: true});
            }"""
        )
        page.set_input_files("#files", paths)
        page.wait_for_selector("#bulk-status:has-text('Done')", timeout=60_000)
        statuses = page.evaluate("window.statuses")
        n = len(paths)
        # how far the run is, up to the last file, then the result
        assert statuses[0] == f"Verifying {n} file(s)…", statuses
        assert statuses[-2:] == [f"Checked {n} of {n} file(s)…", statuses[-1]], statuses
        assert statuses[-1].startswith(f"Done: {n} file(s)"), statuses
        shown = page.eval_on_selector_all(
            "#bulk-table tbody tr", "rows => rows.map(r => [r.cells[0].textContent, r.dataset.verdict])"
        )
        assert shown == [[n, mixed.expected[n][0]] for n in mixed.files]
        page_csv = downloaded_csv(page)
        # The same reports through Python's rows and CSV writer give the same bytes.
        options = {
            "rpc": registry.rpc_url,
            "trustedRegistries": [{"chainId": 31337, "address": registry.client.registry_address}],
        }
        reports, learners = page.evaluate(
            """async ([files, o]) => {
                const r = window.credentialRegistry;
                const loaded = files.map(([source, b]) => ({source, data: new Uint8Array(b)}));
                const reports = await r.verifyMany(loaded, o);
                return [reports, loaded.map(f => r.learnerName(f.data))];
            }""",
            [[[n, list(d)] for n, d in mixed.files.items()], options],
        )
        python_table = rows([Report.model_validate(r) for r in reports], learners)
        js_csv = page.evaluate(
            "([reports, learners]) => window.credentialRegistry.csvText("
            "reports.map((r, i) => window.credentialRegistry.reportRow(r, learners[i])))",
            [reports, learners],
        )
    assert js_csv == csv_text(python_table)
    # the page names the failing check once, as the CLI does ("format: not a credreg-proof-v1 ...")
    not_json = next(r for r in reports if r["source"] == "notes.json")
    assert not_json["summary"].startswith("format: not a credreg-proof-v"), not_json["summary"]
    assert page_csv == csv_text(python_table, bom=True)
    table = parse_csv(page_csv)
    check_rows(unescape(table), mixed)
    assert next(r for r in table if r["file"] == "hostile.json")["learner_name"] == "'" + HOSTILE


def test_page_drop_zone_verifies_zip_archives_with_the_rows_the_cli_gives(
    registry: Registry, mixed: Mixed, tmp_path: Path
) -> None:
    """The same archives dropped on the page give the CLI's rows: entries in archive order, skipped
    and failed entries alike (after "cannot read this zip entry: " or "malformed PNG image: " each
    side quotes its own library)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    named = {
        "broken.zip": BROKEN_ZIP,
        "cv.zip": applicants_zip(mixed).getvalue(),
        "empty.zip": empty_zip(),
        "odd.zip": odd_zip(mixed),
        "valid.json": mixed.files["valid.json"],
    }
    for name, data in named.items():
        (inbox / name).write_bytes(data)
    env = {"REGISTRY_HOME": str(registry.settings.home)}
    result = CliRunner().invoke(cli_app, ["verify", "--rpc", registry.rpc_url, "--format", "csv", str(inbox)], env=env)
    assert result.exit_code == 1, result.output
    cli = [{**r, "file": r["file"].removeprefix(f"{inbox}/")} for r in parse_csv(result.stdout)]

    with verifier_page(registry, tmp_path) as page:
        page.set_input_files("#files", [str(inbox / n) for n in named])
        page.wait_for_selector("#bulk-status:has-text('Done')", timeout=60_000)
        status = page.text_content("#bulk-status")
        shown = parse_csv(downloaded_csv(page))

    def own_words(row: dict[str, str]) -> dict[str, str]:
        # what follows these words is the zip or PNG library's own message, one per side
        for prefix in (
            "format: cannot read this zip entry: ",
            "format: not a readable zip archive: ",
            "format: badge: malformed PNG image: ",
        ):
            if row["reason"].startswith(prefix):
                return {**row, "reason": prefix}
        return row

    assert [own_words(r) for r in shown] == [own_words(r) for r in cli]
    assert [r["file"] for r in shown] == [
        "broken.zip",
        *[f"cv.zip/applicants/{n}" for n in mixed.files],
        "empty.zip",
        *[f"odd.zip/{e}" for e in ("big.json", "locked.json", "nested.zip", "notes.txt")],
        "valid.json",
    ]
    assert status is not None and status.startswith(f"Done: {len(cli)} file(s): 4 VALID, "), status
    locked = next(r for r in shown if r["file"] == "odd.zip/locked.json")
    assert locked["reason"].startswith("format: cannot read this zip entry: ") and "encrypt" in locked["reason"]


def test_cli_windows_give_the_same_output_as_one_pass(
    registry: Registry, mixed: Mixed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder is read, checked and printed BULK_WINDOW files at a time (bounded memory, rows
    streamed): cut into windows of 3, the 8 files give byte for byte the output of one window, in
    every format, and the same exit code."""
    import registry.cli.verify as cli_verify

    folder = tmp_path / "applicants"
    folder.mkdir()
    for name, data in mixed.files.items():
        (folder / name).write_bytes(data)
    env = {"REGISTRY_HOME": str(registry.settings.home)}

    def run(*extra: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli_app, ["verify", "--rpc", registry.rpc_url, *extra, str(folder)], env=env)
        out = result.stdout
        if "--json" in extra:  # the time of each check is the only thing allowed to differ
            out = json.dumps([{**r, "checked_at": ""} for r in json.loads(out)])
        return result.exit_code, out

    formats = [("--format", "csv", "--bom"), ("--json",), ("--format", "table"), ("--format", "text")]
    whole = [run(*f) for f in formats]
    monkeypatch.setattr(cli_verify, "BULK_WINDOW", 3)
    windowed = [run(*f) for f in formats]
    assert windowed == whole
    assert {code for code, _ in whole} == {1}
    assert whole[0][1].startswith('\ufeff"file",') and whole[0][1].count('"file",') == 1  # one BOM, one header
    assert len(json.loads(whole[1][1])) == len(mixed.files)
