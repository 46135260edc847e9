"""The root conftest isolates every test from the user's configuration and data directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from registry.chain.networks import PROFILES, known_rpc_urls, networks_file, trust_anchors, user_config_dir
from registry.config import Settings


def _under(path: Path, base: Path) -> bool:
    return path.resolve().is_relative_to(base.resolve())


def test_config_home_and_data_directories_are_temporary(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.getbasetemp()
    assert _under(user_config_dir(), base)
    assert _under(networks_file(), base)
    assert _under(Path.home(), base)
    assert _under(Path(os.environ["XDG_CONFIG_HOME"]), base)
    assert _under(Settings().data_dir, base)
    assert not networks_file().exists()


def test_only_the_package_profiles_are_known() -> None:
    """Nothing from a user's networks.json: the RPC URLs and trust anchors are the shipped ones."""
    assert known_rpc_urls() == {p.chain_id: p.default_rpc for p in PROFILES.values() if p.default_rpc}
    shipped = {p.chain_id: {a.lower() for a in p.registries} for p in PROFILES.values() if p.registries}
    assert {k: set(v) for k, v in trust_anchors().items()} == shipped


def test_the_users_settings_variables_are_dropped() -> None:
    assert "DATABASE_URL" not in os.environ
    settings = {
        k for k in os.environ if k.startswith("REGISTRY_") and not k.startswith(("REGISTRY_TEST_", "REGISTRY_CHROMIUM"))
    }
    assert settings == {"REGISTRY_CONFIG_DIR", "REGISTRY_HOME"}


def test_a_networks_file_written_by_one_test_stays_in_that_test(hermetic_env: Path) -> None:
    networks_file().parent.mkdir(parents=True, exist_ok=True)
    networks_file().write_text(json.dumps({"11155111": {"rpc": "https://rpc.example", "registries": []}}))
    assert known_rpc_urls()[11155111] == "https://rpc.example"
    assert _under(networks_file(), hermetic_env)
