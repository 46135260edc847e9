"""The local development chain: an anvil process whose state persists in the data directory.

``registry chain up`` starts anvil on 127.0.0.1 with ``--state`` (and periodic state dumps),
so everything anchored locally survives ``chain down``/``chain up`` and even a hard kill.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from registry.errors import ChainUnavailable, ConfigError

__all__ = ["DEV_MNEMONIC", "LocalChain", "find_anvil"]

DEV_MNEMONIC = "test test test test test test test test test test test junk"


def find_anvil() -> str:
    """The anvil binary: ``$REGISTRY_ANVIL``, PATH (the venv links it), or node_modules."""
    if env := os.environ.get("REGISTRY_ANVIL"):
        return env
    if found := shutil.which("anvil"):
        return found
    here = Path.cwd()
    for base in (here, *here.parents):
        candidate = base / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
        if candidate.exists():
            return str(candidate)
    raise ConfigError("anvil not found: run `make setup` (npm package @foundry-rs/anvil-linux-amd64)")


@dataclass
class ChainStatus:
    running: bool
    pid: int | None
    rpc_url: str
    block: int | None
    chain_id: int | None
    state_file: Path


class LocalChain:
    """One anvil process, its pid file, log and state file under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 8545,
        chain_id: int = 31337,
        block_time: float | None = None,
        name: str = "anvil",
        follow_clock: bool = False,
    ) -> None:
        self.data_dir = data_dir
        #: Start anvil's block clock at this process's ``time.time()`` on every start (a test
        #: session that moves Python's clock moves the chain's with it).
        self.follow_clock = follow_clock
        self.port = port
        self.chain_id = chain_id
        self.block_time = block_time
        self.pid_file = data_dir / f"{name}.pid"
        self.log_file = data_dir / f"{name}.log"
        self.state_file = data_dir / f"{name}-state.json"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            return pid if _alive(pid) else None
        except PermissionError:
            return pid

    def _probe(self) -> tuple[int, int] | None:
        from registry.chain.rpc import Rpc

        try:
            head, chain_id = Rpc(self.rpc_url, timeout=1.0).batch([("eth_blockNumber", []), ("eth_chainId", [])])
            return int(head, 16), int(chain_id, 16)
        except Exception:
            return None

    def status(self) -> ChainStatus:
        pid = self._pid()
        probe = self._probe()
        return ChainStatus(
            running=probe is not None,
            pid=pid,
            rpc_url=self.rpc_url,
            block=probe[0] if probe else None,
            chain_id=probe[1] if probe else None,
            state_file=self.state_file,
        )

    def command(self) -> list[str]:
        options = {
            "--host": "127.0.0.1",
            "--port": str(self.port),
            "--chain-id": str(self.chain_id),
            "--mnemonic": DEV_MNEMONIC,
            "--accounts": "10",
            "--state": str(self.state_file),
            "--state-interval": "1",
        }
        cmd = [find_anvil(), *(part for pair in options.items() for part in pair), "--preserve-historical-states"]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.follow_clock:
            cmd += ["--timestamp", str(int(time.time()))]
        return cmd

    def up(self, timeout: float = 20.0) -> ChainStatus:
        """Start anvil in the background (idempotent) and wait until it answers."""
        current = self.status()
        if current.running:
            if current.pid is None:
                raise ConfigError(
                    f"port {self.port} already serves a chain that this data directory ({self.data_dir}) did not "
                    "start, so its state would be kept elsewhere: stop that node first"
                )
            if current.chain_id != self.chain_id:
                raise ConfigError(f"port {self.port} already serves chain {current.chain_id}, not {self.chain_id}")
            return current
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-800:]
                raise ChainUnavailable(self.rpc_url, f"anvil exited with {proc.returncode}: {tail}")
            status = self.status()
            if status.running:
                return status
            time.sleep(0.1)
        raise ChainUnavailable(self.rpc_url, f"anvil did not answer within {timeout:.0f} s")

    def down(self, timeout: float = 10.0) -> bool:
        """Stop anvil gracefully (it writes its state on exit). True if one was running."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            _alive(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs; reaps it when it is our own exited child (no zombie)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fall back to signal 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
