"""Pathways in the issuer service: versions created by their owner, published on chain by the
worker, and a learner's progress as this service knows it (docs/pathways.md, docs/service.md).

A version is immutable once its publication is requested: the same ``(id, version)`` with other
content is refused (409), a draft (not yet published) may be replaced. Publishing is a batch of
its own, ``root = pathway digest``, ``count = 1``, ``metadata = keccak256(JCS of the definition)``,
exactly what ``registry pathway publish`` anchors, so the worker sends it crash-safely like any
other batch and the auditor reconciles it with the issuer's records.

Progress joins one learner's credentials by their ``learner_ref`` (an HMAC of the e-mail under
the service's own key; the e-mail is never stored) and evaluates the pathway over the released,
unrevoked, unexpired ones. It is this service's view: credentials from other providers are not
known here, which the page says, pointing to stack verification for the trustless answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import rfc8785
from sqlmodel import Session, col, select

from registry.core.identity import canonical_issuer_id
from registry.core.keccak import keccak256
from registry.core.pathway import Leaf, Pathway, load_pathway, pathway_digest
from registry.core.stacking import Component, PathwayResult, component_of, evaluate
from registry.errors import Conflict, InvalidInput, NotFound
from registry.service.store.db import log_event
from registry.service.store.models import (
    AchievementRow,
    Batch,
    BatchState,
    CredentialRow,
    CredentialState,
    Issuer,
    PathwayRow,
    utcnow,
)

__all__ = [
    "Progress",
    "create_pathway",
    "get_pathway",
    "pathway_of",
    "pathway_state",
    "pathway_view",
    "pathways_for_achievement",
    "progress",
    "publish",
    "published_pathways",
]


def pathway_of(row: PathwayRow) -> Pathway:
    """The stored definition (checked when stored; loading it again cannot fail). Parsed once per
    text: every share page asks which published pathways its credential counts toward."""
    return _parsed(row.document)


@lru_cache(maxsize=512)
def _parsed(document: str) -> Pathway:
    return load_pathway(document)  # frozen models: safe to share


def _hosted_achievements(session: Session) -> dict[str, set[str]]:
    """Issuer DID -> achievement ids, for the issuers this service hosts."""
    out: dict[str, set[str]] = {}
    query = select(Issuer.did, AchievementRow.uri).join(AchievementRow, col(AchievementRow.issuer_id) == Issuer.id)
    for did, uri in session.exec(query):
        out.setdefault(canonical_issuer_id(did), set()).add(uri)
    return out


def _check_known_achievements(session: Session, pathway: Pathway) -> None:
    """A leaf whose allowed issuers are all hosted here must name an achievement one of them has."""
    hosted_issuers = {canonical_issuer_id(did) for did in session.exec(select(Issuer.did))}
    achievements = _hosted_achievements(session)
    for pointer, node in pathway.nodes():
        if not isinstance(node, Leaf):
            continue
        allowed = set(node.issuers)
        if allowed <= hosted_issuers and not any(node.achievement in achievements.get(i, set()) for i in allowed):
            raise InvalidInput(
                f"{pointer}/achievement",
                f"unknown achievement {node.achievement}: none of {', '.join(sorted(allowed))} has it in this service",
            )


def create_pathway(session: Session, issuer: Issuer, data: bytes | str | Mapping[str, Any]) -> tuple[PathwayRow, bool]:
    """Store one version of a pathway owned by ``issuer``; returns ``(row, created)``.

    The same version with the same content again is a no-op (``created`` False); with other
    content it replaces a draft, and is refused (Conflict) once publication was requested."""
    assert issuer.id is not None
    pathway = load_pathway(data)
    if canonical_issuer_id(pathway.owner) != canonical_issuer_id(issuer.did):
        raise InvalidInput("owner", f"the pathway's owner is {pathway.owner}, but this API key is {issuer.did}'s")
    _check_known_achievements(session, pathway)
    document = rfc8785.dumps(pathway.to_json()).decode("utf-8")
    digest = "0x" + pathway_digest(pathway).hex()
    others = session.exec(select(PathwayRow).where(PathwayRow.uri == pathway.id)).all()
    if any(r.issuer_id != issuer.id for r in others):
        raise Conflict("pathway_taken", f"pathway {pathway.id} belongs to another issuer of this service")
    same = next((r for r in others if r.version == pathway.version), None)
    if same is not None:
        if same.digest == digest:
            return same, False
        if same.batch_id is not None:
            raise Conflict(
                "pathway_version_published",
                f"version {pathway.version} of {pathway.id} is published and never changes; "
                f"create version {max(r.version for r in others) + 1} instead",
            )
        same.document, same.digest, same.name = document, digest, pathway.name
        session.add(same)
        session.flush()
        log_event(session, "pathway.replaced", issuer_id=issuer.id, subject=f"pathway:{same.id}", digest=digest)
        return same, True
    row = PathwayRow(
        issuer_id=issuer.id,
        uri=pathway.id,
        version=pathway.version,
        name=pathway.name,
        document=document,
        digest=digest,
    )
    session.add(row)
    session.flush()
    log_event(session, "pathway.created", issuer_id=issuer.id, subject=f"pathway:{row.id}", uri=row.uri, digest=digest)
    return row, True


def get_pathway(session: Session, issuer: Issuer | None, pathway_id: int) -> PathwayRow:
    """A pathway version by its row id (scoped to ``issuer`` when given; another's is not found)."""
    row = session.get(PathwayRow, pathway_id)
    if row is None or (issuer is not None and row.issuer_id != issuer.id):
        raise NotFound("pathway", str(pathway_id))
    return row


def publish(session: Session, issuer: Issuer, row: PathwayRow) -> Batch:
    """Request publication: a batch of its own that the worker anchors. Idempotent."""
    assert issuer.id is not None and row.issuer_id == issuer.id
    if row.batch_id is not None:
        batch = session.get(Batch, row.batch_id)
        assert batch is not None
        return batch
    if session.exec(select(Batch).where(Batch.root == row.digest)).first() is not None:
        raise Conflict("pathway_taken", f"pathway digest {row.digest} is already a batch of this service")
    batch = Batch(
        issuer_id=issuer.id,
        root=row.digest,
        count=1,
        metadata_hash="0x" + keccak256(row.document.encode("utf-8")).hex(),
        state=BatchState.PENDING,
    )
    session.add(batch)
    session.flush()
    row.batch_id = batch.id
    session.add(row)
    log_event(
        session,
        "pathway.publish_requested",
        issuer_id=issuer.id,
        subject=f"pathway:{row.id}",
        batch_id=batch.id,
        digest=row.digest,
    )
    return batch


def pathway_state(batch: Batch | None) -> str:
    """draft (not published), publishing (being anchored), published, failed or withdrawn."""
    if batch is None:
        return "draft"
    return {
        BatchState.CONFIRMED: "published",
        BatchState.FAILED: "failed",
        BatchState.REVOKED: "withdrawn",
    }.get(BatchState(batch.state), "publishing")


def pathway_view(session: Session, row: PathwayRow, *, base_url: str = "") -> dict[str, Any]:
    """What the API answers for a pathway version."""
    batch = session.get(Batch, row.batch_id) if row.batch_id is not None else None
    out: dict[str, Any] = {
        "id": row.id,
        "pathway_id": row.uri,
        "version": row.version,
        "name": row.name,
        "digest": row.digest,
        "state": pathway_state(batch),
        "batch_id": row.batch_id,
        "created_at": row.created_at.isoformat(),
        "definition_url": f"{base_url.rstrip('/')}/v1/pathways/{row.id}/definition",
    }
    if batch is not None and batch.state == BatchState.CONFIRMED:
        out["anchor"] = {
            "chain_id": batch.chain_id,
            "registry": batch.registry_address,
            "tx": batch.anchor_tx,
            "block": batch.anchor_block,
            "anchored_at": batch.anchored_at.isoformat() if batch.anchored_at else None,
        }
    return out


def published_pathways(session: Session) -> list[PathwayRow]:
    """Every published version (its batch confirmed on chain), newest version first per pathway."""
    query = (
        select(PathwayRow)
        .join(Batch, col(Batch.id) == PathwayRow.batch_id)
        .where(Batch.state == BatchState.CONFIRMED)
        .order_by(col(PathwayRow.uri), col(PathwayRow.version).desc())
    )
    return list(session.exec(query))


def pathways_for_achievement(session: Session, achievement_uri: str, issuer_did: str) -> list[PathwayRow]:
    """The newest published version of each pathway that a credential of ``achievement_uri`` from
    ``issuer_did`` can count toward."""
    issuer = canonical_issuer_id(issuer_did)
    out: list[PathwayRow] = []
    seen: set[str] = set()
    for row in published_pathways(session):
        if row.uri in seen:
            continue
        seen.add(row.uri)
        leaves = [n for _, n in pathway_of(row).nodes() if isinstance(n, Leaf)]
        if any(leaf.achievement == achievement_uri and issuer in leaf.issuers for leaf in leaves):
            out.append(row)
    return out


@dataclass
class Progress:
    """A learner's progress toward one pathway version, as this service knows it."""

    pathway: Pathway
    row: PathwayRow
    result: PathwayResult
    credentials: dict[str, CredentialRow]
    """The learner's credentials counted, by key (their public share id)."""
    providers: dict[str, list[str]] = field(default_factory=dict)
    """For each requirement not met that names one achievement: who may award it."""
    labels: dict[str, str] = field(default_factory=dict)
    """For each credential counted: what a person reads (its name, issuer and date)."""


def _valid_now(doc: Mapping[str, Any], now: datetime) -> bool:
    for name, past_ok in (("validFrom", True), ("validUntil", False)):
        value = doc.get(name)
        if not isinstance(value, str):
            continue
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if (when > now) if past_ok else (when <= now):
            return False
    return True


def progress(
    session: Session,
    credential: CredentialRow,
    row: PathwayRow,
    issuer_names: Mapping[str, str],
    *,
    now: datetime | None = None,
) -> Progress:
    """Progress of ``credential``'s learner toward ``row``: their released, unrevoked, currently
    valid credentials in this service, evaluated with :func:`registry.core.stacking.evaluate`.
    ``issuer_names`` maps canonical DIDs to display names (the chain's directory)."""
    now = now or utcnow()
    query = select(CredentialRow).where(CredentialRow.state == CredentialState.RELEASED)
    if credential.learner_ref is not None:
        query = query.where(CredentialRow.learner_ref == credential.learner_ref)
    else:  # issued before learner references: only this credential is known to be theirs
        query = query.where(CredentialRow.id == credential.id)
    rows = {r.id: r for r in session.exec(query.order_by(col(CredentialRow.seq)))}
    components: list[Component] = []
    labels: dict[str, str] = {}
    for key, cred in rows.items():
        doc = json.loads(cred.doc)
        if cred.digest is None or not _valid_now(doc, now):
            continue
        issuer = doc.get("issuer") if isinstance(doc.get("issuer"), dict) else {}
        issued = str(doc.get("validFrom", ""))[:10]
        labels[key] = f"{doc.get('name', cred.credential_uri)}, {issuer.get('name', '')}, {issued}".strip(", ")
        try:
            components.append(component_of(key, doc, cred.digest))
        except InvalidInput:
            continue
    pathway = pathway_of(row)
    result = evaluate(pathway, components)
    counted = {key for node in result.nodes for key in node.satisfied_by}
    leaves = {pointer: n for pointer, n in pathway.nodes() if isinstance(n, Leaf)}
    providers = {
        node.pointer: [issuer_names.get(i, i) for i in leaves[node.pointer].issuers]
        for node in result.nodes
        if not node.satisfied and node.pointer in leaves
    }
    return Progress(pathway, row, result, {k: rows[k] for k in rows if k in counted}, providers, labels)
