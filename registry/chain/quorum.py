"""A second opinion on the chain: the same reads from several JSON-RPC endpoints, at one block,
compared (DESIGN.md's trust model: "a JSON-RPC endpoint (better: two independent ones that must
agree)").

One RPC alone can answer "anchored, not revoked" for anything. With several, a :class:`Quorum`
picks one block (the lowest head among them, at most :data:`MAX_STALENESS` seconds of block time
older than the newest head, so that an RPC claiming to lag cannot hide a recent revocation),
requires every RPC to give that block number the same block hash (else they follow different
chains or forks, or one of them lies), reads the snapshot pinned to that block number from each
(in parallel) and compares every fact of it; the directory reads of the identity rule go through
it too, pinned to the same block. Any difference raises :class:`RpcDisagreement`, naming the
RPCs, the block and what they said; an RPC that cannot answer raises
:class:`~registry.errors.ChainUnavailable`: a second opinion that is missing, or contradicts the
first, confirms nothing.

RPCs that lie together still agree: independence of the providers is what this buys. State
proofs (EIP-1186) would remove the trust in their state answers, but not in the block hash
(docs/threat-model.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

from registry.chain.model import IssuerInfo, SigningKeyInfo, Snapshot
from registry.chain.reads import ChainReader
from registry.errors import ChainError, ChainUnavailable, NotARegistry, RegistryError

__all__ = ["MAX_STALENESS", "Quorum", "RpcDisagreement", "snapshot_difference"]

MAX_STALENESS = 60.0
"""Seconds (by block timestamps) the agreed block may be older than the newest head of the RPCs."""

T = TypeVar("T")

_MISSING: Any = object()
"""A fact one RPC's snapshot holds and another's lacks."""


class RpcDisagreement(ChainError):
    """Several JSON-RPC endpoints answered the same question differently at the same block."""

    code = "rpc_disagreement"
    exit_code = 4

    def __init__(
        self,
        block: int | None,
        what: str,
        answers: Sequence[tuple[str, str]],
        hint: str = " (one of them is out of sync, broken or lying)",
    ) -> None:
        self.block = block
        self.what = what
        self.answers = list(answers)
        at = f" at block {block}" if block is not None else ""
        said = ", ".join(f"{url} says {answer}" for url, answer in answers)
        super().__init__(f"RPCs disagree{at} on {what}: {said}{hint}")


# How a difference in each field of a Snapshot is named (fields not listed: by their name).
_WHAT: dict[str, Callable[[Any], str]] = {
    "chain_id": lambda _: "the chain id",
    "has_code": lambda _: "the code at the registry address",
    "batches": lambda root: f"batch {root}",
    "revocations": lambda key: f"the revocation of credential {key[1]} (issuer #{key[0]})",
    "keys": lambda key_id: f"anchoring key #{key_id}",
    "issuers": lambda issuer_id: f"directory entry #{issuer_id}",
    "owners": lambda identity: f"the directory entry owning {identity}",
    "accreditors": lambda address: f"accreditation body {address}",
    "signing_keys": lambda public_key: f"signing key 0x{public_key.hex()}",
    "supersessions": lambda key: f"the supersession of credential {key[1]} (issuer #{key[0]})",
}
_PRESENT = {
    "batches": "anchored",
    "revocations": "revoked",
    "signing_keys": "registered",
    "supersessions": "superseded",
}
_ABSENT = {"batches": "not anchored", "revocations": "not revoked", "supersessions": "not superseded"}


def _what(name: str, key: Any) -> str:
    return _WHAT[name](key) if name in _WHAT else name.replace("_", " ")


def _describe(name: str, value: Any, other: Any) -> str:
    """What one RPC said, showing the facts where it differs from ``other``."""
    if value is _MISSING:
        return "nothing"
    if value is None:
        return _ABSENT.get(name, "none")
    if name == "has_code":
        return "a contract" if value else "no code"
    if isinstance(value, SigningKeyInfo) and not value.known:
        return "not registered"
    if is_dataclass(value) and not isinstance(value, type):
        same_kind = type(other) is type(value)
        facts = ", ".join(
            f"{f.name} {getattr(value, f.name)}"
            for f in fields(value)
            if f.name not in ("root", "public_key")
            and (not same_kind or getattr(value, f.name) != getattr(other, f.name))
        )
        return f"{_PRESENT.get(name, 'an entry')} ({facts})"
    return str(value)


def snapshot_difference(a: Snapshot, b: Snapshot) -> tuple[str, str, str] | None:
    """The first fact on which two snapshots differ: (what, a's answer, b's answer); None if equal."""
    for f in fields(Snapshot):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            for key in [*x, *(k for k in y if k not in x)]:
                u, v = x.get(key, _MISSING), y.get(key, _MISSING)
                if u != v:
                    return _what(f.name, key), _describe(f.name, u, v), _describe(f.name, v, u)
        return _what(f.name, None), _describe(f.name, x, y), _describe(f.name, y, x)
    return None


def _block(reader: ChainReader, tag: str) -> tuple[int, str, int]:
    """(number, hash, timestamp) of block ``tag`` (a hex number or "latest") at ``reader``'s RPC."""
    block = reader.rpc.call("eth_getBlockByNumber", [tag, False])
    if not isinstance(block, dict) or not isinstance(block.get("hash"), str):
        raise ChainUnavailable(reader.rpc_url, f"no block {int(tag, 16) if tag != 'latest' else tag}")
    try:
        return int(block["number"], 16), block["hash"].lower(), int(block["timestamp"], 16)
    except (KeyError, TypeError, ValueError) as exc:
        raise ChainUnavailable(reader.rpc_url, "malformed block header") from exc


class Quorum:
    """Readers of one registry through several RPC endpoints that must agree.

    Offers what the verifier reads (:meth:`snapshot`, and :meth:`issuers` / :meth:`all_issuers`
    for the identity rule's :class:`~registry.verify.identity.Directory`), each fact read from
    every endpoint at the block :meth:`snapshot` agreed on (:attr:`block`, :attr:`block_hash`).
    """

    def __init__(self, readers: Sequence[ChainReader], *, max_staleness: float = MAX_STALENESS) -> None:
        if len(readers) < 2:
            raise ValueError("a quorum needs at least two RPC endpoints")
        self.readers = list(readers)
        self.max_staleness = max_staleness
        self.block: int | None = None
        self.block_hash: str | None = None

    @property
    def rpc_urls(self) -> list[str]:
        return [r.rpc_url for r in self.readers]

    @property
    def rpc_url(self) -> str:
        return ", ".join(self.rpc_urls)

    @property
    def registry_address(self) -> str | None:
        return self.readers[0].registry_address

    @registry_address.setter
    def registry_address(self, value: str | None) -> None:
        for reader in self.readers:
            reader.registry_address = value

    # -- every RPC, compared --------------------------------------------------------------

    def _each(self, read: Callable[[ChainReader], T], readers: Sequence[ChainReader] | None = None) -> list[T]:
        """``read`` of every reader, in parallel. An RPC that fails makes the whole read fail (no
        second opinion without it); a contract that reverts for some RPCs only is a disagreement."""
        readers = self.readers if readers is None else readers
        if not readers:
            return []

        def attempt(reader: ChainReader) -> T | RegistryError:
            try:
                return read(reader)
            except RegistryError as exc:
                return exc
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:  # a garbled answer
                return ChainUnavailable(reader.rpc_url, f"malformed answer ({type(exc).__name__}: {exc})")

        with ThreadPoolExecutor(max_workers=len(readers), thread_name_prefix="quorum") as pool:
            outcomes = list(pool.map(attempt, readers))
        for reader, outcome in zip(readers, outcomes, strict=True):
            if isinstance(outcome, RegistryError) and not isinstance(outcome, NotARegistry):
                if isinstance(outcome, ChainUnavailable):
                    raise outcome
                raise ChainUnavailable(reader.rpc_url, str(outcome)) from outcome
        reverted = [o for o in outcomes if isinstance(o, NotARegistry)]
        if reverted and len(reverted) == len(outcomes):
            raise reverted[0]
        if reverted:
            raise RpcDisagreement(
                self.block,
                f"whether {self.registry_address} is a credential registry",
                [
                    (r.rpc_url, "its calls revert" if isinstance(o, NotARegistry) else "it answers as one")
                    for r, o in zip(readers, outcomes, strict=True)
                ],
            )
        return [o for o in outcomes if not isinstance(o, RegistryError)]

    def agree_on_block(self) -> tuple[int, str]:
        """The block every RPC will be read at: the lowest head among them, whose hash every RPC
        must report alike, and no more than :attr:`max_staleness` seconds older than the newest
        head (so an RPC that lags, or claims to, cannot roll back a recent revocation)."""
        heads = self._each(lambda r: _block(r, "latest"))
        number = min(n for n, _, _ in heads)
        behind = [r for r, (n, _, _) in zip(self.readers, heads, strict=True) if n != number]
        fetched = dict(zip(map(id, behind), self._each(lambda r: _block(r, hex(number)), behind), strict=True))
        at = [h if h[0] == number else fetched[id(r)] for r, h in zip(self.readers, heads, strict=True)]
        hashes = [h for _, h, _ in at]
        if len(set(hashes)) > 1:
            raise RpcDisagreement(
                number,
                "the block hash",
                list(zip(self.rpc_urls, hashes, strict=True)),
                ": they follow different chains or forks, or one of them lies",
            )
        newest = max(heads, key=lambda h: h[2])
        stale = newest[2] - min(t for _, _, t in at)
        if stale > self.max_staleness:
            raise RpcDisagreement(
                None,
                "the head block",
                [(url, f"block {n}") for url, (n, _, _) in zip(self.rpc_urls, heads, strict=True)],
                f": block {number} is {stale} s older than block {newest[0]}, more than the {self.max_staleness:g} s "
                "allowed; one of them is out of sync (or claims to be, to hide recent changes)",
            )
        self.block, self.block_hash = number, hashes[0]
        return number, hashes[0]

    def _pinned(self) -> int:
        if self.block is None:
            raise RuntimeError("Quorum: read a snapshot first (it picks the block)")
        return self.block

    def snapshot(
        self,
        roots: Iterable[bytes | str],
        pairs: Iterable[tuple[bytes | str, bytes | str]],
        identities: Iterable[str] = (),
        signing_keys: Iterable[bytes | str] = (),
        *,
        successors: Iterable[tuple[bytes | str, bytes | str]] = (),
        asked_at: float | None = None,
    ) -> Snapshot:
        """:meth:`ChainReader.snapshot` of every RPC at one agreed block; the snapshots must be
        equal (signing keys and supersessions included). The block is agreed on now, always
        after ``asked_at``, which is accepted for the same signature as a single reader's."""
        roots, pairs, identities, keys = list(roots), list(pairs), list(identities), list(signing_keys)
        claims = list(successors)
        number, _ = self.agree_on_block()
        snaps = self._each(lambda r: r.snapshot(roots, pairs, identities, keys, block=number, successors=claims))
        for url, snap in zip(self.rpc_urls[1:], snaps[1:], strict=True):
            diff = snapshot_difference(snaps[0], snap)
            if diff is not None:
                what, first, other = diff
                raise RpcDisagreement(number, what, [(self.rpc_urls[0], first), (url, other)])
        return snaps[0]

    def _agreed(self, what: str, answers: Sequence[T]) -> T:
        for url, answer in zip(self.rpc_urls[1:], answers[1:], strict=True):
            if answer != answers[0]:
                raise RpcDisagreement(self.block, what, [(self.rpc_urls[0], str(answers[0])), (url, str(answer))])
        return answers[0]

    def issuers(self, issuer_ids: Iterable[int]) -> dict[int, IssuerInfo]:
        """Directory entries by id, at the agreed block, alike at every RPC."""
        ids, block = list(issuer_ids), self._pinned()
        return self._agreed(f"directory entries {ids}", self._each(lambda r: r.issuers(ids, block=block)))

    def all_issuers(self) -> list[IssuerInfo]:
        """The whole directory at the agreed block, alike at every RPC."""
        block = self._pinned()
        return self._agreed("the issuer directory", self._each(lambda r: r.all_issuers(block=block)))
