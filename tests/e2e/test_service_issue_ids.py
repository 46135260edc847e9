"""Bulk issuance answers with ids without reading the rows back: the ids are those of the stored
rows, in the order of the request, and ``issue`` (which does read them back) agrees."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, col, select

from registry.core.csvimport import IssueRequest
from registry.service.issuance import create_achievement, create_issuer, issue, queue_credentials
from registry.service.store import CredentialRow, make_engine, upgrade
from tests.chain_fixtures import ACHIEVEMENT


def test_ids_in_request_order(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ids.db'}")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        issuer = create_issuer(
            session, name="Uni", did="did:web:uni.example", key_source="dev:issuer", key_address="0x" + "11" * 20
        )
        ach = create_achievement(session, issuer, json.loads(ACHIEVEMENT.model_dump_json()))
        assert ach.id is not None
        reqs = [
            IssueRequest(achievement_id=ach.id, recipient_email=f"l{i}@example.org", recipient_name=f"L{i}")
            for i in range(7)
        ]
        ids = queue_credentials(session, issuer, reqs, source="bulk")
        rows = issue(session, issuer, reqs[:3])
        session.commit()
        stored = {r.id: r for r in session.exec(select(CredentialRow).where(col(CredentialRow.id).in_(ids)))}
        assert [stored[i].recipient_name for i in ids] == [f"L{i}" for i in range(7)]
        assert [json.loads(stored[i].doc)["credentialSubject"]["name"] for i in ids] == [f"L{i}" for i in range(7)]
        assert [r.recipient_name for r in rows] == ["L0", "L1", "L2"]
        assert len(set(ids) | {r.id for r in rows}) == 10
    engine.dispose()
