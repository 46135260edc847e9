"""What every `registry` sub-command module shares: the consoles and the error-to-exit-code map.

Exit codes: 3 usage or configuration error, 4 chain unavailable, 5 any other registry error
(0/1/2 are reserved for VALID/INVALID/INDETERMINATE and success).
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from registry.errors import ChainUnavailable, ConfigError, InvalidInput

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(exc: Exception) -> NoReturn:
    """Print ``exc`` for a person and exit with its code."""
    if isinstance(exc, ConfigError | InvalidInput):
        code = 3
    elif isinstance(exc, ChainUnavailable):
        code = 4
    else:
        code = 5
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(code)
