"""Shared helpers for end-to-end tests: a real anvil process and a deployed registry.

Each test session gets its own anvil on a free port with its state in a temporary directory,
never the user's local chain on 8545.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account.signers.local import LocalAccount

from registry.chain.adapter import Chain
from registry.chain.admin import deploy_registry
from registry.chain.devkeys import dev_account
from registry.chain.local import LocalChain
from registry.config import Settings
from registry.core.credential import Achievement, IssuerProfile
from registry.issue.direct import IssuedBatch, issue_and_anchor
from tests.cohort import synthetic_cohort

PORT_BLOCK = 1_000
"""Ports per process group: one block for a process outside pytest-xdist, one per xdist worker."""
PORT_BASE = 20_000
"""First port handed out: below Linux's ephemeral range (32768-60999 by default), from which the
kernel takes the local port of every outgoing connection and of every ``bind(port 0)``."""
_PORT_BLOCKS = 12  # 20000-31999: workers beyond the 11th share blocks (still checked by binding)
_next_port: list[int] = []


def _port_block() -> int:
    """0 outside pytest-xdist, else 1 + the worker's number (``PYTEST_XDIST_WORKER=gw<n>``)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    number = worker[2:] if worker.startswith("gw") else ""
    return (1 + int(number)) % _PORT_BLOCKS if number.isdigit() else 0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, that no other worker of this test run can be handed.

    A port picked here is bound a moment later by the process it is for (anvil, a service), and
    the suite runs in several worker processes. Picking with ``bind(port 0)`` let two workers be
    handed the same port in that moment, or a client connection take it as its local port. Here
    each worker picks from its own block of :data:`PORT_BLOCK` ports below the kernel's ephemeral
    range, in turn from a random start, and checks each candidate by binding it (a port that some
    other program holds, or that has connections in TIME_WAIT, is skipped)."""
    start = PORT_BASE + _port_block() * PORT_BLOCK
    if not _next_port:
        _next_port.append(int.from_bytes(os.urandom(2), "big") % PORT_BLOCK)
    for _ in range(PORT_BLOCK):
        port = start + _next_port[0]
        _next_port[0] = (_next_port[0] + 1) % PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {start}-{start + PORT_BLOCK - 1}")


def start_anvil(data_dir: Path, **kwargs: Any) -> LocalChain:
    """A new anvil on a free port; its blocks follow the test clock when ``REGISTRY_TEST_CLOCK`` moves it."""
    kwargs.setdefault("follow_clock", bool(os.environ.get("REGISTRY_TEST_CLOCK")))
    chain = LocalChain(data_dir, port=free_port(), **kwargs)
    chain.up()
    return chain


ACCREDITATION_BODY = ("Demo Accreditation Agency", "did:web:accreditation.example")
"""Name and DID of the fixture's accreditation body (appointed with a directory entry)."""

ACHIEVEMENT = Achievement(
    id="https://uni.example/achievements/test-course",
    name="Test Course in Applied Cryptography",
    description="A short course used by the test suite.",
    criteria_narrative="Passed the final exam.",
    learning_outcomes=["Explain Merkle trees", "Verify a credential"],
    workload_ects=2.0,
    eqf_level=5,
    assessment_type="Written exam",
    participation_form="online",
    quality_assurance="Internal QA",
)


@dataclass
class Registry:
    """A deployed registry with a named accreditation body and two admitted issuers."""

    chain: LocalChain
    settings: Settings
    client: Chain
    admin: LocalAccount
    accreditor: LocalAccount
    issuer_key: LocalAccount
    issuer2_key: LocalAccount
    stranger: LocalAccount
    issuer_id: int
    issuer2_id: int
    tmp: Path
    _counter: list[int] = field(default_factory=lambda: [0])

    @property
    def rpc_url(self) -> str:
        return self.chain.rpc_url

    @property
    def trust(self) -> dict[int, set[str]]:
        """A verification policy's ``trusted``: this registry only."""
        assert self.client.registry_address is not None
        return {31337: {self.client.registry_address}}

    def profile(self, which: int = 1) -> IssuerProfile:
        ident = self.issuer_id if which == 1 else self.issuer2_id
        info = self.client.reads.issuers([ident])[ident]
        return IssuerProfile(id=info.did, name=info.name)

    def issue(
        self,
        n: int = 8,
        *,
        key: LocalAccount | None = None,
        issuer: IssuerProfile | None = None,
        docs: list[dict[str, Any]] | None = None,
    ) -> IssuedBatch:
        self._counter[0] += 1
        out = self.tmp / f"batch-{self._counter[0]}"
        if docs is None:
            docs = list(synthetic_cohort(n, issuer or self.profile(), ACHIEVEMENT, seed=self._counter[0]))
        return issue_and_anchor(self.client, key or self.issuer_key, docs, out)


def deploy_fixture(tmp: Path) -> Generator[Registry, None, None]:
    chain = start_anvil(tmp / "chain")
    try:
        settings = Settings(home=tmp / "home", rpc_url=chain.rpc_url)
        client = Chain(chain.rpc_url)
        admin = dev_account("admin", 31337)
        deploy_registry(settings, client, admin)
        accreditor = dev_account("accreditor", 31337)
        client.writes.appoint_accreditor(admin, accreditor.address, *ACCREDITATION_BODY)
        issuer_key = dev_account("issuer", 31337)
        issuer2_key = dev_account("issuer2", 31337)
        issuer_id = client.writes.admit_issuer(
            accreditor, "Universidad de Ejemplo", "did:web:uni.example", issuer_key.address
        )
        issuer2_id = client.writes.admit_issuer(
            accreditor, "Other College", "did:web:other.example", issuer2_key.address
        )
        yield Registry(
            chain,
            settings,
            client,
            admin,
            accreditor,
            issuer_key,
            issuer2_key,
            dev_account("stranger", 31337),
            issuer_id,
            issuer2_id,
            tmp,
        )
    finally:
        chain.down()


def anvil_rpc(registry: Registry, method: str, *params: Any) -> Any:
    """One JSON-RPC call to the fixture's anvil (``evm_snapshot``, ``evm_mine``, ...): its result."""
    reply = requests.post(
        registry.rpc_url,
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
        timeout=30,
    ).json()
    assert "error" not in reply, reply
    return reply["result"]
