"""Stackable credentials: pathway definitions (``pathway-v1``).

A pathway names a qualification and the rule by which micro-credentials stack up to it: a tree of
requirements (all of, at least n of, n ECTS credits from, and leaves: one achievement from one of
some issuers). Definitions are checked by the JSON Schema ``registry/schemas/pathway-v1.schema.json``
(Draft 2019-09), by the pydantic :class:`Pathway` model and by the rules a schema cannot state;
:func:`pathway_digest` is keccak256 over a domain tag and the RFC 8785 (JCS) bytes of the
definition. Evaluating credentials against the tree is :mod:`registry.core.stacking`. Pure: the
caller reads files. See ``docs/pathways.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
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
from registry.core.identity import canonical_issuer_id
from registry.core.keccak import keccak256
from registry.errors import InvalidInput

__all__ = [
    "DIGEST_DOMAIN",
    "MAX_DEPTH",
    "MAX_NODES",
    "AllOf",
    "AtLeast",
    "CreditsFrom",
    "InvalidPathway",
    "Leaf",
    "Node",
    "Pathway",
    "Qualification",
    "child_nodes",
    "format_credits",
    "leaves_of",
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
MAX_CREDITS: Final = 1000
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
URI_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$"
PATHWAY_ID_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s#]+$"
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


def child_nodes(node: Node) -> tuple[str, list[Node]]:
    """The member holding ``node``'s requirements (``allOf``, ``of``, ``from``; "" for a leaf) and them."""
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
        key, children = child_nodes(node)
        stack.extend((f"{where}/{key}/{i}", depth + 1, c) for i, c in reversed(list(enumerate(children))))


def leaves_of(node: Node) -> list[Leaf]:
    """The leaves at or under ``node``, in tree order."""
    return [n for _, _, n in _walk(node) if isinstance(n, Leaf)]


def _max_credits(node: Node) -> float | None:
    """Most credits the credentials under ``node`` can count for; None unless every leaf declares its credits."""
    declared = [leaf.credits for leaf in leaves_of(node)]
    return None if any(c is None for c in declared) else math.fsum(c for c in declared if c is not None)


def format_credits(value: float) -> str:
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
                    f"can never be met: {format_credits(node.credits)} credits, but the achievements under it "
                    f"count for {format_credits(most)} at most",
                )
    most = _max_credits(pathway.requirements)
    wanted = pathway.qualification.credits
    if wanted is not None and most is not None and most < wanted:
        raise InvalidPathway(
            "/qualification/credits",
            f"can never be met: {format_credits(wanted)} credits, but all the achievements of the pathway "
            f"count for {format_credits(most)} at most",
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
