"""`registry chain`, `registry deploy`, `registry accreditor`, `registry issuer` and `registry
directory`: the local chain, the registry deployment and the issuer directory on chain (its
changes recorded before they are sent, :mod:`registry.service.directory`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from registry.cli.output import RpcOption, out
from registry.cli.output import fail as _fail
from registry.config import Settings
from registry.errors import RegistryError

commands = typer.Typer()
chain_app = typer.Typer(help="Run the local development chain (anvil with persistent state).", no_args_is_help=True)
issuer_app = typer.Typer(help="The issuer directory on chain.", no_args_is_help=True)
commands.add_typer(chain_app, name="chain")
commands.add_typer(issuer_app, name="issuer")

# -- chain ---------------------------------------------------------------------------------


def _local_chain(settings: Settings) -> Any:
    from registry.chain.local import LocalChain

    return LocalChain(settings.data_dir)


@chain_app.command("up")
def chain_up() -> None:
    """Start anvil on 127.0.0.1:8545 with its state in the data directory (idempotent)."""
    settings = Settings()
    try:
        status = _local_chain(settings).up()
    except RegistryError as exc:
        _fail(exc)
    out.print(
        f"local chain up: {status.rpc_url} chain {status.chain_id} block {status.block} (state {status.state_file})"
    )


@chain_app.command("down")
def chain_down() -> None:
    """Stop the local chain; its state is kept for the next `chain up`."""
    stopped = _local_chain(Settings()).down()
    out.print("local chain stopped (state kept)" if stopped else "local chain was not running")


@chain_app.command("status")
def chain_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Whether the local chain runs, at which block."""
    status = _local_chain(Settings()).status()
    data = {
        "running": status.running,
        "pid": status.pid,
        "rpc": status.rpc_url,
        "block": status.block,
        "chainId": status.chain_id,
        "state": str(status.state_file),
    }
    if as_json:
        out.print_json(data=data)
    else:
        out.print("running" if status.running else "stopped", data)
    raise typer.Exit(0 if status.running else 1)


# -- deploy and directory ------------------------------------------------------------------


def _signer(settings: Settings, chain_id: int, role: str, keystore: Path | None) -> Any:
    from registry.chain.keys import load_signer

    return load_signer(chain_id, role=role, keystore=keystore)


@commands.command()
def deploy(
    rpc: RpcOption = None,
    force: Annotated[bool, typer.Option(help="replace an existing deployment on this chain")] = False,
    keystore: Annotated[Path | None, typer.Option(help="encrypted keystore of the deployer")] = None,
) -> None:
    """Deploy the CredentialRegistry contract and record it in the deployments file."""
    from registry.chain.adapter import Chain
    from registry.chain.admin import deploy_registry

    settings = Settings()
    try:
        chain = Chain(rpc or settings.rpc)
        account = _signer(settings, chain.reads.chain_id(), "admin", keystore)
        record = deploy_registry(settings, chain, account, force=force)
    except RegistryError as exc:
        _fail(exc)
    out.print_json(data=record)


@issuer_app.command("list")
def issuer_list(rpc: RpcOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The issuer directory, read from the chain."""
    from registry.chain.admin import connect

    settings = Settings()
    try:
        reads = connect(settings, rpc).reads
        issuers = reads.all_issuers()
        bodies = reads.accreditors(i.admitted_by for i in issuers)
    except RegistryError as exc:
        _fail(exc)
    rows = [
        {
            "id": i.issuer_id,
            "name": i.name,
            "did": i.did,
            "accreditedBy": i.admitted_by,
            "accreditor": bodies[i.admitted_by].as_json(),
            "activeKey": i.active_key,
            "suspended": i.suspended,
        }
        for i in issuers
    ]
    if as_json:
        out.print_json(data=rows)
        return
    table = Table("id", "name", "did", "accredited by", "active key", "status")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["name"]),
            str(r["did"]),
            bodies[str(r["accreditedBy"])].label,
            str(r["activeKey"]),
            "suspended" if r["suspended"] else "active",
        )
    out.print(table)


@commands.command("accreditor")
def accreditor_appoint(
    address: Annotated[str, typer.Argument(help="address of the accreditation body")],
    name: Annotated[
        str | None, typer.Option(help='public name of the body, e.g. "Agencia Nacional de Evaluación"')
    ] = None,
    uri: Annotated[
        str | None, typer.Option(help="the body's DID, domain or https URL (recorded as its canonical DID)")
    ] = None,
    rpc: RpcOption = None,
    keystore: Annotated[Path | None, typer.Option(help="registry admin's keystore")] = None,
    wait: WaitOption = 600.0,
) -> None:
    """Appoint an accreditation body (as the registry admin).

    With --name and --uri the body gets a directory entry on chain, and verify and audit reports
    name it ("accredited by NAME (DID)"); run again with another name or URI to rename it. Without
    them the bare role is granted, and reports can only show the body's address.

    The transaction is recorded in the service's database before it is sent (`registry directory
    list` shows it); interrupted, the same command carries on and never sends it twice.
    """
    from eth_utils import to_checksum_address

    from registry.chain.admin import connect
    from registry.cli.output import err
    from registry.core.identity import canonical_issuer_id
    from registry.errors import InvalidInput

    settings = Settings()
    try:
        if (name is None) != (uri is None):
            raise InvalidInput("name" if name is None else "uri", "give --name and --uri together")
        canonical = canonical_issuer_id(uri) if uri is not None else None
        chain = connect(settings, rpc)
        admin = _operator(settings, chain, "admin", keystore, wait)
        if name is None or canonical is None:
            err.print(
                f"warning: {address} gets the accreditation-body role without a name: verify and audit reports "
                "will show it as a bare address. Give --name and --uri to name it.",
                highlight=False,
            )
            call = chain.writes.grant_accreditor_call(address)
            action, args = "grant_accreditor", {"account": str(to_checksum_address(address))}
            what = f"{address} is an accreditation body (unnamed)"
        else:
            call = chain.writes.appoint_accreditor_call(address, name, canonical)
            action = "appoint_accreditor"
            args = {"account": str(to_checksum_address(address)), "name": name, "uri": canonical}
            spelled = f" (given as {uri!r})" if canonical != uri else ""
            what = f"{address} is accreditation body {name} ({canonical}){spelled}"
        row = _recorded(settings, chain, admin, action, call, args, wait) if call is not None else None
    except RegistryError as exc:
        _fail(exc)
    out.print(what + (f" ({_how(row)})" if row is not None else " already"), highlight=False)


def _operator(settings: Settings, chain: Any, role: str, keystore: Path | None, wait: float) -> Any:
    """The operator's key, once its interrupted directory changes on this registry are finished
    (a command killed after sending its transaction is completed by running it again)."""
    from registry.cli.output import err
    from registry.service.directory import resume

    account = _signer(settings, chain.reads.chain_id(), role, keystore)
    for row in resume(settings, chain, account, timeout=wait):
        done = f"{row.state}" + (f": {row.last_error}" if row.state != "done" and row.last_error else "")
        err.print(f"finished the interrupted directory change {row.id} ({row.action}): {done}", highlight=False)
    return account


def _recorded(
    settings: Settings, chain: Any, account: Any, action: str, call: Any, args: dict[str, Any], wait: float
) -> Any:
    """Send a directory change through the recorded pipeline; a failed one raises its error."""
    from registry.errors import TransactionFailed
    from registry.service.directory import change_directory

    row = change_directory(settings, chain, account, action, call, args, timeout=wait)
    if row.state != "done":
        raise TransactionFailed(f"directory change {row.id}", row.last_error or row.state)
    return row


def _how(row: Any) -> str:
    """How a done directory change got there: its transaction, or adopted from the chain."""
    return f"tx {row.tx_hash}" if row.tx_hash else "already on chain"


WaitOption = Annotated[
    float,
    typer.Option(
        "--wait",
        help="seconds to wait for the transaction's confirmations; the change stays recorded after that "
        "(run the command again, or `registry directory resume`)",
    ),
]


def _check_lookalikes(existing: list[Any], name: str, uri: str, *, allow: bool) -> None:
    """Warn about directory entries the new one would look like; refuse unless ``allow``."""
    from registry.cli.output import err
    from registry.core.lookalike import DirectoryName, lookalikes_of
    from registry.errors import InvalidInput

    if any(e.uri == uri for e in existing):
        return  # an exact duplicate: the contract refuses it with its own error
    entries = {e.issuer_id: e for e in existing}
    hits = lookalikes_of(DirectoryName(0, name, uri), (DirectoryName(e.issuer_id, e.name, e.uri) for e in existing))
    if not hits:
        return
    for hit in hits:
        others = [entries[i] for i in hit.issuer_ids if i in entries]
        like = ", ".join(f"issuer {e.issuer_id} “{e.name}” ({e.uri})" for e in others)
        what = f"looks like {like}" if like else "mixes scripts"
        reasons = ", ".join(hit.reasons)
        err.print(f"warning: “{name}” ({uri}) {what} [{reasons}]: {hit.explanation}", markup=False, highlight=False)
    if not allow:
        raise InvalidInput(
            "uri",
            f"“{name}” ({uri}) could be taken for another issuer (see the warning above); "
            "check it is a distinct issuer, then pass --allow-lookalike to admit it anyway",
        )


@issuer_app.command("admit")
def issuer_admit(
    name: str,
    uri: Annotated[str, typer.Argument(help="DID, domain or https URL (admitted as its canonical DID)")],
    key: Annotated[str, typer.Argument(help="the issuer's anchoring key address")],
    rpc: RpcOption = None,
    keystore: Annotated[Path | None, typer.Option(help="accreditation body's keystore")] = None,
    allow_lookalike: Annotated[
        bool, typer.Option("--allow-lookalike", help="admit even if it looks like an existing entry")
    ] = False,
    wait: WaitOption = 600.0,
) -> None:
    """Admit an issuer (as an accreditation body).

    Refused (exit 3) when the entry would look like an existing one or mixes scripts (UTS #39),
    unless ``--allow-lookalike`` is given; the warning names the entries and the reason. The
    transaction is recorded before it is sent, like `registry accreditor`'s.
    """
    from eth_utils import to_checksum_address

    from registry.chain.admin import connect
    from registry.core.identity import canonical_issuer_id

    settings = Settings()
    try:
        canonical = canonical_issuer_id(uri)
        chain = connect(settings, rpc)
        _check_lookalikes(chain.reads.all_issuers(), name, canonical, allow=allow_lookalike)
        accreditor = _operator(settings, chain, "accreditor", keystore, wait)
        call = chain.writes.admit_issuer_call(name, canonical, key)
        how = "already"
        if isinstance(call, int):
            issuer_id = call
        else:
            args = {"name": name, "uri": canonical, "key": to_checksum_address(key)}
            row = _recorded(settings, chain, accreditor, "admit_issuer", call, args, wait)
            issuer_id, how = int(json.loads(row.outcome or "{}").get("issuerId", 0)), _how(row)
    except RegistryError as exc:
        _fail(exc)
    spelled = f" (given as {uri!r})" if canonical != uri else ""
    out.print(f"issuer {issuer_id} admitted: {name} ({canonical}){spelled} key {key} ({how})")


def _issuer_change(
    issuer_id: int, action: str, call: Any, args: dict[str, Any], rpc: str | None, keystore: Path | None, wait: float
) -> tuple[Any, Any]:
    """An accreditation body's recorded change of issuer ``issuer_id``: (issuer entry before, row)."""
    from registry.chain.admin import connect
    from registry.errors import InvalidInput

    settings = Settings()
    chain = connect(settings, rpc)
    entry = chain.reads.issuers([issuer_id])[issuer_id]
    if not entry.uri:
        raise InvalidInput("issuer", f"no issuer {issuer_id} in the directory (see `registry issuer list`)")
    accreditor = _operator(settings, chain, "accreditor", keystore, wait)
    return entry, _recorded(settings, chain, accreditor, action, call, {"issuerId": issuer_id, **args}, wait)


IssuerIdArg = Annotated[int, typer.Argument(min=1, help="the issuer's id in the directory (`registry issuer list`)")]
AccreditorKeystore = Annotated[Path | None, typer.Option(help="accreditation body's keystore")]


def _suspension(issuer_id: int, suspend: bool, rpc: str | None, keystore: Path | None, wait: float) -> None:
    from registry.chain import calls

    action, call = (
        ("suspend_issuer", calls.suspend_issuer(issuer_id))
        if suspend
        else ("reinstate_issuer", calls.reinstate_issuer(issuer_id))
    )
    try:
        entry, row = _issuer_change(issuer_id, action, call, {}, rpc, keystore, wait)
    except RegistryError as exc:
        _fail(exc)
    done = "suspended" if suspend else "reinstated"
    out.print(f"issuer {issuer_id} ({entry.name}) {done} ({_how(row)})", highlight=False)


@issuer_app.command("suspend")
def issuer_suspend(
    issuer_id: IssuerIdArg, rpc: RpcOption = None, keystore: AccreditorKeystore = None, wait: WaitOption = 600.0
) -> None:
    """Suspend an issuer (as an accreditation body): its keys can no longer anchor until it is
    reinstated. Recorded before it is sent."""
    _suspension(issuer_id, True, rpc, keystore, wait)


@issuer_app.command("reinstate")
def issuer_reinstate(
    issuer_id: IssuerIdArg, rpc: RpcOption = None, keystore: AccreditorKeystore = None, wait: WaitOption = 600.0
) -> None:
    """Reinstate a suspended issuer (as an accreditation body). Recorded before it is sent."""
    _suspension(issuer_id, False, rpc, keystore, wait)


@issuer_app.command("assign-key")
def issuer_assign_key(
    issuer_id: IssuerIdArg,
    key: Annotated[str, typer.Argument(help="the issuer's new anchoring key address")],
    rpc: RpcOption = None,
    keystore: AccreditorKeystore = None,
    wait: WaitOption = 600.0,
) -> None:
    """Give an issuer a new anchoring key (as an accreditation body, e.g. after the old one was
    lost): the old one is retired. Recorded before it is sent."""
    from eth_utils import to_checksum_address

    from registry.chain import calls
    from registry.errors import InvalidInput

    try:
        try:
            new = str(to_checksum_address(key))
        except ValueError as exc:
            raise InvalidInput("key", f"{key!r} is not an address") from exc
        call = calls.assign_key(issuer_id, new)
        entry, row = _issuer_change(issuer_id, "assign_key", call, {"key": new}, rpc, keystore, wait)
    except RegistryError as exc:
        _fail(exc)
    out.print(f"issuer {issuer_id} ({entry.name}) anchors with {new} from now on ({_how(row)})", highlight=False)


@issuer_app.command("declare-compromise")
def issuer_declare_compromise(
    key: Annotated[str, typer.Argument(help="the compromised anchoring key address")],
    since: Annotated[
        str,
        typer.Option(help="from when: ISO 8601 date or time (UTC if no offset), or unix seconds; not in the future"),
    ],
    rpc: RpcOption = None,
    keystore: AccreditorKeystore = None,
    wait: WaitOption = 600.0,
) -> None:
    """Declare an anchoring key compromised from SINCE (as an accreditation body): verifiers
    report batches it anchored from then on as INVALID. A declared time can only move earlier.
    Recorded before it is sent."""
    from datetime import UTC, datetime

    from eth_utils import to_checksum_address

    from registry.chain import calls
    from registry.chain.admin import connect
    from registry.errors import InvalidInput

    settings = Settings()
    try:
        try:
            address = str(to_checksum_address(key))
        except ValueError as exc:
            raise InvalidInput("key", f"{key!r} is not an address") from exc
        try:
            moment = datetime.fromtimestamp(int(since), UTC) if since.isdigit() else datetime.fromisoformat(since)
        except (ValueError, OverflowError) as exc:
            raise InvalidInput("since", f"{since!r} is neither an ISO 8601 date or time nor unix seconds") from exc
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if moment > datetime.now(UTC):
            raise InvalidInput("since", f"{moment.isoformat()} is in the future")
        at = int(moment.timestamp())
        chain = connect(settings, rpc)
        if not chain.reads.keys_by_address([address])[address].issuer_id:
            raise InvalidInput("key", f"{address} is no issuer's anchoring key")
        accreditor = _operator(settings, chain, "accreditor", keystore, wait)
        call = calls.declare_key_compromised(address, at)
        row = _recorded(
            settings, chain, accreditor, "declare_key_compromised", call, {"key": address, "since": at}, wait
        )
    except RegistryError as exc:
        _fail(exc)
    out.print(f"{address} is compromised since {moment.isoformat()} ({_how(row)})", highlight=False)


# -- recorded directory changes ------------------------------------------------------------

directory_app = typer.Typer(
    help="The operators' directory changes, recorded before they are sent.", no_args_is_help=True
)
commands.add_typer(directory_app, name="directory")


@directory_app.command("list")
def directory_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(min=1, help="how many, newest first")] = 50,
) -> None:
    """The recorded directory changes (appointments, admissions), newest first, with their state."""
    from registry.service.directory import all_changes, store_engine

    try:
        rows = all_changes(store_engine(Settings()), limit=limit)
    except RegistryError as exc:
        _fail(exc)
    data = [
        {
            "id": r.id,
            "action": r.action,
            "sender": r.sender,
            "chainId": r.chain_id,
            "registry": r.registry_address,
            "args": json.loads(r.args),
            "state": r.state,
            "tx": r.tx_hash,
            "outcome": json.loads(r.outcome) if r.outcome else None,
            "error": r.last_error,
            "created": r.created_at.isoformat(),
        }
        for r in rows
    ]
    if as_json:
        out.print_json(data=data)
        return
    table = Table("id", "action", "sender", "state", "tx", "error")
    for d in data:
        table.add_row(
            str(d["id"]), str(d["action"]), str(d["sender"]), str(d["state"]), str(d["tx"] or ""), str(d["error"] or "")
        )
    out.print(table)


@directory_app.command("resume")
def directory_resume(
    role: Annotated[str, typer.Option(help="whose open changes: admin or accreditor")] = "accreditor",
    rpc: RpcOption = None,
    keystore: Annotated[Path | None, typer.Option(help="the operator's keystore")] = None,
    wait: WaitOption = 600.0,
) -> None:
    """Finish this operator's open directory changes (after a crash or an interrupted command)."""
    from registry.chain.admin import connect
    from registry.errors import InvalidInput
    from registry.service.directory import resume

    settings = Settings()
    try:
        if role not in ("admin", "accreditor"):
            raise InvalidInput("role", "admin or accreditor")
        chain = connect(settings, rpc)
        account = _signer(settings, chain.reads.chain_id(), role, keystore)
        rows = resume(settings, chain, account, timeout=wait)
    except RegistryError as exc:
        _fail(exc)
    if not rows:
        out.print(f"no open directory change of {account.address}")
    for r in rows:
        out.print(
            f"directory change {r.id} ({r.action}): {r.state}" + (f": {r.last_error}" if r.last_error else ""),
            highlight=False,
        )
    if any(r.state != "done" for r in rows):
        raise typer.Exit(5)
