"""Bulk verification (no API key): ``POST /v1/verify/batch`` verifies many credential files in
one request, with the chain read once for the whole batch (:meth:`Verifier.verify_many`), and
answers one row per file as JSON or CSV (:mod:`registry.verify.tabular`, the columns an HR system
imports).

The body is a JSON array of credential files, a multipart upload of files (JSON, baked PNG/SVG
badges, or zip archives of them) or one zip archive (``application/zip``). Limits: at most
``Settings.max_verify_batch`` files (422 ``too_many_files``), at most ``Settings.max_upload_bytes``
of request body (413 ``body_too_large``) and of files unpacked from zip archives (413
``batch_too_large``: the zip-bomb guard; entries are read with a bounded read, never trusting the
sizes an archive declares). Nothing is ever written to disk, so entry names are only labels. A
file that is not JSON, not a credential or a broken image gets its own INVALID row: it never
fails the others.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from registry.service.api.deps import StateDep
from registry.service.api.errors import malformed_json
from registry.service.api.schemas import VerifyBatchOut
from registry.service.api.state import ServiceState
from registry.verify import Report
from registry.verify.archive import MemberTooLarge, is_zip, read_zip
from registry.verify.parallel import MIN_PARALLEL_FILES, shared_pool
from registry.verify.tabular import BatchFile, csv_text, rows, verify_batch

__all__ = ["router", "split_json_array"]

router = APIRouter(prefix="/v1", tags=["public"])

_WS = re.compile(r"[ \t\n\r]*")


def _too_many(limit: int) -> HTTPException:
    return HTTPException(
        422,
        {"code": "too_many_files", "message": f"a batch holds at most {limit} files; split it into several requests"},
    )


def split_json_array(body: bytes, limit: int) -> list[BatchFile]:
    """The elements of a JSON array, each as its own bytes (so each is parsed by the verifier
    with the same strict rules as a single file) and its parsed value. 400 ``malformed_json``,
    422 ``not_an_array`` or ``too_many_files``."""
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise malformed_json(str(exc)) from None
    decoder = json.JSONDecoder()
    pos = _WS.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        try:
            json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise malformed_json(str(exc)) from None
        raise HTTPException(
            422,
            {
                "code": "not_an_array",
                "message": "send a JSON array of credential files (one file: POST /v1/verify), or upload files "
                "as multipart/form-data or a zip archive",
            },
        )
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    out: list[BatchFile] = []
    try:
        if text.startswith("]", pos):
            pos += 1
        else:
            while True:
                value, end = decoder.raw_decode(text, pos)
                if len(out) >= limit:
                    raise _too_many(limit)
                out.append(BatchFile(f"[{len(out)}]", text[pos:end].encode("utf-8"), document=value))
                pos = _WS.match(text, end).end()  # type: ignore[union-attr]
                if text.startswith(",", pos):
                    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
                elif text.startswith("]", pos):
                    pos += 1
                    break
                else:
                    raise json.JSONDecodeError("expected ',' or ']'", text, pos)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge integers
        raise malformed_json(str(exc)) from None
    if _WS.match(text, pos).end() != len(text):  # type: ignore[union-attr]
        raise malformed_json(f"extra data after the array (char {pos})")
    return out


def _unpacked_too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        {
            "code": "batch_too_large",
            "message": f"the files unpacked from the zip archive(s) exceed {limit} bytes in total",
        },
    )


def _collect(named: list[tuple[str, bytes]], limit: int, max_bytes: int) -> list[BatchFile]:
    """Uploaded files in order, zip archives expanded in place."""
    files: list[BatchFile] = []
    unpacked = 0
    for name, data in named:
        if is_zip(data):
            try:
                read = read_zip(name, data, files_left=limit - len(files), bytes_left=max_bytes - unpacked)
            except MemberTooLarge:
                raise _unpacked_too_large(max_bytes) from None
            if read is None:
                raise _too_many(limit)
            found, used = read
            unpacked += used
            files.extend(found)
        else:
            if len(files) >= limit:
                raise _too_many(limit)
            files.append(BatchFile(name, data))
    return files


async def _multipart(request: Request, limit: int) -> list[tuple[str, bytes]]:
    try:
        form = await request.form(max_files=limit + 1, max_fields=limit + 1)
    except HTTPException as exc:  # starlette's MultiPartException
        detail = str(exc.detail)
        if "Too many files" in detail or "Too many fields" in detail:
            raise _too_many(limit) from None
        raise HTTPException(
            400, {"code": "malformed_multipart", "message": f"the multipart body cannot be read: {detail}"}
        ) from None
    try:
        named: list[tuple[str, bytes]] = []
        for field, value in form.multi_items():
            if isinstance(value, UploadFile):
                named.append((value.filename or field, await value.read()))
            else:  # a text field: a pasted credential
                named.append((field, value.encode("utf-8")))
        return named
    finally:
        await form.close()


def _verify(state: ServiceState, files: list[BatchFile], confirmations: int) -> list[tuple[Report, str | None]]:
    verifier = state.verifier()
    if confirmations != verifier.policy.min_confirmations:
        verifier = verifier.with_policy(replace(verifier.policy, min_confirmations=confirmations))
    pool = shared_pool() if len(files) >= MIN_PARALLEL_FILES and not verifier.policy.offline else None
    return verify_batch(verifier, files, pool=pool)


@router.post(
    "/verify/batch",
    response_model=VerifyBatchOut,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        413: {"description": "body_too_large, or batch_too_large (files unpacked from zip archives)"},
        422: {"description": "too_many_files, not_an_array, empty_batch"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    }
                },
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def verify_batch_route(
    request: Request,
    state: StateDep,
    confirmations: Annotated[int, Query(ge=1, le=1000)] = 1,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="json or csv (default: the Accept header, else json)")
    ] = None,
    reports: Annotated[bool, Query(description="add each file's full verification report (JSON only)")] = False,
    bom: Annotated[bool, Query(description="start the CSV with a UTF-8 byte-order mark (for Excel)")] = False,
) -> Response:
    """Verify many credential files at once: a JSON array of files, a multipart upload of files
    (JSON or baked PNG/SVG badges, or zip archives of them), or one zip archive. One row per file
    (file, credential id, learner name if disclosed, achievement, issuer, accreditation body,
    verdict, failing checks and reason, anchored at, valid until), as JSON or, with
    ``?format=csv`` or ``Accept: text/csv``, as CSV. A file that is not a credential gets its own
    INVALID row; it never fails the others."""
    settings = state.settings
    limit = settings.max_verify_batch
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        named = await _multipart(request, limit)
        files = await run_in_threadpool(_collect, named, limit, settings.max_upload_bytes)
    else:
        body = await request.body()
        if kind in ("application/zip", "application/x-zip-compressed") or is_zip(body):
            files = await run_in_threadpool(_collect, [("upload.zip", body)], limit, settings.max_upload_bytes)
        elif kind in ("", "application/json", "text/plain") or kind.endswith("+json"):
            files = await run_in_threadpool(split_json_array, body, limit)
        else:
            raise HTTPException(
                415,
                {
                    "code": "unsupported_media_type",
                    "message": "send application/json (an array of credential files), multipart/form-data or "
                    f"application/zip, not {kind!r}",
                },
            )
    if not files:
        raise HTTPException(422, {"code": "empty_batch", "message": "the batch holds no files"})
    results = await run_in_threadpool(_verify, state, files, confirmations)
    table = rows((r for r, _ in results), (n for _, n in results))
    wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    if wants_csv:
        return Response(
            csv_text(table, bom=bom),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="verification.csv"'},
        )
    verdicts = Counter(r.verdict.value for r, _ in results)
    counts = {v: verdicts.get(v, 0) for v in ("VALID", "INVALID", "INDETERMINATE")}
    head = json.dumps({"count": len(table), "verdicts": counts})
    parts = [head[:-1], ', "rows": ', json.dumps(table, ensure_ascii=False)]
    if reports:
        parts += [', "reports": [', ",".join(r.model_dump_json() for r, _ in results), "]"]
    parts.append("}")
    return Response("".join(parts), media_type="application/json")
