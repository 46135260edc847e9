"""`registry verify` and `registry redact`: what an employer and a learner run."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
import tempfile
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from registry.cli.output import LangOption, RpcsOption, err, out
from registry.cli.output import fail as _fail
from registry.config import Settings
from registry.errors import ConfigError, InvalidInput, RegistryError
from registry.locales import from_environment, translations
from registry.locales.reasons import Reason, localize
from registry.locales.words import check_labels

if TYPE_CHECKING:
    from registry.verify.archive import ArchiveMember, MemberReader
    from registry.verify.tabular import BatchFile

commands = typer.Typer()

# -- verify and redact ---------------------------------------------------------------------


def _local_trust(settings: Settings) -> dict[int, dict[str, str]]:
    """The trust anchors, plus the registries this project folder deployed (its deployments file)."""
    from registry.chain.networks import trust_anchors

    trusted = trust_anchors()
    path = settings.deployments_file
    if path.exists():
        for chain_id, record in json.loads(path.read_text()).items():
            source = Reason("the deployments file {path}", path=path)
            trusted.setdefault(int(chain_id), {}).setdefault(record["address"].lower(), source)
    return trusted


STDIN: Final = "-"
"""A file named ``-`` is read from standard input (``curl … | registry verify -``)."""
STDIN_SOURCE: Final = "<stdin>"
"""How that file is named in reports and rows (``-`` would be a formula-like CSV cell)."""

BULK_SUFFIXES = (".json", ".png", ".svg")
"""What a directory contributes to ``registry resign DIR``: these files, recursively."""
VERIFY_SUFFIXES = (*BULK_SUFFIXES, ".zip")
"""What a directory contributes to ``registry verify DIR``: these files, recursively (each zip
archive's entries verified as files: :mod:`registry.verify.archive`)."""


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"
    table = "table"


def collect_files(paths: Sequence[Path], suffixes: Sequence[str] = BULK_SUFFIXES) -> tuple[list[Path], list[Path]]:
    """The files to read, and the files passed over: each file named is read; under each
    directory named, recursively and in path order, every file ending in one of ``suffixes`` (any
    case) is read and every other file is passed over (so the caller can say so); hidden
    files and folders (a leading dot) are neither. A broken link counts as a file (it gets a row or
    is named, never dropped in silence); a folder, a pipe or a device is not one."""
    from registry.verify.tabular import hidden_path

    found: list[Path] = []
    passed_over: list[Path] = []
    for path in paths:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if hidden_path(p.relative_to(path).parts) or not (p.is_file() or _broken_link(p)):
                    continue
                (found if p.suffix.lower() in suffixes else passed_over).append(p)
        else:
            found.append(path)
    return found, passed_over


def _broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _is_stdin(path: Path) -> bool:
    return str(path) == STDIN


@dataclass(frozen=True)
class _Stdin:
    """Standard input, read already (to see whether it is a zip archive): one file."""

    data: bytes


def _expand_archives(
    paths: list[Path], named: Sequence[Path], spool: contextlib.ExitStack
) -> list[Path | _Stdin | ArchiveMember | BatchFile]:
    """``paths`` with each zip archive replaced by its entries, in order: a folder's ``*.zip``, any
    file named that starts as a zip does (whatever its name) and standard input when it is one
    (copied to a private temporary file, gone with ``spool``: an archive's directory is at its
    end); an archive that cannot be opened is one failed file. Only archives' central directories
    are read here; entries are read window by window
    (:class:`~registry.verify.archive.MemberReader`)."""
    from registry.verify.archive import is_zip, list_members

    explicit = {p for p in named if not p.is_dir()}
    out_: list[Path | _Stdin | ArchiveMember | BatchFile] = []
    for path in paths:
        if _is_stdin(path):
            out_.extend(_read_stdin(spool))
            continue
        # Only a regular file is looked into: a pipe named on the command line (``<(curl …)``)
        # would lose what this read took from it.
        if (path not in explicit and path.suffix.lower() != ".zip") or not path.is_file():
            out_.append(path)
            continue
        try:
            with path.open("rb") as handle:
                archive = is_zip(handle.read(4))
        except OSError:  # read again for its row, which says why
            archive = False
        if not archive:
            out_.append(path)
            continue
        out_.extend(list_members(path))
    return out_


def _read_stdin(spool: contextlib.ExitStack) -> list[_Stdin | ArchiveMember | BatchFile]:
    """Standard input as one file (at most one byte more than a file may hold is read), or, when
    it is a zip archive, its entries, named ``<stdin>/ENTRY``."""
    from registry.verify.archive import is_zip, list_members
    from registry.verify.verifier import MAX_READ_BYTES

    stream = sys.stdin.buffer
    head = stream.read(4)
    if not is_zip(head):
        return [_Stdin(head + stream.read(MAX_READ_BYTES + 1 - len(head)))]
    folder = Path(spool.enter_context(tempfile.TemporaryDirectory(prefix="registry-verify-")))
    copy = folder / "stdin.zip"  # readable by this user only (the folder is 0700)
    with copy.open("wb") as handle:
        handle.write(head)
        shutil.copyfileobj(stream, handle)
    return [*list_members(copy, label=STDIN_SOURCE)]


_PASSED_OVER_NAMED: Final = 10
"""At most this many passed-over files are named on standard error; the rest are counted."""


def _say_passed_over(passed_over: list[Path], words: _Words) -> None:
    """One line on standard error naming the files of the folders that were not verified: a
    folder of 200 files that yields 180 rows must not leave the reader guessing why."""
    if not passed_over:
        return
    _ = words.gettext
    names = ", ".join(map(str, passed_over[:_PASSED_OVER_NAMED]))
    if len(passed_over) > _PASSED_OVER_NAMED:
        names += " " + _("and %(count)s more") % {"count": len(passed_over) - _PASSED_OVER_NAMED}
    line = _("not verified (not *.json, *.png, *.svg or *.zip): %(names)s") % {"names": names}
    err.print(line, highlight=False, markup=False)


@commands.command()
def verify(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="credential files (JSON, baked PNG or SVG), zip archives of them, or directories (every *.json, "
            "*.png, *.svg, *.zip in them, recursively); - reads standard input (one file, or a zip archive)"
        ),
    ],
    rpc: RpcsOption = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="text: each report for a person; json: the reports; csv: one row per file for a spreadsheet or "
            "HR system; table: those rows on the terminal",
        ),
    ] = OutputFormat.text,
    as_json: Annotated[bool, typer.Option("--json", help="the same as --format json")] = False,
    bom: Annotated[bool, typer.Option(help="start the CSV with a UTF-8 byte-order mark (for Excel)")] = False,
    offline: Annotated[bool, typer.Option(help="only format, integrity and inclusion; no chain")] = False,
    confirmations: Annotated[int, typer.Option(min=1, help="confirmations required")] = 1,
    timeout: Annotated[float, typer.Option(help="RPC timeout in seconds")] = 10.0,
    pathway: Annotated[
        Path | None,
        typer.Option(help="verify the files as one learner's stack toward this pathway definition (JSON)"),
    ] = None,
    learner: Annotated[
        str | None, typer.Option(help="with --pathway: the learner's e-mail, disclosed once to bind the files")
    ] = None,
    lang: LangOption = None,
) -> None:
    """Verify credential files against the chain alone, one file, a zip archive or a whole folder
    (read, checked and printed 2,000 files at a time, chain reads shared by each 2,000). Exit 0
    when all are VALID, else 1 if any is INVALID, else 2 (INDETERMINATE). In a batch (several
    files, a directory, an archive, or --format csv/table) a file or archive entry that cannot be
    read or unbaked gets its own INVALID row. With --pathway the files are one stack: VALID
    (complete), INCOMPLETE (exit 6: every file VALID, the rule not met yet), INVALID or
    INDETERMINATE."""
    from registry.verify import VerificationPolicy, Verifier

    if as_json:
        output_format = OutputFormat.json
    words = _Words(from_environment(lang))
    if sum(map(_is_stdin, files)) > 1:
        _fail(ConfigError("standard input (-) can be named once"))
    missing = [str(f) for f in files if not _is_stdin(f) and not f.exists()]
    if missing:
        _fail(ConfigError(f"no such file: {', '.join(missing)}"))
    found, passed_over = collect_files(files, VERIFY_SUFFIXES)
    with contextlib.ExitStack() as spool:  # standard input's copy when it is an archive, removed at the end
        paths = _expand_archives(found, files, spool)
        bulk = (
            len(files) > 1
            or any(f.is_dir() for f in files)
            or output_format in (OutputFormat.csv, OutputFormat.table)
            or any(not isinstance(p, (Path, _Stdin)) for p in paths)  # an archive's entries, or an archive unread
        )
        if not paths:
            _fail(ConfigError(f"no *.json, *.png, *.svg or *.zip files in {', '.join(map(str, files))}"))
        _say_passed_over(passed_over, words)
        settings = Settings()
        if learner is not None and pathway is None:
            _fail(InvalidInput("learner", "--learner binds the files of a stack: give --pathway too"))
        try:
            policy = VerificationPolicy(
                trusted=_local_trust(settings), min_confirmations=confirmations, offline=offline
            )
            verifier = Verifier(policy, rpc_urls=rpc or (), timeout=timeout)
            if pathway is not None:
                _verify_stack(verifier, pathway, paths, learner, output_format, words)
            stream = _Stream(output_format, words, bom=bom, as_list=bulk)
            _verify_windows(verifier, paths, stream, strict=not bulk)
        except RegistryError as exc:
            _fail(exc)
        raise typer.Exit(stream.close().exit_code)


BULK_WINDOW: Final = 2_000
"""``registry verify`` reads, checks and prints this many files at a time: a folder of 200,000
files needs the memory of 2,000 (each window's chain reads shared, one snapshot at the head when
the window started), and rows appear while later files are still being checked."""


def _verify_windows(
    verifier: Any, paths: list[Path | _Stdin | ArchiveMember | BatchFile], stream: _Stream, *, strict: bool
) -> None:
    """Verify ``paths`` window by window into ``stream``; a large run's offline checks are spread
    over the cores (forked workers, made for this command and gone with it). A run of more than
    one window says how far it is on standard error, when that is a terminal."""
    from registry.verify.archive import MemberReader
    from registry.verify.parallel import MIN_PARALLEL_FILES, process_pool
    from registry.verify.tabular import verify_batch

    progress = _Progress(len(paths), stream.words) if len(paths) > BULK_WINDOW and err.is_terminal else None
    pool = process_pool() if len(paths) >= MIN_PARALLEL_FILES else None
    try:
        with pool if pool is not None else contextlib.nullcontext(), MemberReader() as members:
            for start in range(0, len(paths), BULK_WINDOW):
                window = paths[start : start + BULK_WINDOW]
                batch = _expand_transcripts([_load(p, members, strict=strict) for p in window])
                results = verify_batch(verifier, batch, pool=pool)
                if progress is not None:  # rows printed to the same terminal start on a clean line
                    progress.clear()
                stream.add(results)
                if progress is not None:
                    progress.show(start + len(window), stream.tally)
    finally:
        if progress is not None:
            progress.clear()


class _Progress:
    """One line on the terminal, rewritten after each window: "verified 4000 of 200000 files
    (2 INVALID, 0 INDETERMINATE)", then erased, so nothing of it stays in the scrollback or in
    the output (standard output is never touched). Carriage returns and spaces only, no escape
    sequences: a console without VT processing (cmd.exe) shows it as well."""

    def __init__(self, total: int, words: _Words) -> None:
        self.total, self.words = total, words
        self.shown = 0  # the length of the line on the terminal

    def show(self, done: int, tally: Counter[str]) -> None:
        _ = self.words.gettext
        counts = ", ".join(f"{tally[v]} {self.words.verdict(v)}" for v in ("INVALID", "INDETERMINATE"))
        line = _("verified %(done)s of %(total)s files (%(counts)s)") % {
            "done": done,
            "total": self.total,
            "counts": counts,
        }
        sys.stderr.write("\r" + line.ljust(self.shown))
        sys.stderr.flush()
        self.shown = len(line)

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * self.shown + "\r")
            sys.stderr.flush()
            self.shown = 0


class _Stream:
    """The output of one ``registry verify`` run, written as windows of reports come in: the same
    text as writing every report at once (one JSON array, one CSV header, one table)."""

    def __init__(self, output_format: OutputFormat, words: _Words, *, bom: bool, as_list: bool) -> None:
        self.format, self.words, self.bom = output_format, words, bom
        self.as_list = as_list  # False: one file named (--format text|json), so one window
        self.count = 0  # reports so far
        self.table: list[tuple[str, ...]] = []  # the shown columns only (_TABLE_COLUMNS)
        self.tally: Counter[str] = Counter()  # reports so far by verdict

    def add(self, results: list[tuple[Any, str | None]]) -> None:
        from registry.verify.tabular import rows, write_csv

        reports = [r for r, _ in results]
        self.tally.update(r.verdict.value for r in reports)
        if self.format is OutputFormat.json:
            texts = [json.dumps(r.model_dump(mode="json"), indent=2) for r in reports]
            if not self.as_list and len(texts) == 1:  # one file, one credential: an object
                sys.stdout.write(texts[0] + "\n")
            else:  # a transcript named alone is a list of its credentials
                self.as_list = True
                for i, text in enumerate(texts, start=self.count):
                    sys.stdout.write(("[\n" if i == 0 else ",\n") + textwrap.indent(text, "  "))
        elif self.format is OutputFormat.csv:
            first = self.count == 0
            write_csv(rows(reports, (n for _, n in results)), sys.stdout, bom=self.bom and first, header=first)
        elif self.format is OutputFormat.table:
            self.table += [tuple(r[c] for c in _TABLE_COLUMNS) for r in rows(reports, (n for _, n in results))]
        else:
            for report in reports:
                _print_report(report, self.words)
        self.count += len(reports)
        sys.stdout.flush()

    def close(self) -> Any:
        """Finish the output; the worst verdict of the run (INDETERMINATE if there was none)."""
        from registry.verify import Verdict

        if self.format is OutputFormat.json and self.as_list:
            sys.stdout.write("\n]\n" if self.count else "[]\n")
        elif self.format is OutputFormat.table:
            _print_table(self.table, self.words)
        for verdict in (Verdict.INVALID, Verdict.INDETERMINATE, Verdict.VALID):
            if self.tally[verdict.value]:
                return verdict
        return Verdict.INDETERMINATE


class _Words:
    """The words of the reports for a person, in one language (registry.locales): the fixed
    words and the checks' reasons (registry.locales.reasons); the JSON/CSV output stays English."""

    def __init__(self, lang: str) -> None:
        t = translations(lang)
        self.lang, self.gettext, self.pgettext = lang, t.gettext, t.pgettext
        self.checks = check_labels(t)

    def verdict(self, value: str) -> str:
        labels = {
            "VALID": self.pgettext("verdict", "VALID"),
            "INVALID": self.pgettext("verdict", "INVALID"),
            "INDETERMINATE": self.pgettext("verdict", "INDETERMINATE"),
            "INCOMPLETE": self.pgettext("verdict", "INCOMPLETE"),
        }
        return labels.get(value, value)

    def check(self, name: str) -> str:
        return self.checks.get(name, name)

    def reason(self, reason: str) -> str:
        """A check's reason in this language (English: as the verifier gave it)."""
        return localize(reason, self.lang)

    def summary(self, summary: str) -> str:
        """A summary (``check: reason; ...``, after any component's own, as the verifier makes it)
        in this language: each part that names a check gets its label and translated reason."""
        if self.lang == "en":
            return summary
        names = "|".join(re.escape(name) for name in self.checks)
        head, *pairs = re.split(rf"(?:^|; )({names}): ", summary)
        parts = [self.reason(head)] if head else []
        parts += [f"{self.check(n)}: {self.reason(r)}" for n, r in zip(pairs[::2], pairs[1::2], strict=True)]
        return "; ".join(parts)


def _verify_stack(
    verifier: Any,
    pathway_file: Path,
    paths: list[Path | _Stdin | ArchiveMember | BatchFile],
    learner: str | None,
    output_format: OutputFormat,
    words: _Words,
) -> None:
    """``registry verify --pathway``: the files as one stack (registry.verify.stack)."""
    from registry.core.pathway import load_pathway
    from registry.verify.stack import verify_stack

    try:
        definition = load_pathway(pathway_file.read_bytes())
    except OSError as exc:
        _fail(ConfigError(f"cannot read {pathway_file}: {exc.strerror or exc}"))
    from registry.verify.archive import MemberReader

    with MemberReader() as members:
        files = [(file.source, file.data or b"") for file in (_load(p, members, strict=True) for p in paths)]
    report = verify_stack(verifier, definition, files, learner=learner)
    if output_format is OutputFormat.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        _ = words.gettext
        p = report.pathway
        heading = _("stack toward %(name)s (%(id)s v%(version)s)") % {
            "name": p["name"],
            "id": p["id"],
            "version": p["version"],
        }
        out.print(f"[bold]{words.verdict(report.verdict.value)}[/bold]  {heading}", highlight=False)
        for check in report.checks:
            status = _status_word(check.status.value, words)
            out.print(f"  {words.check(check.name):<9} {status:<14} {words.reason(check.reason)}", highlight=False)
        for node in (report.result or {}).get("nodes", []):
            mark = _("done") if node["satisfied"] else _("open")
            by = (
                ", ".join(node["satisfied_by"])
                if node["satisfied"]
                else _("missing") + " " + "; ".join(node["missing"])
            )
            out.print(f"    {mark} {node['id']} ({node['kind']}): {by}", highlight=False, markup=False)
        for component in report.components:
            out.print(f"  {words.verdict(component.verdict.value):<14} {component.source}", highlight=False)
        if report.verdict.value != "VALID":
            out.print(words.summary(report.summary), highlight=False)
    raise typer.Exit(report.verdict.exit_code)


def _expand_transcripts(batch: list[BatchFile]) -> list[BatchFile]:
    """A CLR 2.0 transcript (ClrCredential) is verified component by component: each embedded
    credential becomes a file of its own, named ``TRANSCRIPT#N`` (N from 1)."""
    from registry.core.clr import components_of
    from registry.verify.tabular import BatchFile

    out_: list[BatchFile] = []
    for item in batch:
        doc: Any = None
        # Only a file that could name ClrCredential (plainly, or in \u escapes) is parsed here.
        maybe = item.data is not None and (b"ClrCredential" in item.data or b"\\u" in item.data)
        if maybe and item.data is not None and item.data.lstrip()[:1] == b"{":
            try:
                doc = json.loads(item.data)
            except ValueError:
                doc = None
        types = doc.get("type") if isinstance(doc, dict) else None
        if isinstance(types, list) and "ClrCredential" in types:
            for i, component in enumerate(components_of(doc), start=1):
                out_.append(BatchFile(f"{item.source}#{i}", json.dumps(component).encode()))
        else:
            out_.append(item)
    return out_


def _load(item: Path | _Stdin | ArchiveMember | BatchFile, members: MemberReader, *, strict: bool) -> BatchFile:
    """The file ``item`` names, or why it cannot be read: a file on disk (:func:`_read`), standard
    input, an entry of an archive (at most as large as a file may be), or an archive's own failure."""
    from registry.verify.archive import ArchiveMember, MemberTooLarge
    from registry.verify.verifier import MAX_READ_BYTES

    if isinstance(item, Path):
        return _read(item, strict=strict)
    if isinstance(item, _Stdin):
        return _checked(STDIN_SOURCE, item.data, strict=strict)
    if isinstance(item, ArchiveMember):
        try:
            file = members.read(item, MAX_READ_BYTES)
        except MemberTooLarge:
            file = _too_large(item.source)
    else:
        file = item
    if strict and file.problem is not None:  # --pathway: every file must be read
        _fail(ConfigError(f"cannot read {file.source}: {file.problem}"))
    return file


def _too_large(source: str) -> BatchFile:
    """The row of a file (or archive entry) larger than any credential file or badge."""
    from registry.verify.tabular import BatchFile
    from registry.verify.verifier import MAX_READ_BYTES

    return BatchFile(source, problem=Reason("the file is larger than {limit} bytes", limit=MAX_READ_BYTES))


def _read(path: Path, *, strict: bool) -> BatchFile:
    """A file for :func:`verify_batch`. ``strict`` (one file, the classic command): a file that
    cannot be read or unbaked is a usage error (exit 3); in a batch it is a row of its own."""
    from registry.verify.tabular import BatchFile
    from registry.verify.verifier import MAX_READ_BYTES

    source = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_READ_BYTES + 1)  # a 2 GB video in the folder is never read whole
    except OSError as exc:
        if strict:
            _fail(ConfigError(f"cannot read {source}: {exc.strerror or exc}"))
        if _broken_link(path):
            gone = path.readlink()
            return BatchFile(source, problem=Reason("a broken link: {target} does not exist", target=gone))
        return BatchFile(source, problem=Reason("cannot read the file: {problem}", problem=str(exc.strerror or exc)))
    return _checked(source, data, strict=strict)


def _checked(source: str, data: bytes, *, strict: bool) -> BatchFile:
    """``data`` as the file ``source``: a row saying so when it is larger than a file may be; with
    ``strict``, the credential unbaked from an image now (a bad image is a usage error)."""
    from registry.core.baking import extract_if_baked
    from registry.verify.tabular import BatchFile
    from registry.verify.verifier import MAX_READ_BYTES

    if len(data) > MAX_READ_BYTES:
        return _too_large(source)
    if strict:
        try:
            data = extract_if_baked(data)
        except RegistryError as exc:
            _fail(exc)
    return BatchFile(source, data)


def _status_word(status: str, words: _Words) -> str:
    _ = words.gettext
    return {"pass": _("pass"), "fail": _("fail"), "indeterminate": _("indeterminate")}.get(status, status)


_TABLE_COLUMNS = ("file", "learner_name", "achievement", "issuer_name", "verdict", "failed_checks")
"""The columns of the table (of registry.verify.tabular.COLUMNS) on the terminal: a run keeps only
these until it prints, not whole rows."""


def _print_table(table: list[tuple[str, ...]], words: _Words) -> None:
    from rich.table import Table
    from rich.text import Text

    _ = words.gettext
    colours = {"VALID": "green", "INVALID": "red", "INDETERMINATE": "yellow"}
    grid = Table(show_lines=False)
    for title in (_("file"), _("learner"), _("achievement"), _("issuer"), _("verdict"), _("failed checks")):
        grid.add_column(title, overflow="fold")
    for file, learner, achievement, issuer, verdict, failed in table:
        grid.add_row(  # Text: names in files are data, never console markup
            Text(file),
            Text(learner),
            Text(achievement),
            Text(issuer),
            Text(words.verdict(verdict), style=colours[verdict]),
            Text(failed),
        )
    out.print(grid)
    at = _TABLE_COLUMNS.index("verdict")
    counts = Counter(r[at] for r in table)
    out.print(", ".join(f"{counts[v]} {words.verdict(v)}" for v in colours), highlight=False)


def _print_report(report: Any, words: _Words) -> None:
    from registry.locales import localized

    _ = words.gettext
    colour = {"VALID": "green", "INVALID": "red", "INDETERMINATE": "yellow"}[report.verdict.value]
    cred = report.credential
    verdict = words.verdict(report.verdict.value)
    out.print(f"[bold]{report.source}[/]: [bold {colour}]{verdict}[/]", highlight=False)
    if cred:
        what = localized(cred.get("achievement"), words.lang) or localized(cred.get("name"), words.lang)
        issued_by = _("issued by %(name)s (%(id)s)") % {
            "name": localized(cred.get("issuerName"), words.lang),
            "id": cred.get("issuerId"),
        }
        out.print(f"  {what} — {issued_by}", highlight=False)
    marks = {"pass": "[green]✔[/]", "fail": "[red]✘[/]", "indeterminate": "[yellow]?[/]"}
    for check in report.checks:
        reason = words.reason(check.reason)
        out.print(f"  {marks[check.status.value]} {words.check(check.name):<10} {reason}", highlight=False)
    agreed = report.check("anchor").details if cred else {}
    if "rpcs" in agreed:
        opinion = _("second opinion: %(count)d RPCs agree at block %(block)s (%(rpcs)s)") % {
            "count": len(agreed["rpcs"]),
            "block": agreed["agreedBlock"],
            "rpcs": ", ".join(agreed["rpcs"]),
        }
        out.print(f"  {opinion}", highlight=False)
    if report.hidden_fields or report.redacted_field_count:
        shown = ", ".join(report.hidden_fields) or _("(paths not stated)")
        hidden = _("hidden by the holder: %(count)d field(s): %(fields)s") % {
            "count": report.redacted_field_count,
            "fields": shown,
        }
        out.print(f"  {hidden}", highlight=False)
    if report.proofs:
        out.print(f"  {_('proofs checked:')} {', '.join(report.proofs)}", highlight=False)
    if report.offline:
        out.print(f"  [yellow]{_('offline: anchoring, issuer and revocation were NOT checked')}[/]")


@commands.command()
def redact(
    file: Path,
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the redacted file")],
    hide: Annotated[
        list[str] | None, typer.Option("--hide", help="JSON pointer of a field to hide (repeatable)")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="a disclosure profile the issuer pre-signed (e.g. without-result)"),
    ] = None,
) -> None:
    """Selective disclosure: hide fields (e.g. /credentialSubject/result); the file still verifies.

    With --profile the issuer's signature is kept (the issuer signed that reduced credential in
    advance), so standard verifiers and wallets accept the file too; with --hide the signature is
    removed and the anchor proof alone vouches for what is left."""
    hide = list(hide or [])
    from registry.core.credfile import redact as do_redact

    if output.exists() and output.resolve() == file.resolve():
        _fail(ConfigError("refusing to overwrite the original file; choose another --output"))
    try:
        data = json.loads(file.read_text())
        redacted = do_redact(data, hide, profile=profile)
    except json.JSONDecodeError as exc:
        _fail(InvalidInput(str(file), f"not JSON: {exc}"))
    except (OSError, RegistryError) as exc:
        _fail(exc if isinstance(exc, RegistryError) else ConfigError(str(exc)))
    output.write_text(json.dumps(redacted, indent=2, ensure_ascii=False) + "\n")
    what = f"profile {profile}" if profile else ", ".join(hide)
    out.print(f"wrote {output}: hidden {what}")
