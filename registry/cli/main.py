"""The ``registry`` command line: a thin layer that parses, calls the library, maps errors.

Exit codes: 0 success / VALID, 1 INVALID, 2 INDETERMINATE, 3 usage or configuration error,
4 chain unavailable, 5 other registry error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from registry.cli.output import fail as _fail
from registry.cli.output import out
from registry.config import Settings
from registry.errors import ConfigError, InvalidInput, RegistryError

app = typer.Typer(
    name="registry",
    help="Blockchain-anchored credential registry: issue, anchor, verify and audit micro-credentials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
chain_app = typer.Typer(help="Run the local development chain (anvil with persistent state).", no_args_is_help=True)
issuer_app = typer.Typer(help="The issuer directory on chain.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
app.add_typer(issuer_app, name="issuer")


def _settings() -> Settings:
    return Settings()


RpcOption = Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint (default: the network profile's)")]


# -- chain ---------------------------------------------------------------------------------


def _local_chain(settings: Settings) -> Any:
    from registry.chain.local import LocalChain

    return LocalChain(settings.data_dir)


@chain_app.command("up")
def chain_up() -> None:
    """Start anvil on 127.0.0.1:8545 with its state in the data directory (idempotent)."""
    settings = _settings()
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
    stopped = _local_chain(_settings()).down()
    out.print("local chain stopped (state kept)" if stopped else "local chain was not running")


@chain_app.command("status")
def chain_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Whether the local chain runs, at which block."""
    status = _local_chain(_settings()).status()
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


@app.command()
def deploy(
    rpc: RpcOption = None,
    force: Annotated[bool, typer.Option(help="replace an existing deployment on this chain")] = False,
    keystore: Annotated[Path | None, typer.Option(help="encrypted keystore of the deployer")] = None,
) -> None:
    """Deploy the CredentialRegistry contract and record it in the deployments file."""
    from registry.chain.client import ChainClient
    from registry.chain.ops import deploy_registry

    settings = _settings()
    try:
        client = ChainClient(rpc or settings.rpc)
        account = _signer(settings, client.chain_id(), "admin", keystore)
        record = deploy_registry(settings, client, account, force=force)
    except RegistryError as exc:
        _fail(exc)
    out.print_json(data=record)


@issuer_app.command("list")
def issuer_list(rpc: RpcOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The issuer directory, read from the chain."""
    from registry.chain.ops import connect

    settings = _settings()
    try:
        issuers = connect(settings, rpc).all_issuers()
    except RegistryError as exc:
        _fail(exc)
    rows = [
        {
            "id": i.issuer_id,
            "name": i.name,
            "did": i.did,
            "accreditedBy": i.admitted_by,
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
            str(r["accreditedBy"]),
            str(r["activeKey"]),
            "suspended" if r["suspended"] else "active",
        )
    out.print(table)


@app.command("accreditor")
def accreditor_grant(
    address: Annotated[str, typer.Argument(help="accreditation body address to grant the role to")],
    rpc: RpcOption = None,
    keystore: Annotated[Path | None, typer.Option(help="registry admin's keystore")] = None,
) -> None:
    """Grant the accreditation-body role (as the registry admin)."""
    from registry.chain.ops import connect, grant_accreditor

    settings = _settings()
    try:
        client = connect(settings, rpc)
        admin = _signer(settings, client.chain_id(), "admin", keystore)
        result = grant_accreditor(client, admin, address)
    except RegistryError as exc:
        _fail(exc)
    out.print(f"{address} is an accreditation body" + (f" (tx {result.tx_hash})" if result else " already"))


@issuer_app.command("admit")
def issuer_admit(
    name: str,
    uri: Annotated[str, typer.Argument(help="domain or DID, e.g. did:web:uni.example")],
    key: Annotated[str, typer.Argument(help="the issuer's anchoring key address")],
    rpc: RpcOption = None,
    keystore: Annotated[Path | None, typer.Option(help="accreditation body's keystore")] = None,
) -> None:
    """Admit an issuer (as an accreditation body)."""
    from registry.chain.ops import admit_issuer, connect

    settings = _settings()
    try:
        client = connect(settings, rpc)
        accreditor = _signer(settings, client.chain_id(), "accreditor", keystore)
        issuer_id = admit_issuer(client, accreditor, name, uri, key)
    except RegistryError as exc:
        _fail(exc)
    out.print(f"issuer {issuer_id} admitted: {name} ({uri}) key {key}")


# -- verify and redact ---------------------------------------------------------------------


def _local_trust(settings: Settings) -> dict[int, set[str]]:
    from registry.chain.networks import trusted_registries

    trusted = trusted_registries()
    path = settings.deployments_file
    if path.exists():
        for chain_id, record in json.loads(path.read_text()).items():
            trusted.setdefault(int(chain_id), set()).add(record["address"].lower())
    return trusted


@app.command()
def verify(
    files: Annotated[list[Path], typer.Argument(help="credential files (JSON, baked PNG or SVG)")],
    rpc: RpcOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the reports as JSON")] = False,
    offline: Annotated[bool, typer.Option(help="only format, integrity and inclusion; no chain")] = False,
    confirmations: Annotated[int, typer.Option(min=1, help="confirmations required")] = 1,
    timeout: Annotated[float, typer.Option(help="RPC timeout in seconds")] = 10.0,
) -> None:
    """Verify credential files against the chain alone. Exit 0 VALID, 1 INVALID, 2 INDETERMINATE."""
    from registry.verify.verifier import Verdict, verify_files

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        _fail(ConfigError(f"no such file: {', '.join(missing)}"))
    settings = _settings()
    try:
        reports = verify_files(
            files,
            rpc_url=rpc,
            offline=offline,
            min_confirmations=confirmations,
            timeout=timeout,
            trusted=_local_trust(settings),
        )
    except RegistryError as exc:
        _fail(exc)
    if as_json:
        payload = [r.model_dump(mode="json") for r in reports]
        sys.stdout.write(json.dumps(payload if len(payload) > 1 else payload[0], indent=2) + "\n")
    else:
        for report in reports:
            _print_report(report)
    worst = max(
        (r.verdict for r in reports),
        key=lambda v: {"VALID": 0, "INDETERMINATE": 1, "INVALID": 2}[v.value],
    )
    raise typer.Exit(Verdict(worst).exit_code)


def _print_report(report: Any) -> None:
    colour = {"VALID": "green", "INVALID": "red", "INDETERMINATE": "yellow"}[report.verdict.value]
    cred = report.credential
    out.print(f"[bold]{report.source}[/]: [bold {colour}]{report.verdict.value}[/]", highlight=False)
    if cred:
        out.print(
            f"  {cred.get('achievement') or cred.get('name')} — issued by "
            f"{cred.get('issuerName')} ({cred.get('issuerId')})",
            highlight=False,
        )
    marks = {"pass": "[green]✔[/]", "fail": "[red]✘[/]", "indeterminate": "[yellow]?[/]"}
    for check in report.checks:
        out.print(f"  {marks[check.status.value]} {check.name:<10} {check.reason}", highlight=False)
    if report.hidden_fields or report.redacted_field_count:
        shown = ", ".join(report.hidden_fields) or "(paths not stated)"
        out.print(
            f"  hidden by the holder: {report.redacted_field_count} field(s): {shown}",
            highlight=False,
        )
    if report.offline:
        out.print("  [yellow]offline: anchoring, issuer and revocation were NOT checked[/]")


@app.command()
def redact(
    file: Path,
    hide: Annotated[list[str], typer.Option("--hide", help="JSON pointer of a field to hide (repeatable)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the redacted file")],
) -> None:
    """Selective disclosure: hide fields (e.g. /credentialSubject/result); the file still verifies."""
    from registry.core.credfile import redact as do_redact

    if output.exists() and output.resolve() == file.resolve():
        _fail(ConfigError("refusing to overwrite the original file; choose another --output"))
    try:
        data = json.loads(file.read_text())
        redacted = do_redact(data, hide)
    except json.JSONDecodeError as exc:
        _fail(InvalidInput(str(file), f"not JSON: {exc}"))
    except (OSError, RegistryError) as exc:
        _fail(exc if isinstance(exc, RegistryError) else ConfigError(str(exc)))
    output.write_text(json.dumps(redacted, indent=2, ensure_ascii=False) + "\n")
    out.print(f"wrote {output}: hidden {', '.join(hide)}")


def _register_extensions() -> None:
    """Commands of the service (`serve`, `worker`, `db`) and the auditor (`audit`)."""
    import importlib

    for module in ("registry.cli.issue", "registry.cli.service", "registry.cli.audit"):
        try:
            ext = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        ext.register(app)


_register_extensions()


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
