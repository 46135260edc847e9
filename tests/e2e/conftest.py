from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.chain.local import LocalChain
from tests.chain_fixtures import Registry, deploy_fixture, start_anvil
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
