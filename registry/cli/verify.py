"""`registry verify` and `registry redact`: what an employer and a learner run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from registry.cli.output import RpcsOption, out
from registry.cli.output import fail as _fail
from registry.config import Settings
from registry.errors import ConfigError, InvalidInput, RegistryError

commands = typer.Typer()

# -- verify and redact ---------------------------------------------------------------------


def _local_trust(settings: Settings) -> dict[int, dict[str, str]]:
    """The trust anchors, plus the registries this project folder deployed (its deployments file)."""
    from registry.chain.networks import trust_anchors

    trusted = trust_anchors()
    path = settings.deployments_file
    if path.exists():
        for chain_id, record in json.loads(path.read_text()).items():
            trusted.setdefault(int(chain_id), {}).setdefault(record["address"].lower(), f"the deployments file {path}")
    return trusted


@commands.command()
def verify(
    files: Annotated[list[Path], typer.Argument(help="credential files (JSON, baked PNG or SVG)")],
    rpc: RpcsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the reports as JSON")] = False,
    offline: Annotated[bool, typer.Option(help="only format, integrity and inclusion; no chain")] = False,
    confirmations: Annotated[int, typer.Option(min=1, help="confirmations required")] = 1,
    timeout: Annotated[float, typer.Option(help="RPC timeout in seconds")] = 10.0,
) -> None:
    """Verify credential files against the chain alone. Exit 0 VALID, 1 INVALID, 2 INDETERMINATE."""
    from registry.verify import Verdict, VerificationPolicy, verify_files

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        _fail(ConfigError(f"no such file: {', '.join(missing)}"))
    settings = Settings()
    try:
        policy = VerificationPolicy(trusted=_local_trust(settings), min_confirmations=confirmations, offline=offline)
        reports = verify_files(files, policy, rpc_urls=rpc or (), timeout=timeout)
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
    agreed = report.check("anchor").details if cred else {}
    if "rpcs" in agreed:
        out.print(
            f"  second opinion: {len(agreed['rpcs'])} RPCs agree at block {agreed['agreedBlock']} "
            f"({', '.join(agreed['rpcs'])})",
            highlight=False,
        )
    if report.hidden_fields or report.redacted_field_count:
        shown = ", ".join(report.hidden_fields) or "(paths not stated)"
        out.print(
            f"  hidden by the holder: {report.redacted_field_count} field(s): {shown}",
            highlight=False,
        )
    if report.offline:
        out.print("  [yellow]offline: anchoring, issuer and revocation were NOT checked[/]")


@commands.command()
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
