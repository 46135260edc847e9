"""`registry certificate`: write the printable certificate (PDF) of a credential file.

Input: a credential file (JSON) or a baked badge (PNG, SVG). The PDF is a readable copy for
printing; what verifies is the file (:mod:`registry.issue.certificate` renders it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.output import LangOption, fail, out
from registry.errors import ConfigError, RegistryError

__all__ = ["commands"]

commands = typer.Typer()


@commands.command("certificate")
def certificate(
    file: Annotated[Path, typer.Argument(help="credential file (JSON) or baked badge (PNG, SVG)")],
    output: Annotated[Path, typer.Option("--out", "-o", help="where to write the PDF")],
    paper: Annotated[str, typer.Option(help="a4 or letter (landscape)")] = "a4",
    share_url: Annotated[
        str | None,
        typer.Option(help="the credential's share page: printed and encoded in a QR code (none: no QR code)"),
    ] = None,
    verify_url: Annotated[str | None, typer.Option(help="a verifier page to name in the instructions")] = None,
    lang: LangOption = None,
) -> None:
    """Write a printable certificate (PDF, landscape) of a credential file or baked badge."""
    from registry.core.baking import extract_if_baked
    from registry.issue.certificate import render_certificate
    from registry.locales import from_environment

    try:
        data = extract_if_baked(file.read_bytes())
        pdf = render_certificate(
            data, paper=paper.lower(), share_url=share_url, verify_url=verify_url, lang=from_environment(lang)
        )
        output.write_bytes(pdf)
    except OSError as exc:
        fail(ConfigError(f"cannot read {file} or write {output}: {exc.strerror or exc}"))
    except RegistryError as exc:
        fail(exc)
    out.print(f"wrote {output} ({len(pdf)} bytes)", highlight=False)
