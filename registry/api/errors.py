"""Error responses: every 4xx/5xx is JSON ``{"error": {"code", "message", ...}}`` with a
machine-readable ``code``; oversized bodies are refused before they are read."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.errors import (
    AuthenticationError,
    ChainUnavailable,
    ConfigError,
    Conflict,
    DeploymentError,
    ImportRejected,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RegistryError,
)

__all__ = ["BodyLimit", "error_body", "install_error_handlers"]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _status(exc: RegistryError) -> int:
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, ChainUnavailable):
        return 503
    if isinstance(exc, ConfigError | DeploymentError):
        return 503
    return 500


def _registry_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryError)
    extra: dict[str, Any] = {}
    if isinstance(exc, ImportRejected):
        extra["rows"] = exc.rows
    elif isinstance(exc, InvalidInput):
        extra["field"] = exc.field
    headers = {"WWW-Authenticate": "ApiKey"} if isinstance(exc, AuthenticationError) else None
    return JSONResponse(error_body(exc.code, str(exc), **extra), _status(exc), headers=headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        ctx = first.get("ctx", {})
        return JSONResponse(
            error_body("malformed_json", f"the body is not valid JSON: {ctx.get('error', 'parse error')}"),
            400,
        )
    problems = [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body") or "body", "problem": e["msg"]} for e in errors[:50]
    ]
    first = problems[0] if problems else {"field": "body", "problem": "invalid"}
    return JSONResponse(error_body("invalid_request", f"{first['field']}: {first['problem']}", problems=problems), 422)


_HTTP_CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if isinstance(detail, dict) and "code" in detail:
        body = error_body(str(detail["code"]), str(detail.get("message", "")))
    else:
        body = error_body(_HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}"), str(detail))
    return JSONResponse(body, exc.status_code, headers=getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class BodyLimit:
    """Refuse request bodies over a limit (413, ``body_too_large``) whether or not they declare
    a Content-Length; ``upload_paths`` get the larger upload limit (CSV imports)."""

    def __init__(self, app: ASGIApp, *, limit: int, upload_limit: int, upload_paths: tuple[str, ...]) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.upload_limit if path.startswith(self.upload_paths) else self.limit
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit or declared < 0:
                    await self._refuse(send, limit)
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        response = JSONResponse(
            error_body("body_too_large", f"the request body is larger than {limit} bytes", limit=limit), 413
        )
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(StarletteHTTPException):
    """Raised while reading a body past the limit; rendered as 413 ``body_too_large``."""

    def __init__(self, limit: int) -> None:
        detail: Any = {"code": "body_too_large", "message": f"the request body is larger than {limit} bytes"}
        super().__init__(413, detail)
