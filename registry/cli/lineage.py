"""Corrections and renewals from the command line: ``registry reissue`` and ``registry renew``,
on the service database (like ``registry apikey``), naming the credential by its file.

Both queue the replacement for the next batch; the worker (``registry worker`` or the service's
own) anchors it, records the supersession on chain and then releases the new file
(:mod:`registry.service.lineage`). Registered by :mod:`registry.cli.app`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from registry.cli.output import fail, out
from registry.config import Settings
from registry.errors import InvalidInput, RegistryError

__all__ = ["register"]

_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]

FileArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="the credential file (JSON) of the credential to replace")
]
NoteOption = Annotated[str, typer.Option(help="why, kept in the service (never on chain)")]


def parse_assignment(text: str) -> tuple[str, Any]:
    """``POINTER=VALUE`` -> (pointer, value): VALUE is JSON when it parses as JSON (numbers,
    true, "quoted text", objects), else the text itself."""
    pointer, sep, raw = text.partition("=")
    if not sep or not pointer.startswith("/"):
        raise InvalidInput("set", f"{text!r}: expected POINTER=VALUE, e.g. /credentialSubject/name='Ana García'")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return pointer, value


def reissue(
    file: FileArgument,
    assignments: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="POINTER=VALUE",
            help="a field to correct (RFC 6901 pointer); VALUE is JSON when it parses as JSON, else text; repeat it",
        ),
    ],
    reason: Annotated[str, typer.Option(help="the kind of replacement (only 'correction')")] = "correction",
    note: NoteOption = "",
) -> None:
    """Correct a released credential: a corrected copy is queued for the next batch and, once
    anchored, recorded on chain as replacing it (the old file then verifies INVALID, superseded)."""
    from registry.service.lineage import request_reissue

    try:
        if reason != "correction":
            raise InvalidInput("reason", "a reissue is a correction (use `registry renew` for a new validity period)")
        changes = dict(parse_assignment(a) for a in assignments)
        _replace(file, lambda session, issuer, cid: request_reissue(session, issuer, cid, changes, note=note))
    except RegistryError as exc:
        fail(exc)


def renew(
    file: FileArgument,
    valid_until: Annotated[
        datetime, typer.Option("--valid-until", formats=_DATE_FORMATS, help="new end of validity (UTC)")
    ],
    valid_from: Annotated[
        datetime | None,
        typer.Option("--valid-from", formats=_DATE_FORMATS, help="new start of validity (UTC; default now)"),
    ] = None,
    note: NoteOption = "",
) -> None:
    """Renew a released credential: a copy with the new validity period is queued for the next
    batch and, once anchored, recorded on chain as replacing it (kind renewal)."""
    from registry.service.lineage import request_renewal

    try:
        _replace(
            file,
            lambda session, issuer, cid: request_renewal(
                session, issuer, cid, valid_until=valid_until, valid_from=valid_from, note=note
            ),
        )
    except RegistryError as exc:
        fail(exc)


def _replace(file: Path, request: Any) -> None:
    """Find the file's credential in the service database, make the request, commit, say what."""
    from sqlmodel import Session

    from registry.cli.service import _engine
    from registry.core import strictjson
    from registry.service.lineage import find_by_file, kind_name
    from registry.service.store import CredentialRow, Issuer

    try:
        data = strictjson.loads(file.read_bytes(), what=str(file))
    except strictjson.StrictJsonError as exc:
        raise InvalidInput("file", str(exc)) from None
    engine = _engine(Settings())
    with Session(engine) as session:
        old = find_by_file(session, data)
        issuer = session.get(Issuer, old.issuer_id)
        assert issuer is not None
        sup = request(session, issuer, old.id)
        session.commit()
        new = session.get(CredentialRow, sup.new_credential_id)
        assert new is not None
        line = (
            f"{kind_name(sup.kind)} {sup.id}: credential {new.id} ({new.credential_uri}) replaces {old.id} "
            f"({old.credential_uri}); queued for the next batch, the worker records the supersession on chain "
            "once it is anchored"
        )
    out.print(line, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``reissue`` and ``renew`` to the ``registry`` CLI."""
    app.command("reissue")(reissue)
    app.command("renew")(renew)
