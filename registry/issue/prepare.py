"""Batch preparation: fresh salts, salted digests (``jcs-keccak256-salted-fields-v1``) and the
OpenZeppelin StandardMerkleTree of a batch, plus a generator of realistic synthetic cohorts.

Large batches are split into chunks handled by worker processes (``fork``). A worker obtains the
documents of its chunk itself, from a :data:`DocSource` (``source(start, end)``), so documents are
never pickled and a batch need not be materialised in the parent at all
(:func:`prepare_batch_from`); :func:`prepare_batch` is the same over an in-memory sequence. Salts
come back as compact bytes (16 per field) and are expanded into ``{pointer: salt}`` dictionaries
only when a credential's salts are read, which keeps a million-credential batch in bounded memory.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, overload

import numpy as np
import numpy.typing as npt

from registry.core.credential import Achievement, IssuerProfile, build_credential, identity_hash
from registry.core.disclosure import SALT_BYTES, _fresh_digest
from registry.core.merkle import MerkleTree, _hash_leaves

__all__ = [
    "DocSource",
    "PreparedBatch",
    "SaltTable",
    "prepare_batch",
    "prepare_batch_from",
    "synthetic_cohort",
    "synthetic_source",
]

_PARALLEL_MIN: Final = 4_000
_CHUNK: Final = 25_000
_RANDOM_POOL: Final = 65_536

Rng = Callable[[int], bytes]
DocSource = Callable[[int, int], Iterable[Mapping[str, Any]]]
"""``source(start, end)`` returns (or yields) the documents ``start .. end - 1`` of a batch, in order.

It is called inside worker processes (forked: it is inherited, never pickled), once per chunk."""


class SaltTable(Sequence[dict[str, str]]):
    """Read-only sequence of per-credential ``{pointer: salt}`` dictionaries, stored compactly."""

    __slots__ = ("_chunk", "_layout_of", "_layouts", "_offsets", "_raws")

    def __init__(
        self,
        layouts: list[tuple[str, ...]],
        layout_of: npt.NDArray[np.int32],
        offsets: npt.NDArray[np.int64],
        raws: list[bytes],
        chunk: int,
    ) -> None:
        """``raws[c]`` holds the salts of credentials ``c*chunk ..``; ``offsets`` are per chunk."""
        self._layouts = layouts
        self._layout_of = layout_of
        self._offsets = offsets
        self._raws = raws
        self._chunk = chunk

    def __len__(self) -> int:
        return int(self._layout_of.shape[0])

    @overload
    def __getitem__(self, index: int) -> dict[str, str]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, str]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, str] | list[dict[str, str]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        pointers = self._layouts[int(self._layout_of[index])]
        start = int(self._offsets[index])
        raw = self._raws[index // self._chunk]
        hx = raw[start : start + SALT_BYTES * len(pointers)].hex()
        return {p: "0x" + hx[32 * i : 32 * i + 32] for i, p in enumerate(pointers)}


@dataclass(frozen=True)
class PreparedBatch:
    """Salts, digests (input order) and the Merkle tree of a batch."""

    salts: Sequence[dict[str, str]]
    digests: list[bytes]
    tree: MerkleTree


_Chunk = tuple[list[tuple[str, ...]], bytes, bytes, bytes, bytes]
_SOURCE: DocSource | None = None
_RNG: Rng = os.urandom


class _UrandomPool:
    """``os.urandom`` drawn 64 KiB at a time: one system call per ~100 credentials, not one each.

    Every byte is handed out once. A pool is created inside the process that uses it (after any
    fork), so no two processes ever hold the same bytes.
    """

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0

    def __call__(self, size: int) -> bytes:
        pos = self._pos
        end = pos + size
        if end > len(self._buf):
            self._buf = os.urandom(max(_RANDOM_POOL, size))
            pos, end = 0, size
        self._pos = end
        return self._buf[pos:end]


def _prepare_range(bounds: tuple[int, int]) -> _Chunk:
    """Digest documents ``[start, end)``; returns local layouts, layout ids, salts, digests, leaves."""
    start, end = bounds
    source = _SOURCE
    assert source is not None
    rng: Rng = _UrandomPool() if _RNG is os.urandom else _RNG
    layouts: dict[tuple[str, ...], int] = {}
    ids: list[int] = []
    raws: list[bytes] = []
    digests: list[bytes] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # digesting creates no reference cycles; skip collections of short-lived garbage
    try:
        for doc in source(start, end):
            pointers, raw, digest = _fresh_digest(doc, rng)
            lid = layouts.get(pointers)
            if lid is None:
                lid = layouts[pointers] = len(layouts)
            ids.append(lid)
            raws.append(raw)
            digests.append(digest)
    finally:
        if gc_was_enabled:
            gc.enable()
    if len(digests) != end - start:
        raise ValueError(f"the document source returned {len(digests)} documents for [{start}, {end})")
    digest_blob = b"".join(digests)
    id_blob = np.array(ids, dtype=np.int32).tobytes()
    return list(layouts), id_blob, b"".join(raws), digest_blob, _hash_leaves(digest_blob)


def _worker_init() -> None:
    gc.freeze()  # inherited objects are long-lived: keep them out of collections


def _sequence_source(docs: Sequence[Mapping[str, Any]]) -> DocSource:
    def source(start: int, end: int) -> Iterable[Mapping[str, Any]]:
        return map(docs.__getitem__, range(start, end))

    return source


def prepare_batch(
    docs: Sequence[Mapping[str, Any]],
    workers: int | None = None,
    *,
    rng: Rng = os.urandom,
) -> PreparedBatch:
    """Salt and digest every credential of ``docs`` and build the batch tree.

    ``workers``: processes (default: 1 below 4,000 credentials, else up to 2 on Linux).
    Any ``rng`` other than ``os.urandom`` (e.g. a seeded generator for tests) forces one process,
    since forked copies of a generator would hand out the same salts twice.
    """
    return prepare_batch_from(len(docs), _sequence_source(docs), workers, rng=rng)


def prepare_batch_from(
    n: int,
    source: DocSource,
    workers: int | None = None,
    *,
    rng: Rng = os.urandom,
) -> PreparedBatch:
    """Like :func:`prepare_batch` for ``n`` documents read from ``source`` chunk by chunk.

    With worker processes, each worker calls ``source(start, end)`` itself, so the documents of a
    batch never have to exist all at once (nor in the parent): memory stays bounded by one chunk
    per worker plus the compact results (salts, digests, tree).
    """
    global _SOURCE, _RNG
    if n <= 0:
        raise ValueError("a batch needs at least one credential")
    if workers is None:
        workers = 1 if n < _PARALLEL_MIN else min(2, os.cpu_count() or 1)
    if rng is not os.urandom:
        workers = 1  # a seeded generator copied into forked workers would repeat salts
    fork = "fork" in multiprocessing.get_all_start_methods()
    chunk = _CHUNK
    ranges = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    _SOURCE, _RNG = source, rng
    try:
        if workers > 1 and fork and len(ranges) > 1:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers, initializer=_worker_init) as pool:
                chunks = pool.map(_prepare_range, ranges, chunksize=1)
        else:
            chunks = [_prepare_range(r) for r in ranges]
    finally:
        _SOURCE, _RNG = None, os.urandom
    layout_index: dict[tuple[str, ...], int] = {}
    layout_of = np.empty(n, dtype=np.int32)
    field_counts = np.empty(n, dtype=np.int64)
    pos = 0
    for local_layouts, ids_blob, _, _, _ in chunks:
        remap = np.array(
            [layout_index.setdefault(lay, len(layout_index)) for lay in local_layouts],
            dtype=np.int32,
        )
        counts = np.array([len(lay) for lay in local_layouts], dtype=np.int64)
        ids = np.frombuffer(ids_blob, dtype=np.int32)
        layout_of[pos : pos + ids.shape[0]] = remap[ids]
        field_counts[pos : pos + ids.shape[0]] = counts[ids]
        pos += ids.shape[0]
    offsets = np.zeros(n, dtype=np.int64)
    for start, end in ranges:  # offsets restart at every chunk (one salt blob per chunk)
        np.cumsum(field_counts[start : end - 1] * SALT_BYTES, out=offsets[start + 1 : end])
    raws = [c[2] for c in chunks]
    digest_blob = b"".join([c[3] for c in chunks])
    leaves_blob = b"".join([c[4] for c in chunks])
    del chunks
    digests = [digest_blob[i : i + 32] for i in range(0, len(digest_blob), 32)]
    tree = MerkleTree._build(digest_blob, leaves_blob, workers)
    salts = SaltTable(list(layout_index), layout_of, offsets, raws, chunk)
    return PreparedBatch(salts=salts, digests=digests, tree=tree)


_GIVEN: Final = (
    "Ada",
    "Alan",
    "Amira",
    "Ben",
    "Chiara",
    "Chen",
    "Dario",
    "Elena",
    "Emre",
    "Fatima",
    "Femi",
    "Giulia",
    "Hana",
    "Ines",
    "Jakub",
    "Jonas",
    "Julia",
    "Kai",
    "Lea",
    "Lena",
    "Luca",
    "Maja",
    "Marta",
    "Mateo",
    "Mia",
    "Nadia",
    "Nils",
    "Noah",
    "Olga",
    "Omar",
    "Paula",
    "Pedro",
    "Rosa",
    "Sara",
    "Sofia",
    "Tariq",
    "Tomas",
    "Una",
    "Vera",
    "Yusuf",
    "Zoe",
)
_FAMILY: Final = (
    "Andersen",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lambert",
    "Moreau",
    "Novak",
    "Olsen",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Silva",
    "Takahashi",
    "Umar",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zeller",
)
_DOMAINS: Final = ("example.org", "example.net", "mail.example", "uni.example", "learner.example")
_GRADES: Final = ("A", "A-", "B+", "B", "B-", "C+", "C", "pass", "pass with distinction")


Profile = Literal["microcredential", "basic"]
"""Synthetic credential shapes: ``microcredential`` is the full EU micro-credential (38 fields
with a three-outcome achievement and an issuer with url and e-mail); ``basic`` is a lean OB 3.0
``AchievementCredential`` without the micro-credential elements (25 fields): the three contexts
the file format requires, id, types, name, issuer id/type/name, validity, hashed recipient
identity, achievement id/type/name/description/criteria and a grade."""

_BASE: Final = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
_VALID_DAYS: Final = 5 * 365
_BASIC_ISSUER_KEYS: Final = ("id", "type", "name")
_BASIC_ACHIEVEMENT_KEYS: Final = ("id", "type", "name", "description", "criteria", "image")


def _to_basic(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``basic`` profile of a ``build_credential`` document (drops the EU extension)."""
    subject = dict(doc["credentialSubject"])
    subject.pop("name", None)
    ach = subject["achievement"]
    subject["achievement"] = {k: ach[k] for k in _BASIC_ACHIEVEMENT_KEYS if k in ach}
    return {
        **doc,
        "issuer": {k: doc["issuer"][k] for k in _BASIC_ISSUER_KEYS},
        "credentialSubject": subject,
    }


def _clone(template: dict[str, Any]) -> dict[str, Any]:
    """Copy a dict whose containers hold only scalars (the leaves, immutable, are shared)."""
    return {k: v.copy() if type(v) is list or type(v) is dict else v for k, v in template.items()}


def _flat_containers(template: dict[str, Any]) -> bool:
    return all(
        all(type(x) not in (list, dict) for x in (v.values() if type(v) is dict else v))
        for v in template.values()
        if type(v) in (list, dict)
    )


@dataclass(frozen=True)
class _Learner:
    """The random choices behind credential ``i`` of a synthetic cohort."""

    email: str
    name: str
    valid_from: datetime
    result: str
    credential_uuid: bytes
    identity_salt: bytes


def _learner_bytes(seed: int, i: int) -> bytes:
    key = hashlib.sha256(f"credential-registry synthetic cohort {seed}".encode()).digest()
    return hashlib.blake2b(i.to_bytes(8, "big"), digest_size=48, key=key).digest()


def _learner(seed: int, i: int) -> _Learner:
    """Reference (slow) form of what :func:`synthetic_cohort` derives for learner ``i``."""
    h = _learner_bytes(seed, i)
    given, family = _GIVEN[h[0] % len(_GIVEN)], _FAMILY[h[1] % len(_FAMILY)]
    days, seconds = int.from_bytes(h[3:5], "big") % 365, int.from_bytes(h[5:8], "big") % 86_400
    return _Learner(
        email=f"{given}.{family}{i}@{_DOMAINS[h[2] % len(_DOMAINS)]}".lower(),
        name=f"{given} {family}",
        valid_from=_BASE + timedelta(days=days, seconds=seconds),
        result=_GRADES[h[8] % len(_GRADES)],
        credential_uuid=h[16:32],
        identity_salt=h[32:48],
    )


def synthetic_cohort(
    n: int,
    issuer: IssuerProfile | Mapping[str, Any],
    achievement: Achievement | Mapping[str, Any],
    seed: int,
    *,
    start: int = 0,
    profile: Profile = "microcredential",
) -> Iterator[dict[str, Any]]:
    """Yield credentials ``start .. start + n - 1`` of a realistic, reproducible cohort.

    Every credential has its own recipient, identity salt, UUID, dates and grade, and depends only
    on ``(seed, index)``: any range can be generated on its own (e.g. inside a worker process) and
    matches the same range of a longer run. The documents are exactly what
    :func:`registry.core.credential.build_credential` returns for those choices (``profile="basic"``:
    without the micro-credential extension, see :data:`Profile`); a unit test pins this.
    """
    if profile not in ("microcredential", "basic"):
        raise ValueError(f"unknown profile {profile!r}")
    iss = issuer if isinstance(issuer, IssuerProfile) else IssuerProfile.model_validate(issuer)
    ach = achievement if isinstance(achievement, Achievement) else Achievement.model_validate(achievement)
    template = build_credential(
        achievement=ach,
        issuer=iss,
        recipient_email="learner@example.org",
        recipient_name="Learner",
        valid_from=_BASE,
        valid_until=_BASE + timedelta(days=1),
        result="pass",
        rng=bytes,
    )
    full = profile == "microcredential"
    if not full:
        template = _to_basic(template)
    contexts = template["@context"]
    issuer_t = template["issuer"]
    ach_t = template["credentialSubject"]["achievement"]
    cred_types = template["type"]
    if not (_flat_containers(issuer_t) and _flat_containers(ach_t)):  # pragma: no cover - model guarantees
        raise AssertionError("unexpected nesting in the credential template")
    key = hashlib.sha256(f"credential-registry synthetic cohort {seed}".encode()).digest()
    day0 = _BASE.date()
    from_dates = [(day0 + timedelta(days=d)).isoformat() for d in range(367)]
    until_dates = [(day0 + timedelta(days=d + _VALID_DAYS)).isoformat() for d in range(367)]
    base_s = _BASE.hour * 3600 + _BASE.minute * 60 + _BASE.second
    n_given, n_family, n_domains, n_grades = len(_GIVEN), len(_FAMILY), len(_DOMAINS), len(_GRADES)
    blake = hashlib.blake2b
    for i in range(start, start + n):
        h = blake(i.to_bytes(8, "big"), digest_size=48, key=key).digest()
        given, family = _GIVEN[h[0] % n_given], _FAMILY[h[1] % n_family]
        email = f"{given}.{family}{i}@{_DOMAINS[h[2] % n_domains]}".lower()
        total = (int.from_bytes(h[3:5], "big") % 365) * 86_400 + base_s + int.from_bytes(h[5:8], "big") % 86_400
        day, rem = divmod(total, 86_400)
        hh, rem = divmod(rem, 3600)
        clock = f"T{hh:02d}:{rem // 60:02d}:{rem % 60:02d}Z"
        u = h[16:32].hex()
        u = f"{u[:12]}4{u[13:16]}{'89ab'[int(u[16], 16) & 3]}{u[17:]}"  # UUID version 4, RFC 4122 variant
        salt = h[32:48].hex()
        subject: dict[str, Any] = {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "identityHash": identity_hash(email, salt),
                    "salt": salt,
                }
            ],
        }
        if full:
            subject["name"] = f"{given} {family}"
        subject["achievement"] = _clone(ach_t)
        subject["result"] = [{"type": ["Result"], "value": _GRADES[h[8] % n_grades]}]
        yield {
            "@context": contexts.copy(),
            "id": f"urn:uuid:{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}",
            "type": cred_types.copy(),
            "name": template["name"],
            "issuer": _clone(issuer_t),
            "validFrom": from_dates[day] + clock,
            "validUntil": until_dates[day] + clock,
            "credentialSubject": subject,
        }


def synthetic_source(
    issuer: IssuerProfile | Mapping[str, Any],
    achievement: Achievement | Mapping[str, Any],
    seed: int,
    *,
    profile: Profile = "microcredential",
) -> DocSource:
    """A :data:`DocSource` over :func:`synthetic_cohort` (for :func:`prepare_batch_from`)."""

    def source(start: int, end: int) -> Iterable[Mapping[str, Any]]:
        return synthetic_cohort(end - start, issuer, achievement, seed, start=start, profile=profile)

    return source
