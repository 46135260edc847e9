"""Publishing a pathway: its owner anchors the definition's digest on chain (docs/pathways.md).

The digest goes into the registry as a batch of its own (``anchor(digest, 1, keccak256(JCS of
the definition))``): no contract change, the same key rules as credential batches (the owner's
active, uncompromised key of a non-suspended issuer), and the chain's record says who anchored
which version when. The digest is domain-separated (:func:`registry.core.pathway.pathway_digest`),
so it can never be the root of a credential batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import rfc8785
from eth_account.signers.local import LocalAccount

from registry.chain.adapter import Chain
from registry.core.pathway import Pathway, pathway_digest
from registry.errors import Conflict, InvalidInput

__all__ = ["PublishedPathway", "publish_pathway"]


@dataclass(frozen=True)
class PublishedPathway:
    digest: str
    block: int
    anchored_at: int
    tx_hash: str | None
    """None when the same version was already anchored by its owner (nothing sent)."""


def publish_pathway(chain: Chain, owner_key: LocalAccount, pathway: Pathway) -> PublishedPathway:
    """Anchor ``pathway``'s digest with ``owner_key``, which must be an anchoring key of the issuer
    the pathway names as ``owner``. Publishing the same version again sends nothing."""
    digest = "0x" + pathway_digest(pathway).hex()
    key = chain.reads.keys_by_address([owner_key.address]).get(owner_key.address)
    if key is None or key.issuer_id == 0:
        raise InvalidInput("key", f"{owner_key.address} is not an anchoring key of any issuer in the registry")
    issuer = chain.reads.issuers([key.issuer_id])[key.issuer_id]
    if issuer.did != pathway.owner:
        raise InvalidInput(
            "owner",
            f"the pathway's owner is {pathway.owner}, but this key belongs to {issuer.name} ({issuer.uri}): "
            "only the owner publishes its pathways",
        )
    existing = chain.reads.batches([digest])[digest]
    if existing is not None:
        if existing.issuer_id != key.issuer_id:
            raise Conflict(
                "pathway_taken", f"pathway digest {digest} is already anchored by issuer #{existing.issuer_id}"
            )
        return PublishedPathway(digest, existing.block_number, existing.anchored_at, None)
    result = chain.writes.anchor(owner_key, digest, 1, rfc8785.dumps(pathway.to_json()))
    record = chain.reads.batches([digest])[digest]
    assert record is not None
    return PublishedPathway(digest, record.block_number, record.anchored_at, result.tx_hash)
