"""The RPC URL the service's /verify page offers visitors: never a provider URL that may carry a key."""

from __future__ import annotations

from registry.config import Settings


def test_a_local_chain_is_offered() -> None:
    assert Settings(rpc_url="http://127.0.0.1:8545").public_rpc() == "http://127.0.0.1:8545"
    assert Settings(rpc_url="http://localhost:8545").public_rpc() == "http://localhost:8545"


def test_a_provider_url_is_never_published() -> None:
    secret = "https://eth-sepolia.g.alchemy.com/v2/SECRET-KEY"
    assert Settings(network="sepolia", rpc_url=secret).public_rpc() is None


def test_the_public_rpc_setting_wins() -> None:
    settings = Settings(rpc_url="https://node.internal/KEY", public_rpc_url="https://rpc.sepolia.org")
    assert settings.public_rpc() == "https://rpc.sepolia.org"
