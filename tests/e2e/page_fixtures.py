"""The verifier page's fixtures, shared by the page test modules (import them by name): the page
built by `registry verifier-page`, the URLs it requested, and the page opened from file:// in real
Chromium with `window.credentialRegistry` ready."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from registry.cli.app import app
from tests.e2e.test_pages import ARGS, CHROMIUM, _require_browser

__all__ = ["page", "page_file", "requested"]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "verifier.html"
    result = CliRunner().invoke(app, ["verifier-page", "--out", str(out), "--no-trust"])
    if result.exit_code != 0 and "make setup" in result.output:
        pytest.fail(f"the verifier page is not built: {result.output}")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def requested() -> list[str]:
    """Every URL the page requested (it may reach its own file and the RPC URL, nothing else)."""
    return []


@pytest.fixture(scope="module")
def page(page_file: Path, requested: list[str]) -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pg = browser.new_page()
            pg.on("request", lambda r: requested.append(r.url))
            pg.goto(page_file.as_uri())
            pg.wait_for_function("() => window.credentialRegistry !== undefined")
            yield pg
        finally:
            browser.close()
