"""No secret ever reaches a log: a full flow with every log captured at DEBUG.

The flow: a new anchoring key in an encrypted keystore (``registry issuer-key-new``), admitted on
chain; ``registry issuer add --keystore``; ``registry apikey create``; ``registry serve`` (the
service with its in-process worker) started as a separate process whose Python logging is set
to DEBUG at the root (so uvicorn, uvicorn.access, httpx, web3, SQLAlchemy, the worker all write
everything they would), its stdout and stderr captured; credentials issued with recipient
e-mails (also a rejected bad e-mail and requests with unknown and revoked keys); sealed; anchored
by the worker; downloaded; verified through the API and with ``registry verify``; revoked; the
API key revoked. The test process' own logging (root at DEBUG: httpx, httpcore) is captured too.

Searched for, with 0 hits allowed: the private key (hex, with and without 0x, either case), the
keystore passphrase, every API key token, every recipient e-mail.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from typer.testing import CliRunner, Result

from registry.cli.app import app as cli_app
from tests.chain_fixtures import Registry, free_port
from tests.service_support import database

pytestmark = pytest.mark.e2e

# Runs the `registry` CLI with Python logging at DEBUG on the root logger (stderr).
WRAPPER = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, "
    "format='%(asctime)s %(name)s %(levelname)s %(message)s'); "
    "from registry.cli.app import app; sys.argv[0] = 'registry'; app()"
)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def captured_logging() -> Iterator[Capture]:
    """The test process' own logs, everything at DEBUG."""
    handler = Capture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("httpx", "httpcore", "uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def test_no_secret_in_any_log_of_a_full_flow(registry: Registry, tmp_path: Path, captured_logging: Capture) -> None:
    logs: dict[str, str] = {}
    for db in database("sqlite", tmp_path):
        passphrase = "correct horse " + secrets.token_urlsafe(12)
        port = free_port()
        env = {
            **os.environ,
            "REGISTRY_HOME": str(registry.settings.home),
            "REGISTRY_RPC_URL": registry.rpc_url,
            **db.settings_env(),
            "REGISTRY_KEY_PASSPHRASE": passphrase,
            "REGISTRY_WORKER_INTERVAL": "0.2",
            "REGISTRY_BATCH_MAX_AGE": "3600",
            "REGISTRY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }

        def cli(name: str, *args: str, check: bool = True, env: dict[str, str] = env) -> Result:
            """The CLI in this process (its logging goes to the DEBUG capture); stderr kept as a log."""
            done = CliRunner().invoke(cli_app, list(args), env=env)
            logs[f"{name}.stderr"] = done.stderr
            if check:
                assert done.exit_code == 0, (args, done.stdout, done.stderr, done.exception)
            return done

        # 1. A new anchoring key, encrypted; admitted on chain and funded.
        keystore = tmp_path / "issuer-key.json"
        made = cli("issuer-key-new", "issuer-key-new", str(keystore))
        logs["issuer-key-new.stdout"] = made.stdout
        private_key: bytes = Account.decrypt(json.loads(keystore.read_text()), passphrase)
        account = Account.from_key(private_key)
        assert account.address in made.stdout
        did = f"did:web:secret-{secrets.token_hex(3)}.example"
        registry.client.writes.admit_issuer(registry.accreditor, "Secret College", did, account.address)
        fund = {
            "to": account.address,
            "value": 10**18,
            "gas": 21000,
            "chainId": registry.client.reads.chain_id(),
            "nonce": registry.client.sender.nonce(registry.admin.address, "latest"),
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
        }
        registry.client.sender.send(registry.admin, fund, "fund")
        # A wrong passphrase is refused without echoing either passphrase.
        env_wrong = {**env, "REGISTRY_KEY_PASSPHRASE": "wrong " + passphrase[::-1]}
        bad = cli(
            "issuer-add-wrong",
            "issuer",
            "add",
            "Secret College",
            did,
            "--keystore",
            str(keystore),
            check=False,
            env=env_wrong,
        )
        assert bad.exit_code != 0 and "passphrase" in bad.stderr
        logs["issuer-add-wrong.stdout"] = bad.stdout
        secrets_to_find: dict[str, str] = {"wrong passphrase": env_wrong["REGISTRY_KEY_PASSPHRASE"]}
        # 2. The issuer in the service, and an API key (printed once on stdout: its purpose).
        added = cli("issuer-add", "issuer", "add", "Secret College", did, "--keystore", str(keystore))
        logs["issuer-add.stdout"] = added.stdout
        token = cli("apikey-create", "apikey", "create", did, "--label", "ci").stdout.strip()
        spare = cli("apikey-create-2", "apikey", "create", did, "--label", "spare").stdout.strip()
        assert token.startswith("rk_") and spare.startswith("rk_")
        # 3. The service, with its worker, as its own process.
        out_path, err_path = tmp_path / "serve.stdout", tmp_path / "serve.stderr"
        with out_path.open("w") as out_fh, err_path.open("w") as err_fh:
            proc = subprocess.Popen(
                [sys.executable, "-c", WRAPPER, "serve", "--port", str(port)], env=env, stdout=out_fh, stderr=err_fh
            )
            try:
                emails = _flow(f"http://127.0.0.1:{port}", token, spare, tmp_path, env, logs)
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        logs["serve.stdout"] = out_path.read_text()
        logs["serve.stderr"] = err_path.read_text()
    logs["test process"] = "\n".join(captured_logging.lines)

    key_hex = private_key.hex()
    secrets_to_find |= {
        "private key": key_hex,
        "private key (0x)": "0x" + key_hex,
        "private key (upper)": key_hex.upper(),
        "passphrase": passphrase,
        "API key": token,
        "API key (secret part)": token[10:],
        "spare API key": spare,
        **{f"e-mail {i}": e for i, e in enumerate(emails)},
    }
    # The logs are not empty: the service really logged at DEBUG (requests, worker, chain calls).
    assert "uvicorn" in logs["serve.stderr"] or "Started server" in logs["serve.stderr"], logs["serve.stderr"][-2000:]
    assert "POST /v1/credentials" in logs["serve.stderr"] + logs["serve.stdout"]
    assert len(logs["test process"]) > 1000
    hits = [
        (what, source, text[max(0, text.find(value) - 80) : text.find(value) + len(value) + 20])
        for source, text in logs.items()
        for what, value in secrets_to_find.items()
        if value and value.lower() in text.lower()
    ]
    assert hits == [], hits


def _flow(base: str, token: str, spare: str, tmp: Path, env: dict[str, str], logs: dict[str, str]) -> list[str]:
    """Issue, seal, anchor, download, verify, revoke; returns the recipient e-mails used."""
    h = {"X-API-Key": token}
    with httpx.Client(base_url=base, timeout=30) as http:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.2)
        ach_body = {
            "name": "Secrets 101",
            "description": "d",
            "criteria_narrative": "c",
            "learning_outcomes": ["x"],
            "workload_ects": 1.0,
            "eqf_level": 4,
            "assessment_type": "exam",
            "participation_form": "online",
            "quality_assurance": "qa",
        }
        r = http.post("/v1/achievements", json=ach_body, headers=h)
        assert r.status_code == 201, r.text
        ach = r.json()["id"]
        emails = [f"learner.{secrets.token_hex(4)}@private-example.org" for _ in range(5)]
        r = http.post(
            "/v1/credentials",
            json={"achievement_id": ach, "recipient_email": emails[0], "recipient_name": "Ada Secret"},
            headers=h,
        )
        assert r.status_code == 201, r.text
        ids = [r.json()["id"]]
        r = http.post(
            "/v1/credentials/bulk",
            headers=h,
            json={"credentials": [{"achievement_id": ach, "recipient_email": e} for e in emails[1:3]]},
        )
        assert r.status_code == 201, r.text
        ids += r.json()["ids"]
        csv = "email,name\n" + f"{emails[3]},Grace Secret\n"
        r = http.post(
            "/v1/credentials/import",
            headers=h,
            data={"achievement_id": str(ach)},
            files={"file": ("learners.csv", csv, "text/csv")},
        )
        assert r.status_code == 201, r.text
        ids += r.json()["ids"]
        # Errors on the way: a bad e-mail, a CSV with a bad row, unknown, malformed and revoked keys.
        bad_email = f"not-an-address-{secrets.token_hex(3)}"
        r = http.post("/v1/credentials", json={"achievement_id": ach, "recipient_email": bad_email}, headers=h)
        assert r.status_code == 422
        r = http.post(
            "/v1/credentials/import",
            headers=h,
            data={"achievement_id": str(ach)},
            files={"file": ("bad.csv", f"email\n{emails[4]}\nbroken-{bad_email}\n", "text/csv")},
        )
        assert r.status_code == 422
        emails.append(bad_email)
        unknown = "rk_" + secrets.token_urlsafe(32)
        assert http.get("/v1/credentials", headers={"X-API-Key": unknown}).status_code == 401
        assert http.post("/dashboard/login", data={"api_key": unknown}).status_code == 401
        assert http.post("/dashboard/login", data={"api_key": token}, follow_redirects=False).status_code == 303
        assert http.get("/dashboard").status_code == 200
        http.cookies.clear()
        keys = http.get("/v1/apikeys", headers=h).json()
        spare_id = next(k["id"] for k in keys if spare.startswith(k["prefix"]) and k["label"] == "spare")
        assert http.post(f"/v1/apikeys/{spare_id}/revoke", headers=h).status_code == 200
        assert http.get("/v1/credentials", headers={"X-API-Key": spare}).status_code == 401
        # Seal; the in-process worker anchors; download and verify.
        [batch] = http.post("/v1/batches/seal", headers=h).json()
        _wait(lambda: http.get(f"/v1/batches/{batch['id']}", headers=h).json()["state"] == "confirmed")
        files: list[Path] = []
        for cid in ids:
            r = http.get(f"/v1/credentials/{cid}/file", headers=h)
            assert r.status_code == 200, r.text
            path = tmp / f"{cid}.json"
            path.write_bytes(r.content)
            files.append(path)
            assert http.get(f"/c/{cid}").status_code == 200
        report = http.post("/v1/verify", content=files[0].read_bytes(), headers={"content-type": "application/json"})
        assert report.json()["verdict"] == "VALID", report.text
        done = CliRunner().invoke(
            cli_app, ["verify", "--json", "--rpc", env["REGISTRY_RPC_URL"], *map(str, files)], env=env
        )
        assert done.exit_code == 0, done.stdout + done.stderr
        logs["verify.stderr"] = done.stderr
        logs["verify.stdout"] = done.stdout
        # Revoke one credential; the worker sends it.
        r = http.post(f"/v1/credentials/{ids[0]}/revoke", json={"reason": 1, "note": "issued in error"}, headers=h)
        assert r.status_code == 202, r.text
        _wait(lambda: http.get(f"/v1/credentials/{ids[0]}", headers=h).json()["state"] == "revoked")
        report = http.post("/v1/verify", content=files[0].read_bytes(), headers={"content-type": "application/json"})
        assert report.json()["verdict"] == "INVALID"
        events: Any = http.get("/v1/events?limit=1000", headers=h).json()
        logs["events API"] = json.dumps(events)
    return emails


def _wait(ready: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_database_errors_never_carry_the_values(tmp_path: Path) -> None:
    """A failing statement's error (logged by the worker, in tracebacks) shows the SQL, not the
    values: credential documents, names and key hashes stay out of logs."""
    import sqlalchemy as sa

    from registry.service.store import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'e.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x TEXT UNIQUE)"))
        conn.execute(sa.text("INSERT INTO t VALUES (:x)"), {"x": "ada.secret@example.org"})
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (:x)"), {"x": "ada.secret@example.org"})
    assert "ada.secret" not in str(caught.value) and "hidden" in str(caught.value)
    engine.dispose()
