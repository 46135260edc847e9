"""The calling issuer's API keys: list them (never the tokens) and revoke one.

Keys are created by the operator (``registry apikey create``); an issuer revokes its own keys
here (including the one it calls with), the operator with ``registry apikey revoke``. Another
issuer's key answers 404, like every other object of another issuer.
"""

from __future__ import annotations

from fastapi import APIRouter

from registry.service.api.deps import CurrentIssuer, SessionDep
from registry.service.api.schemas import ApiKeyOut
from registry.service.auth import list_api_keys, revoke_api_key

router = APIRouter(prefix="/v1/apikeys", tags=["apikeys"])


@router.get("", response_model=list[ApiKeyOut])
def list_(issuer: CurrentIssuer, session: SessionDep) -> list[ApiKeyOut]:
    assert issuer.id is not None
    return [ApiKeyOut.of(k) for k in list_api_keys(session, issuer.id)]


@router.post("/{key_id}/revoke", response_model=ApiKeyOut)
def revoke(key_id: int, issuer: CurrentIssuer, session: SessionDep) -> ApiKeyOut:
    """Revoke one of the issuer's API keys: every later request with it gets 401."""
    key = revoke_api_key(session, key_id, issuer_id=issuer.id)
    session.commit()
    return ApiKeyOut.of(key)
