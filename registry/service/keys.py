"""How the service reaches the chain: the client bound to the registry, and each issuer's
anchoring key (its encrypted keystore, or a development key on development chains only)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.chain.adapter import Chain
from registry.config import Settings, load_deployment
from registry.core.signing import Signer
from registry.errors import ConfigError
from registry.issue.signing import issuer_signer
from registry.service.store import Issuer, IssuerFormerKey

__all__ = [
    "anchoring_key_source",
    "chain_client",
    "check_issuer_keys",
    "credential_signer",
    "former_signing_keys",
    "load_key",
    "signer_for",
]


def chain_client(settings: Settings) -> Chain:
    """A client for the service's RPC bound to the registry recorded for that chain."""
    client = Chain(settings.rpc)
    if settings.registry_address:
        client.registry_address = to_checksum_address(settings.registry_address)
    else:
        client.registry_address = to_checksum_address(load_deployment(settings, client.reads.chain_id())["address"])
    return client


def load_key(key_source: str, chain_id: int, whose: str = "the issuer") -> LocalAccount:
    """The key a key source names: ``keystore:PATH`` (encrypted), or ``dev:ROLE`` on dev chains only."""
    from registry.chain.devkeys import dev_account
    from registry.chain.keys import load_keystore

    kind, _, value = key_source.partition(":")
    if kind == "keystore":
        return load_keystore(Path(value))
    if kind == "dev":
        return dev_account(value, chain_id)
    raise ConfigError(f"{whose}: unknown key source {key_source!r}")


def signer_for(issuer: Issuer, chain_id: int) -> LocalAccount:
    """The anchoring key of ``issuer``: its encrypted keystore, or a dev key on dev chains only."""
    account = load_key(issuer.key_source, chain_id, f"issuer {issuer.name}")
    kind = issuer.key_source.partition(":")[0]
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


def anchoring_key_source(session: Session, issuer: Issuer, address: str) -> str:
    """The key source of ``address``: the issuer's current anchoring key, or one it rotated away
    from (:class:`~registry.service.store.IssuerFormerKey`); ConfigError for any other address."""
    if address.lower() == issuer.key_address.lower():
        return issuer.key_source
    for former in session.exec(select(IssuerFormerKey).where(IssuerFormerKey.issuer_id == issuer.id)):
        if former.key_address.lower() == address.lower():
            return former.key_source
    raise ConfigError(f"issuer {issuer.name}: {address} is neither its anchoring key nor a former one")


def credential_signer(
    issuer: Issuer, chain_id: int, issuer_id: str, created: datetime, *, key: tuple[str, str] | None = None
) -> Signer:
    """The signer of the issuer's format v2 files: with the key of ``key`` (key source, address:
    the key that anchored the batch) or the issuer's anchoring key, loaded once per process
    (decrypting a keystore is deliberately slow)."""
    source, address = key if key is not None else (issuer.key_source, issuer.key_address)
    account = _account(source, address, issuer.name, chain_id)
    return issuer_signer(account, issuer_id, created)


def former_signing_keys(session: Session, issuer: Issuer, chain_id: int) -> list[LocalAccount]:
    """The anchoring keys the issuer rotated away from, oldest first."""
    rows = session.exec(
        select(IssuerFormerKey).where(IssuerFormerKey.issuer_id == issuer.id).order_by(col(IssuerFormerKey.id))
    )
    return [_account(r.key_source, r.key_address, issuer.name, chain_id) for r in rows]
