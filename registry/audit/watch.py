"""Look-alike watch (``registry audit --look-alikes``): other registries that name our issuers.

Anyone can deploy their own copy of the registry, appoint themselves accreditation body and admit
an "issuer" under a real university's DID. A verifier that trusts only known registries never
calls such files VALID, but the issuers and their accreditation body want to know such a copy
exists. The watch reads every ``IssuerAdmitted`` log of the chain in a bounded block range (one
paged ``eth_getLogs`` without an address filter: a copy of our contract must emit it to admit
anyone), keeps the emitters other than the audited registry, compares each one's runtime
bytecode with the audited registry's, and lists those whose directory names an identity of the
audited registry's issuers: the same canonical DID, or one a person could confuse with it
(:mod:`registry.core.lookalike`). A contract created by another contract is found the same way,
since the scan follows the event, not the creating transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from registry.chain.history import ChainHistory
from registry.chain.model import IssuerInfo
from registry.chain.reads import ChainReader
from registry.core.identity import issuer_did
from registry.core.lookalike import DirectoryName, lookalikes_of
from registry.errors import ChainUnavailable

__all__ = ["Impersonation", "LookalikeRegistry", "WatchReport", "watch_lookalikes"]


@dataclass(frozen=True)
class Impersonation:
    """One directory entry of another registry naming (or resembling) one of our issuers."""

    entry_id: int
    name: str
    uri: str
    admitted_by: str
    block: int
    tx: str
    our_issuer_id: int
    our_issuer: str
    match: str
    """``same-identifier`` (the canonical DID is ours) or the look-alike reasons, comma-separated."""


@dataclass
class LookalikeRegistry:
    """A contract other than the audited registry that emits our ``IssuerAdmitted`` event."""

    address: str
    code: str
    """``identical`` (runtime bytecode equal to the audited registry's), ``identical except
    metadata`` or ``different`` (another contract speaking our event)."""
    admissions: int
    impersonations: list[Impersonation] = field(default_factory=list)


@dataclass
class WatchReport:
    chain_id: int
    registry: str
    from_block: int
    to_block: int
    scanned_logs: int
    registries: list[LookalikeRegistry]

    @property
    def threats(self) -> list[LookalikeRegistry]:
        """The other registries whose directory names or resembles one of our issuers."""
        return [r for r in self.registries if r.impersonations]

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "registry": self.registry,
            "fromBlock": self.from_block,
            "toBlock": self.to_block,
            "scannedLogs": self.scanned_logs,
            "otherRegistries": len(self.registries),
            "lookalikes": [asdict(r) for r in self.threats],
            "others": [
                {"address": r.address, "code": r.code, "admissions": r.admissions}
                for r in self.registries
                if not r.impersonations
            ],
        }


def _strip_metadata(code: bytes) -> bytes:
    """Runtime code without solc's CBOR metadata trailer (its length is in the last 2 bytes)."""
    n = int.from_bytes(code[-2:], "big") if len(code) >= 2 else 0
    return code[: -(n + 2)] if 0 < n + 2 <= len(code) else code


def _code_match(ours: bytes, theirs: bytes) -> str:
    if theirs == ours:
        return "identical"
    if _strip_metadata(theirs) == _strip_metadata(ours):
        return "identical except metadata"
    return "different"


def _match(entry: DirectoryName, ours: Sequence[IssuerInfo]) -> list[tuple[IssuerInfo, str]]:
    """Our issuers that ``entry`` names (same canonical DID) or resembles (look-alike reasons)."""
    did = issuer_did(entry.uri)
    hits: list[tuple[IssuerInfo, str]] = []
    for issuer in ours:
        if did == issuer.did:
            hits.append((issuer, "same-identifier"))
            continue
        found = lookalikes_of(entry, [DirectoryName(issuer.issuer_id, issuer.name, issuer.uri)])
        reasons = sorted({str(r) for hit in found if len(hit.issuer_ids) == 2 for r in hit.reasons})
        identity = [r for r in reasons if r not in ("same-name", "confusable-name")]
        if identity:  # a similar name alone is common (two "Open University"s); a similar identity is not
            hits.append((issuer, ", ".join(reasons)))
    return hits


def watch_lookalikes(
    reader: ChainReader,
    from_block: int,
    to_block: int | None = None,
    *,
    page_size: int = 10_000,
    issuers: Iterable[IssuerInfo] | None = None,
) -> WatchReport:
    """Scan ``[from_block, to_block]`` (default: to the head) for look-alike registries.

    ``reader`` is bound to the audited registry; ``issuers`` defaults to its whole directory.
    """
    registry = reader.require_registry()
    head = reader.head()
    end = head if to_block is None else min(to_block, head)
    ours = list(issuers) if issuers is not None else reader.all_issuers()
    our_code = reader.runtime_code(registry)
    if not our_code:
        raise ChainUnavailable(reader.rpc_url, f"there is no contract at {registry}: nothing to compare with")
    history = ChainHistory(reader)
    topic = reader.abi.topic("IssuerAdmitted")
    by_address: dict[str, list[dict[str, Any]]] = {}
    scanned = 0
    for page in history.get_logs(from_block, end, [topic], any_address=True, page_size=page_size):
        for log in page.logs:
            scanned += 1
            address: str = to_checksum_address(log["address"])
            if address != registry:
                by_address.setdefault(address, []).append(log)
    found: list[LookalikeRegistry] = []
    for address, logs in by_address.items():
        other = LookalikeRegistry(address, _code_match(our_code, reader.runtime_code(address)), len(logs))
        for raw in logs:
            try:
                ev = history.decode_log(raw)
            except Exception:  # another contract's event under our topic but not our layout
                continue
            a = ev.args
            entry = DirectoryName(int(a["issuerId"]), str(a["name"]), str(a["uri"]))
            for issuer, how in _match(entry, ours):
                other.impersonations.append(
                    Impersonation(
                        entry_id=entry.issuer_id,
                        name=entry.name,
                        uri=entry.uri,
                        admitted_by=to_checksum_address(a["admittedBy"]),
                        block=ev.block,
                        tx=ev.tx,
                        our_issuer_id=issuer.issuer_id,
                        our_issuer=f"{issuer.name} ({issuer.did})",
                        match=how,
                    )
                )
        found.append(other)
    found.sort(key=lambda r: (not r.impersonations, r.code != "identical", r.address))
    return WatchReport(reader.chain_id(), registry, from_block, end, scanned, found)
