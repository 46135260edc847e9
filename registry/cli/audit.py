"""``registry audit``: the auditor's command (registered into the main CLI by :func:`register`).

Exit codes: 0 no critical finding, 1 at least one critical finding, 3 usage, configuration or
unknown-issuer error; other errors exit with their class's code (:func:`registry.cli.output.fail`:
4 chain unavailable, 5 other registry error).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from registry.cli.output import err, fail
from registry.errors import ConfigError, InvalidInput, RegistryError

__all__ = ["register", "resolve_target"]

_H = {
    "rpc": "JSON-RPC endpoint (default: the network profile's)",
    "registry": "registry contract address (default: the recorded deployment)",
    "issuer": "only this issuer: id, DID or any of its key addresses",
    "db": "issuer service database URL to reconcile with",
    "files": "directory of credential files to verify a sample of",
    "format": "table, json, csv or html",
    "out": "write the report to this file",
    "cache": "the auditor's cache database URL (default: <data dir>/audit.sqlite)",
    "from": "first block to read (default: the deployment block)",
    "sources": "checkout holding contracts/ for the bytecode check",
    "sample": "how many credential files to verify",
    "code": "compare the deployed bytecode with contracts/",
    "page": "initial eth_getLogs page, in blocks",
    "lookalikes": "instead of the audit: list other registries on the chain whose directory names (or resembles) "
    "an identity of this registry's issuers (scans IssuerAdmitted logs of every contract in the block range)",
    "to": "last block to read (default: the head)",
    "pathway": "a pathway definition (JSON) whose publication the report labels as such; repeatable "
    "(the issuer's database labels its own)",
}


def resolve_target(settings: Any, rpc: str | None, registry: str | None, from_block: int | None) -> tuple[Any, int]:
    """A chain client bound to the audited registry, and the block to read from.

    Defaults come from the local deployments file for the RPC's chain (address and the
    deployment block); an explicit ``--registry`` that is not the recorded one starts at
    ``--from-block`` or block 0.
    """
    from registry.chain.adapter import Chain
    from registry.config import load_deployment
    from registry.errors import DeploymentError

    client = Chain(rpc or settings.rpc)
    try:
        deployment: dict[str, Any] | None = load_deployment(settings, client.reads.chain_id())
    except DeploymentError:
        deployment = None
    address = registry or (deployment or {}).get("address")
    if not address:
        raise ConfigError(
            f"no registry address: pass --registry ADDR (nothing recorded for chain {client.reads.chain_id()} "
            f"in {settings.deployments_file})"
        )
    client.registry_address = address
    start = from_block
    if start is None:
        recorded = deployment if deployment and str(deployment.get("address", "")).lower() == address.lower() else None
        start = int(recorded["block"]) if recorded and recorded.get("block") is not None else 0
    return client, start


def _print_table(report: Any, console: Console) -> None:
    from registry.audit.render import render_lineages
    from registry.audit.report import Severity

    published = sum(1 for b in report.batches if b.pathway)
    console.print(
        f"[bold]Audit of registry {report.registry}[/] on chain {report.chain_id}, blocks "
        f"{report.from_block}-{report.to_block}: {report.events} events "
        f"({report.new_events} new), {len(report.issuers)} issuers, {len(report.batches)} batches"
        + (f" ({published} of them publishing a pathway)" if published else ""),
        highlight=False,
    )
    issuers = Table("id", "issuer", "batches", "credentials", "revoked", "keys", "status", title="Issuers")
    for i in report.issuers:
        status = "suspended" if i.suspended_at else "active"
        revoked = f"{i.revoked_batches} batches, {i.revoked_credentials} credentials"
        if i.superseded_credentials:
            revoked += f", {i.superseded_credentials} superseded"
        issuers.add_row(
            str(i.issuer_id),
            f"{i.name} ({i.did})",
            str(i.batches),
            str(i.credentials),
            revoked,
            str(len(i.keys)),
            status,
        )
    console.print(issuers)
    if lineages := render_lineages(report):
        console.print("[bold]Lineages[/] (corrections and renewals)")
        console.print(lineages, end="", markup=False, highlight=False)
    if report.accreditors:
        bodies = Table("accreditation body", "address", "admitted issuers", "role", title="Accreditation bodies")
        for b in report.accreditors:
            named = f"{b.name} ({b.uri})" if b.name else "(unnamed: no directory entry)"
            role = "holds the role" if b.holds_role else "role revoked"
            bodies.add_row(named, b.address, ", ".join(f"#{i}" for i in b.issuers) or "-", role)
        console.print(bodies)
    colours = {Severity.CRITICAL: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}
    if report.findings:
        table = Table("severity", "code", "finding", title="Findings", show_lines=True)
        for f in report.findings:
            c = colours[f.severity]
            table.add_row(f"[bold {c}]{f.severity.value}[/]", f.code, f.message)
        console.print(table)
    skipped = "; ".join(f"{k}: {v}" for k, v in report.checks_skipped.items())
    console.print(
        f"checks run: {', '.join(report.checks_run)}" + (f" (not run: {skipped})" if skipped else ""), highlight=False
    )
    colour = "red" if report.critical else ("yellow" if report.findings else "green")
    console.print(f"[bold {colour}]{report.summary}[/]")


def _print_watch(report: Any, console: Console) -> None:
    console.print(
        f"[bold]Look-alike watch for registry {report.registry}[/] on chain {report.chain_id}, blocks "
        f"{report.from_block}-{report.to_block}: {report.scanned_logs} IssuerAdmitted logs, "
        f"{len(report.registries)} other registries",
        highlight=False,
    )
    for r in report.threats:
        console.print(
            f"\n[bold]registry {r.address}[/] (bytecode {r.code}, {r.admissions} admissions)", highlight=False
        )
        for i in r.impersonations:
            console.print(
                f"  entry #{i.entry_id} {i.name} ({i.uri}), admitted by {i.admitted_by} in block {i.block}\n"
                f"    names our issuer #{i.our_issuer_id} {i.our_issuer}: {i.match}",
                highlight=False,
                soft_wrap=True,
            )
    if report.threats:
        console.print(
            f"[bold red]other registries naming or resembling this registry's issuers: {len(report.threats)}[/]; "
            "verifiers that trust only this registry never call their files VALID; tell the issuers and "
            "their accreditation body.",
            highlight=False,
        )
    else:
        console.print("[bold green]no other registry names or resembles this registry's issuers[/]")


def _run_watch(
    settings: Any,
    rpc: str | None,
    registry: str | None,
    window: tuple[int | None, int | None],
    page_size: int,
    fmt: str,
    out: Path | None,
) -> None:
    import json

    from registry.audit.watch import watch_lookalikes

    if fmt not in ("table", "json"):
        fail(InvalidInput("", "--look-alikes writes a table or json"))
    try:
        client, deployed_at = resolve_target(settings, rpc, registry, window[0])
        report = watch_lookalikes(client.reads, deployed_at, window[1], page_size=page_size)
    except RegistryError as exc:
        fail(exc)
    if fmt == "json":
        text = json.dumps(report.to_json(), indent=2) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
    else:
        _print_watch(report, Console())
    raise typer.Exit(1 if report.threats else 0)


def _load_pathway(path: Path) -> Any:
    """A pathway definition given with ``--pathway`` (its publication is labelled in the report)."""
    from registry.core.pathway import InvalidPathway, load_pathway

    try:
        return load_pathway(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"--pathway {path}: {exc.strerror or exc}") from None
    except InvalidPathway as exc:
        raise ConfigError(f"--pathway {path} is not a pathway definition: {exc}") from None


def register(app: typer.Typer) -> None:
    """Add ``registry audit`` to the main command."""

    @app.command("audit")
    def audit_command(
        rpc: Annotated[str | None, typer.Option("--rpc", help=_H["rpc"])] = None,
        registry: Annotated[str | None, typer.Option("--registry", help=_H["registry"])] = None,
        issuer: Annotated[str | None, typer.Option("--issuer", help=_H["issuer"])] = None,
        db: Annotated[str | None, typer.Option("--db", help=_H["db"])] = None,
        files: Annotated[Path | None, typer.Option("--files", help=_H["files"])] = None,
        fmt: Annotated[str, typer.Option("--format", help=_H["format"])] = "table",
        out: Annotated[Path | None, typer.Option("--out", help=_H["out"])] = None,
        cache: Annotated[str | None, typer.Option("--cache", help=_H["cache"])] = None,
        from_block: Annotated[int | None, typer.Option("--from-block", min=0, help=_H["from"])] = None,
        sources: Annotated[Path | None, typer.Option("--sources", help=_H["sources"])] = None,
        sample: Annotated[int, typer.Option("--sample", min=1, help=_H["sample"])] = 100,
        code: Annotated[bool, typer.Option("--code/--no-code", help=_H["code"])] = True,
        page_size: Annotated[int, typer.Option("--page-size", min=1, help=_H["page"])] = 10_000,
        look_alikes: Annotated[bool, typer.Option("--look-alikes", help=_H["lookalikes"])] = False,
        to_block: Annotated[int | None, typer.Option("--to-block", min=0, help=_H["to"])] = None,
        pathway_files: Annotated[list[Path] | None, typer.Option("--pathway", help=_H["pathway"])] = None,
    ) -> None:
        """Audit the registry from the chain: timelines, findings, reconciliation. Exit 1 on a critical finding."""
        from registry.audit.auditor import Auditor
        from registry.audit.cache import AuditCache
        from registry.audit.render import FORMATS, render
        from registry.config import Settings

        if fmt not in FORMATS:
            fail(InvalidInput("", f"unknown --format {fmt!r}; choose {', '.join(FORMATS)}"))
        if files is not None and not files.is_dir():
            fail(ConfigError(f"--files {files} is not a directory"))
        settings = Settings()
        if look_alikes:
            _run_watch(settings, rpc, registry, (from_block, to_block), page_size, fmt, out)
        records = None
        try:
            pathways = [_load_pathway(p) for p in pathway_files or []]
            client, start = resolve_target(settings, rpc, registry, from_block)
            cache_url = cache or f"sqlite:///{settings.data_dir / 'audit.sqlite'}"
            store = AuditCache(cache_url)
            if db is not None:
                from registry.service.audit_records import open_issuer_records

                records = open_issuer_records(db)
            try:
                auditor = Auditor(client, store, from_block=start, page_size=page_size)
                report = auditor.run(
                    issuer=issuer,
                    records=records,
                    files=files,
                    sample_size=sample,
                    sources=sources,
                    check_bytecode=code,
                    pathways=pathways,
                )
            finally:
                store.close()
                if records is not None:
                    records.close()
        except RegistryError as exc:
            fail(exc)
        if fmt == "table" and out is None:
            _print_table(report, Console())
        else:
            if fmt == "table":
                capture = Console(file=io.StringIO(), width=160, color_system=None)
                _print_table(report, capture)
                text = capture.file.getvalue()  # type: ignore[attr-defined]
            else:
                text = render(report, fmt)
            if out is None:
                sys.stdout.write(text)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text, encoding="utf-8")
                _print_table(report, Console(stderr=True))
                err.print(f"{fmt} report written to {out.resolve()}", highlight=False)
        raise typer.Exit(1 if report.critical else 0)
