"""The issuer's side of format v2 signatures: its Ed25519 signing key (derived from the anchoring
key), the key's registration on chain, the issuer's DID document and the default disclosure
profiles (docs/format.md v2 §4-§5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account.signers.local import LocalAccount

from registry.chain.adapter import Chain
from registry.core.credential import format_datetime
from registry.core.signing import Signer, derive_signing_key, public_key_multibase

__all__ = [
    "DID_CONTEXTS",
    "default_profiles",
    "did_document",
    "ensure_signing_key",
    "issuer_signer",
    "signing_key",
    "signing_public_key",
]

DID_CONTEXTS: Final = ("https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1")
ANCHORING_METHOD_CONTEXT: Final = {
    "EcdsaSecp256k1RecoveryMethod2020": (
        "https://identity.foundation/EcdsaSecp256k1RecoverySignature2020#EcdsaSecp256k1RecoveryMethod2020"
    ),
    "blockchainAccountId": "https://w3id.org/security#blockchainAccountId",
}


def signing_key(account: LocalAccount) -> Ed25519PrivateKey:
    """The Ed25519 signing key that belongs to the anchoring key ``account``."""
    return derive_signing_key(bytes(account.key))


def signing_public_key(account: LocalAccount) -> bytes:
    """The 32-byte public signing key of the anchoring key ``account``."""
    return signing_key(account).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def issuer_signer(account: LocalAccount, issuer_id: str, created: datetime) -> Signer:
    """A signer for credentials of the issuer ``issuer_id`` (the credential's ``issuer.id``)
    anchored by ``account``, with ``created`` = the anchoring time, so the same file comes out
    every time it is assembled (Ed25519 is deterministic)."""
    return Signer(signing_key(account), issuer_id, format_datetime(created, "created"))


def default_profiles(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """The disclosure profiles every v2 file offers pre-signed: without the result (grade), and
    without the learner's name, when the credential has them."""
    subject = doc.get("credentialSubject")
    subject = subject if isinstance(subject, dict) else {}
    out: dict[str, list[str]] = {}
    if "result" in subject:
        out["without-result"] = ["/credentialSubject/result"]
    if "name" in subject:
        out["without-name"] = ["/credentialSubject/name"]
    return out


def ensure_signing_key(chain: Chain, account: LocalAccount) -> bytes:
    """Make the chain record ``account``'s signing key as its issuer's current one (one
    ``setSigningKey`` transaction, only when it is not already); returns the public key."""
    public = signing_public_key(account)
    key = chain.reads.keys_by_address([account.address]).get(account.address)
    issuer_id = key.issuer_id if key is not None else 0
    if issuer_id and chain.reads.current_signing_key(issuer_id) == public:
        return public
    chain.writes.set_signing_key(account, public)
    return public


def did_document(
    did: str, public_key: bytes, chain_id: int, anchoring_address: str, former: Sequence[bytes] = ()
) -> dict[str, Any]:
    """The issuer's DID document (did:web): its Ed25519 signing key as a ``Multikey`` in
    ``assertionMethod``, and its anchoring address as a ``blockchainAccountId``. ``former``
    signing keys (of anchoring keys rotated away from) stay listed after the current one: the
    files signed with them still verify (the chain says when each was the issuer's key)."""
    multibase = public_key_multibase(public_key)
    older = [public_key_multibase(k) for k in former if k != public_key]
    return {
        # The anchoring method's terms, inline (no package ships the secp256k1recovery-2020
        # context offline): a JSON-LD processor in safe mode would otherwise refuse the document.
        "@context": [*DID_CONTEXTS, ANCHORING_METHOD_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": f"{did}#{multibase}", "type": "Multikey", "controller": did, "publicKeyMultibase": multibase},
            {
                "id": f"{did}#anchoring-key",
                "type": "EcdsaSecp256k1RecoveryMethod2020",
                "controller": did,
                "blockchainAccountId": f"eip155:{chain_id}:{anchoring_address}",
            },
            *({"id": f"{did}#{m}", "type": "Multikey", "controller": did, "publicKeyMultibase": m} for m in older),
        ],
        "assertionMethod": [f"{did}#{multibase}", *(f"{did}#{m}" for m in older)],
    }
