"""tests.chain_fixtures.free_port: ports the suite's worker processes can never both be handed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import chain_fixtures
from tests.chain_fixtures import PORT_BASE, PORT_BLOCK, free_port

ROOT = Path(__file__).resolve().parents[2]
EPHEMERAL_LOW = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def _ports_of(worker: str | None, count: int) -> list[int]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    if worker is not None:
        env["PYTEST_XDIST_WORKER"] = worker
    code = (
        "import json; from tests.chain_fixtures import free_port; "
        f"print(json.dumps([free_port() for _ in range({count})]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    ports: list[int] = json.loads(out.stdout)
    return ports


def test_two_workers_never_get_the_same_port_nor_one_the_kernel_hands_out() -> None:
    alone, gw0, gw1 = _ports_of(None, 40), _ports_of("gw0", 40), _ports_of("gw1", 40)
    for ports, block in ((alone, 0), (gw0, 1), (gw1, 2)):
        assert len(set(ports)) == len(ports)  # in turn: no port twice in one process
        low = PORT_BASE + block * PORT_BLOCK
        assert all(low <= p < low + PORT_BLOCK for p in ports), (block, ports)
        assert max(ports) < EPHEMERAL_LOW  # never one the kernel may give a connection meanwhile
    assert not set(alone) & set(gw0) and not set(gw0) & set(gw1) and not set(alone) & set(gw1)


def test_a_port_something_holds_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    with socket.socket() as held:
        for offset in range(PORT_BLOCK - 1):
            try:
                held.bind(("127.0.0.1", PORT_BASE + offset))
            except OSError:
                continue
            break
        held.listen()
        monkeypatch.setattr(chain_fixtures, "_next_port", [offset])
        port = free_port()
        assert port != PORT_BASE + offset and PORT_BASE + offset < port < PORT_BASE + PORT_BLOCK
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # the port handed out is free
