"""Service CLI commands against a real database and a real uvicorn process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from registry.cli.app import app
from registry.service.store.db import head_revision
from tests.chain_fixtures import Registry, free_port

pytestmark = pytest.mark.e2e


def test_db_upgrade_issuer_add_apikey_and_serve(registry: Registry, tmp_path: Path) -> None:
    env = {
        "REGISTRY_HOME": str(registry.settings.home),
        "REGISTRY_RPC_URL": registry.rpc_url,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    runner = CliRunner()
    r = runner.invoke(app, ["db", "upgrade"], env=env)
    assert r.exit_code == 0 and f"revision {head_revision()}" in r.output, r.output
    r = runner.invoke(
        app, ["issuer", "add", "Universidad de Ejemplo", "did:web:uni.example", "--dev-key", "issuer"], env=env
    )
    assert r.exit_code == 0 and "issuer 1" in r.output, r.output
    r = runner.invoke(app, ["issuer", "add", "X", "x.example"], env=env)
    assert r.exit_code == 3 and "exactly one of --keystore or --dev-key" in r.output
    r = runner.invoke(app, ["apikey", "create", "did:web:uni.example", "--label", "ci"], env=env)
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[0]
    assert token.startswith("rk_")
    r = runner.invoke(app, ["apikey", "create", "42"], env=env)
    assert r.exit_code == 3 and "no issuer 42" in r.output
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a generous deadline, not a fixed number of tries
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not answer /healthz"
            time.sleep(0.1)
        ready = httpx.get(base + "/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["worker"]["alive"] is True
        r = httpx.get(base + "/v1/batches", headers={"X-API-Key": token}, timeout=5)
        assert r.status_code == 200 and r.json() == []
    finally:
        proc.terminate()
        proc.wait(10)


def test_issuer_key_new_writes_an_encrypted_keystore(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "key.json"
    r = runner.invoke(app, ["issuer-key-new", str(out)], env={"REGISTRY_KEY_PASSPHRASE": "s3cret pass"})
    assert r.exit_code == 0, r.output
    from registry.chain.keys import load_keystore

    os.environ["REGISTRY_KEY_PASSPHRASE"] = "s3cret pass"
    try:
        account = load_keystore(out)
    finally:
        del os.environ["REGISTRY_KEY_PASSPHRASE"]
    assert account.address in r.output and oct(out.stat().st_mode)[-3:] == "600"
    assert account.key.hex() not in out.read_text()
    r = runner.invoke(app, ["issuer-key-new", str(out)], env={"REGISTRY_KEY_PASSPHRASE": "x"})
    assert r.exit_code == 3 and "refusing to overwrite" in r.output
