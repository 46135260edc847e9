"""Achievements of the calling issuer."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from registry.service.api.deps import CurrentIssuer, SessionDep
from registry.service.api.schemas import AchievementIn, AchievementOut
from registry.service.issuance import create_achievement, get_achievement
from registry.service.store import AchievementRow

router = APIRouter(prefix="/v1/achievements", tags=["achievements"])


@router.post("", status_code=201, response_model=AchievementOut)
def create(body: AchievementIn, issuer: CurrentIssuer, session: SessionDep) -> AchievementOut:
    """Define an achievement (micro-credential); its URI is generated when omitted."""
    row = create_achievement(session, issuer, body.model_dump(exclude_none=True))
    session.commit()
    return AchievementOut.of(row)


@router.get("", response_model=list[AchievementOut])
def list_(issuer: CurrentIssuer, session: SessionDep) -> list[AchievementOut]:
    rows = session.exec(
        select(AchievementRow).where(AchievementRow.issuer_id == issuer.id).order_by(col(AchievementRow.id))
    )
    return [AchievementOut.of(r) for r in rows]


@router.get("/{achievement_id}", response_model=AchievementOut)
def get(achievement_id: int, issuer: CurrentIssuer, session: SessionDep) -> AchievementOut:
    return AchievementOut.of(get_achievement(session, issuer, achievement_id))
