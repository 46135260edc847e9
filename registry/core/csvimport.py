"""Learners CSV import: one :class:`IssueRequest` per row, every bad row reported at once.

Pure (no I/O, no database): used by the issuer service's ``POST /v1/credentials/import`` and by
the no-service ``registry issue`` command.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from registry.errors import ImportRejected, InvalidInput

__all__ = ["CSV_COLUMNS", "MAX_CSV_ROWS", "IssueRequest", "parse_csv", "remap_rows"]

CSV_COLUMNS = ("email", "name", "result", "valid_from", "valid_until", "achievement_id")


class IssueRequest(BaseModel):
    """One credential to issue."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    achievement_id: int = Field(description="an achievement of the calling issuer")
    recipient_email: str = Field(max_length=320, description="hashed (salted) into the credential")
    recipient_name: str | None = Field(default=None, max_length=500)
    result: str | None = Field(default=None, max_length=500, description="e.g. a grade")
    valid_from: datetime | None = Field(default=None, description="default: now")
    valid_until: datetime | None = None


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _csv_date(value: str, column: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        if _DATE_RE.match(value):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(column, f"{value!r} is not a date (YYYY-MM-DD or ISO 8601)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


MAX_CSV_ROWS = 10_000
"""Most learners one CSV import may hold (the same bound as a bulk request by default)."""
_CSV_ID_RE = re.compile(r"[0-9]{1,18}")
_CSV_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def parse_csv(
    data: bytes, default_achievement: int | None, *, max_rows: int = MAX_CSV_ROWS
) -> list[tuple[int, IssueRequest]]:
    """Parse a learners CSV (header row; columns ``email`` required, ``name``, ``result``,
    ``valid_from``, ``valid_until``, ``achievement_id`` optional).

    Row numbers in errors are the line numbers of the file (the header is row 1). Raises
    ImportRejected with every bad row; returns (line, request) pairs only when all rows are good.
    Any malformed input (not UTF-8, broken quoting, a cell over the csv module's field limit,
    control characters, more than ``max_rows`` learners) is an InvalidInput, never another error.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"the CSV is not UTF-8 (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _parse_csv_rows(reader, default_achievement, max_rows)
    except csv.Error as exc:
        raise InvalidInput("file", f"malformed CSV at line {reader.line_num}: {exc}") from None


def _csv_when(value: str, column: str) -> datetime | None:
    when = _csv_date(value, column)
    try:
        return when.astimezone(UTC) if when is not None else None
    except (OverflowError, ValueError):
        raise InvalidInput(column, f"{value[:40]!r} is out of range") from None


def _parse_csv_rows(
    reader: csv.DictReader[str], default_achievement: int | None, max_rows: int
) -> list[tuple[int, IssueRequest]]:
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise InvalidInput("file", "empty CSV: expected a header row with at least 'email'")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        shown = ", ".join(repr(h[:40]) for h in unknown[:10])
        raise InvalidInput("header", f"unknown column(s) {shown}; allowed: {', '.join(CSV_COLUMNS)}")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise InvalidInput("header", f"column(s) {', '.join(duplicated)} appear more than once")
    if "email" not in header:
        raise InvalidInput("header", "the CSV needs an 'email' column")
    if default_achievement is None and "achievement_id" not in header:
        raise InvalidInput("achievement_id", "give achievement_id as a form field or a CSV column")
    reader.fieldnames = header
    requests: list[tuple[int, IssueRequest]] = []
    errors: list[dict[str, object]] = []
    count = 0
    for record in reader:
        line = reader.line_num
        if None in record:
            errors.append({"row": line, "field": "row", "problem": "more values than columns"})
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue
        count += 1
        if count > max_rows:
            raise InvalidInput("file", f"the CSV has more than {max_rows} learners; split it into smaller files")
        try:
            for column, value in values.items():
                if _CSV_CONTROL_RE.search(value):
                    raise InvalidInput(column, "contains control characters")
            ach_text = values.get("achievement_id", "")
            if ach_text and not _CSV_ID_RE.fullmatch(ach_text):
                raise InvalidInput("achievement_id", f"{ach_text[:40]!r} is not an achievement id")
            ach = int(ach_text) if ach_text else default_achievement
            if ach is None:
                raise InvalidInput("achievement_id", "missing")
            if not values.get("email"):
                raise InvalidInput("email", "missing")
            if not _EMAIL_RE.match(values["email"]):
                raise InvalidInput("email", f"{values['email'][:80]!r} is not an e-mail address")
            requests.append(
                (
                    line,
                    IssueRequest(
                        achievement_id=ach,
                        recipient_email=values["email"],
                        recipient_name=values.get("name") or None,
                        result=values.get("result") or None,
                        valid_from=_csv_when(values.get("valid_from", ""), "valid_from"),
                        valid_until=_csv_when(values.get("valid_until", ""), "valid_until"),
                    ),
                )
            )
        except InvalidInput as exc:
            errors.append({"row": line, "field": exc.field, "problem": exc.problem})
        except ValidationError as exc:
            err = exc.errors()[0]
            errors.append({"row": line, "field": str(err["loc"][0]) if err["loc"] else "row", "problem": err["msg"]})
    if errors:
        raise ImportRejected(errors)
    if not requests:
        raise InvalidInput("file", "the CSV has a header but no learners")
    return requests


def remap_rows(exc: ImportRejected, rows: Sequence[int]) -> ImportRejected:
    """Translate positions (1-based) in a request list into CSV line numbers."""
    fixed = [{**e, "row": rows[int(str(e["row"])) - 1]} for e in exc.rows]
    return ImportRejected(fixed)
