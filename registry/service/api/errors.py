"""Error responses: every 4xx/5xx is JSON ``{"error": {"code", "message", ...}}`` with a
machine-readable ``code``; oversized bodies are refused before they are read, and JSON bodies
nested deeper than :data:`MAX_JSON_DEPTH` while they stream in (400 ``json_too_deep``), before
any parser recurses into them.

Limits of the service, in one place: request body ``Settings.max_body_bytes`` (413), CSV upload
``Settings.max_upload_bytes`` (413) and :data:`registry.core.csvimport.MAX_CSV_ROWS` learners
(422), JSON depth :data:`MAX_JSON_DEPTH` (400; credential files themselves at most
:data:`registry.core.credfile.MAX_DEPTH`), badge images :data:`registry.core.baking.MAX_IMAGE_BYTES`
(422)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
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

__all__ = ["MAX_JSON_DEPTH", "BodyLimit", "JsonDepthScanner", "error_body", "install_error_handlers", "malformed_json"]

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays/objects accepted in a JSON request body."""


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def malformed_json(problem: str) -> HTTPException:
    """The 400 ``malformed_json`` of a body that is not JSON, ``problem`` saying where."""
    return HTTPException(400, {"code": "malformed_json", "message": f"the body is not valid JSON: {problem}"})


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


def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    """A number too large for the database column (found by schemathesis: ``/v1/batches/2**80``
    raised OverflowError in the SQLite driver, DataError on PostgreSQL) is the client's error."""
    return JSONResponse(error_body("invalid_input", "a number or value in the request is out of range"), 422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


_STRUCTURAL = re.compile(rb'[\[\]{}"\\]')


class JsonDepthScanner:
    """Streaming nesting-depth check of JSON text: feed chunks, ``ValueError`` past the limit.

    Only brackets outside strings count. A chunk without backslashes (the usual one) is scanned
    with numpy: a bracket is outside a string when an even number of quotes precede it, and the
    running depth is a cumulative sum over those brackets; an 11 MB batch body costs about 20 ms
    on the event loop instead of 185 ms. A chunk with a backslash (escapes decide which quotes
    count) takes the byte-by-byte scan of the structural bytes. No buffering either way.
    """

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.skip_next = False  # a backslash ended the previous chunk

    def feed(self, chunk: bytes, *, last: bool = False) -> None:
        """Scan ``chunk``; ``last``: no chunk follows (the state after it is never needed)."""
        if last and self.depth + chunk.count(b"[") + chunk.count(b"{") <= self.limit:
            return  # even if every bracket opened, the limit holds (a typical request body)
        if self.skip_next or b"\\" in chunk:
            self._feed_bytewise(chunk)
            return
        data = np.frombuffer(chunk, dtype=np.uint8)
        quotes = np.flatnonzero(data == 0x22)
        opens = (data == 0x5B) | (data == 0x7B)
        brackets = np.flatnonzero(opens | (data == 0x5D) | (data == 0x7D))
        if brackets.size:
            outside = brackets[((np.searchsorted(quotes, brackets) + self.in_string) & 1) == 0]
            if outside.size:
                depths = self.depth + np.cumsum(np.where(opens[outside], 1, -1))
                if int(depths.max()) > self.limit:
                    raise ValueError(f"JSON nested deeper than {self.limit} levels")
                self.depth = int(depths[-1])
        if quotes.size & 1:
            self.in_string = not self.in_string

    def _feed_bytewise(self, chunk: bytes) -> None:
        start = 0
        if self.skip_next and chunk:
            self.skip_next = False
            start = 1
        skip_at = -1
        for m in _STRUCTURAL.finditer(chunk, start):
            i = m.start()
            if i == skip_at:
                continue
            c = chunk[i]
            if self.in_string:
                if c == 0x5C:  # backslash: the next byte is escaped
                    if i + 1 < len(chunk):
                        skip_at = i + 1
                    else:
                        self.skip_next = True
                elif c == 0x22:
                    self.in_string = False
            elif c == 0x22:
                self.in_string = True
            elif c in (0x5B, 0x7B):
                self.depth += 1
                if self.depth > self.limit:
                    raise ValueError(f"JSON nested deeper than {self.limit} levels")
            elif c in (0x5D, 0x7D):
                self.depth -= 1


def _scans_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind.endswith(b"json") or kind in (b"", b"text/plain", b"application/octet-stream")
    return True  # no content type: the verify endpoint sniffs JSON


class BodyLimit:
    """Refuse request bodies over a limit (413, ``body_too_large``) whether or not they declare
    a Content-Length; ``upload_paths`` get the larger upload limit (CSV imports). JSON bodies
    nested deeper than ``max_json_depth`` are refused while they stream in (400,
    ``json_too_deep``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        upload_limit: int,
        upload_paths: tuple[str, ...],
        max_json_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.upload_paths = upload_paths
        self.max_json_depth = max_json_depth

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
        scanner = JsonDepthScanner(self.max_json_depth) if _scans_json(scope) else None

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                body: bytes = message.get("body", b"")
                received += len(body)
                if received > limit:
                    raise _TooLarge(limit)
                if scanner is not None:
                    try:
                        scanner.feed(body, last=not message.get("more_body", False))
                    except ValueError as exc:
                        raise _TooDeep(str(exc)) from None
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
        except _TooDeep as exc:
            if not started:
                response = JSONResponse(
                    error_body("json_too_deep", f"the request body is {exc.problem}", limit=self.max_json_depth), 400
                )
                await send({"type": "http.response.start", "status": 400, "headers": response.raw_headers})
                await send({"type": "http.response.body", "body": response.body})

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


class _TooDeep(StarletteHTTPException):
    """Raised while reading a JSON body nested past the limit; rendered as 400 ``json_too_deep``."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        detail: Any = {"code": "json_too_deep", "message": f"the request body is {problem}"}
        super().__init__(400, detail)
