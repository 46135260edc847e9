"""What a verifier accepts: trusted registries, confirmations, the clock, offline mode.

One explicit, immutable object (in the spirit of sigstore-python's ``verify/policy.py``), so a
caller states its policy instead of reaching into a verifier's attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_utils import to_checksum_address

from registry.chain.networks import trust_anchors
from registry.locales.reasons import phrase

__all__ = ["TrustedRegistries", "VerificationPolicy"]

TrustedRegistries = Mapping[int, Mapping[str, str] | Set[str]]
"""Per chain id, the trusted registry addresses: a mapping address -> trust source (what admits
it, named in every report), or a plain set (source: "the caller's policy")."""


@dataclass(frozen=True)
class VerificationPolicy:
    """How a :class:`registry.verify.Verifier` decides.

    ``trusted``: the registries whose directory the verifier believes (``None``: the trust
    anchors, i.e. the package's network profiles and the user's ``networks.json``). A file from
    any other registry is never VALID: anyone can deploy a look-alike registry and admit
    themselves under any name. ``min_confirmations``: blocks on top of the anchor before it
    counts. ``now``: the clock for validity periods (``None``: the current time). ``offline``:
    skip every chain check (they become INDETERMINATE).
    """

    trusted: TrustedRegistries | None = None
    min_confirmations: int = 1
    now: datetime | None = None
    offline: bool = False

    def clock(self) -> datetime:
        """The moment validity is judged at."""
        return self.now or datetime.now(UTC)

    def trusted_on(self, chain_id: int) -> dict[str, str]:
        """Every registry trusted on ``chain_id``: checksummed address -> trust source."""
        table = self.trusted if self.trusted is not None else trust_anchors()
        entries = table.get(chain_id) or {}
        return {
            to_checksum_address(a): entries[a] if isinstance(entries, Mapping) else phrase("the caller's policy")
            for a in entries
        }

    def trust_source(self, chain_id: int, registry: str) -> str | None:
        """What makes ``registry`` on ``chain_id`` trusted, or ``None`` when nothing does."""
        return self.trusted_on(chain_id).get(to_checksum_address(registry))
