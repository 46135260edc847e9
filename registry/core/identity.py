"""Issuer identity: the DID credentials must carry for an issuer directory entry (DID Core, did:web)."""

from __future__ import annotations

__all__ = ["issuer_did"]


def issuer_did(uri: str) -> str:
    """The identifier credentials must carry as ``issuer.id`` for a directory entry's URI.

    A DID is used as is; a bare domain maps to its ``did:web`` form (no DNS is ever consulted:
    the chain's directory is the trust anchor, the string only has to match).
    """
    uri = uri.strip()
    if uri.startswith("did:"):
        return uri
    host = uri.removeprefix("https://").removeprefix("http://").rstrip("/")
    return "did:web:" + host.replace(":", "%3A").replace("/", ":")
