"""`registry verifier-page`: write the self-contained verifier page (one HTML file).

The page (built from ``web/verifier/`` by ``make setup`` into ``registry/artifacts/verifier.html``)
runs every check of :mod:`registry.verify` in the browser against the JSON-RPC URL the user gives;
it loads nothing else and works when opened from disk. This command pre-fills it with an RPC URL
and the registries this verifier trusts (``networks.json``, and a project folder's deployments),
in the reader's language (``--lang``; its words from the ``verifier`` domain of registry.locales).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.output import LangOption, RpcOption, fail, out
from registry.config import Settings
from registry.errors import ConfigError
from registry.locales import from_environment
from registry.verify.page import render_page

commands = typer.Typer()


@commands.command("verifier-page")
def verifier_page(
    output: Annotated[Path, typer.Option("--out", "-o", help="where to write the HTML file")],
    rpc: RpcOption = None,
    trust: Annotated[
        bool, typer.Option(help="pre-fill the registries you trust (networks.json, this folder's deployments)")
    ] = True,
    lang: LangOption = None,
) -> None:
    """Write the verifier page: one HTML file that checks credentials in the browser, offline but for the RPC."""
    from registry.cli.verify import _local_trust

    try:
        settings = Settings()
        html = render_page(
            rpc or settings.public_rpc(), _local_trust(settings) if trust else {}, lang=from_environment(lang)
        )
        output.write_text(html, "utf-8")
    except (ConfigError, OSError) as exc:
        fail(exc if isinstance(exc, ConfigError) else ConfigError(str(exc)))
    out.print(f"wrote {output}: open it in a browser (file:// works)", highlight=False)
