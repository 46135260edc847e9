"""``POST /v1/verify/stack`` (public): a learner's credentials verified as one stack toward a
pathway, as ``registry verify --pathway`` does (docs/pathways.md)."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from registry.core.pathway import load_pathway
from registry.errors import InvalidInput
from registry.service.api.deps import StateDep
from registry.service.api.routes.public import extract
from registry.service.api.state import ServiceState
from registry.verify.stack import StackReport, verify_stack

router = APIRouter(prefix="/v1", tags=["public"])

MAX_STACK = 100
"""Most components one request may present (a stack is a handful; a transcript a few dozen)."""


def _stack(state: ServiceState, body: Any) -> StackReport:
    if not isinstance(body, dict):
        raise InvalidInput("body", 'must be {"pathway": {...}, "learner": "e-mail", "credentials": [...]}')
    unknown = sorted(set(body) - {"pathway", "learner", "credentials"})
    if unknown:
        raise InvalidInput(unknown[0], "unknown member (pathway, learner and credentials are read)")
    if not isinstance(body.get("pathway"), dict):
        raise InvalidInput("pathway", "must be the pathway definition (a JSON object, docs/pathways.md)")
    pathway = load_pathway(body["pathway"])
    learner = body.get("learner")
    if learner is not None and not isinstance(learner, str):
        raise InvalidInput("learner", "must be the learner's e-mail address")
    credentials = body.get("credentials")
    if not isinstance(credentials, list) or not credentials:
        raise InvalidInput("credentials", "must be a non-empty list of credential files (JSON objects)")
    if len(credentials) > MAX_STACK:
        raise InvalidInput("credentials", f"{len(credentials)} files; a stack has at most {MAX_STACK}")
    files: list[tuple[str, bytes | str | dict[str, Any]]] = []
    for i, c in enumerate(credentials):
        if isinstance(c, dict):
            files.append((f"credentials[{i}]", c))
        elif isinstance(c, str):  # a baked SVG badge, as text
            files.append((f"credentials[{i}]", extract(c.encode())))
        else:
            raise InvalidInput(f"credentials[{i}]", "must be a credential file (JSON object) or a baked SVG")
    return verify_stack(state.verifier(), pathway, files, learner=learner)


@router.post("/verify/stack", response_model=StackReport)
async def verify_stack_route(request: Request, state: StateDep) -> Response:
    """Verify credential files as one learner's stack toward a pathway definition: each file with
    every check, the pathway's anchor by its owner, the learner binding (the e-mail disclosed once)
    and the rule. Verdict VALID, INCOMPLETE, INVALID or INDETERMINATE; a malformed request is 400/422."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("body", f"the body is not valid JSON: {exc}") from None
    report = await anyio.to_thread.run_sync(_stack, state, body, limiter=state.verify_limiter())
    return Response(report.model_dump_json(), media_type="application/json")
