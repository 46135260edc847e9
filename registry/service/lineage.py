"""Corrections and renewals (issue 14): a released credential is replaced by a new one.

``request_reissue`` copies the stored credential with the values at some JSON pointers changed
(a correction); ``request_renewal`` copies it with a new validity period. Either queues the new
credential for the next batch (its file carries a ``supersedes`` claim naming the old one) and
records a :class:`~registry.service.store.Supersession`; the worker sends ``supersedeCredential``
once the new credential's batch is confirmed (:mod:`registry.service.worker.superseding`), and
only then is the new file released and the old one revoked (reason 2 on chain).

Bad input changes nothing: every check runs before the first row is written, and the new
document is proven to make a well-formed (and, format v2, signable) credential file first.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, or_, select

from registry.core.credential import format_datetime
from registry.core.credfile import AnchorInfo, make_credential_file, parse_credential_file
from registry.core.disclosure import compute_digest, digest_version, parse_pointer, salt_fields
from registry.core.filerules import SUPERSEDES_KINDS, is_under
from registry.core.signing import Signer
from registry.errors import Conflict, CredentialFormatError, InvalidInput, NotFound
from registry.issue.signing import default_profiles
from registry.service.issuance import get_credential
from registry.service.store.db import log_event
from registry.service.store.models import (
    CredentialRow,
    CredentialState,
    Issuer,
    Revocation,
    RevocationState,
    Supersession,
    doc_valid_until,
)
from registry.service.webhooks import enqueue

__all__ = [
    "FIXED_POINTERS",
    "KIND_CODES",
    "Lineage",
    "find_by_file",
    "kind_name",
    "lineage_of",
    "request_reissue",
    "request_renewal",
]

KIND_CODES = {name: code for code, name in enumerate(SUPERSEDES_KINDS, start=1)}
"""``correction`` -> 1, ``renewal`` -> 2: the contract's supersession kinds."""

FIXED_POINTERS = ("/id", "/issuer", "/proof", "/@context", "/type")
"""What a correction never changes: the new credential gets its own id; issuer, contexts and
types are the issuer's and the format's, and the proof is made by the service."""

_DOC_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
_NO_ADDRESS = "0x" + "00" * 20


def kind_name(code: int) -> str:
    """``correction`` / ``renewal`` for the contract's kind code."""
    return SUPERSEDES_KINDS[code - 1] if 1 <= code <= len(SUPERSEDES_KINDS) else f"kind {code}"


@dataclass(frozen=True)
class Lineage:
    """What a credential replaces and what replaces it (public ids; a replacement is shown from
    the request on, while the worker still sends it)."""

    supersedes: str | None = None
    superseded_by: str | None = None


# -- requests -------------------------------------------------------------------------------


def request_reissue(
    session: Session, issuer: Issuer, credential_id: str, changes: Mapping[str, Any], *, note: str = ""
) -> Supersession:
    """Correct a released credential: a copy with ``changes`` (``{json pointer: new value}``)
    applied, queued for the next batch to replace it. Raises InvalidInput naming the bad pointer,
    NotFound, or Conflict (not released, revoked, already replaced); nothing is stored then."""
    old = _replaceable(session, issuer, credential_id)
    if not isinstance(changes, Mapping) or not changes:
        raise InvalidInput("set", "give at least one POINTER=VALUE to change")
    doc = json.loads(old.doc)
    for pointer, value in changes.items():
        _apply(doc, pointer, value)
    if doc == json.loads(old.doc):
        raise InvalidInput("set", "changes nothing: the credential already has these values")
    return _supersede(session, issuer, old, doc, "correction", note)


def request_renewal(
    session: Session,
    issuer: Issuer,
    credential_id: str,
    *,
    valid_until: datetime,
    valid_from: datetime | None = None,
    note: str = "",
) -> Supersession:
    """Renew a released credential: a copy valid from ``valid_from`` (default now) until
    ``valid_until``, queued for the next batch to replace it. Same errors as a reissue."""
    old = _replaceable(session, issuer, credential_id)
    start = _utc(valid_from) if valid_from is not None else datetime.now(UTC).replace(microsecond=0)
    end = _utc(valid_until)
    if end <= datetime.now(UTC):
        raise InvalidInput("valid_until", "must be in the future: a renewal that has already expired renews nothing")
    if end <= start:
        raise InvalidInput("valid_until", "must be later than valid_from")
    doc = json.loads(old.doc)
    doc["validFrom"] = format_datetime(start, "valid_from")
    doc["validUntil"] = format_datetime(end, "valid_until")
    return _supersede(session, issuer, old, doc, "renewal", note)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _replaceable(session: Session, issuer: Issuer, credential_id: str) -> CredentialRow:
    """The issuer's credential ``credential_id`` if it can be replaced now, else why not."""
    old = get_credential(session, issuer, credential_id)
    replaced = session.exec(
        select(Supersession)
        .where(Supersession.old_credential_id == old.id)
        .where(Supersession.state != RevocationState.FAILED)
    ).first()
    if replaced is not None:
        raise Conflict(
            "already_superseded",
            f"credential {old.id} is already replaced by {replaced.new_credential_id} ({kind_name(replaced.kind)}, "
            f"{replaced.state}); correct or renew that one instead",
        )
    if old.state == CredentialState.REVOKED:
        raise Conflict("already_revoked", f"credential {old.id} is revoked: a revoked credential is not replaced")
    if old.state != CredentialState.RELEASED:
        raise Conflict(
            "not_released",
            f"credential {old.id} is {old.state}: only a released credential (anchored and confirmed) is "
            "corrected or renewed; revoke it instead, or wait for its batch",
        )
    revoking = session.exec(
        select(Revocation.id)
        .where(Revocation.credential_id == old.id)
        .where(col(Revocation.state).in_(RevocationState.open_states()))
    ).first()
    if revoking is not None:
        raise Conflict("already_revoked", f"credential {old.id} is being revoked (request {revoking})")
    return old


def _apply(doc: dict[str, Any], pointer: str, value: Any) -> None:
    """Set ``pointer`` (RFC 6901) in ``doc`` to ``value``: an existing member or array element,
    or a new member of an existing object."""
    if not isinstance(pointer, str):
        raise InvalidInput("set", f"{pointer!r} is not a JSON pointer")
    try:
        tokens = parse_pointer(pointer)
    except CredentialFormatError as exc:
        raise InvalidInput(f"set.{pointer}", exc.problem) from None
    if not tokens:
        raise InvalidInput(f"set.{pointer}", "names the whole credential; name a field (e.g. /credentialSubject/name)")
    for fixed in FIXED_POINTERS:
        if is_under(pointer, fixed):
            raise InvalidInput(f"set.{pointer}", f"{fixed} cannot be changed by a correction")
    parent: Any = doc
    for token in tokens[:-1]:
        parent = _child(parent, token, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list) and last.isdigit() and str(int(last)) == last and int(last) < len(parent):
        parent[int(last)] = copy.deepcopy(value)
    else:
        raise InvalidInput(f"set.{pointer}", "no such field in the credential (its parent is not an object)")


def _child(parent: Any, token: str, pointer: str) -> Any:
    if isinstance(parent, dict) and token in parent:
        return parent[token]
    if isinstance(parent, list) and token.isdigit() and str(int(token)) == token and int(token) < len(parent):
        return parent[int(token)]
    raise InvalidInput(f"set.{pointer}", "no such field in the credential")


def _check_document(issuer: Issuer, doc: dict[str, Any]) -> None:
    """Prove ``doc`` makes a credential file that parses (file and OB 3.0 schemas, the strict
    rules, a v2 signature over defined terms) before it is queued: a bad document in a batch
    would fail at sealing or at download, long after the request said yes."""
    _check_validity(doc)
    signer = None
    if digest_version(doc) == 2:
        signer = Signer(Ed25519PrivateKey.generate(), issuer.did, format_datetime(datetime.now(UTC), "created"))
    anchor = AnchorInfo(
        chain_id=1,
        registry=_NO_ADDRESS,
        issuer_address=_NO_ADDRESS,
        anchor_tx="0x" + "00" * 32,
        anchor_block=0,
        anchored_at=datetime.now(UTC).replace(microsecond=0),
    )
    try:
        salts = salt_fields(doc)
        digest = compute_digest(doc, salts)
        trial = make_credential_file(
            doc,
            salts,
            digest,
            digest,
            [],
            anchor,
            check=False,
            signer=signer,
            profiles=default_profiles(doc) if signer is not None else None,
        )
        parse_credential_file(trial)
    except CredentialFormatError as exc:
        raise InvalidInput("set", f"the corrected credential would not be valid: {exc.problem}") from None
    except InvalidInput as exc:
        raise InvalidInput("set", f"the corrected credential would not be valid: {exc.problem}") from None


def _check_validity(doc: Mapping[str, Any]) -> None:
    """A validity period that ends after it starts (the schemas check each date alone)."""
    try:
        start = datetime.fromisoformat(str(doc.get("validFrom")).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(doc["validUntil"]).replace("Z", "+00:00")) if "validUntil" in doc else None
    except ValueError:
        return  # not a date: the schema check that follows names it
    if end is not None and start.tzinfo is not None and end.tzinfo is not None and end <= start:
        raise InvalidInput("set", "validUntil must be later than validFrom")


def _supersede(
    session: Session, issuer: Issuer, old: CredentialRow, doc: dict[str, Any], kind: str, note: str
) -> Supersession:
    """Queue ``doc`` as a new credential replacing ``old`` (one transaction, the caller's)."""
    assert issuer.id is not None
    if len(note) > 1000:
        raise InvalidInput("note", "at most 1000 characters")
    doc["id"] = uuid.uuid4().urn
    _check_document(issuer, doc)
    subject = doc.get("credentialSubject")
    name = subject.get("name") if isinstance(subject, dict) else None
    new = CredentialRow(
        id=secrets.token_urlsafe(12),
        issuer_id=issuer.id,
        achievement_id=old.achievement_id,
        seq=time.time_ns(),
        credential_uri=doc["id"],
        recipient_name=name if isinstance(name, str) else old.recipient_name,
        learner_ref=old.learner_ref,
        state=CredentialState.QUEUED,
        doc=_DOC_ENCODER.encode(doc),
        valid_until=doc_valid_until(doc),
    )
    session.add(new)
    session.flush()
    sup = Supersession(
        issuer_id=issuer.id, old_credential_id=old.id, new_credential_id=new.id, kind=KIND_CODES[kind], note=note
    )
    session.add(sup)
    old_id = old.id  # read before the flush: a failed flush expires every row of the session
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # uq_supersession_live_old: a concurrent request queued its replacement after our check;
        # the caller's transaction rolls back, so nothing of this one is stored.
        raise Conflict(
            "already_superseded",
            f"credential {old_id} is already being replaced by a concurrent request; correct or renew that one",
        ) from None
    log_event(
        session,
        "supersession.requested",
        issuer_id=issuer.id,
        subject=f"credential:{old.id}",
        supersession=sup.id,
        new=new.id,
        supersession_kind=kind,
        note=note,
    )
    enqueue(  # outbox: the new credential is issued like any other
        session,
        issuer.id,
        "credential.issued",
        {"credential_id": new.id, "credential_uri": new.credential_uri, "achievement_id": new.achievement_id},
    )
    return sup


# -- reading --------------------------------------------------------------------------------


def lineage_of(session: Session, ids: Iterable[str]) -> dict[str, Lineage]:
    """The lineage of each credential of ``ids`` that has one (failed supersessions excluded)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    rows = session.exec(
        select(Supersession)
        .where(or_(col(Supersession.old_credential_id).in_(wanted), col(Supersession.new_credential_id).in_(wanted)))
        .where(Supersession.state != RevocationState.FAILED)
    )
    out: dict[str, Lineage] = {}
    for sup in rows:
        old = out.get(sup.old_credential_id, Lineage())
        out[sup.old_credential_id] = Lineage(old.supersedes, sup.new_credential_id)
        new = out.get(sup.new_credential_id, Lineage())
        out[sup.new_credential_id] = Lineage(sup.old_credential_id, new.superseded_by)
    return out


def find_by_file(session: Session, file_dict: Mapping[str, Any]) -> CredentialRow:
    """The stored credential a credential file is of (by its id and digest): the CLI names
    credentials by their files. Raises CredentialFormatError or NotFound."""
    cf = parse_credential_file(file_dict)
    uri = str(cf.credential.get("id", ""))
    row = session.exec(select(CredentialRow).where(CredentialRow.credential_uri == uri)).first()
    if row is None or row.digest != "0x" + cf.digest.hex():
        raise NotFound("credential", uri or "(file without id)")
    return row
