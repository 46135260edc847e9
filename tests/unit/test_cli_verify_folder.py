"""`registry verify DIR`: which files of a folder are verified, and the ones passed over are said."""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry.cli.app import app as cli_app
from registry.cli.verify import BULK_WINDOW, collect_files


def _folder(tmp_path: Path, others: int) -> Path:
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.JSON").write_text("not json")
    (folder / "b.png").write_bytes(b"not a png")
    (folder / ".hidden.txt").write_text("hidden")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("hidden")
    for i in range(others):
        (folder / f"note{i:02d}.txt").write_text("x")
    return folder


def test_collect_files_splits_a_folder_into_verified_and_passed_over(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 2)
    named = tmp_path / "named.txt"  # a file named on the command line is always verified
    named.write_text("x")
    found, passed_over = collect_files([folder, named])
    assert found == [folder / "b.png", folder / "sub" / "a.JSON", named]
    assert passed_over == [folder / "note00.txt", folder / "note01.txt"]


def test_the_files_passed_over_are_named_on_stderr_and_the_rows_are_unchanged(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 12)
    env = {"REGISTRY_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli_app, ["verify", "--offline", "--format", "csv", str(folder)], env=env)
    assert result.exit_code == 1, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["file"], r["verdict"], r["failed_checks"]) for r in rows] == [
        (str(folder / "b.png"), "INVALID", "format"),
        (str(folder / "sub" / "a.JSON"), "INVALID", "format"),
    ]
    # one reason, not "format: format: ..."
    assert rows[1]["reason"].startswith("format: not valid JSON (line 1, column 1)")
    names = ", ".join(str(folder / f"note{i:02d}.txt") for i in range(10))
    assert result.stderr == f"not verified (not *.json, *.png, *.svg or *.zip): {names} and 2 more\n"

    result = CliRunner().invoke(cli_app, ["verify", "--offline", "--lang", "es", str(folder)], env=env)
    assert result.exit_code == 1
    assert result.stderr == f"no verificados (no son *.json, *.png, *.svg ni *.zip): {names} y 2 más\n"


def test_a_folder_without_credential_files_is_refused_and_says_what_it_holds(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    result = CliRunner().invoke(cli_app, ["verify", "--offline", str(folder)], env={"REGISTRY_HOME": str(tmp_path)})
    assert result.exit_code == 3
    assert "no *.json, *.png, *.svg or *.zip files in" in result.output


def test_a_file_larger_than_any_credential_is_a_row_and_is_not_read_whole(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    big = folder / "video.json"
    with big.open("wb") as handle:  # sparse: 3 GB on paper, nothing on disk
        handle.truncate(3 * 1024**3)
    (folder / "notes.json").write_text("not json")
    env = {"REGISTRY_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli_app, ["verify", "--offline", "--format", "csv", str(folder)], env=env)
    assert result.exit_code == 1, result.output
    rows = {r["file"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert rows[str(big)]["verdict"] == "INVALID"
    assert rows[str(big)]["reason"] == "format: the file is larger than 10485760 bytes"
    assert rows[str(folder / "notes.json")]["failed_checks"] == "format"

    result = CliRunner().invoke(cli_app, ["verify", "--offline", "--lang", "es", str(big)], env=env)
    assert result.exit_code == 1
    assert "el archivo tiene más de 10485760 bytes" in result.stdout


def test_a_broken_link_in_a_folder_is_a_row_or_is_named_never_dropped(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "notes.json").write_text("not json")
    (folder / "moved.json").symlink_to(tmp_path / "elsewhere" / "moved.json")
    (folder / "moved.txt").symlink_to(tmp_path / "elsewhere" / "moved.txt")
    (folder / "self").symlink_to(folder)  # a link back to the folder is not followed
    os.mkfifo(folder / "pipe.json")  # never opened: reading it would wait forever
    found, passed_over = collect_files([folder])
    assert found == [folder / "moved.json", folder / "notes.json"]
    assert passed_over == [folder / "moved.txt"]

    env = {"REGISTRY_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli_app, ["verify", "--offline", "--format", "csv", str(folder)], env=env)
    assert result.exit_code == 1, result.output
    rows = {r["file"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert list(rows) == [str(folder / "moved.json"), str(folder / "notes.json")]
    moved = rows[str(folder / "moved.json")]
    assert (moved["verdict"], moved["failed_checks"]) == ("INVALID", "format")
    assert moved["reason"] == f"format: a broken link: {tmp_path / 'elsewhere' / 'moved.json'} does not exist"
    assert result.stderr == f"not verified (not *.json, *.png, *.svg or *.zip): {folder / 'moved.txt'}\n"

    result = CliRunner().invoke(cli_app, ["verify", "--offline", "--lang", "es", str(folder)], env=env)
    assert result.exit_code == 1
    assert "un enlace roto" in result.stdout


def test_a_pipe_named_on_the_command_line_is_read_whole_once(tmp_path: Path) -> None:
    """``registry verify <(curl -s URL)`` names a pipe: looking for a zip archive in it must not
    take bytes the verifier then misses (only regular files are looked into)."""
    pipe = tmp_path / "63"
    os.mkfifo(pipe)
    sent = b'{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"]}'

    def write() -> None:
        with pipe.open("wb") as handle:
            handle.write(sent)

    writer = threading.Thread(target=write)
    writer.start()
    env = {"REGISTRY_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli_app, ["verify", "--offline", "--format", "csv", str(pipe)], env=env)
    writer.join(10)
    assert result.exit_code == 1, result.output
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    assert (row["file"], row["verdict"], row["failed_checks"]) == (str(pipe), "INVALID", "format")
    assert "not valid JSON" not in row["reason"], row["reason"]  # all of it arrived, parsed as sent


def _run_with_stderr(args: list[str], env: dict[str, str], terminal: bool) -> tuple[str, bytes, int]:
    """``registry ARGS`` in a subprocess: standard output piped, standard error on a pseudo-terminal
    (``terminal``) or piped. Returns stdout, the bytes written to stderr and the exit code."""
    command = [sys.executable, "-m", "registry.cli", *args]
    if not terminal:
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        return done.stdout.decode(), done.stderr, done.returncode
    controller, follower = pty.openpty()
    with tempfile.TemporaryFile() as out_file:  # a file, not a pipe: the child never waits on it
        try:
            proc = subprocess.Popen(command, env=env, stdout=out_file, stderr=follower)
            os.close(follower)
            written = b""
            while True:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                written += chunk
            code = proc.wait(timeout=120)
        finally:
            os.close(controller)
        out_file.seek(0)
        return out_file.read().decode(), written, code


def test_a_run_of_several_windows_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    total = BULK_WINDOW + 1
    for i in range(total):
        (folder / f"f{i:05d}.json").write_text("not json")
    env = {**os.environ, "REGISTRY_HOME": str(tmp_path / "home"), "REGISTRY_CONFIG_DIR": str(tmp_path / "config")}
    args = ["verify", "--offline", "--format", "csv", str(folder)]

    stdout, stderr, code = _run_with_stderr(args, env, terminal=True)
    assert code == 1
    assert len(list(csv.DictReader(io.StringIO(stdout)))) == total  # the output is untouched
    text = stderr.decode()
    first = f"verified {BULK_WINDOW} of {total} files ({BULK_WINDOW} INVALID, 0 INDETERMINATE)"
    last = f"verified {total} of {total} files ({total} INVALID, 0 INDETERMINATE)"
    blank = "\r" + " " * len(first) + "\r"  # no escape sequences: cmd.exe shows it too
    assert text == f"\r{first}{blank}\r{last}{' ' * (len(first) - len(last))}\r{' ' * len(first)}\r"

    stdout_piped, stderr_piped, code = _run_with_stderr(args, env, terminal=False)
    assert code == 1 and stdout_piped == stdout  # the same output, same rows
    assert stderr_piped == b""  # a log or a pipe never gets the progress line

    _, stderr_es, _ = _run_with_stderr([*args[:1], "--lang", "es", *args[1:]], env, terminal=True)
    assert f"verificados {BULK_WINDOW} de {total} archivos ({BULK_WINDOW} NO VÁLIDA" in stderr_es.decode()


def test_a_file_named_dash_is_read_from_standard_input(tmp_path: Path) -> None:
    env = {"REGISTRY_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli_app, ["verify", "--offline", "--format", "csv", "-"], input=b"not json", env=env)
    assert result.exit_code == 1, result.output
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    assert (row["file"], row["verdict"]) == ("<stdin>", "INVALID")
    assert row["reason"].startswith("format: not valid JSON (line 1, column 1)")

    other = tmp_path / "other.json"
    other.write_text("[]")
    args = ["verify", "--offline", "--format", "csv", str(other), "-"]
    result = CliRunner().invoke(cli_app, args, input="{}", env=env)
    assert [r["file"] for r in csv.DictReader(io.StringIO(result.stdout))] == [str(other), "<stdin>"]

    result = CliRunner().invoke(cli_app, ["verify", "--offline", "-", "-"], input="{}", env=env)
    assert result.exit_code == 3
    assert "standard input (-) can be named once" in result.output


def test_a_zip_archive_on_standard_input_is_verified_entry_by_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``curl -s https://ats.example/export.zip | registry verify -``: the entries' rows, named
    ``<stdin>/ENTRY``; the private copy the archive needs (its directory is at its end) is gone
    after the run."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("alice/cv.json", b"not json")
        z.writestr("bob/", b"")
        z.writestr("bob/.DS_Store", b"hidden")
        z.writestr("bob/badge.png", b"not a png")
    env = {"REGISTRY_HOME": str(tmp_path / "home")}
    args = ["verify", "--offline", "--format", "csv", "-"]
    result = CliRunner().invoke(cli_app, args, input=archive.getvalue(), env=env)
    assert result.exit_code == 1, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["file"], r["verdict"], r["failed_checks"]) for r in rows] == [
        ("<stdin>/alice/cv.json", "INVALID", "format"),
        ("<stdin>/bob/badge.png", "INVALID", "format"),
    ]
    assert rows[0]["reason"].startswith("format: not valid JSON (line 1, column 1)")
    assert list((tmp_path / "tmp").iterdir()) == []  # the copy is removed

    # text format, one archive piped in: a batch (a report per entry), not one file
    result = CliRunner().invoke(cli_app, ["verify", "--offline", "-"], input=archive.getvalue(), env=env)
    assert result.exit_code == 1 and "<stdin>/alice/cv.json: INVALID" in result.stdout, result.stdout
    # a broken archive is one row, named as standard input
    result = CliRunner().invoke(cli_app, args, input=b"PK\x03\x04 not really", env=env)
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    assert row["file"] == "<stdin>" and row["reason"].startswith("format: not a readable zip archive: ")
    assert list((tmp_path / "tmp").iterdir()) == []
