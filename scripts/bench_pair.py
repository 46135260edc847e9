#!/usr/bin/env python3
"""The verify API of two revisions side by side: a before/after comparison a noisy machine allows.

On a shared machine the speed of the same code drifts by a third within an hour, so two benchmark
runs taken minutes apart say little about a change of a few per cent. Here two servers run at once
against one anvil: A from a git revision (``--base``, checked out in a temporary worktree) and B
from this tree, one HTTP process each, and two ``wrk`` processes (``--connections`` each) load
them for the same ``--seconds``, ``--runs`` times. Both feel the same noise, so the ratio of
their verifications per second shows the change; ``--base HEAD`` on a clean tree is the A/A
control, the spread to expect with no change at all.

Prints one JSON object: each run's rates, p99s and ratio, the median ratio, the load average.
The worktree uses this tree's compiled contracts (``registry/artifacts``): compare revisions
whose contracts are the same. ``wrk`` must be installed (Debian's package).

    python scripts/bench_pair.py --base HEAD~1 --runs 6
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_service import WRK_SCRIPT, launch_serve, wrk_figures  # noqa: E402

from tests.chain_fixtures import Registry, deploy_fixture, free_port  # noqa: E402

FILES = 50


def _serve(registry: Registry, tree: Path, tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    """``registry serve`` from ``tree`` (its own SQLite database), one HTTP process."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "REGISTRY_HOME": str(registry.settings.home),
        "REGISTRY_RPC_URL": registry.rpc_url,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp / (name + '.db')}",
    }
    env.pop("REGISTRY_WORKER_INTERVAL", None)
    return launch_serve(port, 1, env, tmp / f"{name}.log", cwd=tree)


def _wrk(base: str, seconds: int, connections: int, script: Path, files: list[Path]) -> subprocess.Popen[str]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base + "/v1/verify", "--"]
    return subprocess.Popen([*cmd, *map(str, files)], stdout=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen[str]) -> dict[str, float]:
    found = wrk_figures(proc.communicate()[0])
    return {
        "rps": round(found["ok"] / (found["duration_us"] / 1e6), 1),
        "p99_ms": round(found["p99_us"] / 1000, 1),
        "not_valid": found["bad"] + found["errors"],
    }


def compare(base_rev: str, runs: int, seconds: int, connections: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tree_a = tmp / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree_a), base_rev], check=True)
        commit = subprocess.run(
            ["git", "-C", str(tree_a), "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
        (tree_a / "registry" / "artifacts").symlink_to(ROOT / "registry" / "artifacts")
        fixture = deploy_fixture(tmp / "chain")
        registry = next(fixture)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            files = registry.issue(FILES).files
            script = tmp / "verify.lua"
            script.write_text(WRK_SCRIPT)
            proc_a, url_a = _serve(registry, tree_a, tmp, "A")
            procs.append(proc_a)
            proc_b, url_b = _serve(registry, ROOT, tmp, "B")
            procs.append(proc_b)
            for warm in (_wrk(url_a, 3, connections, script, files), _wrk(url_b, 3, connections, script, files)):
                _result(warm)
            found: list[dict[str, Any]] = []
            ratios: list[float] = []
            not_valid = 0
            for run in range(runs):
                if run % 2:  # which load starts first alternates, so neither side gets a head start
                    b = _wrk(url_b, seconds, connections, script, files)
                    a = _wrk(url_a, seconds, connections, script, files)
                else:
                    a = _wrk(url_a, seconds, connections, script, files)
                    b = _wrk(url_b, seconds, connections, script, files)
                ra, rb = _result(a), _result(b)
                not_valid += int(ra["not_valid"] + rb["not_valid"])
                if ra["rps"]:
                    ratios.append(round(rb["rps"] / ra["rps"], 3))
                found.append(
                    {
                        "a": ra,
                        "b": rb,
                        "b_over_a": ratios[-1] if ra["rps"] else None,
                        "load_average": round(os.getloadavg()[0], 2),
                    }
                )
                print(json.dumps(found[-1]), file=sys.stderr, flush=True)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=20)
            fixture.close()
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree_a)], check=False)
    return {
        "base": commit,
        "runs": found,
        "median_b_over_a": round(statistics.median(ratios), 3) if ratios else None,
        "seconds": seconds,
        "connections_each": connections,
        "not_valid": not_valid,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="the revision to compare this tree with (default HEAD)")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8, help="wrk connections per server")
    args = parser.parse_args()
    print(json.dumps(compare(args.base, args.runs, args.seconds, args.connections), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
