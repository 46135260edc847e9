"""The ``registry`` command line: a thin layer that parses, calls the library, maps errors.

One Typer app assembled from one module per command group. Exit codes: 0 success / VALID,
1 INVALID, 2 INDETERMINATE; errors exit with their class's code (:mod:`registry.errors`):
3 usage or configuration error, 4 chain unavailable, 5 other registry error.
"""

from __future__ import annotations

import typer

from registry import gctuning
from registry.cli import audit, certificate, chain, issue, lineage, page, pathway, resign, service, trust, verify

__all__ = ["app", "main"]

app = typer.Typer(
    name="registry",
    help="Blockchain-anchored credential registry: issue, anchor, verify and audit micro-credentials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(chain.commands)
app.add_typer(verify.commands)
app.add_typer(trust.commands)
app.add_typer(page.commands)
app.add_typer(certificate.commands)
app.add_typer(pathway.commands)
issue.register(app)
service.register(app)
lineage.register(app)
resign.register(app)
audit.register(app)


def main() -> None:  # pragma: no cover - console entry point
    gctuning.tune()  # after the imports: what they left alive is frozen
    app()
