"""A real webhook receiver on loopback (threaded ``http.server``) that checks every signature,
and a webhook sender in a subprocess that can be SIGKILLed (tests and scripts/bench_webhooks.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from registry.service.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify_signature
from tests.clock import python

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["Receiver", "SenderProcess"]


class Receiver:
    """Answers each request by the next entry of ``script`` ("ok", "fail" = 500, "slow" = sleep
    ``slow_seconds`` then 200, "hang" = sleep past any client timeout), then by ``default``."""

    def __init__(self, secret: str = "", *, default: str = "ok", slow_seconds: float = 1.5) -> None:
        self.secret = secret
        self.script: list[str] = []
        self.default = default
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.arrived: list[str] = []  # event ids of every request, as they arrive
        self.accepted: list[str] = []  # event ids answered 200
        self.bad_signatures = 0
        self.bodies: dict[str, dict[str, Any]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                event_id = self.headers.get(EVENT_ID_HEADER, "")
                ok = verify_signature(receiver.secret, body, self.headers.get(SIGNATURE_HEADER, ""))
                with receiver.lock:
                    receiver.arrived.append(event_id)
                    if not ok:
                        receiver.bad_signatures += 1
                    mode = receiver.script.pop(0) if receiver.script else receiver.default
                if mode == "hang":
                    time.sleep(5)
                    return
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                status = 200 if mode in ("ok", "slow") and ok else 500 if mode == "fail" else 401
                if status == 200:  # kept before the answer, as a real receiver commits before it acks:
                    with receiver.lock:  # the sender may read the 200 and return before this thread runs on
                        receiver.accepted.append(event_id)
                        receiver.bodies[event_id] = json.loads(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.accepted)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


SENDER = """
import sys, time
from registry.service.store import make_engine
from registry.service.webhooks import deliver_due
engine = make_engine(sys.argv[1], schema=sys.argv[2] or None)
print("ready", flush=True)
while True:
    if not deliver_due(engine, lease=float(sys.argv[3]), timeout=10.0, backoff_base=0.05):
        time.sleep(0.05)
"""


class SenderProcess:
    """``deliver_due`` in a loop in its own process; :meth:`kill` is SIGKILL (no cleanup runs)."""

    def __init__(self, url: str, schema: str | None, *, lease: float = 1.0) -> None:
        self.args = ["-c", SENDER, url, schema or "", str(lease)]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SenderProcess:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(python(*self.args), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        self.proc.stdout.readline()
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
