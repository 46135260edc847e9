"""Service commands of the ``registry`` CLI: ``serve``, ``worker``, ``db upgrade``,
``issuer add``, ``apikey create|list|revoke``, ``issuer-key new``. Registered by :mod:`registry.cli.app`."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from registry.config import Settings
from registry.errors import ConfigError, InvalidInput, RegistryError

__all__ = ["register"]

from registry.cli.chain import issuer_app
from registry.cli.output import err, out
from registry.cli.output import fail as _fail


def _engine(settings: Settings) -> Any:
    """The service's database, migrated (:func:`registry.service.store.migrated_engine`)."""
    from registry.service.store import migrated_engine

    return migrated_engine(settings.db_url, settings.db_schema)


def serve(
    host: Annotated[str | None, typer.Option(help="listen address (default REGISTRY_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default REGISTRY_PORT)")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="do not run the anchoring worker")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="HTTP worker processes (the anchoring worker still runs once, in the parent process)",
        ),
    ] = 1,
) -> None:
    """Run the issuer service (REST API, verify API, pages) with uvicorn (uvloop and httptools
    when installed)."""
    import uvicorn

    from registry.service.runtime import create_app, prepare, serve_workers

    settings = Settings()
    if no_worker:
        settings = settings.model_copy(update={"worker_in_process": False})
    try:
        prepare(settings)  # migrate and refuse unusable keys before binding the port
    except RegistryError as exc:
        _fail(exc)
    if workers > 1:
        try:
            serve_workers(settings, host=host or settings.host, port=port or settings.port, workers=workers)
        except ConfigError as exc:  # the port is in use or cannot be bound: nothing started
            _fail(exc)
        return
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        proxy_headers=True,
    )


def worker(
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit")] = False,
) -> None:
    """Run the anchoring worker (seal, sign, record, broadcast, confirm, release)."""
    from registry.service.runtime import standalone_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings()
    try:
        w = standalone_worker(settings)
        if once:
            result = w.run_once()
            out.print_json(data={k: v for k, v in result.__dict__.items()})
            return
    except RegistryError as exc:
        _fail(exc)
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()
        w.wake.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    out.print(f"anchoring worker running on chain {w.client.reads.chain_id()} ({settings.network}); Ctrl-C stops")
    w.run(stop)


def db_upgrade() -> None:
    """Migrate the database to the newest schema (also done at service start-up)."""
    from registry.service.store import current_revision

    settings = Settings()
    try:
        engine = _engine(settings)
    except RegistryError as exc:
        _fail(exc)
    out.print(f"database at revision {current_revision(engine)} ({engine.url.render_as_string(hide_password=True)})")


def issuer_add(
    name: Annotated[str, typer.Argument(help="organisation name as on chain")],
    uri: Annotated[str, typer.Argument(help="DID or domain as admitted on chain")],
    keystore: Annotated[Path | None, typer.Option(help="encrypted keystore of the anchoring key")] = None,
    dev_key: Annotated[str | None, typer.Option(help="development key role (local chain only)")] = None,
    url: Annotated[str | None, typer.Option(help="the issuer's web site")] = None,
    linkedin_org: Annotated[
        str | None,
        typer.Option(
            "--linkedin-org",
            help="the issuer's LinkedIn organisation id (digits): add-to-profile links name the LinkedIn page",
        ),
    ] = None,
) -> None:
    """Register an issuer in the service (the chain's directory entry must already exist)."""
    from sqlmodel import Session

    from registry.core.identity import canonical_issuer_id
    from registry.service.issuance import create_issuer
    from registry.service.issuers import check_linkedin_org
    from registry.service.keys import signer_for

    settings = Settings()
    if (keystore is None) == (dev_key is None):
        _fail(InvalidInput("key", "give exactly one of --keystore or --dev-key"))
    try:
        check_linkedin_org(linkedin_org)
    except RegistryError as exc:
        _fail(exc)
    source = f"keystore:{keystore.resolve()}" if keystore else f"dev:{dev_key}"
    kind, _, value = source.partition(":")
    try:
        from registry.chain.devkeys import dev_account
        from registry.chain.keys import load_keystore

        key = load_keystore(Path(value)) if kind == "keystore" else dev_account(value, settings.profile.chain_id)
        engine = _engine(settings)
        with Session(engine) as session:
            issuer = create_issuer(
                session, name=name, did=canonical_issuer_id(uri), key_source=source, key_address=key.address, url=url
            )
            issuer.linkedin_organization_id = linkedin_org
            session.commit()
            signer_for(issuer, settings.profile.chain_id)
    except RegistryError as exc:
        _fail(exc)
    out.print(f"issuer {issuer.id}: {name} ({issuer.did}), anchoring key {key.address}")


def _issuer_row(session: Any, issuer: str) -> Any:
    """The service's issuer by id or DID, or InvalidInput."""
    from sqlmodel import select

    from registry.service.store import Issuer

    row = session.get(Issuer, int(issuer)) if issuer.isdigit() else None
    if row is None and not issuer.isdigit():
        row = session.exec(select(Issuer).where(Issuer.did == issuer)).first()
    if row is None or row.id is None:
        raise InvalidInput("issuer", f"no issuer {issuer} in the service (see `registry issuer add`)")
    return row


def issuer_retry_key_change(issuer: Annotated[str, typer.Argument(help="issuer id or DID")]) -> None:
    """Try the issuer's failed signing-key registration again, once its cause is dealt with (the
    worker sends it; the issuer's waiting batches follow)."""
    from sqlmodel import Session

    from registry.service.issuers import retry_key_change

    try:
        with Session(_engine(Settings())) as session:
            row = retry_key_change(session, _issuer_row(session, issuer))
            session.commit()
            out.print(
                f"key change {row.id} queued for signing key {row.public_key}: the worker sends it", highlight=False
            )
    except RegistryError as exc:
        _fail(exc)


def issuer_rotate_key(
    issuer: Annotated[str, typer.Argument(help="issuer id or DID in the service")],
    keystore: Annotated[Path | None, typer.Option(help="encrypted keystore of the new anchoring key")] = None,
    dev_key: Annotated[str | None, typer.Option(help="development key role (local chain only)")] = None,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for the confirmations")] = 600.0,
) -> None:
    """Rotate the issuer's anchoring key: `rotateKey` signed by the current key, recorded before it
    is sent (interrupted, run it again), then the service anchors with the new key (its signing key
    is registered before the next anchor). Refused while the worker has the issuer's writes open."""
    from sqlmodel import Session

    from registry.service.issuers import rotate_anchoring_key
    from registry.service.keys import chain_client

    settings = Settings()
    if (keystore is None) == (dev_key is None):
        _fail(InvalidInput("key", "give exactly one of --keystore or --dev-key"))
    source = f"keystore:{keystore.resolve()}" if keystore else f"dev:{dev_key}"
    try:
        engine = _engine(settings)
        with Session(engine) as session:
            issuer_id = int(_issuer_row(session, issuer).id)
        row, change = rotate_anchoring_key(settings, engine, chain_client(settings), issuer_id, source, timeout=wait)
    except RegistryError as exc:
        _fail(exc)
    how = f"tx {change.tx_hash}" if change is not None and change.tx_hash else "already"
    out.print(f"issuer {issuer_id} anchors with {row.key_address} from now on ({how})", highlight=False)


def apikey_create(
    issuer: Annotated[str, typer.Argument(help="issuer id or DID")],
    label: Annotated[str, typer.Option(help="what the key is for")] = "",
) -> None:
    """Create an API key for an issuer; it is printed once and stored only hashed."""
    from sqlmodel import Session

    from registry.service.auth import create_api_key

    settings = Settings()
    try:
        engine = _engine(settings)
        with Session(engine) as session:
            row = _issuer_row(session, issuer)
            _, token = create_api_key(session, row.id, label)
            session.commit()
    except RegistryError as exc:
        _fail(exc)
    out.print(token, highlight=False, soft_wrap=True)
    err.print("store it now: it cannot be shown again", highlight=False)


def apikey_revoke(
    key: Annotated[str, typer.Argument(help="API key id (see `registry apikey list`) or the key's prefix rk_…")],
) -> None:
    """Revoke an API key: from the next request on it gets 401 ``invalid_api_key``."""
    from sqlmodel import Session, select

    from registry.errors import NotFound
    from registry.service.auth import revoke_api_key
    from registry.service.store import ApiKey

    settings = Settings()
    try:
        engine = _engine(settings)
        with Session(engine) as session:
            if key.isdigit():
                key_id = int(key)
            else:
                matches = session.exec(select(ApiKey).where(ApiKey.prefix == key[:10])).all()
                if len(matches) != 1 or matches[0].id is None or len(key) < 10:
                    raise NotFound("api key", key[:10])
                key_id = matches[0].id
            row = revoke_api_key(session, key_id)
            done = f"API key {row.id} ({row.prefix}…) of issuer {row.issuer_id} revoked"
            session.commit()
    except RegistryError as exc:
        _fail(exc)
    out.print(done, highlight=False)


def apikey_list(
    issuer: Annotated[str | None, typer.Argument(help="issuer id or DID (default: all)")] = None,
) -> None:
    """List API keys (id, issuer, prefix, label, created, revoked); tokens are never stored."""
    from sqlmodel import Session, col, select

    from registry.service.store import ApiKey, Issuer

    settings = Settings()
    try:
        engine = _engine(settings)
        with Session(engine) as session:
            query = select(ApiKey, Issuer).where(ApiKey.issuer_id == Issuer.id).order_by(col(ApiKey.id))
            if issuer is not None:
                query = query.where(Issuer.id == int(issuer)) if issuer.isdigit() else query.where(Issuer.did == issuer)
            rows = session.exec(query).all()
    except RegistryError as exc:
        _fail(exc)
    for k, i in rows:
        revoked = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        out.print(f"{k.id}\t{i.did}\t{k.prefix}…\t{k.label}\t{k.created_at:%Y-%m-%d %H:%M}\t{revoked}", highlight=False)


def issuer_key_new(
    output: Annotated[Path, typer.Argument(help="where to write the encrypted keystore (JSON)")],
) -> None:
    """Create a new anchoring key as an encrypted keystore (passphrase from
    REGISTRY_KEY_PASSPHRASE or REGISTRY_KEY_PASSPHRASE_FILE); prints only the address."""
    from eth_account import Account

    from registry.chain.keys import _passphrase

    if output.exists():
        _fail(ConfigError(f"{output} exists; refusing to overwrite a key"))
    try:
        passphrase = _passphrase()
    except RegistryError as exc:
        _fail(exc)
    account = Account.create(secrets.token_hex(32))
    data = Account.encrypt(account.key, passphrase)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    out.print(f"new anchoring key {account.address} in {output} (encrypted)")


# `registry issuer add|retry-key-change|rotate-key` join the chain's `issuer` group when this module
# is imported, once: the CLI imports it with registry.cli.chain (registry.cli.app.EXTENDS).
issuer_app.command("add")(issuer_add)
issuer_app.command("retry-key-change")(issuer_retry_key_change)
issuer_app.command("rotate-key")(issuer_rotate_key)


def register(app: typer.Typer) -> None:
    """Add the service commands to the ``registry`` CLI."""
    app.command("serve")(serve)
    app.command("worker")(worker)
    db_app = typer.Typer(help="The service database.", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")
    apikey_app = typer.Typer(help="Issuer API keys (stored hashed).", no_args_is_help=True)
    apikey_app.command("create")(apikey_create)
    apikey_app.command("revoke")(apikey_revoke)
    apikey_app.command("list")(apikey_list)
    app.add_typer(apikey_app, name="apikey")
    app.command("issuer-key-new")(issuer_key_new)
