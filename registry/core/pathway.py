"""Stackable credentials: pathway definitions (``pathway-v1``) and their evaluation.

A pathway names a qualification and the rule by which micro-credentials stack up to it: a tree of
requirements (all of, at least n of, n ECTS credits from, and leaves: one achievement from one of
some issuers). Definitions are checked by the JSON Schema ``registry/schemas/pathway-v1.schema.json``
(Draft 2019-09), by the pydantic :class:`Pathway` model and by the rules a schema cannot state;
:func:`pathway_digest` is keccak256 over a domain tag and the RFC 8785 (JCS) bytes of the
definition; :func:`evaluate` matches credentials (:class:`Component`) against the tree. Pure: the
caller reads files and checks each credential's proofs. See ``docs/pathways.md``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated, Any, Final, Literal, TypeAlias

import rfc8785
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)

from registry.core import strictjson
from registry.core.credential import eu_elements
from registry.core.identity import canonical_issuer_id
from registry.core.keccak import keccak256
from registry.errors import InvalidInput

__all__ = [
    "DIGEST_DOMAIN",
    "MAX_COMPONENTS",
    "MAX_DEPTH",
    "MAX_NODES",
    "AllOf",
    "AtLeast",
    "Component",
    "CreditsFrom",
    "InvalidPathway",
    "Leaf",
    "NodeResult",
    "Pathway",
    "PathwayResult",
    "Qualification",
    "UnusedComponent",
    "component_of",
    "evaluate",
    "load_pathway",
    "pathway_digest",
    "pathway_schema",
]

DIGEST_DOMAIN: Final = b"credential-registry:pathway:v1\x00"
"""Prefix of the digest's preimage: a pathway digest is never a Merkle leaf, node or credential digest."""
MAX_DEPTH: Final = 16
"""Deepest nesting of requirements (the root is level 1)."""
MAX_NODES: Final = 256
"""Most requirements (nodes of the tree) in one pathway."""
MAX_BYTES: Final = 256 * 1024
"""Largest pathway document accepted, in bytes of JSON."""
MAX_COMPONENTS: Final = 1000
"""Most credentials one evaluation takes."""
MAX_CREDITS: Final = 1000
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
URI_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$"
PATHWAY_ID_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s#]+$"
_DIGEST_RE: Final = re.compile(r"0x[0-9a-f]{64}")
_KIND_KEYS: Final = {"achievement": "Leaf", "allOf": "AllOf", "atLeast": "AtLeast", "from": "CreditsFrom"}
_KIND_MESSAGE: Final = (
    'a requirement has exactly one of "achievement" (with "issuers"), "allOf", "atLeast" (with "of") '
    'or "from" (with "credits")'
)

NodeId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Uri = Annotated[str, StringConstraints(pattern=URI_PATTERN, max_length=2048)]
PathwayId = Annotated[str, StringConstraints(pattern=PATHWAY_ID_PATTERN, max_length=2048)]
IssuerId = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
Credits = Annotated[float, Field(gt=0, le=MAX_CREDITS, allow_inf_nan=False)]


class InvalidPathway(InvalidInput):
    """A pathway definition is malformed or contradictory; ``field`` is the JSON pointer of the
    problem (empty for the document as a whole)."""

    code = "invalid_pathway"


# ----------------------------------------------------------------------------------------------
# The definition
# ----------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)


class Leaf(_Model):
    """Met by one credential for ``achievement`` from one of ``issuers``; ``credits`` is what the
    pathway counts it for at most."""

    id: NodeId
    name: Name | None = None
    achievement: Uri
    issuers: list[IssuerId] = Field(min_length=1, max_length=32)
    credits: Credits | None = None


class AllOf(_Model):
    """Met when every requirement in ``allOf`` is."""

    id: NodeId
    name: Name | None = None
    all_of: list[Requirement] = Field(alias="allOf", min_length=1, max_length=MAX_NODES)


class AtLeast(_Model):
    """Met when at least ``atLeast`` of the requirements in ``of`` are."""

    id: NodeId
    name: Name | None = None
    at_least: int = Field(alias="atLeast", ge=1, le=MAX_NODES)
    of: list[Requirement] = Field(min_length=1, max_length=MAX_NODES)


class CreditsFrom(_Model):
    """Met when the credentials meeting leaves under ``from`` count for at least ``credits`` ECTS."""

    id: NodeId
    name: Name | None = None
    credits: Credits
    from_: list[Requirement] = Field(alias="from", min_length=1, max_length=MAX_NODES)


def _kind_tag(value: Any) -> str | None:
    if isinstance(value, _Model):
        return type(value).__name__
    if isinstance(value, Mapping):
        found = [tag for key, tag in _KIND_KEYS.items() if key in value]
        return found[0] if len(found) == 1 else None
    return None


Node: TypeAlias = Leaf | AllOf | AtLeast | CreditsFrom
Requirement: TypeAlias = Annotated[
    Annotated[Leaf, Tag("Leaf")]
    | Annotated[AllOf, Tag("AllOf")]
    | Annotated[AtLeast, Tag("AtLeast")]
    | Annotated[CreditsFrom, Tag("CreditsFrom")],
    Discriminator(_kind_tag, custom_error_type="requirement_kind", custom_error_message=_KIND_MESSAGE),
]
for _cls in (AllOf, AtLeast, CreditsFrom):
    _cls.model_rebuild()


class Qualification(_Model):
    """What completing the pathway leads to."""

    name: Name
    eqf_level: int | None = Field(default=None, alias="eqfLevel", ge=1, le=8)
    credits: Credits | None = None


class Pathway(_Model):
    """A pathway definition. Validating one also checks the rules the schema cannot state
    (docs/pathways.md), raising :class:`InvalidPathway` with the JSON pointer of the problem."""

    type: Literal["Pathway"]
    id: PathwayId
    version: int = Field(ge=1, le=2**31 - 1)
    name: Name
    description: Text | None = None
    owner: IssuerId
    qualification: Qualification
    requirements: Requirement

    @model_validator(mode="after")
    def _consistent(self) -> Pathway:
        _check_rules(self)
        return self

    def to_json(self) -> dict[str, Any]:
        """The definition as JSON (what :func:`pathway_digest` hashes): absent options left out."""
        out: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return out

    def nodes(self) -> Iterator[tuple[str, Node]]:
        """Every requirement with its JSON pointer, in tree order (pre-order)."""
        for pointer, _, node in _walk(self.requirements):
            yield pointer, node


def _children(node: Node) -> tuple[str, list[Node]]:
    if isinstance(node, AllOf):
        return "allOf", node.all_of
    if isinstance(node, AtLeast):
        return "of", node.of
    if isinstance(node, CreditsFrom):
        return "from", node.from_
    return "", []


def _walk(root: Node, pointer: str = "/requirements") -> Iterator[tuple[str, int, Node]]:
    """(pointer, depth, node) in pre-order; refuses a tree deeper or larger than the bounds."""
    stack: list[tuple[str, int, Node]] = [(pointer, 1, root)]
    count = 0
    while stack:
        where, depth, node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise InvalidPathway(where, f"a pathway has at most {MAX_NODES} requirements")
        if depth > MAX_DEPTH:
            raise InvalidPathway(where, f"requirements nest at most {MAX_DEPTH} levels deep")
        yield where, depth, node
        key, children = _children(node)
        stack.extend((f"{where}/{key}/{i}", depth + 1, c) for i, c in reversed(list(enumerate(children))))


def _leaves(node: Node) -> list[Leaf]:
    return [n for _, _, n in _walk(node) if isinstance(n, Leaf)]


def _max_credits(node: Node) -> float | None:
    """Most credits the credentials under ``node`` can count for; None unless every leaf declares its credits."""
    declared = [leaf.credits for leaf in _leaves(node)]
    return None if any(c is None for c in declared) else math.fsum(c for c in declared if c is not None)


def _num(value: float) -> str:
    """A number of credits as people write it: ``5``, ``2.5``."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _canonical(pointer: str, value: str) -> None:
    try:
        canonical = canonical_issuer_id(value)
    except InvalidInput as exc:
        raise InvalidPathway(pointer, exc.problem) from None
    if canonical != value:
        raise InvalidPathway(pointer, f"{value!r} is not a canonical issuer id: write {canonical!r}")


def _check_rules(pathway: Pathway) -> None:
    """The rules of docs/pathways.md that the schema cannot state; the first broken one raises."""
    _canonical("/owner", pathway.owner)
    ids: dict[str, str] = {}
    pairs: dict[tuple[str, str], str] = {}
    for where, _, node in _walk(pathway.requirements):
        if node.id in ids:
            raise InvalidPathway(
                f"{where}/id",
                f"a requirement id names one requirement: {node.id!r} is used twice (first at {ids[node.id]})",
            )
        ids[node.id] = where
        if isinstance(node, Leaf):
            for k, issuer in enumerate(node.issuers):
                _canonical(f"{where}/issuers/{k}", issuer)
                if (node.achievement, issuer) in pairs:
                    raise InvalidPathway(
                        f"{where}/issuers/{k}",
                        f"ambiguous: the achievement {node.achievement} from {issuer} is also named by the "
                        f"requirement at {pairs[node.achievement, issuer]}, so one credential could count twice",
                    )
                pairs[node.achievement, issuer] = where
        elif isinstance(node, AtLeast) and node.at_least > len(node.of):
            raise InvalidPathway(
                f"{where}/atLeast",
                f"can never be met: at least {node.at_least} of {len(node.of)} requirement(s)",
            )
        elif isinstance(node, CreditsFrom):
            most = _max_credits(node)
            if most is not None and most < node.credits:
                raise InvalidPathway(
                    f"{where}/credits",
                    f"can never be met: {_num(node.credits)} credits, but the achievements under it "
                    f"count for {_num(most)} at most",
                )
    most = _max_credits(pathway.requirements)
    wanted = pathway.qualification.credits
    if wanted is not None and most is not None and most < wanted:
        raise InvalidPathway(
            "/qualification/credits",
            f"can never be met: {_num(wanted)} credits, but all the achievements of the pathway "
            f"count for {_num(most)} at most",
        )


# ----------------------------------------------------------------------------------------------
# Loading and hashing
# ----------------------------------------------------------------------------------------------


@cache
def pathway_schema() -> dict[str, Any]:
    """The JSON Schema of a pathway definition shipped in the package."""
    text = resources.files("registry").joinpath("schemas", "pathway-v1.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator() -> Any:
    from jsonschema import Draft201909Validator

    return Draft201909Validator(pathway_schema())


def _pointer(parts: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _parse(data: bytes | str | Mapping[str, Any]) -> Any:
    """Strict JSON (:mod:`registry.core.strictjson`): UTF-8, no duplicate keys, no NaN or
    infinities, bounded size and numbers."""
    try:
        return strictjson.loads(strictjson.to_bytes(data, max_bytes=MAX_BYTES, what="a pathway definition"))
    except strictjson.StrictJsonError as exc:
        raise InvalidPathway("", str(exc)) from None


def _check_shape(doc: dict[str, Any]) -> None:
    """Before the schema: bounds on the tree and one kind per requirement (tolerant of the rest)."""
    stack: list[tuple[str, int, Any]] = [("/requirements", 1, doc.get("requirements"))]
    count = 0
    while stack:
        where, depth, node = stack.pop()
        if not isinstance(node, dict):
            continue
        count += 1
        if count > MAX_NODES:
            raise InvalidPathway(where, f"a pathway has at most {MAX_NODES} requirements")
        if depth > MAX_DEPTH:
            raise InvalidPathway(where, f"requirements nest at most {MAX_DEPTH} levels deep")
        kinds = [key for key in _KIND_KEYS if key in node]
        if len(kinds) != 1:
            raise InvalidPathway(where, f"{_KIND_MESSAGE}; found {kinds or 'none'}")
        key = {"achievement": None, "allOf": "allOf", "atLeast": "of", "from": "from"}[kinds[0]]
        children = node.get(key) if key else None
        if isinstance(children, list):
            stack.extend((f"{where}/{key}/{i}", depth + 1, c) for i, c in reversed(list(enumerate(children))))


_WHAT: Final = {"issuers": "issuer", "allOf": "requirement", "of": "requirement", "from": "requirement"}


def _schema_error(doc: Any) -> InvalidPathway | None:
    import jsonschema

    err = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if err is None:
        return None
    path = list(err.absolute_path)
    message: str = err.message
    if err.validator == "minItems" and err.instance == [] and path and path[-1] in _WHAT:
        message = f"is empty: list at least one {_WHAT[str(path[-1])]}"
    return InvalidPathway(_pointer(path), message[:300] + "..." if len(message) > 300 else message)


def _model_error(exc: ValidationError, doc: Any) -> InvalidPathway:
    """The first pydantic error at its JSON pointer in ``doc``: the error's location (by alias)
    without the union tags, which name no member of the document."""
    err = exc.errors()[0]
    parts: list[str | int] = []
    here = doc
    for part in err["loc"]:
        in_list = isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here)
        if in_list or (isinstance(here, dict) and part in here):  # else: a union tag
            parts.append(part)
            here = here[part]
    return InvalidPathway(_pointer(parts), err["msg"])


def load_pathway(data: bytes | str | Mapping[str, Any] | Pathway) -> Pathway:
    """Parse and check a pathway definition (JSON bytes or text, or a JSON object).

    Strict JSON, then the bounds, the JSON Schema, the model and the rules of docs/pathways.md;
    the first problem raises :class:`InvalidPathway` naming its JSON pointer.
    """
    if isinstance(data, Pathway):
        return data
    doc = _parse(data)
    if not isinstance(doc, dict):
        raise InvalidPathway("", "a pathway definition is a JSON object")
    _check_shape(doc)
    problem = _schema_error(doc)
    if problem is not None:
        raise problem
    try:
        return Pathway.model_validate(doc)
    except ValidationError as exc:
        raise _model_error(exc, doc) from None


def pathway_digest(pathway: Pathway) -> bytes:
    """keccak256(:data:`DIGEST_DOMAIN` ‖ JCS(``pathway.to_json()``)), 32 bytes: any edit, a new
    version included, gives another digest; equal definitions (key order, spacing, ``5`` or
    ``5.0``) the same one."""
    if not isinstance(pathway, Pathway):
        raise InvalidInput("pathway", "must be a Pathway (see load_pathway)")
    return keccak256(DIGEST_DOMAIN + rfc8785.dumps(pathway.to_json()))


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
    worth = f" [{_num(leaf.credits)} credits]" if with_credits and leaf.credits is not None else ""
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
        key, children = _children(node)
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
                short = _num(node.credits - earned)
                open_ = "; ".join(_want(leaf, True) for leaf in _leaves(node) if leaf.id not in self.matched)
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
    leaves = _leaves(pathway.requirements)
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
            f"{_num(wanted - total)} more credits in all for the qualification "
            f"({_num(wanted)} needed, {_num(total)} counted)"
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
    import base58

    raw = bytes.fromhex(credential_digest.removeprefix("0x"))
    if len(raw) != 32:
        raise InvalidInput("credentialDigest", "must be 32 bytes")
    return "z" + str(base58.b58encode(_KECCAK_256_MULTIHASH + raw).decode("ascii"))
