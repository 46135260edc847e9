"""`registry pathway`: pathway definitions (stackable credentials) and their anchors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from registry.cli.output import fail as _fail
from registry.cli.output import out
from registry.errors import ConfigError, RegistryError

commands = typer.Typer()
pathway_app = typer.Typer(
    help="Pathways: stacks of credentials toward a qualification (docs/pathways.md).", no_args_is_help=True
)
commands.add_typer(pathway_app, name="pathway")


def _load(path: Path) -> object:
    from registry.core.pathway import load_pathway

    try:
        return load_pathway(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


@pathway_app.command("check")
def check(file: Annotated[Path, typer.Argument(help="a pathway definition (JSON)")]) -> None:
    """Check a pathway definition (schema, rules that can never be met, ambiguities) and print its
    digest: what `registry pathway publish` anchors."""
    from registry.core.pathway import Pathway, pathway_digest

    try:
        pathway = _load(file)
    except RegistryError as exc:
        _fail(exc)
        return
    assert isinstance(pathway, Pathway)
    out.print(f"{pathway.id} version {pathway.version}: {pathway.name}, owner {pathway.owner}")
    out.print(f"digest 0x{pathway_digest(pathway).hex()}")


@pathway_app.command("publish")
def publish(
    file: Annotated[Path, typer.Argument(help="a pathway definition (JSON)")],
    rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint")] = None,
    keystore: Annotated[Path | None, typer.Option(help="the owner's encrypted keystore")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the anchor as JSON")] = False,
) -> None:
    """Anchor a pathway's digest with its owner's key (one transaction; nothing is sent when this
    version is already anchored). Verifiers then know the rule is the owner's, and since when."""
    from registry.chain.admin import connect
    from registry.chain.keys import load_signer
    from registry.config import Settings
    from registry.core.pathway import Pathway
    from registry.issue.pathway import publish_pathway

    try:
        pathway = _load(file)
        assert isinstance(pathway, Pathway)
        chain = connect(Settings(), rpc)
        key = load_signer(chain.reads.chain_id(), role="issuer", keystore=keystore)
        done = publish_pathway(chain, key, pathway)
    except RegistryError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps({**done.__dict__, "registry": chain.registry_address}))
    elif done.tx_hash is None:
        out.print(f"{pathway.id} version {pathway.version} was already anchored in block {done.block} ({done.digest})")
    else:
        out.print(
            f"{pathway.id} version {pathway.version} anchored in block {done.block} (tx {done.tx_hash}); "
            f"digest {done.digest}"
        )
