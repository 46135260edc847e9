"""What a verifier accepts: trusted registries, confirmations, the clock, offline mode.

One explicit, immutable object (in the spirit of sigstore-python's ``verify/policy.py``), so a
caller states its policy instead of reaching into a verifier's attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_utils import to_checksum_address

from registry.chain.networks import trusted_registries

__all__ = ["VerificationPolicy"]


@dataclass(frozen=True)
class VerificationPolicy:
    """How a :class:`registry.verify.Verifier` decides.

    ``trusted``: registries pinned per chain id (``None``: the user's ``networks.json``; an empty
    mapping: none pinned). ``min_confirmations``: blocks on top of the anchor before it counts.
    ``now``: the clock for validity periods (``None``: the current time). ``offline``: skip every
    chain check (they become INDETERMINATE).
    """

    trusted: Mapping[int, Set[str]] | None = None
    min_confirmations: int = 1
    now: datetime | None = None
    offline: bool = False

    def clock(self) -> datetime:
        """The moment validity is judged at."""
        return self.now or datetime.now(UTC)

    def trusted_on(self, chain_id: int) -> set[str] | None:
        """Checksummed registries pinned on ``chain_id``, or ``None`` when none are."""
        table = self.trusted if self.trusted is not None else trusted_registries()
        entries = table.get(chain_id)
        return {to_checksum_address(a) for a in entries} if entries else None
