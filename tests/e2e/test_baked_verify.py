"""A baked badge (PNG and SVG) verifies through the CLI exactly like its JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry.cli.app import app
from registry.issue import badges
from tests.chain_fixtures import Registry

pytestmark = pytest.mark.e2e


def _verify(registry: Registry, *files: Path) -> tuple[int, list[dict[str, object]]]:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["verify", "--json", "--rpc", registry.rpc_url, *map(str, files)],
        env={"REGISTRY_HOME": str(registry.settings.home)},
    )
    payload = json.loads(result.stdout)
    return result.exit_code, payload if isinstance(payload, list) else [payload]


def test_baked_png_and_svg_verify_valid(registry: Registry, tmp_path: Path) -> None:
    issued = registry.issue(3)
    credential = json.loads(issued.files[0].read_text())
    png_file = tmp_path / "badge.png"
    svg_file = tmp_path / "badge.svg"
    png_file.write_bytes(badges.baked_png(credential))
    svg_file.write_text(badges.baked_svg(credential))

    code, reports = _verify(registry, png_file, svg_file)

    assert code == 0
    assert [r["verdict"] for r in reports] == ["VALID", "VALID"]
    assert all(r["credential"]["root"] == issued.root for r in reports)  # type: ignore[index]


def test_tampered_baked_png_is_invalid(registry: Registry, tmp_path: Path) -> None:
    issued = registry.issue(2)
    credential = json.loads(issued.files[0].read_text())
    credential["credentialSubject"]["achievement"]["name"] = "Something Grander"
    png_file = tmp_path / "tampered.png"
    png_file.write_bytes(badges.baked_png(credential))

    code, reports = _verify(registry, png_file)

    assert code == 1
    assert reports[0]["verdict"] == "INVALID"
    checks = {c["name"]: c["status"] for c in reports[0]["checks"]}  # type: ignore[attr-defined]
    assert checks["integrity"] == "fail"


def test_image_without_credential_is_a_usage_error(registry: Registry, tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    plain.write_bytes(badges.badge_image_png({"name": "x"}))
    result = CliRunner().invoke(
        app,
        ["verify", "--rpc", registry.rpc_url, str(plain)],
        env={"REGISTRY_HOME": str(registry.settings.home)},
    )
    assert result.exit_code == 3
    assert "no baked credential" in result.stderr
