from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.chain.local import LocalChain
from tests.chain_fixtures import Registry, anvil_rpc, deploy_fixture, start_anvil
from tests.e2e.page_fixtures import page, page_file, requested  # noqa: F401 - the verifier page tests' fixtures
from tests.service_support import db  # noqa: F401 - the service tests' database fixture


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A fresh anvil + deployed registry per test module."""
    tmp: Path = tmp_path_factory.mktemp("registry")
    yield from deploy_fixture(tmp)


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChain]:
    """A fresh anvil (nothing deployed) per test module."""
    chain = start_anvil(tmp_path_factory.mktemp("anvil"))
    try:
        yield chain
    finally:
        chain.down()


@pytest.fixture
def snapshot(registry: Registry) -> Iterator[None]:
    """Revert every chain change of the test (anchors, directory edits) when it ends, with automine
    back on and the base fee as it was (anvil's snapshots do not keep it)."""
    snap = anvil_rpc(registry, "evm_snapshot")
    base_fee = anvil_rpc(registry, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"]
    try:
        yield
    finally:
        anvil_rpc(registry, "evm_setAutomine", True)
        assert anvil_rpc(registry, "evm_revert", snap) is True
        anvil_rpc(registry, "anvil_setNextBlockBaseFeePerGas", base_fee)
