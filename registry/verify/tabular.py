"""Verification reports as table rows an HR system or applicant tracking system can import.

One row per file with the columns of :data:`COLUMNS`, shared by the bulk verify API
(``POST /v1/verify/batch``), ``registry verify --format csv|table`` and, column for column, by the
verifier page's "download CSV" (``web/verifier/src/main.js``, tested against this module).

CSV (RFC 4180 through the stdlib :mod:`csv`): every field quoted, CRLF line ends, and cells a
spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return: OWASP's CSV injection list) prefixed with ``'``, so a hostile learner name such as
``=HYPERLINK(...)`` shows as text. ``bom=True`` starts the text with a UTF-8 byte-order mark,
which Excel needs to read non-ASCII names correctly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.core.baking import extract_if_baked
from registry.locales.reasons import Reason
from registry.verify.report import CHECK_NAMES, OPTIONAL_CHECKS, Check, CheckStatus, Report, Verdict
from registry.verify.verifier import Verifier

__all__ = [
    "COLUMNS",
    "FORMULA_PREFIXES",
    "BatchFile",
    "csv_text",
    "escape_cell",
    "format_failure",
    "learner_name",
    "row",
    "rows",
    "verify_batch",
    "write_csv",
]

COLUMNS: tuple[str, ...] = (
    "file",
    "credential_id",
    "learner_name",
    "achievement",
    "issuer_name",
    "issuer_did",
    "accreditation_body",
    "verdict",
    "failed_checks",
    "reason",
    "anchored_at",
    "valid_until",
)
"""The columns, in order (also the CSV header and the keys of the JSON rows)."""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these gets a leading ``'`` in CSV (formula injection)."""


def learner_name(document: Any) -> str | None:
    """The learner's name as disclosed in a credential (``credentialSubject.name``), or None
    (hidden by the holder, absent, or ``document`` is not a credential). ``document`` may be the
    parsed JSON or its text/bytes (then parsed here; unparseable: None)."""
    if isinstance(document, bytes | str):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            return None
    if not isinstance(document, Mapping):
        return None
    subject = document.get("credentialSubject")
    if isinstance(subject, list) and subject:  # VC 2.0 allows several subjects; OB 3.0 has one
        subject = subject[0]
    name = subject.get("name") if isinstance(subject, Mapping) else None
    return name if isinstance(name, str) else None


def format_failure(source: str, reason: str, checked_at: datetime) -> Report:
    """The report of a file that could not even be read as a credential (a broken image, an
    unreadable file, an encrypted zip entry): ``format`` fails with ``reason``, every other check
    is not checked, verdict INVALID, exactly as the verifier reports a file that is not JSON."""
    checks = [Check(name="format", status=CheckStatus.FAIL, reason=reason)]
    checks += [
        Check(
            name=name,
            status=CheckStatus.INDETERMINATE,
            reason=Reason("not checked: the file is not a valid credential file"),
        )
        for name in CHECK_NAMES[1:]
        if name not in OPTIONAL_CHECKS
    ]
    return Report(
        source=source,
        verdict=Verdict.INVALID,
        summary=f"format: {reason}",
        checks=checks,
        checked_at=checked_at.isoformat(timespec="seconds"),
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def row(report: Report, *, learner: str | None = None) -> dict[str, str]:
    """One row (:data:`COLUMNS` -> text) for ``report``; ``learner`` is the disclosed learner
    name (see :func:`learner_name`), which a report does not carry.

    The issuer is the chain's directory entry when the chain was read (else the issuer the file
    names); ``failed_checks`` and ``reason`` name the failing checks of an INVALID file, the open
    ones of an INDETERMINATE file, and are empty for a VALID one."""
    cred = report.credential
    issuer = report.issuer
    if issuer:
        issuer_name, issuer_did = issuer.get("name"), issuer.get("did")
        body = issuer.get("accreditor") or {}
        accreditor = (
            f"{body['name']} ({body['uri']})" if body.get("name") else body.get("address") or issuer.get("accreditedBy")
        )
    else:
        issuer_name, issuer_did, accreditor = cred.get("issuerName"), cred.get("issuerId"), None
    wanted = {
        Verdict.INVALID: CheckStatus.FAIL,
        Verdict.INDETERMINATE: CheckStatus.INDETERMINATE,
    }.get(report.verdict)
    open_ = [c for c in report.checks if c.status is wanted] if wanted is not None else []
    anchored = next((c.details.get("anchoredAt") for c in report.checks if c.name == "anchor"), None)
    return {
        "file": report.source,
        "credential_id": _text(cred.get("id")),
        "learner_name": _text(learner),
        "achievement": _text(cred.get("achievement") or cred.get("name")),
        "issuer_name": _text(issuer_name),
        "issuer_did": _text(issuer_did),
        "accreditation_body": _text(accreditor),
        "verdict": report.verdict.value,
        "failed_checks": ", ".join(c.name for c in open_),
        "reason": "; ".join(f"{c.name}: {c.reason}" for c in open_),
        "anchored_at": _text(anchored),
        "valid_until": _text(cred.get("validUntil")),
    }


def rows(reports: Iterable[Report], learners: Iterable[str | None] | None = None) -> list[dict[str, str]]:
    """:func:`row` of each report (``learners``: the disclosed learner names, in the same order)."""
    reports = list(reports)
    names = list(learners) if learners is not None else [None] * len(reports)
    return [row(r, learner=n) for r, n in zip(reports, names, strict=True)]


def hidden_path(parts: Sequence[str]) -> bool:
    """Whether a file named by ``parts`` (its path below the folder or archive given) is hidden:
    a part with a leading dot (``.DS_Store``, ``._cv.json``, ``.git/``), ``.`` and ``..`` aside.
    Bulk verification skips such files, in a folder (CLI) and in a zip (API) alike."""
    return any(part.startswith(".") and part not in (".", "..") for part in parts)


def escape_cell(value: str) -> str:
    """``value`` made safe for a spreadsheet: a leading ``'`` when it could start a formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def write_csv(
    table: Iterable[Mapping[str, str]], stream: io.TextIOBase | Any, *, bom: bool = False, header: bool = True
) -> None:
    """Write the header and ``table`` to the text ``stream``: every field quoted, CRLF line
    ends, formula-like cells escaped; ``bom`` first writes a UTF-8 byte-order mark (Excel);
    ``header=False`` continues a table already begun (rows only)."""
    if bom:
        stream.write("\ufeff")
    writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows([escape_cell(r.get(c, "")) for c in COLUMNS] for r in table)


def csv_text(table: Sequence[Mapping[str, str]], *, bom: bool = False) -> str:
    """The CSV of ``table`` as one string (see :func:`write_csv`)."""
    buffer = io.StringIO()
    write_csv(table, buffer, bom=bom)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class BatchFile:
    """One file of a bulk verification: its name and bytes (JSON or a baked PNG/SVG badge), or
    ``problem``, why it could not be read (it still gets a row). ``document``: the parsed JSON
    when the caller has it already (saves parsing it again for the learner name)."""

    source: str
    data: bytes | None = None
    problem: str | None = None
    document: Any = None


def verify_batch(
    verifier: Verifier, files: Sequence[BatchFile], *, pool: Executor | None = None
) -> list[tuple[Report, str | None]]:
    """Verify many files with one :meth:`Verifier.verify_many` (chain reads shared across the
    batch): per file, in order, its report and disclosed learner name. A file that cannot be read
    or unbaked gets a ``format`` failure of its own; it never fails the others. With ``pool`` (a
    process pool) a large batch's offline checks use its workers too."""
    checked_at = verifier.policy.clock()
    out: list[tuple[Report, str | None] | None] = [None] * len(files)
    todo: list[tuple[str, bytes | str | dict[str, Any]]] = []
    documents: list[Any] = []
    where: list[int] = []
    for i, file in enumerate(files):
        if file.data is None:
            out[i] = (
                format_failure(file.source, file.problem or Reason("the file could not be read"), checked_at),
                None,
            )
            continue
        try:
            payload = extract_if_baked(file.data)
        except Exception as exc:  # a broken image (CredentialFormatError, or anything else) fails alone
            out[i] = (format_failure(file.source, str(exc) or type(exc).__name__, checked_at), None)
            continue
        todo.append((file.source, payload))
        documents.append(file.document if file.document is not None else payload)
        where.append(i)
    checked = verifier.verify_with_items(todo, pool=pool)
    for i, (report, item), document in zip(where, checked, documents, strict=True):
        # A credential file's name is in the credential already parsed; anything else is parsed here.
        out[i] = (report, learner_name(item.cf.credential if item.cf is not None else document))
    return [r for r in out if r is not None]
