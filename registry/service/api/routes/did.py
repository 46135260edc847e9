"""Issuers' DID documents (did:web): ``GET /.well-known/did.json`` and ``GET /issuers/{id}/did.json``.

A standard verifier resolves ``did:web:<host>`` to ``https://<host>/.well-known/did.json`` to find
the key of a credential's ``DataIntegrityProof``; the document lists that Ed25519 key (Multikey,
``assertionMethod``) and the issuer's anchoring address (``blockchainAccountId``). Our own
verifiers never need it: they read the key's binding from the chain (docs/format.md v2 §4).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlmodel import Session, select

from registry.errors import NotFound
from registry.issue.signing import did_document, signing_public_key
from registry.service.api.deps import SessionDep, StateDep
from registry.service.keys import former_signing_keys, signer_for
from registry.service.store import Issuer

__all__ = ["router"]

router = APIRouter(tags=["public"])


def _document(session: Session, issuer: Issuer, chain_id: int) -> dict[str, Any]:
    account = signer_for(issuer, chain_id)
    former = [signing_public_key(k) for k in former_signing_keys(session, issuer, chain_id)]
    return did_document(issuer.did, signing_public_key(account), chain_id, issuer.key_address, former)


@router.get("/.well-known/did.json", summary="The DID document of the issuer this host serves (did:web)")
def well_known(request: Request, session: SessionDep, state: StateDep) -> dict[str, Any]:
    host = request.url.hostname or ""
    if request.url.port:
        host += quote(f":{request.url.port}")
    issuers = list(session.exec(select(Issuer)))
    chosen = [i for i in issuers if i.did == f"did:web:{host}"] or (issuers if len(issuers) == 1 else [])
    if not chosen:
        raise NotFound("issuer DID", f"did:web:{host} (each issuer's document is at /issuers/ID/did.json)")
    return _document(session, chosen[0], state.settings.profile.chain_id)


@router.get("/issuers/{issuer_id}/did.json", summary="An issuer's DID document")
def by_issuer(issuer_id: int, session: SessionDep, state: StateDep) -> dict[str, Any]:
    issuer = session.get(Issuer, issuer_id)
    if issuer is None:
        raise NotFound("issuer", str(issuer_id))
    return _document(session, issuer, state.settings.profile.chain_id)
