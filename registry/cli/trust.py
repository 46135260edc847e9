"""`registry trust add|remove|list`: the registries an employer's verifier believes.

A file anchored in any other registry is never VALID. The list lives in the user's
``networks.json`` (``registries`` per chain id), beside the registries the package ships.
"""

from __future__ import annotations

from typing import Annotated

import typer

from registry.cli.output import fail, out
from registry.errors import RegistryError

commands = typer.Typer()
trust_app = typer.Typer(help="The registries your verifier trusts (networks.json).", no_args_is_help=True)
commands.add_typer(trust_app, name="trust")

ChainId = Annotated[int, typer.Argument(min=1, help="chain id (31337 local, 11155111 Sepolia, ...)")]
Address = Annotated[str, typer.Argument(help="registry contract address")]


@trust_app.command("add")
def trust_add(chain_id: ChainId, address: Address) -> None:
    """Trust a registry: files it anchored can be VALID."""
    from registry.chain.networks import add_trusted_registry, networks_file

    try:
        added = add_trusted_registry(chain_id, address)
    except RegistryError as exc:
        fail(exc)
    state = "now trusted" if added else "already trusted"
    out.print(f"registry {address} on chain {chain_id} {state} ({networks_file()})", highlight=False)


@trust_app.command("remove")
def trust_remove(chain_id: ChainId, address: Address) -> None:
    """Stop trusting a registry listed in networks.json."""
    from registry.chain.networks import networks_file, remove_trusted_registry

    try:
        removed = remove_trusted_registry(chain_id, address)
    except RegistryError as exc:
        fail(exc)
    state = "no longer trusted" if removed else f"was not listed in {networks_file()}"
    out.print(f"registry {address} on chain {chain_id} {state}", highlight=False)


@trust_app.command("list")
def trust_list() -> None:
    """Every trusted registry and the source that trusts it."""
    from registry.chain.networks import trust_anchors

    try:
        anchors = trust_anchors()
    except RegistryError as exc:
        fail(exc)
    rows = [(c, a, s) for c in sorted(anchors) for a, s in sorted(anchors[c].items())]
    if not rows:
        out.print("no trusted registries: `registry trust add CHAIN_ID ADDRESS`", highlight=False)
    for chain_id, address, source in rows:
        out.print(f"chain {chain_id}  {address}  trusted via {source}", highlight=False)
