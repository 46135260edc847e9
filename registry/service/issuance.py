"""What the issuer service does with the database: issuers, achievements, issuance (one, many,
CSV), credential files and counts. Shared by the REST API and the CLI; API keys are
:mod:`registry.service.auth`, revocation requests :mod:`registry.service.revocations`, CSV
parsing :mod:`registry.core.csvimport`.

Every function takes an open session and leaves committing to the caller, so an import is
stored completely or not at all. Issuer scoping happens here: every lookup filters by issuer,
and another issuer's object is reported as not found (never as forbidden, which would leak its
existence).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, select

from registry.core.credential import Achievement, IssuerProfile, build_credential
from registry.core.credfile import AnchorInfo, make_credential_file, with_supersedes
from registry.core.csvimport import IssueRequest
from registry.core.disclosure import digest_version
from registry.core.filerules import SUPERSEDES_KINDS
from registry.errors import Conflict, ImportRejected, InvalidInput, NotFound
from registry.issue.signing import default_profiles
from registry.service.keys import anchoring_key_source, credential_signer
from registry.service.store.db import log_event
from registry.service.store.models import (
    AchievementRow,
    AnchorTx,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Issuer,
    RevocationState,
    ServiceSecret,
    Supersession,
    doc_valid_until,
    utcnow,
)
from registry.service.webhooks import enqueue_many

__all__ = [
    "batch_counts",
    "create_achievement",
    "create_issuer",
    "credential_file",
    "get_achievement",
    "get_batch",
    "get_credential",
    "is_released",
    "issue",
    "learner_ref",
    "learner_ref_key",
    "queue_credentials",
]


# -- issuers --------------------------------------------------------------------------------


def create_issuer(
    session: Session,
    *,
    name: str,
    did: str,
    key_source: str,
    key_address: str,
    url: str | None = None,
) -> Issuer:
    """Register an issuer in the service (its key stays where ``key_source`` says)."""
    if not key_source.startswith(("keystore:", "dev:")):
        raise InvalidInput("key_source", "must be keystore:PATH or dev:ROLE")
    if session.exec(select(Issuer).where(Issuer.did == did)).first() is not None:
        raise Conflict("issuer_exists", f"an issuer with id {did} already exists")
    issuer = Issuer(name=name, did=did, url=url, key_source=key_source, key_address=key_address)
    session.add(issuer)
    session.flush()
    log_event(session, "issuer.created", issuer_id=issuer.id, subject=did, name=name, key=key_address)
    return issuer


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
        issuer_id=issuer.id,
        uri=achievement.id,
        name=achievement.name,
        data=achievement.model_dump_json(),
    )
    session.add(row)
    session.flush()
    log_event(session, "achievement.created", issuer_id=issuer.id, subject=f"achievement:{row.id}", uri=row.uri)
    return row


def get_achievement(session: Session, issuer: Issuer, achievement_id: int) -> AchievementRow:
    row = session.get(AchievementRow, achievement_id)
    if row is None or row.issuer_id != issuer.id:
        raise NotFound("achievement", str(achievement_id))
    return row


# -- learners -------------------------------------------------------------------------------

_LEARNER_KEY = "learner-ref"


def learner_ref_key(session: Session) -> bytes:
    """The service's key for learner references, made on first use (random, 32 bytes)."""
    row = session.get(ServiceSecret, _LEARNER_KEY)
    if row is None:
        try:
            with session.begin_nested():
                row = ServiceSecret(name=_LEARNER_KEY, value=secrets.token_hex(32))
                session.add(row)
        except sa.exc.IntegrityError:  # made by a concurrent request meanwhile
            row = session.get(ServiceSecret, _LEARNER_KEY)
            assert row is not None
    return bytes.fromhex(row.value)


def learner_ref(key: bytes, email: str) -> str:
    """A learner's reference: HMAC-SHA256 of the normalised e-mail under the service's key. It
    joins one learner's credentials in this database (pathway progress) without storing the
    e-mail; outside the database it means nothing."""
    return hmac.new(key, email.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


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
            errors.append(
                {"row": index, "field": "achievement_id", "problem": f"unknown achievement {req.achievement_id}"}
            )
            continue
        try:
            built.append((req, _build(profile, ach, req, now)))
        except InvalidInput as exc:
            errors.append({"row": index, "field": exc.field, "problem": exc.problem})
    if errors:
        raise ImportRejected(errors)
    created = utcnow()
    base_seq = time.time_ns()
    ref_key = learner_ref_key(session)
    values = [
        {
            "id": secrets.token_urlsafe(12),
            "issuer_id": issuer.id,
            "achievement_id": req.achievement_id,
            "batch_id": None,
            "seq": base_seq + i,
            "credential_uri": doc["id"],
            "recipient_name": req.recipient_name,
            "learner_ref": learner_ref(ref_key, req.recipient_email),
            "state": CredentialState.QUEUED.value,
            "doc": _DOC_ENCODER.encode(doc),
            "valid_until": doc_valid_until(doc),
            "created_at": created,
        }
        for i, (req, doc) in enumerate(built)
    ]
    table: Any = sa.inspect(CredentialRow).local_table
    for start in range(0, len(values), 5000):
        session.execute(sa.insert(table), values[start : start + 5000])
    log_event(session, "credentials.queued", issuer_id=issuer.id, subject=source, count=len(values))
    enqueue_many(  # outbox: same transaction as the rows
        session,
        issuer.id,
        "credential.issued",
        [
            {"credential_id": v["id"], "credential_uri": v["credential_uri"], "achievement_id": v["achievement_id"]}
            for v in values
        ],
    )
    return [v["id"] for v in values]


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
    """True once the credential's batch is confirmed on chain (its file can be handed out); a
    credential that replaces another waits, ``batched``, until the chain records that too."""
    if row.batch_id is None or row.digest is None or row.state == CredentialState.BATCHED:
        return False
    batch = session.get(Batch, row.batch_id)
    return (
        batch is not None
        and batch.anchored_at is not None
        and batch.state
        in (
            BatchState.CONFIRMED,
            BatchState.REVOKED,
        )
    )


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
    # The key that anchored the batch (the issuer's current one, or one it rotated away from since).
    sent = session.exec(select(AnchorTx.sender).where(AnchorTx.tx_hash == batch.anchor_tx)).first()
    anchoring = sent or issuer.key_address
    anchor = AnchorInfo(
        chain_id=batch.chain_id,
        registry=batch.registry_address,
        issuer_address=anchoring.lower(),
        anchor_tx=batch.anchor_tx,
        anchor_block=batch.anchor_block,
        anchored_at=batch.anchored_at.replace(tzinfo=UTC),
    )
    doc = json.loads(row.doc)
    signer = None
    if digest_version(doc) == 2:
        named = doc["issuer"]["id"] if isinstance(doc.get("issuer"), dict) else str(doc.get("issuer"))
        key = (anchoring_key_source(session, issuer, anchoring), anchoring)
        signer = credential_signer(issuer, batch.chain_id, named, anchor.anchored_at, key=key)
    file = make_credential_file(
        doc,
        json.loads(row.salts),
        bytes.fromhex(row.digest[2:]),
        bytes.fromhex(batch.root[2:]),
        [bytes.fromhex(p[2:]) for p in json.loads(row.merkle_path)],
        anchor,
        check=False,
        signer=signer,
        profiles=default_profiles(doc) if signer is not None else None,
    )
    claim = _supersedes_claim(session, row)
    return file if claim is None else with_supersedes(file, **claim)


def _supersedes_claim(session: Session, row: CredentialRow) -> dict[str, str] | None:
    """The ``supersedes`` claim of ``row``'s file when it replaces a credential
    (:mod:`registry.service.lineage`); none when that supersession failed: the file is then a
    plain credential, with no claim the chain would contradict."""
    sup = session.exec(
        select(Supersession)
        .where(Supersession.new_credential_id == row.id)
        .where(Supersession.state != RevocationState.FAILED)
    ).first()
    if sup is None:
        return None
    old = session.get(CredentialRow, sup.old_credential_id)
    assert old is not None and old.digest is not None
    return {"old_id": old.credential_uri, "old_digest": old.digest, "kind": SUPERSEDES_KINDS[sup.kind - 1]}


def batch_counts(session: Session, issuer_id: int) -> dict[str, int]:
    """Credentials of an issuer by state."""
    rows = session.exec(
        select(CredentialRow.state, sa.func.count())
        .where(CredentialRow.issuer_id == issuer_id)
        .group_by(col(CredentialRow.state))
    ).all()
    return {str(state): int(n) for state, n in rows}
