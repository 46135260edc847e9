"""Hermetic tests: no test reads the user's configuration, data directory or HOME.

A verifier trusts the registries of the user's ``networks.json`` (``~/.config/credential-registry``)
and a project folder's ``.registry/deployments.json``; a developer's own Sepolia entry, or the
``REGISTRY_*`` variables the Makefile exports, would otherwise change what the tests see. Every test
gets its own empty HOME, config directory and data directory; fixtures wider than a test (a
module's anvil, a session's database) get a session-wide one. The test-only variables
(``REGISTRY_TEST_*``, ``REGISTRY_CHROMIUM``, ``REGISTRY_SOFFICE``) are kept.

``REGISTRY_TEST_CLOCK=2035-06-01`` runs the whole session with Python's clock moved to that date
(time-machine, ticking), to show the suite has no time bomb: fixtures date themselves relative to
the clock and every validity judgement uses it. Anvil's block clock starts at the moved time
(``tests.chain_fixtures.start_anvil``) and every page Chromium opens gets it too (Playwright's
clock); subprocesses keep the real time, which is why fixtures keep ``validFrom`` in the real past.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

_TRAVEL: list[time_machine.travel] = []


def pytest_configure(config: pytest.Config) -> None:
    """Move the clock before collection, so module-level dates see it too."""
    if when := os.environ.get("REGISTRY_TEST_CLOCK"):
        travel = time_machine.travel(when, tick=True)
        travel.start()
        _TRAVEL.append(travel)
        _move_browser_clocks()


def _move_browser_clocks() -> None:
    """Give every page Chromium opens Python's (moved) time, ticking from there (Playwright's clock).

    The page verifier judges ``validFrom``/``validUntil`` with the browser's ``Date``; the tests
    open pages in several places, so the two Playwright entry points are wrapped here, once,
    for a session whose clock is moved.
    """
    from playwright.sync_api import Browser, BrowserContext, Page

    def moved(page: Page) -> Page:
        page.context.clock.set_system_time(datetime.now(UTC))
        return page

    browser_new_page = Browser.new_page
    context_new_page = BrowserContext.new_page
    Browser.new_page = lambda self, *a, **k: moved(browser_new_page(self, *a, **k))  # type: ignore[method-assign]
    BrowserContext.new_page = lambda self, *a, **k: moved(context_new_page(self, *a, **k))  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    while _TRAVEL:
        _TRAVEL.pop().stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    when = os.environ.get("REGISTRY_TEST_CLOCK")
    return f"clock moved to {when} (REGISTRY_TEST_CLOCK)" if when else None


#: Variables that configure the tests themselves, not the code under test.
KEEP = ("REGISTRY_TEST_", "REGISTRY_CHROMIUM", "REGISTRY_SOFFICE")
#: The toolchain is not configuration: the solc compiler that ``make setup`` registers with
#: py-solc-x (``~/.solcx``, used by the auditor's bytecode check) stays where it is.
SOLCX_DIR = os.environ.get("SOLCX_BINARY_PATH") or str(Path.home() / ".solcx")


def _isolate(mp: pytest.MonkeyPatch, root: Path, *, home: bool) -> None:
    """Point the config, data and HOME-derived directories at ``root``; drop the user's settings."""
    for name in list(os.environ):
        if (name.startswith("REGISTRY_") and not name.startswith(KEEP)) or name == "DATABASE_URL":
            mp.delenv(name)
    fake_home = root / "home"
    (fake_home / ".config").mkdir(parents=True, exist_ok=True)
    if home:
        mp.setenv("HOME", str(fake_home))
        mp.setenv("SOLCX_BINARY_PATH", SOLCX_DIR)
    mp.setenv("XDG_CONFIG_HOME", str(fake_home / ".config"))
    mp.setenv("XDG_DATA_HOME", str(fake_home / ".local" / "share"))
    mp.setenv("XDG_CACHE_HOME", str(fake_home / ".cache"))
    mp.setenv("REGISTRY_CONFIG_DIR", str(fake_home / ".config" / "credential-registry"))
    mp.setenv("REGISTRY_HOME", str(root / "data"))


def _fake_home_ok(config: pytest.Config) -> bool:
    """Ape's own test runner keeps its HOME (``~/.ape``, the registered compiler in ``~/.solcx``)."""
    return not config.pluginmanager.hasplugin("ape_test")


@pytest.fixture(scope="session", autouse=True)
def hermetic_session(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Path]:
    """The session-wide isolation, in force while module- and session-scoped fixtures start."""
    root = tmp_path_factory.mktemp("session-env")
    with pytest.MonkeyPatch.context() as mp:
        # matplotlib's font cache lives under HOME: one per session, not one per test.
        mp.setenv("MPLCONFIGDIR", str(root / "matplotlib"))
        _isolate(mp, root, home=_fake_home_ok(pytestconfig))
        yield root


@pytest.fixture(autouse=True)
def hermetic_env(
    hermetic_session: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    pytestconfig: pytest.Config,
) -> Path:
    """Each test's own empty HOME, config directory (``networks.json``) and data directory.

    Kept apart from ``tmp_path`` so tests that list their ``tmp_path`` see only their own files.
    """
    root = tmp_path_factory.mktemp("env")
    _isolate(monkeypatch, root, home=_fake_home_ok(pytestconfig))
    return root
