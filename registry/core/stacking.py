"""Stacking credentials toward a pathway (``pathway-v1``, ``docs/pathways.md``, Evaluation).

A credential as a pathway sees it (:class:`Component`, read from a credential document by
:func:`component_of`), :func:`evaluate`: how far components meet the requirements of a
:class:`~registry.core.pathway.Pathway` (:class:`PathwayResult`, one :class:`NodeResult` per
requirement), and :func:`component_digest_multibase`: how an umbrella credential names a component
(VC 2.0 ``digestMultibase``). Pure: the caller reads files and checks each credential's proofs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from registry.core.credential import eu_elements
from registry.core.identity import canonical_issuer_id
from registry.core.pathway import (
    AllOf,
    AtLeast,
    CreditsFrom,
    Leaf,
    Node,
    Pathway,
    child_nodes,
    format_credits,
    leaves_of,
    pathway_digest,
)
from registry.errors import InvalidInput

__all__ = [
    "MAX_COMPONENTS",
    "Component",
    "NodeResult",
    "PathwayResult",
    "UnusedComponent",
    "component_digest_multibase",
    "component_of",
    "evaluate",
]

MAX_COMPONENTS: Final = 1000
"""Most credentials one evaluation takes."""
_DIGEST_RE: Final = re.compile(r"0x[0-9a-f]{64}")


# ----------------------------------------------------------------------------------------------
# Components: what a credential contributes
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One credential as a pathway sees it. ``key`` is the caller's name for it (a file name, an
    index); ``issuer_id`` is canonical; ``digest`` is the credential digest (0x hex); ``credits``
    (ECTS) and ``eqf_level`` are what the credential states, None when it states nothing."""

    key: str
    achievement_id: str
    issuer_id: str
    credential_id: str
    digest: str
    credits: float | None = None
    eqf_level: int | None = None

    def __post_init__(self) -> None:
        for name in ("key", "achievement_id", "issuer_id", "credential_id", "digest"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InvalidInput(f"component.{name}", "must be a non-empty string")
        if not _DIGEST_RE.fullmatch(self.digest):
            raise InvalidInput(f"{self.key}#digest", "must be '0x' + 64 lower-case hex digits")
        try:
            canonical = canonical_issuer_id(self.issuer_id)
        except InvalidInput as exc:
            raise InvalidInput(f"{self.key}#issuer", exc.problem) from None
        if canonical != self.issuer_id:
            raise InvalidInput(f"{self.key}#issuer", f"{self.issuer_id!r} is not a canonical issuer id")
        if not _is_ects(self.credits):
            raise InvalidInput(f"{self.key}#credits", _ECTS_PROBLEM)
        if not _is_eqf(self.eqf_level):
            raise InvalidInput(f"{self.key}#eqfLevel", _EQF_PROBLEM)


_ECTS_PROBLEM: Final = "must be a finite number of ECTS credits, 0 or more"
_EQF_PROBLEM: Final = "must be an EQF level, a whole number from 1 to 8"


def _is_ects(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value < math.inf)


def _is_eqf(value: Any) -> bool:
    return value is None or (type(value) is int and 1 <= value <= 8)


def component_of(key: str, credential: Mapping[str, Any], digest: str) -> Component:
    """The :class:`Component` of a credential document (format v1 or v2) with digest ``digest``.

    Reads ``id``, ``issuer`` (its id, made canonical), ``credentialSubject.achievement.id`` and
    the EU elements (ECTS from ``creditsAvailable``, EQF from the alignment or ``eqfLevel``).
    Raises :class:`InvalidInput` naming ``<key>#<JSON pointer>`` of what is missing or malformed.
    """
    if not isinstance(key, str) or not key:
        raise InvalidInput("key", "must be a non-empty string naming the credential")
    if not isinstance(credential, Mapping):
        raise InvalidInput(key, "a credential is a JSON object")
    cid = credential.get("id")
    if not isinstance(cid, str) or not cid:
        raise InvalidInput(f"{key}#/id", "the credential has no id")
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if not isinstance(issuer_id, str):
        raise InvalidInput(f"{key}#/issuer/id", "the credential names no issuer")
    try:
        issuer_id = canonical_issuer_id(issuer_id)
    except InvalidInput as exc:
        raise InvalidInput(f"{key}#/issuer/id", exc.problem) from None
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    if not isinstance(achievement, Mapping) or not isinstance(achievement.get("id"), str):
        raise InvalidInput(f"{key}#/credentialSubject/achievement/id", "the credential names no achievement")
    elements = eu_elements(achievement)
    if not _is_ects(elements["ects"]):
        raise InvalidInput(f"{key}#/credentialSubject/achievement/creditsAvailable", _ECTS_PROBLEM)
    if not _is_eqf(elements["eqf_level"]):
        raise InvalidInput(f"{key}#/credentialSubject/achievement/eqfLevel", _EQF_PROBLEM)
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest.lower()):
        raise InvalidInput(f"{key}#digest", "must be '0x' + 64 hex digits")
    ects = elements["ects"]
    return Component(
        key=key,
        achievement_id=achievement["id"],
        issuer_id=issuer_id,
        credential_id=cid,
        digest=digest.lower(),
        credits=None if ects is None else float(ects),
        eqf_level=elements["eqf_level"],
    )


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_json(self) -> dict[str, Any]:
        """As JSON (what the CLI prints and the service returns)."""
        out: dict[str, Any] = self.model_dump(mode="json")
        return out


class NodeResult(_Result):
    """How far one requirement is met. ``satisfied_by`` lists the keys of the components counted
    under it; ``missing`` says in words what would meet it; ``credits`` is what they count for."""

    id: str
    name: str | None
    kind: Literal["achievement", "allOf", "atLeast", "credits"]
    pointer: str
    parent: str | None
    satisfied: bool
    satisfied_by: list[str]
    missing: list[str]
    credits: float
    credits_required: float | None


class UnusedComponent(_Result):
    """A component that counts for nothing; ``requirement`` is the leaf it would have met, when
    another credential met it first."""

    key: str
    reason: str
    requirement: str | None = None


class PathwayResult(_Result):
    """The outcome of :func:`evaluate`: the nodes in tree order, the root first."""

    pathway_id: str
    pathway_version: int
    pathway_digest: str
    complete: bool
    total_credits: float
    credits_required: float | None
    max_eqf_level: int | None
    missing: list[str]
    nodes: list[NodeResult]
    unused: list[UnusedComponent]


_KIND_NAMES: Final[dict[type, Literal["achievement", "allOf", "atLeast", "credits"]]] = {
    Leaf: "achievement",
    AllOf: "allOf",
    AtLeast: "atLeast",
    CreditsFrom: "credits",
}


def _want(leaf: Leaf, with_credits: bool = False) -> str:
    issuers = leaf.issuers[0] if len(leaf.issuers) == 1 else "one of " + ", ".join(leaf.issuers)
    named = f" ({leaf.name})" if leaf.name else ""
    worth = f" [{format_credits(leaf.credits)} credits]" if with_credits and leaf.credits is not None else ""
    return f"achievement {leaf.achievement}{named} from {issuers}{worth}"


def _describe(node: Node) -> str:
    if isinstance(node, Leaf):
        return _want(node)
    return f"requirement {node.id!r}" + (f" ({node.name})" if node.name else "")


def _counted(leaf: Leaf, component: Component) -> float:
    """A credential counts for what it states, never more than the leaf declares; for the leaf's
    credits when it states none; for nothing when neither says."""
    if leaf.credits is None:
        return component.credits or 0.0
    if component.credits is None:
        return leaf.credits
    return min(leaf.credits, component.credits)


class _Evaluation:
    def __init__(self, matched: dict[str, Component]) -> None:
        self.matched = matched
        self.nodes: list[NodeResult | None] = []

    def run(self, node: Node, pointer: str, parent: str | None) -> NodeResult:
        """Evaluate ``node`` after its children; its result still takes its place in pre-order."""
        slot = len(self.nodes)
        self.nodes.append(None)
        key, children = child_nodes(node)
        results = [self.run(c, f"{pointer}/{key}/{i}", node.id) for i, c in enumerate(children)]
        by = [k for r in results for k in r.satisfied_by]
        earned = round(math.fsum(r.credits for r in results), 6)
        required: float | None = None
        missing: list[str] = []
        if isinstance(node, Leaf):
            component = self.matched.get(node.id)
            by = [component.key] if component else []
            earned = round(_counted(node, component), 6) if component else 0.0
            missing = [] if component else [_want(node)]
        elif isinstance(node, AllOf):
            missing = [m for r in results for m in r.missing]
        elif isinstance(node, AtLeast):
            need = node.at_least - sum(r.satisfied for r in results)
            if need > 0:
                open_ = "; ".join(_describe(c) for c, r in zip(node.of, results, strict=True) if not r.satisfied)
                missing = [f"{need} more of: {open_}"]
        elif isinstance(node, CreditsFrom):
            required = node.credits
            if earned < node.credits:
                short = format_credits(node.credits - earned)
                open_ = "; ".join(_want(leaf, True) for leaf in leaves_of(node) if leaf.id not in self.matched)
                missing = [
                    f"{short} more credits from: {open_}"
                    if open_
                    else f"{short} more credits (every achievement under it already counts)"
                ]
        result = NodeResult(
            id=node.id,
            name=node.name,
            kind=_KIND_NAMES[type(node)],
            pointer=pointer,
            parent=parent,
            satisfied=not missing,
            satisfied_by=by,
            missing=missing,
            credits=earned,
            credits_required=required,
        )
        self.nodes[slot] = result
        return result


def _check_components(components: Sequence[Component]) -> None:
    if isinstance(components, str | bytes) or not isinstance(components, Sequence):
        raise InvalidInput("components", "must be a list of Components")
    if len(components) > MAX_COMPONENTS:
        raise InvalidInput("components", f"{len(components)} components; at most {MAX_COMPONENTS} are evaluated")
    seen: dict[str, str] = {}
    for i, c in enumerate(components):
        if not isinstance(c, Component):
            raise InvalidInput(f"components/{i}", "must be a Component (see component_of)")
        for label, value in (("key", c.key), ("credential id", c.credential_id), ("digest", c.digest)):
            other = seen.get(f"{label}:{value}")
            if other is not None:
                raise InvalidInput(f"components/{i}", f"duplicate component: {c.key!r} has the {label} of {other!r}")
            seen[f"{label}:{value}"] = c.key


def evaluate(pathway: Pathway, components: Sequence[Component]) -> PathwayResult:
    """How far ``components`` meet ``pathway`` (docs/pathways.md, Evaluation).

    Each component meets at most one leaf: the one naming its achievement and issuer. A second
    credential for a met leaf, and a credential no leaf names, are listed in ``unused`` with the
    reason. The same credential twice (by id or digest) raises :class:`InvalidInput`.
    """
    if not isinstance(pathway, Pathway):
        raise InvalidInput("pathway", "must be a Pathway (see load_pathway)")
    _check_components(components)
    leaves = leaves_of(pathway.requirements)
    by_pair = {(leaf.achievement, issuer): leaf for leaf in leaves for issuer in leaf.issuers}
    matched: dict[str, Component] = {}
    unused: list[UnusedComponent] = []
    for c in components:
        leaf = by_pair.get((c.achievement_id, c.issuer_id))
        if leaf is None:
            from_ = sorted({i for lf in leaves if lf.achievement == c.achievement_id for i in lf.issuers})
            reason = (
                f"the achievement {c.achievement_id} counts only from {', '.join(from_)}, not from {c.issuer_id}"
                if from_
                else f"no requirement names the achievement {c.achievement_id}"
            )
            unused.append(UnusedComponent(key=c.key, reason=reason))
        elif leaf.id in matched:
            reason = f"requirement {leaf.id!r} is already met by {matched[leaf.id].key!r}"
            unused.append(UnusedComponent(key=c.key, reason=reason, requirement=leaf.id))
        else:
            matched[leaf.id] = c
    run = _Evaluation(matched)
    root = run.run(pathway.requirements, "/requirements", None)
    total = root.credits
    wanted = pathway.qualification.credits
    missing = list(root.missing)
    if wanted is not None and total < wanted:
        missing.append(
            f"{format_credits(wanted - total)} more credits in all for the qualification "
            f"({format_credits(wanted)} needed, {format_credits(total)} counted)"
        )
    levels = [c.eqf_level for c in matched.values() if c.eqf_level is not None]
    return PathwayResult(
        pathway_id=pathway.id,
        pathway_version=pathway.version,
        pathway_digest="0x" + pathway_digest(pathway).hex(),
        complete=not missing,
        total_credits=total,
        credits_required=wanted,
        max_eqf_level=max(levels, default=None),
        missing=missing,
        nodes=[n for n in run.nodes if n is not None],
        unused=unused,
    )


_KECCAK_256_MULTIHASH: Final = bytes([0x1B, 0x20])


def component_digest_multibase(credential_digest: str) -> str:
    """How an umbrella credential names a component (VC 2.0 ``relatedResource.digestMultibase``):
    base58btc multibase of the keccak-256 multihash (code 0x1b) of its ``credentialDigest``
    (0x-hex), the digest its anchor covers, the same for every redacted copy of it."""
    from registry.core.signing import multibase_base58btc  # signing's imports only when asked

    raw = bytes.fromhex(credential_digest.removeprefix("0x"))
    if len(raw) != 32:
        raise InvalidInput("credentialDigest", "must be 32 bytes")
    return multibase_base58btc(_KECCAK_256_MULTIHASH + raw)
