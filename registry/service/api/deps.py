"""Request dependencies as ``Annotated`` types (full-stack FastAPI template style)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from sqlmodel import Session

from registry.config import Settings
from registry.service.api.state import ServiceState
from registry.service.auth import authenticate, page_session_issuer
from registry.service.store import Issuer

__all__ = ["SESSION_COOKIE", "CurrentIssuer", "PageIssuer", "SessionDep", "SettingsDep", "StateDep"]

SESSION_COOKIE = "registry_session"

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An issuer API key (`registry apikey create`)."
)


# The two lookups below are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool,
# a thread hop per request (and per route using them) for an attribute read.


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(state: StateDep) -> Iterator[Session]:
    with Session(state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_issuer(session: SessionDep, api_key: Annotated[str | None, Depends(_api_key_header)]) -> Issuer:
    """The issuer the API key belongs to; every issuer route is scoped to it."""
    return authenticate(session, api_key)


CurrentIssuer = Annotated[Issuer, Depends(get_issuer)]


def get_page_issuer(request: Request, session: SessionDep) -> Issuer | None:
    """The issuer signed in to the web pages (a signed session in an HttpOnly cookie, never the
    API key itself), or None."""
    return page_session_issuer(session, request.cookies.get(SESSION_COOKIE))


PageIssuer = Annotated[Issuer | None, Depends(get_page_issuer)]
