"""The ``registry`` command loads only the module of the command it runs, and lists, resolves and
suggests the same commands, in the same order, as the app assembled from every module at once."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from registry.cli import audit, certificate, chain, issue, lineage, page, pathway, resign, service, trust, verify
from registry.cli.app import COMMANDS, app, group_of

ROOT = Path(__file__).resolve().parents[2]


def _eager() -> dict[str, Any]:
    """The commands as the app assembled them before it loaded modules lazily."""
    whole = typer.Typer()
    merged: list[Any] = [chain, verify, trust, page, certificate, pathway]
    registering: list[Any] = [issue, service, lineage, resign, audit]
    for module in merged:
        whole.add_typer(module.commands)
    for module in registering:
        module.register(whole)
    return dict(typer.main.get_group(whole).commands)


def test_every_command_is_listed_in_order_and_resolves_to_its_modules_command() -> None:
    eager = _eager()
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    ctx = typer.Context(group)
    assert list(COMMANDS) == list(eager)  # the order of `registry --help`
    for name, command in eager.items():
        lazy = group.get_command(ctx, name)
        assert lazy is not None, name
        assert name in group_of(COMMANDS[name]).commands
        assert type(lazy) is type(command)
        assert getattr(lazy.callback, "__qualname__", None) == getattr(command.callback, "__qualname__", None)
        assert [p.name for p in lazy.params] == [p.name for p in command.params]
        assert sorted(getattr(lazy, "commands", {})) == sorted(getattr(command, "commands", {}))
    assert group.get_command(ctx, "no-such-command") is None


def _modules_after(*argv: str) -> tuple[set[str], str]:
    code = (
        "import json, sys\n"
        f"sys.argv = ['registry', *{list(argv)!r}]\n"
        "from registry.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES', json.dumps(sorted(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    listed = run.stdout.rsplit("MODULES ", 1)[1]
    return set(json.loads(listed)), run.stdout + run.stderr


def test_verify_loads_neither_the_service_the_auditor_nor_the_issuers_commands() -> None:
    loaded, text = _modules_after("verify", "--help")
    assert "--format" in text
    cli = {m for m in loaded if m.startswith("registry.cli.")}
    assert cli == {"registry.cli.app", "registry.cli.output", "registry.cli.verify"}
    for heavy in ("registry.service", "registry.audit", "registry.issue", "sqlalchemy", "fastapi", "uvicorn"):
        assert heavy not in loaded


def test_a_typo_is_answered_with_a_suggestion_without_loading_any_command() -> None:
    loaded, text = _modules_after("verfy")
    assert "Did you mean 'verify'?" in text
    assert {m for m in loaded if m.startswith("registry.cli.")} == {"registry.cli.app"}


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f" {name} " in result.output


def _tree(command: Any) -> Any:
    """A command's subcommands, recursively, in the order its help lists them (None: a leaf)."""
    commands = getattr(command, "commands", None)
    return None if commands is None else [(name, _tree(sub)) for name, sub in commands.items()]


def test_a_fresh_process_sees_every_subcommand_of_a_group_another_module_extends() -> None:
    """``registry issuer add|retry-key-change|rotate-key`` (the service's) in a process that loaded
    only what ``registry issuer`` needs: one fresh process per module, as a user's command runs."""
    eager = _eager()
    assert [name for name, _ in _tree(eager["issuer"])][-3:] == ["add", "retry-key-change", "rotate-key"]
    for module in dict.fromkeys(COMMANDS.values()):
        names = [name for name, owner in COMMANDS.items() if owner == module]
        code = (  # this file imports every command module, so the child gets _tree's source only
            "import json, typer\nfrom typing import Any\n"
            f"{inspect.getsource(_tree)}"
            "from registry.cli.app import app\n"
            "group = typer.main.get_command(app)\n"
            "ctx = typer.Context(group)\n"
            f"print(json.dumps({{n: _tree(group.get_command(ctx, n)) for n in {names!r}}}))"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        expected = json.loads(json.dumps({name: _tree(eager[name]) for name in names}))
        assert json.loads(run.stdout) == expected, module
