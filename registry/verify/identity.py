"""The identity rule of the ``issuer`` check: one identity, one directory entry.

The issuer a credential names (``issuer.id``, in canonical form) must be the directory entry of
the key that anchored its batch, and no other entry may own that identity. The owner is read on
chain (``issuerIdByUri`` of the canonical form, batched with the other reads); a legacy entry
admitted under a non-canonical spelling has no owner by that lookup, so then the directory is
scanned for every entry claiming the identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Protocol

from registry.chain.model import IssuerInfo
from registry.core.identity import issuer_did
from registry.locales.reasons import Reason

__all__ = ["Directory", "DirectoryReads", "identity_conflict", "named_identity"]


class DirectoryReads(Protocol):
    """Where a :class:`Directory` reads entries: a :class:`~registry.chain.reads.ChainReader`, or
    a :class:`~registry.chain.quorum.Quorum` (every RPC, at the agreed block, compared)."""

    def issuers(self, issuer_ids: Iterable[int]) -> dict[int, IssuerInfo]: ...

    def all_issuers(self) -> list[IssuerInfo]: ...


_canonical = lru_cache(maxsize=4096)(issuer_did)
""":func:`issuer_did`, memoised: a batch names the same few issuers in every file, and the
canonical form (IDNA, URL parsing) costs more than the rest of the issuer check."""


def named_identity(credential: Mapping[str, Any]) -> str:
    """The canonical form of the issuer a credential names (its string when it has none)."""
    named = credential.get("issuer", {})
    value = named.get("id") if isinstance(named, dict) else named
    return _canonical(value) if isinstance(value, str) else ""


class Directory:
    """The issuer directory of one registry, read only when a conflict needs it (one verify run)."""

    def __init__(self, reader: DirectoryReads) -> None:
        self._reader = reader
        self._entries: dict[int, IssuerInfo] = {}
        self._all: list[IssuerInfo] | None = None

    def entry(self, issuer_id: int) -> IssuerInfo:
        if issuer_id not in self._entries:
            self._entries.update(self._reader.issuers([issuer_id]))
        return self._entries[issuer_id]

    def claimants(self, identity: str) -> list[IssuerInfo]:
        """Every entry whose URI means ``identity``."""
        if self._all is None:
            self._all = self._reader.all_issuers()
        return [e for e in self._all if e.did == identity]


def _label(entry: IssuerInfo) -> str:
    return f"#{entry.issuer_id} {entry.name} ({entry.uri!r})"


def identity_conflict(identity: str, anchoring: IssuerInfo, owner: int, directory: Directory) -> str | None:
    """Why ``identity`` does not belong to ``anchoring`` alone (None when it does).

    ``owner``: the entry admitted with exactly ``identity`` (0: none, a legacy spelling).
    """
    if owner not in (0, anchoring.issuer_id):
        return Reason(
            "the identity {identity} belongs to directory entry {owner}, not to entry {anchoring} whose key anchored "
            "this batch: one identity, one entry",
            identity=identity,
            owner=_label(directory.entry(owner)),
            anchoring=_label(anchoring),
        )
    if owner == 0:
        claimants = directory.claimants(identity)
        if len(claimants) > 1:
            names = ", ".join(_label(e) for e in claimants)
            return Reason(
                "several directory entries claim {identity}: {names}; the registry cannot tell which one issued it",
                identity=identity,
                names=names,
            )
    return None
