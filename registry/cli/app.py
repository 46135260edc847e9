"""The ``registry`` command line: a thin layer that parses, calls the library, maps errors.

One Typer app assembled from one module per command group, each imported only when one of its
commands runs (or ``--help`` lists them all): ``registry verify`` loads the verifier, not the
service, the auditor or the issuer's pipeline, and starts in about half the time. Exit codes:
0 success / VALID, 1 INVALID, 2 INDETERMINATE; errors exit with their class's code
(:mod:`registry.errors`): 3 usage or configuration error, 4 chain unavailable, 5 other registry
error.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any, Final

import typer
from typer.core import TyperGroup

from registry import gctuning

__all__ = ["COMMANDS", "EXTENDS", "app", "group_of", "main"]

COMMANDS: Final[dict[str, str]] = {
    "issue": "issue",
    "did-document": "issue",
    "revoke": "issue",
    "serve": "service",
    "worker": "service",
    "issuer-key-new": "service",
    "reissue": "lineage",
    "renew": "lineage",
    "resign": "resign",
    "audit": "audit",
    "deploy": "chain",
    "accreditor": "chain",
    "chain": "chain",
    "issuer": "chain",
    "directory": "chain",
    "verify": "verify",
    "redact": "verify",
    "trust": "trust",
    "verifier-page": "page",
    "certificate": "certificate",
    "clr": "pathway",
    "pathway": "pathway",
    "db": "service",
    "apikey": "service",
}
"""Every command of ``registry`` -> the module of :mod:`registry.cli` that defines it, in the
order ``registry --help`` lists them (``tests/unit/test_cli_app.py`` checks it against the modules)."""


EXTENDS: Final[dict[str, tuple[str, ...]]] = {"chain": ("service",)}
"""Modules that add subcommands to a group another module defines, by that module: the service's
``issuer add``, ``retry-key-change`` and ``rotate-key`` join the chain's ``issuer`` group, so a group
of ``chain`` is built only after ``service`` is imported."""


def _import(module: str) -> Any:
    for extension in EXTENDS.get(module, ()):
        importlib.import_module(f"registry.cli.{extension}")
    return importlib.import_module(f"registry.cli.{module}")


def group_of(module: str) -> Any:
    """The commands of ``registry.cli.<module>`` as one Click group: a module either exports
    ``commands`` (a Typer merged into the top level) or a ``register(app)`` function."""
    loaded = _import(module)
    holder = typer.Typer()
    if hasattr(loaded, "register"):
        loaded.register(holder)
    else:
        holder.add_typer(loaded.commands)
    return typer.main.get_group(holder)


class _Commands(MutableMapping[str, Any]):
    """The top-level commands by name; a module is imported the first time one of its commands is
    looked up, so listing the names (suggestions for a typo) imports nothing."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded and name in COMMANDS:
            with self._lock:
                if name not in self._loaded:
                    for other, command in group_of(COMMANDS[name]).commands.items():
                        self._loaded.setdefault(other, command)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._loaded if name not in COMMANDS)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._loaded


class _LazyGroup(TyperGroup):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        lazy = _Commands()
        lazy.update(self.commands)  # any command defined on ``app`` itself
        self.commands = lazy


app = typer.Typer(
    name="registry",
    cls=_LazyGroup,
    help="Blockchain-anchored credential registry: issue, anchor, verify and audit micro-credentials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _top() -> None:
    pass  # a callback makes Typer build a group (its commands come from COMMANDS)


def main() -> None:  # pragma: no cover - console entry point
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name in COMMANDS:  # the command's module first, so the freeze below covers it
        _import(COMMANDS[name])
    gctuning.tune()  # after the imports: what they left alive is frozen
    app()
