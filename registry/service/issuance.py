"""What the issuer service does with the database: issuers, API keys, achievements, issuance
(one, many, CSV), credential files, revocation requests. Shared by the REST API and the CLI.

Every function takes an open session and leaves committing to the caller, so an import is
stored completely or not at all. Issuer scoping happens here: every lookup filters by issuer,
and another issuer's object is reported as not found (never as forbidden, which would leak its
existence).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from registry.core.credential import Achievement, IssuerProfile, build_credential
from registry.core.credfile import AnchorInfo, make_credential_file
from registry.errors import (
    AuthenticationError,
    Conflict,
    ImportRejected,
    InvalidInput,
    NotFound,
    RegistryError,
)
from registry.service.store.db import log_event
from registry.service.store.models import (
    AchievementRow,
    ApiKey,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Issuer,
    Revocation,
    utcnow,
)

__all__ = [
    "CSV_COLUMNS",
    "IssueRequest",
    "authenticate",
    "create_achievement",
    "create_api_key",
    "create_issuer",
    "credential_file",
    "get_achievement",
    "get_batch",
    "get_credential",
    "hash_api_key",
    "issue",
    "list_api_keys",
    "open_page_session",
    "page_session_issuer",
    "parse_csv",
    "queue_credentials",
    "request_batch_revocation",
    "request_revocation",
    "revoke_api_key",
]

API_KEY_PREFIX = "rk_"
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


# -- issuers and API keys -------------------------------------------------------------------


def create_issuer(
    session: Session, *, name: str, did: str, key_source: str, key_address: str,
    url: str | None = None,
) -> Issuer:  # fmt: skip
    """Register an issuer in the service (its key stays where ``key_source`` says)."""
    if not key_source.startswith(("keystore:", "dev:")):
        raise InvalidInput("key_source", "must be keystore:PATH or dev:ROLE")
    if session.exec(select(Issuer).where(Issuer.did == did)).first() is not None:
        raise Conflict("issuer_exists", f"an issuer with id {did} already exists")
    issuer = Issuer(name=name, did=did, url=url, key_source=key_source, key_address=key_address)
    session.add(issuer)
    session.flush()
    log_event(session, "issuer.created", issuer_id=issuer.id, subject=did, name=name,
              key=key_address)  # fmt: skip
    return issuer


def hash_api_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_key(session: Session, issuer_id: int, label: str = "") -> tuple[ApiKey, str]:
    """A new API key for one issuer; the token is returned once and stored only hashed."""
    if session.get(Issuer, issuer_id) is None:
        raise NotFound("issuer", str(issuer_id))
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(issuer_id=issuer_id, prefix=token[:10], key_hash=hash_api_key(token), label=label)
    session.add(key)
    session.flush()
    log_event(session, "apikey.created", issuer_id=issuer_id, subject=f"apikey:{key.id}",
              prefix=key.prefix, label=label)  # fmt: skip
    return key, token


def list_api_keys(session: Session, issuer_id: int) -> list[ApiKey]:
    """An issuer's API keys (hash, prefix, label, dates; the token itself is nowhere)."""
    return list(session.exec(select(ApiKey).where(ApiKey.issuer_id == issuer_id).order_by(col(ApiKey.id))))


def revoke_api_key(session: Session, key_id: int, *, issuer_id: int | None = None) -> ApiKey:
    """Revoke an API key: from the next request on it answers 401 ``invalid_api_key``.

    ``issuer_id`` scopes the lookup (the REST API: an issuer revokes only its own keys; another
    issuer's key is "not found"); None is the operator (CLI). Revoking twice is a Conflict.
    """
    key = session.get(ApiKey, key_id)
    if key is None or (issuer_id is not None and key.issuer_id != issuer_id):
        raise NotFound("api key", str(key_id))
    if key.revoked_at is not None:
        raise Conflict("already_revoked", f"API key {key_id} is already revoked")
    key.revoked_at = utcnow()
    session.add(key)
    session.flush()
    log_event(session, "apikey.revoked", issuer_id=key.issuer_id, subject=f"apikey:{key.id}",
              prefix=key.prefix)  # fmt: skip
    return key


def _api_key(session: Session, token: str | None) -> tuple[ApiKey, Issuer]:
    """The active key row of a token and its issuer. Looked up by the token's public prefix, then
    the SHA-256 of the token is compared with each candidate's in constant time: the token never
    goes into SQL, and timing says nothing about how much of a hash matched."""
    if not token:
        raise AuthenticationError("missing API key: send it in the X-API-Key header")
    token = token.strip()
    if not token.startswith(API_KEY_PREFIX) or len(token) > 200:
        raise AuthenticationError("malformed API key")
    wanted = hash_api_key(token)
    candidates = session.exec(select(ApiKey).where(ApiKey.prefix == token[:10])).all()
    for key in candidates:
        if hmac.compare_digest(key.key_hash, wanted) and key.revoked_at is None:
            issuer = session.get(Issuer, key.issuer_id)
            if issuer is not None:
                return key, issuer
    raise AuthenticationError("unknown or revoked API key")


def authenticate(session: Session, token: str | None) -> Issuer:
    """The issuer an API key belongs to; AuthenticationError for a missing/unknown/revoked key."""
    return _api_key(session, token)[1]


PAGE_SESSION_PREFIX = "rs_"


def _session_signature(key: ApiKey, expires: int) -> str:
    # Keyed with the stored hash of the API key: the cookie reveals nothing of the token, only the
    # service can mint one, and revoking the key ends every session opened with it.
    return hmac.new(bytes.fromhex(key.key_hash), f"{key.id}.{expires}".encode(), hashlib.sha256).hexdigest()


def open_page_session(session: Session, token: str, *, ttl: int = 8 * 3600) -> tuple[Issuer, str]:
    """Sign in to the web pages with an API key: the issuer and a session value for a cookie.

    The cookie never holds the API key itself (a cookie ends up in browser stores, proxies and
    debug logs): it names the key by id, carries an expiry and an HMAC keyed with the key's
    stored hash.
    """
    key, issuer = _api_key(session, token)
    expires = int(time.time()) + ttl
    return issuer, f"{PAGE_SESSION_PREFIX}{key.id}.{expires}.{_session_signature(key, expires)}"


def page_session_issuer(session: Session, value: str | None) -> Issuer | None:
    """The issuer of a page session cookie, or None (malformed, forged, expired, key revoked)."""
    if not value or not value.startswith(PAGE_SESSION_PREFIX) or len(value) > 200:
        return None
    try:
        key_id_text, expires_text, signature = value[len(PAGE_SESSION_PREFIX) :].split(".")
        key_id, expires = int(key_id_text), int(expires_text)
    except ValueError:
        return None
    if expires < time.time():
        return None
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(_session_signature(key, expires), signature):
        return None
    return session.get(Issuer, key.issuer_id)


# -- achievements ---------------------------------------------------------------------------


def _issuer_base(issuer: Issuer) -> str:
    if issuer.url:
        return issuer.url.rstrip("/")
    if issuer.did.startswith("did:web:"):
        return "https://" + issuer.did.removeprefix("did:web:").replace(":", "/").replace("%3A", ":")
    return "urn:achievement"


def create_achievement(session: Session, issuer: Issuer, data: dict[str, Any]) -> AchievementRow:
    """Validate (OB 3.0 Achievement + EU micro-credential elements) and store an achievement."""
    if not isinstance(data, dict):
        raise InvalidInput("body", "an achievement must be a JSON object")
    data = dict(data)
    if not data.get("id"):
        base = _issuer_base(issuer)
        sep = ":" if base.startswith("urn:") else "/achievements/"
        data["id"] = f"{base}{sep}{uuid.uuid4()}"
    try:
        achievement = Achievement.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "body"
        raise InvalidInput(field, err["msg"]) from None
    exists = session.exec(
        select(AchievementRow).where(AchievementRow.issuer_id == issuer.id).where(AchievementRow.uri == achievement.id)
    ).first()
    if exists is not None:
        raise Conflict("achievement_exists", f"achievement {achievement.id} already exists (id {exists.id})")
    assert issuer.id is not None
    row = AchievementRow(
        issuer_id=issuer.id, uri=achievement.id, name=achievement.name,
        data=achievement.model_dump_json(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    log_event(session, "achievement.created", issuer_id=issuer.id, subject=f"achievement:{row.id}",
              uri=row.uri)  # fmt: skip
    return row


def get_achievement(session: Session, issuer: Issuer, achievement_id: int) -> AchievementRow:
    row = session.get(AchievementRow, achievement_id)
    if row is None or row.issuer_id != issuer.id:
        raise NotFound("achievement", str(achievement_id))
    return row


# -- issuance -------------------------------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _build(profile: IssuerProfile, achievement: Achievement, req: IssueRequest, now: datetime) -> dict[str, Any]:
    return build_credential(
        achievement=achievement,
        issuer=profile,
        recipient_email=req.recipient_email,
        recipient_name=req.recipient_name or None,
        result=req.result or None,
        valid_from=_aware(req.valid_from) or now,
        valid_until=_aware(req.valid_until),
    )


_DOC_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
"""Encodes the stored credential documents (compact, UTF-8; documents are trees, never cyclic)."""


def issue(
    session: Session, issuer: Issuer, requests: Sequence[IssueRequest], *, source: str = "api"
) -> list[CredentialRow]:
    """Queue credentials for the next batch; all or nothing. Returns the stored rows in the order
    of ``requests``.

    Raises ImportRejected listing every bad item (``row`` is its 1-based position) and stores
    nothing when any is bad.
    """
    ids = queue_credentials(session, issuer, requests, source=source)
    out: list[CredentialRow] = []
    for start in range(0, len(ids), 5000):
        out.extend(session.exec(select(CredentialRow).where(col(CredentialRow.id).in_(ids[start : start + 5000]))))
    order = {cid: i for i, cid in enumerate(ids)}
    out.sort(key=lambda r: order[r.id])
    return out


def queue_credentials(
    session: Session, issuer: Issuer, requests: Sequence[IssueRequest], *, source: str = "api"
) -> list[str]:
    """:func:`issue` without reading the rows back: returns the new credentials' public ids in
    the order of ``requests`` (bulk and CSV issuance answer with ids only)."""
    assert issuer.id is not None
    if not requests:
        raise InvalidInput("credentials", "nothing to issue")
    wanted = {r.achievement_id for r in requests}
    rows = session.exec(
        select(AchievementRow).where(col(AchievementRow.id).in_(wanted)).where(AchievementRow.issuer_id == issuer.id)
    ).all()
    achievements = {int(r.id or 0): Achievement.model_validate_json(r.data) for r in rows}
    now = datetime.now(UTC).replace(microsecond=0)
    profile = IssuerProfile(id=issuer.did, name=issuer.name, url=issuer.url)
    errors: list[dict[str, object]] = []
    built: list[tuple[IssueRequest, dict[str, Any]]] = []
    for index, req in enumerate(requests, start=1):
        ach = achievements.get(req.achievement_id)
        if ach is None:
            errors.append({"row": index, "field": "achievement_id",
                           "problem": f"unknown achievement {req.achievement_id}"})  # fmt: skip
            continue
        try:
            built.append((req, _build(profile, ach, req, now)))
        except InvalidInput as exc:
            errors.append({"row": index, "field": exc.field, "problem": exc.problem})
    if errors:
        raise ImportRejected(errors)
    created = utcnow()
    base_seq = time.time_ns()
    values = [
        {
            "id": secrets.token_urlsafe(12),
            "issuer_id": issuer.id,
            "achievement_id": req.achievement_id,
            "batch_id": None,
            "seq": base_seq + i,
            "credential_uri": doc["id"],
            "recipient_name": req.recipient_name,
            "state": CredentialState.QUEUED.value,
            "doc": _DOC_ENCODER.encode(doc),
            "created_at": created,
        }
        for i, (req, doc) in enumerate(built)
    ]
    table: Any = sa.inspect(CredentialRow).local_table
    for start in range(0, len(values), 5000):
        session.execute(sa.insert(table), values[start : start + 5000])
    log_event(session, "credentials.queued", issuer_id=issuer.id, subject=source, count=len(values))
    return [v["id"] for v in values]


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
            errors.append({"row": line, "field": str(err["loc"][0]) if err["loc"] else "row",
                           "problem": err["msg"]})  # fmt: skip
    if errors:
        raise ImportRejected(errors)
    if not requests:
        raise InvalidInput("file", "the CSV has a header but no learners")
    return requests


def remap_rows(exc: ImportRejected, rows: Sequence[int]) -> ImportRejected:
    """Translate positions (1-based) in a request list into CSV line numbers."""
    fixed = [{**e, "row": rows[int(str(e["row"])) - 1]} for e in exc.rows]
    return ImportRejected(fixed)


# -- reading --------------------------------------------------------------------------------


def get_credential(session: Session, issuer: Issuer | None, credential_id: str) -> CredentialRow:
    """A credential by id (scoped to ``issuer`` when given)."""
    row = session.get(CredentialRow, credential_id)
    if row is None or (issuer is not None and row.issuer_id != issuer.id):
        raise NotFound("credential", credential_id)
    return row


def get_batch(session: Session, issuer: Issuer, batch_id: int) -> Batch:
    row = session.get(Batch, batch_id)
    if row is None or row.issuer_id != issuer.id:
        raise NotFound("batch", str(batch_id))
    return row


def is_released(session: Session, row: CredentialRow) -> bool:
    """True once the credential's batch is confirmed on chain (its file can be handed out)."""
    if row.batch_id is None or row.digest is None:
        return False
    batch = session.get(Batch, row.batch_id)
    return batch is not None and batch.anchored_at is not None and batch.state in (
        BatchState.CONFIRMED, BatchState.REVOKED,
    )  # fmt: skip


def credential_file(session: Session, row: CredentialRow) -> dict[str, Any]:
    """The credential file (``credreg-proof-v1``); Conflict ``not_released`` before the batch
    has its confirmations, so no proof for an unanchored root ever leaves the service."""
    if not is_released(session, row):
        raise Conflict(
            "not_released",
            f"credential {row.id} is not released yet ({row.state}): its file is released once "
            "its batch is anchored and confirmed on chain",
        )
    batch = session.get(Batch, row.batch_id)
    issuer = session.get(Issuer, row.issuer_id)
    assert batch is not None and issuer is not None and batch.anchored_at is not None
    assert row.salts is not None and row.digest is not None and row.merkle_path is not None
    assert batch.chain_id is not None and batch.registry_address and batch.anchor_tx
    assert batch.anchor_block is not None
    anchor = AnchorInfo(
        chain_id=batch.chain_id,
        registry=batch.registry_address,
        issuer_address=issuer.key_address.lower(),
        anchor_tx=batch.anchor_tx,
        anchor_block=batch.anchor_block,
        anchored_at=batch.anchored_at.replace(tzinfo=UTC),
    )
    return make_credential_file(
        json.loads(row.doc),
        json.loads(row.salts),
        bytes.fromhex(row.digest[2:]),
        bytes.fromhex(batch.root[2:]),
        [bytes.fromhex(p[2:]) for p in json.loads(row.merkle_path)],
        anchor,
        check=False,
    )


# -- revocation -----------------------------------------------------------------------------


def _check_reason(reason: int) -> None:
    if not 0 <= reason <= 255:
        raise InvalidInput("reason", "a reason code is 0..255 (see GET /v1/revocation-reasons)")


def request_revocation(session: Session, issuer: Issuer, credential_id: str, reason: int, note: str = "") -> Revocation:
    """Revoke one credential: at once if it was never anchored, else on chain by the worker."""
    _check_reason(reason)
    row = get_credential(session, issuer, credential_id)
    if row.state == CredentialState.REVOKED:
        raise Conflict("already_revoked", f"credential {credential_id} is already revoked")
    pending = session.exec(
        select(Revocation).where(Revocation.credential_id == credential_id).where(Revocation.state == "pending")
    ).first()
    if pending is not None:
        raise Conflict("already_revoked", f"credential {credential_id} is being revoked (request {pending.id})")
    assert issuer.id is not None
    rev = Revocation(issuer_id=issuer.id, batch_id=row.batch_id, credential_id=row.id, reason=reason, note=note)
    if row.batch_id is None:
        # Never sealed: it simply never gets anchored.
        row.state = CredentialState.REVOKED
        row.revoked_at = utcnow()
        rev.state = "done"
        rev.done_at = row.revoked_at
        session.add(row)
    session.add(rev)
    session.flush()
    log_event(session, "revocation.requested", issuer_id=issuer.id, subject=f"credential:{row.id}",
              reason=reason, note=note, revocation=rev.id, on_chain=row.batch_id is not None)  # fmt: skip
    return rev


def request_batch_revocation(
    session: Session, issuer: Issuer, batch_id: int, reason: int, note: str = ""
) -> Revocation:
    """Revoke a whole batch on chain (the worker sends it once the batch is confirmed)."""
    _check_reason(reason)
    batch = get_batch(session, issuer, batch_id)
    if batch.state == BatchState.REVOKED:
        raise Conflict("already_revoked", f"batch {batch_id} is already revoked")
    pending = session.exec(
        select(Revocation)
        .where(Revocation.batch_id == batch_id)
        .where(col(Revocation.credential_id).is_(None))
        .where(Revocation.state == "pending")
    ).first()
    if pending is not None:
        raise Conflict("already_revoked", f"batch {batch_id} is being revoked (request {pending.id})")
    assert issuer.id is not None
    rev = Revocation(issuer_id=issuer.id, batch_id=batch_id, reason=reason, note=note)
    session.add(rev)
    session.flush()
    log_event(session, "revocation.requested", issuer_id=issuer.id, subject=f"batch:{batch_id}",
              reason=reason, note=note, revocation=rev.id)  # fmt: skip
    return rev


def batch_counts(session: Session, issuer_id: int) -> dict[str, int]:
    """Credentials of an issuer by state."""
    rows = session.exec(
        select(CredentialRow.state, sa.func.count())
        .where(CredentialRow.issuer_id == issuer_id)
        .group_by(col(CredentialRow.state))
    ).all()
    return {str(state): int(n) for state, n in rows}


def safe_message(exc: RegistryError) -> str:
    return str(exc)
