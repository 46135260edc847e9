"""Who is calling the issuer service: API keys (created once, stored only hashed, revocable),
authentication of a key, and the signed session cookies of the web pages."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from sqlmodel import Session, col, select

from registry.errors import AuthenticationError, Conflict, NotFound
from registry.service.store.db import log_event
from registry.service.store.models import ApiKey, Issuer, utcnow

__all__ = [
    "API_KEY_PREFIX",
    "PAGE_SESSION_PREFIX",
    "authenticate",
    "create_api_key",
    "hash_api_key",
    "list_api_keys",
    "open_page_session",
    "page_session_issuer",
    "revoke_api_key",
]

API_KEY_PREFIX = "rk_"


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
    log_event(
        session, "apikey.created", issuer_id=issuer_id, subject=f"apikey:{key.id}", prefix=key.prefix, label=label
    )
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
    log_event(session, "apikey.revoked", issuer_id=key.issuer_id, subject=f"apikey:{key.id}", prefix=key.prefix)
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
