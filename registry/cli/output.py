"""What every `registry` sub-command module shares: the consoles and the one error-to-exit mapper.

Exit codes come from the error classes (``RegistryError.exit_code``, the table in
:mod:`registry.errors`): 3 usage or configuration error, 4 chain unavailable, 5 any other
registry error; 0/1/2 are reserved for VALID/INVALID/INDETERMINATE and success.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console

from registry.errors import RegistryError

__all__ = ["LangOption", "RpcOption", "RpcsOption", "err", "exit_code", "fail", "out"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

RpcOption = Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint (default: the network profile's)")]
RpcsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--rpc",
        metavar="URL",
        help="JSON-RPC endpoint; repeat it for a second opinion: every RPC is read at one block and all must "
        "agree, else INDETERMINATE (default: the file's chain in networks.json)",
    ),
]

LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang",
        metavar="LANG",
        help="language of the text for a person: en or es (default: REGISTRY_LANG, else LANG, else en); "
        "never changes --json or CSV output",
    ),
]


def exit_code(exc: Exception) -> int:
    """The exit code of ``exc`` (5 for anything that is not a :class:`RegistryError`)."""
    return exc.exit_code if isinstance(exc, RegistryError) else RegistryError.exit_code


def fail(exc: Exception) -> NoReturn:
    """Print ``exc`` for a person and exit with its code."""
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(exit_code(exc))
