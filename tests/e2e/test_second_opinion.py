"""A second opinion on the chain: several RPCs read at one block must agree (issue 10).

A lying JSON-RPC proxy (a real HTTP server in a thread) sits in front of the real anvil and
forwards everything, except that it rewrites the calldata of ``eth_call`` so the node answers
about *another* root or digest: asked ``batch(forged root)`` it answers the record of a real
batch ("anchored"), asked ``credentialRevocation(revoked digest)`` it answers for a digest that
was never revoked ("not revoked"). Alone, such an RPC makes a forgery VALID; next to an honest
RPC, the verifier sees the disagreement and says INDETERMINATE, naming both.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from registry.chain.local import LocalChain
from registry.chain.model import Snapshot
from registry.chain.networks import known_rpc_urls, known_rpcs, networks_file
from registry.chain.quorum import snapshot_difference
from registry.cli.app import app
from registry.core.keccak import keccak256_hex
from registry.errors import ConfigError
from registry.issue.direct import write_files
from registry.issue.prepare import prepare_batch
from registry.verify import CheckStatus, Report, Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, Registry, free_port
from tests.cohort import synthetic_cohort

pytestmark = pytest.mark.e2e


class LyingRpc:
    """A JSON-RPC proxy to ``upstream`` that replaces, in the data of every ``eth_call``, each
    hex string of ``lies`` (without 0x) by its value, and with ``head`` claims that block is its
    latest; with neither, an honest second endpoint. ``posts`` counts the HTTP requests (round
    trips) it served."""

    def __init__(self, upstream: str, lies: dict[str, str] | None = None, *, head: int | None = None) -> None:
        self.upstream = upstream
        self.head = head
        self.lies = {k.removeprefix("0x").lower(): v.removeprefix("0x").lower() for k, v in (lies or {}).items()}
        self.posts = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                proxy.posts += 1
                body = [proxy.rewrite(r) for r in body] if isinstance(body, list) else proxy.rewrite(body)
                answer = requests.post(proxy.upstream, json=body, timeout=10)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="lying-rpc", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def rewrite(self, request: dict[str, Any]) -> dict[str, Any]:
        latest = request.get("method") == "eth_getBlockByNumber" and request["params"][0] == "latest"
        if latest and self.head is not None:
            return {**request, "params": [hex(self.head), *request["params"][1:]]}
        if request.get("method") != "eth_call":
            return request
        call = dict(request["params"][0])
        data = str(call.get("data", "")).lower()
        for truth, lie in self.lies.items():
            data = data.replace(truth, lie)
        call["data"] = data
        return {**request, "params": [call, *request["params"][1:]]}

    def __enter__(self) -> LyingRpc:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def verifier(registry: Registry, *urls: str) -> Verifier:
    return Verifier(VerificationPolicy(trusted=registry.trust), rpc_urls=urls)


def rpc(url: str, method: str, *params: Any) -> Any:
    return requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30
    ).json()["result"]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def assert_chain_indeterminate(report: Report, *needles: str) -> None:
    assert report.verdict is Verdict.INDETERMINATE, report.summary
    for name in ("anchor", "issuer", "revocation"):
        check = report.check(name)
        assert check.status is CheckStatus.INDETERMINATE, (name, check.reason)
        for needle in needles:
            assert needle in check.reason, (name, needle, check.reason)


@pytest.fixture(scope="module")
def real(registry: Registry) -> Any:
    """An honestly anchored batch."""
    return registry.issue(3)


@pytest.fixture(scope="module")
def forged(registry: Registry, real: Any) -> tuple[Path, str]:
    """A well-formed file (salts, digest, Merkle path all correct) whose root was never anchored;
    it claims the real batch's block, key and transaction. Returns (file, its root)."""
    docs = list(synthetic_cohort(2, registry.profile(), ACHIEVEMENT, seed=4242))
    prepared = prepare_batch(docs)
    files = write_files(docs, prepared, real.anchor, registry.tmp / "forged", issuer_key=registry.issuer_key)
    return files[0], "0x" + prepared.tree.root.hex()


@pytest.fixture(scope="module")
def liar(registry: Registry, real: Any, forged: tuple[Path, str]) -> Iterator[LyingRpc]:
    """Says the forged root is anchored (it answers with the real batch's record)."""
    with LyingRpc(registry.rpc_url, {forged[1]: real.root}) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def mirror(registry: Registry) -> Iterator[LyingRpc]:
    """An honest second endpoint of the same node."""
    with LyingRpc(registry.rpc_url) as proxy:
        yield proxy


def test_a_lying_rpc_alone_makes_a_forgery_valid(registry: Registry, forged: tuple[Path, str], liar: LyingRpc) -> None:
    """What the second opinion is for: one RPC is trusted blindly."""
    report = verifier(registry, liar.url).verify(load(forged[0]))
    assert report.verdict is Verdict.VALID, report.summary
    honest = verifier(registry, registry.rpc_url).verify(load(forged[0]))
    assert honest.verdict is Verdict.INVALID
    assert honest.check("anchor").status is CheckStatus.FAIL
    assert "is not anchored" in honest.check("anchor").reason


def test_the_liar_next_to_an_honest_rpc_is_indeterminate_naming_both(
    registry: Registry, forged: tuple[Path, str], liar: LyingRpc
) -> None:
    for urls in ((registry.rpc_url, liar.url), (liar.url, registry.rpc_url)):
        report = verifier(registry, *urls).verify(load(forged[0]))
        assert_chain_indeterminate(report, registry.rpc_url, liar.url, f"batch {forged[1]}", "RPCs disagree at block")
        reason = report.check("anchor").reason
        assert f"{registry.rpc_url} says not anchored" in reason
        assert f"{liar.url} says anchored (" in reason


def test_two_honest_rpcs_agree_and_the_report_names_them(registry: Registry, real: Any, mirror: LyingRpc) -> None:
    report = verifier(registry, registry.rpc_url, mirror.url).verify(load(real.files[0]))
    assert report.verdict is Verdict.VALID, report.summary
    details = report.check("anchor").details
    assert details["rpcs"] == [registry.rpc_url, mirror.url]
    assert (
        details["agreedBlockHash"]
        == rpc(registry.rpc_url, "eth_getBlockByNumber", hex(details["agreedBlock"]), False)["hash"]
    )
    assert details["agreedBlock"] >= details["block"] == real.anchor.anchor_block


def test_round_trips_one_rpc_unchanged_several_one_more(registry: Registry, real: Any) -> None:
    """One RPC: the three batched round trips of the snapshot, nothing more. Several: one more
    each (the head block, number and hash), in parallel."""
    files = [(str(p), load(p)) for p in real.files]
    with LyingRpc(registry.rpc_url) as alone:
        assert {r.verdict for r in verifier(registry, alone.url).verify_many(files)} == {Verdict.VALID}
        assert alone.posts == 3
    with LyingRpc(registry.rpc_url) as a, LyingRpc(registry.rpc_url) as b:
        assert {r.verdict for r in verifier(registry, a.url, b.url).verify_many(files)} == {Verdict.VALID}
        assert (a.posts, b.posts) == (4, 4)


def test_a_lie_about_revocation_is_caught(registry: Registry) -> None:
    batch = registry.issue(2)
    revoked, other = (load(p)["proof"][-1]["credentialDigest"] for p in batch.files)
    registry.client.writes.revoke_credentials(registry.issuer_key, [revoked], 1)
    with LyingRpc(registry.rpc_url, {revoked: other}) as liar:
        alone = verifier(registry, liar.url).verify(load(batch.files[0]))
        assert alone.verdict is Verdict.VALID, alone.summary  # the lie works on its own
        assert verifier(registry, registry.rpc_url).verify(load(batch.files[0])).verdict is Verdict.INVALID
        report = verifier(registry, registry.rpc_url, liar.url).verify(load(batch.files[0]))
    assert_chain_indeterminate(report, f"the revocation of credential {revoked}", liar.url, registry.rpc_url)
    assert f"{liar.url} says not revoked" in report.check("revocation").reason


def test_rpcs_on_different_chains_disagree_on_the_block_hash(registry: Registry, real: Any, anvil: LocalChain) -> None:
    """Two separate anvils (same chain id 31337): another chain, or a fork, at the same height."""
    rpc(anvil.rpc_url, "anvil_mine", hex(int(rpc(registry.rpc_url, "eth_blockNumber"), 16) + 2))
    report = verifier(registry, registry.rpc_url, anvil.rpc_url).verify(load(real.files[0]))
    assert_chain_indeterminate(
        report, "on the block hash", registry.rpc_url, anvil.rpc_url, "different chains or forks"
    )


def test_one_rpc_down_among_two_is_indeterminate(registry: Registry, real: Any) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    report = verifier(registry, registry.rpc_url, down).verify(load(real.files[0]))
    assert_chain_indeterminate(report, "no second opinion", down)
    assert report.check("anchor").status is CheckStatus.INDETERMINATE


def test_networks_json_lists_several_rpcs(
    registry: Registry,
    forged: tuple[Path, str],
    liar: LyingRpc,
    mirror: LyingRpc,
    real: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("REGISTRY_CONFIG_DIR", str(tmp_path / "config"))  # never the user's own networks.json
    assert registry.client.registry_address is not None
    path = networks_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"31337": {"rpc": registry.rpc_url, "rpcs": [liar.url], "registries": [registry.client.registry_address]}}
        )
    )
    assert known_rpcs()[31337] == [registry.rpc_url, liar.url]
    assert known_rpc_urls()[31337] == registry.rpc_url  # one-endpoint callers keep the first
    assert_chain_indeterminate(Verifier().verify(load(forged[0])), liar.url)
    path.write_text(json.dumps({"31337": {"rpcs": [registry.rpc_url, mirror.url]}}))
    assert Verifier(VerificationPolicy(trusted=registry.trust)).verify(load(real.files[0])).verdict is Verdict.VALID
    path.write_text(json.dumps({"31337": {"rpcs": "http://one.example"}}))
    with pytest.raises(ConfigError, match="rpcs must be a list of URLs"):
        known_rpcs()


def test_cli_with_two_rpcs(
    registry: Registry, real: Any, forged: tuple[Path, str], liar: LyingRpc, mirror: LyingRpc
) -> None:
    def run(*args: str) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(
            app, ["verify", "--json", *args], env={"REGISTRY_HOME": str(registry.settings.home)}
        )
        return result.exit_code, json.loads(result.stdout)

    code, report = run("--rpc", registry.rpc_url, "--rpc", liar.url, str(forged[0]))
    assert code == 2
    assert report["verdict"] == "INDETERMINATE"
    anchor = next(c for c in report["checks"] if c["name"] == "anchor")
    assert registry.rpc_url in anchor["reason"] and liar.url in anchor["reason"]
    code, report = run("--rpc", liar.url, str(forged[0]))
    assert (code, report["verdict"]) == (0, "VALID")  # one RPC, trusted blindly
    code, report = run("--rpc", registry.rpc_url, "--rpc", mirror.url, str(real.files[0]))
    assert (code, report["verdict"]) == (0, "VALID")
    anchor = next(c for c in report["checks"] if c["name"] == "anchor")
    assert anchor["details"]["rpcs"] == [registry.rpc_url, mirror.url]
    human = CliRunner().invoke(
        app,
        ["verify", "--rpc", registry.rpc_url, "--rpc", mirror.url, str(real.files[0])],
        env={"REGISTRY_HOME": str(registry.settings.home)},
    )
    assert human.exit_code == 0
    assert f"second opinion: 2 RPCs agree at block {anchor['details']['agreedBlock']}" in human.stdout


def test_snapshot_difference_names_the_first_differing_fact() -> None:
    a = Snapshot(chain_id=1, has_code=True, head=5)
    b = Snapshot(chain_id=1, has_code=True, head=5, owners={"did:web:x.example": 2})
    assert snapshot_difference(a, a) is None
    assert snapshot_difference(a, b) == ("the directory entry owning did:web:x.example", "nothing", "2")
    c = Snapshot(chain_id=1, has_code=False, head=5)
    assert snapshot_difference(a, c) == ("the code at the registry address", "a contract", "no code")


def test_a_registry_that_reverts_at_one_rpc_only_is_a_disagreement(registry: Registry, real: Any) -> None:
    selector = keccak256_hex(b"batch(bytes32)")[2:10]
    with LyingRpc(registry.rpc_url, {selector: "deadbeef"}) as broken:  # every batch() call now reverts there
        assert verifier(registry, broken.url).verify(load(real.files[0])).verdict is Verdict.INVALID  # alone
        report = verifier(registry, registry.rpc_url, broken.url).verify(load(real.files[0]))
    assert_chain_indeterminate(report, "is a credential registry", f"{broken.url} says its calls revert")


def test_an_rpc_behind_the_anchor_is_indeterminate_never_invalid(registry: Registry) -> None:
    """The RPCs are read at the lowest of their heads: an RPC that lags (or claims to) hides a fresh
    anchor from both, which must not make a genuine credential INVALID."""
    batch = registry.issue(2)
    with LyingRpc(registry.rpc_url, head=batch.anchor.anchor_block - 1) as behind:
        report = verifier(registry, registry.rpc_url, behind.url).verify(load(batch.files[0]))
    assert_chain_indeterminate(report, f"read at block {batch.anchor.anchor_block - 1}", "an RPC is behind")


def test_an_rpc_claiming_an_old_head_cannot_roll_back_a_revocation_beyond_the_staleness_bound(
    registry: Registry,
) -> None:
    """Runs last: it moves the chain's clock. Within MAX_STALENESS (60 s by block time) a lagging
    RPC can hide a revocation, as a lagging single RPC would; beyond it the verdict is INDETERMINATE."""
    batch = registry.issue(2)
    before = int(rpc(registry.rpc_url, "eth_blockNumber"), 16)
    digest = load(batch.files[0])["proof"][-1]["credentialDigest"]
    registry.client.writes.revoke_credentials(registry.issuer_key, [digest], 1)
    assert verifier(registry, registry.rpc_url).verify(load(batch.files[0])).verdict is Verdict.INVALID
    with LyingRpc(registry.rpc_url, head=before) as behind:
        # a second or two behind: both RPCs agree on the block before the revocation (documented bound)
        report = verifier(registry, registry.rpc_url, behind.url).verify(load(batch.files[0]))
        assert report.verdict is Verdict.VALID, report.summary
        assert report.check("anchor").details["agreedBlock"] == before
        rpc(registry.rpc_url, "evm_increaseTime", 120)
        rpc(registry.rpc_url, "evm_mine")
        report = verifier(registry, registry.rpc_url, behind.url).verify(load(batch.files[0]))
    assert_chain_indeterminate(report, "on the head block", f"block {before}", "s older than block", behind.url)
