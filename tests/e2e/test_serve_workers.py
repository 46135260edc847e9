"""``registry serve --workers N``: each HTTP process listens on a socket of its own, so the
connections a client keeps alive are spread over the processes (with one shared socket, the
first process to wake took every waiting connection); a port already taken is refused at once.

Real processes against a real anvil; which process holds which connection is read from /proc.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.chain_fixtures import Registry, free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT spreads connections on Linux")

CONNECTIONS = 16


def _env(registry: Registry, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REGISTRY_HOME": str(registry.settings.home),
        "REGISTRY_RPC_URL": registry.rpc_url,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}",
        "REGISTRY_WORKER_INTERVAL": "0.5",
    }


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(p) for p in text)
    return found


def _inodes(port: int, state: str = "01") -> set[str]:
    """Socket inodes of the TCP sockets on local port ``port`` in ``state`` (01: ESTABLISHED,
    0A: LISTEN)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def _held(pid: int, wanted: set[str]) -> set[str]:
    """Which of the socket inodes ``wanted`` process ``pid`` has open."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in wanted:
            held.add(target[8:-1])
    return held


def test_keep_alive_connections_are_spread_over_the_worker_processes(registry: Registry, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "serve", "--port", str(port), "--workers", "2"],
            env=_env(registry, tmp_path),
            stdout=out,
            stderr=out,
        )
    connections: list[http.client.HTTPConnection] = []
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2:  # both processes listen
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)
        # All connect at once, as a connection pool or a load generator does: with one shared
        # socket, the first process to wake accepted every connection waiting.
        for _ in range(CONNECTIONS):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.connect()
            connections.append(conn)
        for conn in connections:  # then each is used, and kept open (HTTP/1.1 keep-alive)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        listening = {pid: _held(pid, _inodes(port, "0A")) for pid in _children(proc.pid)}
        listening = {pid: inodes for pid, inodes in listening.items() if inodes}
        assert len(listening) == 2, listening  # two HTTP processes listen ...
        first, second = listening.values()
        assert len(first) == len(second) == 1 and first != second  # ... each on a socket of its own
        assert not _held(proc.pid, _inodes(port, "0A"))  # and the supervisor on none
        counts = {pid: len(_held(pid, _inodes(port))) for pid in listening}
        assert sum(counts.values()) == CONNECTIONS, counts
        busy = [pid for pid, held in counts.items() if held > 0]
        # Spread by the kernel's hash of the addresses: all 16 on one of two processes has odds 2**-15.
        assert len(busy) == 2, f"every connection went to one process: {counts}"
        for conn in connections:  # every process answers on the connections it holds
            conn.request("GET", "/healthz")
            assert conn.getresponse().read()
    finally:
        for conn in connections:
            conn.close()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_port_in_use_is_refused_before_any_process_starts(registry: Registry, tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "registry.cli", "serve", "--port", str(port), "--workers", "2"],
            env=_env(registry, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        taken.close()
    assert done.returncode == 3, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Started server process" not in done.stderr
