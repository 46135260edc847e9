"""Look-alike issuer directory entries (Unicode UTS #39, Security Mechanisms; UTS #46 / IDNA).

Two entries a person could take for one another are not the same identity for the registry, so
the contract cannot refuse them; this module finds them so the auditor can report them and the
CLI can warn before admitting one. The Unicode part is ICU's ``SpoofChecker`` (PyICU): the
confusable *skeleton* of UTS #39 §4 and its restriction levels for mixed-script detection
(§5.2). Hosts written as punycode (``xn--``) are decoded with ``idna`` first, so a Cyrillic
``е`` hidden in ``did:web:xn--...`` is compared as the letter it shows.

Reasons, strongest first for each aspect:

* names: ``same-name`` (equal after NFKC and case folding), ``confusable-name`` (equal skeletons);
* identifiers: ``case-variant`` (equal ignoring case), ``same-identifier`` (one canonical DID;
  both reasons for ``did:web:UNI.example`` next to ``did:web:uni.example``), else
  ``confusable-domain`` (equal skeletons of the decoded identifier);
* one entry alone: ``mixed-script-name`` (a word mixing scripts), ``mixed-script-domain`` (a
  domain label mixing scripts).

Pure: no I/O and no module-level state (a ``SpoofChecker`` is made per call, which costs ~2 µs).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations

import icu  # type: ignore[import-untyped]
import idna

from registry.core.identity import issuer_did

__all__ = ["DirectoryName", "Lookalike", "Reason", "display_identifier", "find_lookalikes", "lookalikes_of"]


class Reason(StrEnum):
    """Why entries could be confused (or why one entry alone is suspicious)."""

    SAME_NAME = "same-name"
    CONFUSABLE_NAME = "confusable-name"
    CASE_VARIANT = "case-variant"
    SAME_IDENTIFIER = "same-identifier"
    CONFUSABLE_DOMAIN = "confusable-domain"
    MIXED_SCRIPT_NAME = "mixed-script-name"
    MIXED_SCRIPT_DOMAIN = "mixed-script-domain"


@dataclass(frozen=True)
class DirectoryName:
    """What a person sees of a directory entry: its id, display name and URI (DID)."""

    issuer_id: int
    name: str
    uri: str


@dataclass(frozen=True)
class Lookalike:
    """Entries a person could confuse (two ids), or one entry that mixes scripts (one id).

    ``reasons`` and ``details`` go together: one sentence per reason.
    """

    issuer_ids: tuple[int, ...]
    reasons: tuple[Reason, ...]
    details: tuple[str, ...]

    @property
    def explanation(self) -> str:
        return "; ".join(self.details)


def _fold(text: str) -> str:
    """NFKC, case folding and collapsed whitespace: the form a reader does not tell apart."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _label(label: str) -> str:
    """One host label as it is displayed: an ``xn--`` label decoded (IDNA, then raw punycode)."""
    if not label.lower().startswith("xn--"):
        return label
    try:
        return str(idna.decode(label))
    except (idna.IDNAError, UnicodeError):
        pass
    try:
        return label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return label


def _split_did_web(did: str) -> tuple[str, str] | None:
    """A ``did:web`` as (host, rest including port and path); None for any other identifier."""
    if did[:8].lower() != "did:web:":
        return None
    msi = did[8:]
    ident, sep, path = msi.partition(":")
    cut = ident.upper().find("%3A")
    host, port = (ident, "") if cut < 0 else (ident[:cut], ident[cut:])
    return host, port + sep + path


def display_identifier(uri: str) -> str:
    """The identifier of an entry as a person reads it: its DID, with a punycode host decoded."""
    did = issuer_did(uri)
    parts = _split_did_web(did)
    if parts is None:
        return did
    host, rest = parts
    return "did:web:" + ".".join(_label(lb) for lb in host.split(".")) + rest


def _hosts_labels(uri: str) -> list[str]:
    parts = _split_did_web(display_identifier(uri))
    return parts[0].split(".") if parts else []


@dataclass(frozen=True)
class _Keys:
    """The comparison keys of one entry."""

    entry: DirectoryName
    name: str
    name_skeleton: str
    uri_folded: str
    did: str
    display: str
    display_skeleton: str


class _Spoof:
    """ICU's UTS #39 checker, configured for skeletons and the highly restrictive level (§5.2)."""

    def __init__(self) -> None:
        self._checker = icu.SpoofChecker()
        self._checker.setChecks(icu.USpoofChecks.RESTRICTION_LEVEL | icu.USpoofChecks.MIXED_NUMBERS)
        self._checker.setRestrictionLevel(icu.URestrictionLevel.HIGHLY_RESTRICTIVE)

    def skeleton(self, text: str) -> str:
        """The case-insensitive skeleton: skeleton(fold(text)), folded again (``0`` → ``O`` → ``o``)."""
        return _fold(str(self._checker.getSkeleton(0, _fold(text))))

    def mixed(self, word: str) -> bool:
        """Whether one word (or label) mixes scripts beyond what UTS #39 calls highly restrictive."""
        return bool(word) and int(self._checker.check(word)) != 0

    def keys(self, entry: DirectoryName) -> _Keys:
        display = display_identifier(entry.uri)
        return _Keys(
            entry=entry,
            name=_fold(entry.name),
            name_skeleton=self.skeleton(entry.name),
            uri_folded=entry.uri.strip().casefold(),
            did=issuer_did(entry.uri),
            display=display,
            display_skeleton=self.skeleton(display),
        )


def _scripts(word: str) -> str:
    names = sorted({str(icu.Script.getScript(ch).getName()) for ch in word} - {"Common", "Inherited"})
    return ", ".join(names)


def _entry_label(e: DirectoryName) -> str:
    return f"issuer {e.issuer_id} “{e.name}” ({e.uri})" if e.issuer_id else f"“{e.name}” ({e.uri})"


def _shown(k: _Keys) -> str:
    return k.entry.uri if k.display == k.entry.uri else f"{k.entry.uri} (shown as {k.display})"


def _pair(a: _Keys, b: _Keys) -> Lookalike | None:
    reasons: list[Reason] = []
    details: list[str] = []
    if a.name and a.name == b.name:
        reasons.append(Reason.SAME_NAME)
        details.append(f"the same display name “{a.entry.name}” / “{b.entry.name}”")
    elif a.name and a.name_skeleton == b.name_skeleton:
        reasons.append(Reason.CONFUSABLE_NAME)
        details.append(f"names that look alike (UTS #39 skeleton “{a.name_skeleton}”)")
    case_variant = a.uri_folded == b.uri_folded and a.entry.uri.strip() != b.entry.uri.strip()
    if case_variant:
        reasons.append(Reason.CASE_VARIANT)
        details.append(f"identifiers that differ only by case: {a.entry.uri} / {b.entry.uri}")
    if a.did == b.did:
        reasons.append(Reason.SAME_IDENTIFIER)
        same = f"both {a.did}" if a.entry.uri == b.entry.uri else f"{a.entry.uri} and {b.entry.uri} are both {a.did}"
        details.append(f"one identifier for two entries ({same})")
    elif not case_variant and a.display_skeleton == b.display_skeleton:
        reasons.append(Reason.CONFUSABLE_DOMAIN)
        details.append(f"identifiers that look alike: {_shown(a)} / {_shown(b)}")
    if not reasons:
        return None
    return Lookalike((a.entry.issuer_id, b.entry.issuer_id), tuple(reasons), tuple(details))


def _mixed(spoof: _Spoof, entry: DirectoryName) -> Lookalike | None:
    reasons: list[Reason] = []
    details: list[str] = []
    words = [w for w in unicodedata.normalize("NFKC", entry.name).split() if spoof.mixed(w)]
    if words:
        reasons.append(Reason.MIXED_SCRIPT_NAME)
        details.append("the name mixes scripts in " + ", ".join(f"“{w}” ({_scripts(w)})" for w in words))
    labels = [lb for lb in _hosts_labels(entry.uri) if spoof.mixed(lb)]
    if labels:
        reasons.append(Reason.MIXED_SCRIPT_DOMAIN)
        details.append("the domain mixes scripts in " + ", ".join(f"“{lb}” ({_scripts(lb)})" for lb in labels))
    if not reasons:
        return None
    return Lookalike((entry.issuer_id,), tuple(reasons), tuple(details))


def _sweep(spoof: _Spoof, pairs: Iterable[tuple[_Keys, _Keys]], alone: Iterable[DirectoryName]) -> list[Lookalike]:
    found: list[Lookalike] = []
    for entry in alone:
        hit = _mixed(spoof, entry)
        if hit is not None:
            found.append(hit)
    for a, b in pairs:
        hit = _pair(a, b)
        if hit is not None:
            found.append(hit)
    return found


def _candidate_pairs(keys: Sequence[_Keys], pick: Callable[[_Keys], tuple[str, ...]]) -> list[tuple[_Keys, _Keys]]:
    """Pairs sharing at least one comparison key (grouped, so not every pair is compared)."""
    groups: dict[tuple[int, str], list[int]] = {}
    for index, k in enumerate(keys):
        for slot, value in enumerate(pick(k)):
            if value:
                groups.setdefault((slot, value), []).append(index)
    seen: set[tuple[int, int]] = set()
    for members in groups.values():
        seen.update(combinations(members, 2))
    return [(keys[i], keys[j]) for i, j in sorted(seen)]


def _comparison_keys(k: _Keys) -> tuple[str, ...]:
    return (k.name, k.name_skeleton, k.uri_folded, k.did, k.display_skeleton)


def find_lookalikes(entries: Iterable[DirectoryName]) -> list[Lookalike]:
    """Every pair of entries a person could confuse, and every entry mixing scripts.

    Pairs are ordered as given (the earlier entry first), mixed-script entries come first.
    """
    spoof = _Spoof()
    listed = list(entries)
    keys = [spoof.keys(e) for e in listed]
    return _sweep(spoof, _candidate_pairs(keys, _comparison_keys), listed)


def lookalikes_of(candidate: DirectoryName, existing: Iterable[DirectoryName]) -> list[Lookalike]:
    """What admitting ``candidate`` next to ``existing`` would add: its own mixed scripts and
    every existing entry it could be confused with (existing entry first in each pair)."""
    spoof = _Spoof()
    new = spoof.keys(candidate)
    keys = [spoof.keys(e) for e in existing]
    return _sweep(spoof, ((k, new) for k in keys), [candidate])
