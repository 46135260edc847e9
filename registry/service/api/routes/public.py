"""Public endpoints (no API key): verify a credential file, the issuer directory from the chain,
revocation reason codes."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Annotated, Any, Final

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError

from registry.chain.model import REVOCATION_REASONS
from registry.core.baking import extract_if_baked
from registry.errors import InvalidInput
from registry.service.api.deps import StateDep
from registry.service.api.errors import malformed_json
from registry.service.api.state import ServiceState
from registry.verify import CheckStatus, Report, Verifier
from registry.verify.checks import Item

router = APIRouter(prefix="/v1", tags=["public"])

INLINE_OFFLINE_MAX_BYTES = 16 * 1024
"""Bodies up to this size have their offline checks run in the event loop, larger ones in a thread.

A credential file (about 11 KiB) takes about a millisecond of CPU, which the GIL keeps from running
beside the loop anyway: handing it to a thread and back costs a hand-off (about 0.08 ms of CPU)
and gains nothing (measured side by side: 1.03 times the verifications/s, within the noise of two
identical servers; docs/service.md). The bound keeps the worst case short: a body of a
shape never seen before is canonicalised by pyld once (tens of milliseconds at this size, about a
second at 100 KiB), and a larger body (a baked image, up to the body limit) goes to one thread at a
time, so the loop keeps accepting and answering other requests meanwhile."""


def extract(data: bytes) -> bytes:
    """A baked PNG/SVG badge's credential, or the bytes unchanged."""
    return extract_if_baked(data)


def _verifier(state: ServiceState, confirmations: int) -> Verifier:
    verifier = state.verifier()
    if confirmations != verifier.policy.min_confirmations:
        verifier = verifier.with_policy(replace(verifier.policy, min_confirmations=confirmations))
    return verifier


def _offline_part(verifier: Verifier, data: bytes, source: str) -> Item:
    if not data.strip():
        raise InvalidInput("body", "empty body: send a credential file (JSON) or a baked PNG/SVG badge")
    return verifier.offline_part([(source, extract(data))])[0]


def _require_json(body: bytes) -> None:
    """A 400 ``malformed_json`` unless ``body`` parses as JSON."""
    try:
        json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: JSONDecodeError and huge numbers
        raise malformed_json(str(exc)) from None


_CONFIRMATIONS: Final = TypeAdapter(Annotated[int, Field(ge=1, le=1000)])
_DEFAULT_CONFIRMATIONS: Final = 1
_CONFIRMATIONS_PARAMETER: Final = {  # what FastAPI documents for the declared parameter
    "name": "confirmations",
    "in": "query",
    "required": False,
    "schema": {**_CONFIRMATIONS.json_schema(), "default": _DEFAULT_CONFIRMATIONS, "title": "Confirmations"},
}


def _confirmations(request: Request) -> int:
    """``?confirmations=N`` (1 to 1,000; default 1), validated as FastAPI validates a declared
    query parameter (the last value given wins; the same 422 answer), but without its dependency
    machinery on the busiest route (5-6 % of a verification's CPU under load)."""
    value = request.query_params.get("confirmations")
    if value is None:
        return _DEFAULT_CONFIRMATIONS
    try:
        return int(_CONFIRMATIONS.validate_python(value))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", "confirmations", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post(
    "/verify",
    response_model=Report,
    openapi_extra={
        "parameters": [_CONFIRMATIONS_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            },
        },
    },
)
async def verify(request: Request) -> Response:
    """Verify a credential file (JSON, or a baked PNG/SVG badge) against the chain: each named
    check with its reason and the verdict VALID, INVALID or INDETERMINATE. A malformed body is a
    400 ``malformed_json``; a well-formed file that fails a check is a 200 with verdict INVALID."""
    # The chain is read at a head learned after this moment: a request that waits for a verify
    # thread shares the head call of the others that arrived before it, and is answered as of a
    # block no older than on arrival (registry.chain.headcache).
    asked_at = time.monotonic()
    confirmations = _confirmations(request)
    state: ServiceState = request.app.state.service
    body = await request.body()
    as_json = request.headers.get("content-type", "").startswith("application/json")
    # A body labelled JSON that is not JSON is a 400, not a report. The verifier parses the body
    # anyway (strictly), so a credential file is parsed once: a body that opens with "{" (never a
    # baked image) is only parsed here again when the verifier's format check failed; any other
    # body labelled JSON (a badge image, a BOM, a bare value) is parsed here first, as always.
    if as_json and body.lstrip()[:1] != b"{":
        _require_json(body)
    # The offline checks are CPU only: in the loop for a small body, else one thread at a time per
    # process (several threads would only take turns at the GIL); see INLINE_OFFLINE_MAX_BYTES.
    # The chain part waits on the RPC: in rounds shared by the requests waiting for the same
    # registry, in threads, so a slow RPC answering one registry does not hold up the others.
    verifier = _verifier(state, confirmations)
    if len(body) <= INLINE_OFFLINE_MAX_BYTES:
        item = _offline_part(verifier, body, "upload")
    else:
        item = await anyio.to_thread.run_sync(_offline_part, verifier, body, "upload", limiter=state.offline_limiter())
    report = await state.chain_rounds().report(verifier, item, asked_at, state.verify_limiter())
    if as_json and report.check("format").status is CheckStatus.FAIL:
        _require_json(body)
    # The report is already a validated Report: serialise it once (response_model documents it).
    return Response(report.model_dump_json(), media_type="application/json")


@router.get("/issuers")
def issuers(state: StateDep) -> list[dict[str, Any]]:
    """The issuer directory as recorded on chain, each issuer with the accreditation body that
    admitted it (name and URI; null for a body without a directory entry); cached for 10 seconds."""
    entries, bodies = state.issuer_directory(max_age=10.0)

    def body(address: str) -> dict[str, Any]:
        found = bodies.get(address)
        if found is None or not found.named:
            return {"address": address, "name": None, "uri": None}
        return {"address": address, "name": found.name, "uri": found.uri}

    return [
        {
            "issuerId": i.issuer_id,
            "name": i.name,
            "uri": i.uri,
            "did": i.did,
            "accreditedBy": i.admitted_by,
            "accreditor": body(i.admitted_by),
            "admittedAt": i.admitted_at,
            "activeKey": i.active_key,
            "suspended": i.suspended,
        }
        for i in entries
    ]


@router.get("/revocation-reasons")
def revocation_reasons() -> dict[int, str]:
    """Reason codes accepted when revoking."""
    return REVOCATION_REASONS
