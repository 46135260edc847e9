"""How the service reaches the chain: the client bound to the registry, and each issuer's
anchoring key (its encrypted keystore, or a development key on development chains only)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.chain.adapter import Chain
from registry.config import Settings, load_deployment
from registry.core.signing import Signer
from registry.errors import ConfigError
from registry.issue.signing import issuer_signer
from registry.service.store import Issuer

__all__ = ["chain_client", "check_issuer_keys", "credential_signer", "signer_for"]


def chain_client(settings: Settings) -> Chain:
    """A client for the service's RPC bound to the registry recorded for that chain."""
    client = Chain(settings.rpc)
    if settings.registry_address:
        client.registry_address = to_checksum_address(settings.registry_address)
    else:
        client.registry_address = to_checksum_address(load_deployment(settings, client.reads.chain_id())["address"])
    return client


def signer_for(issuer: Issuer, chain_id: int) -> LocalAccount:
    """The anchoring key of ``issuer``: its encrypted keystore, or a dev key on dev chains only."""
    from registry.chain.devkeys import dev_account
    from registry.chain.keys import load_keystore

    kind, _, value = issuer.key_source.partition(":")
    if kind == "keystore":
        account = load_keystore(Path(value))
    elif kind == "dev":
        account = dev_account(value, chain_id)
    else:
        raise ConfigError(f"issuer {issuer.name}: unknown key source {issuer.key_source!r}")
    if account.address.lower() != issuer.key_address.lower():
        raise ConfigError(
            f"issuer {issuer.name}: the key from {kind} is {account.address}, "
            f"but the issuer's anchoring key is {issuer.key_address}"
        )
    return account


def check_issuer_keys(engine: Engine, chain_id: int) -> dict[int, LocalAccount]:
    """Load every issuer's key; raises ConfigError (refusing to start) on any unusable key,
    in particular a development key on a chain that is not a development chain."""
    with Session(engine) as session:
        issuers = list(session.exec(select(Issuer)))
    return {int(i.id or 0): signer_for(i, chain_id) for i in issuers}


@lru_cache(maxsize=256)
def _account(key_source: str, key_address: str, name: str, chain_id: int) -> LocalAccount:
    return signer_for(Issuer(name=name, did="", key_source=key_source, key_address=key_address), chain_id)


def credential_signer(issuer: Issuer, chain_id: int, issuer_id: str, created: datetime) -> Signer:
    """The signer of the issuer's format v2 files (its anchoring key loaded once per process:
    decrypting a keystore is deliberately slow)."""
    account = _account(issuer.key_source, issuer.key_address, issuer.name, chain_id)
    return issuer_signer(account, issuer_id, created)
