"""Transcripts as 1EdTech Comprehensive Learner Record (CLR) 2.0 ``ClrCredential`` documents.

A CLR is a W3C VC 2.0 credential whose ``ClrSubject`` (the learner) embeds the learner's credential
files *unchanged*, proofs included, so every component still verifies on its own; the CLR adds the
components' achievements and, for a pathway (a stack of micro-credentials leading to a
qualification), CLR ``Association``\\ s from each earned achievement to the qualification.

Spec data, shipped in the package and never fetched (provenance: ``registry/schemas/clr/README.md``):
the official ClrCredential JSON Schema (Draft 2019-09, ``registry/schemas/clr/``) and the CLR JSON-LD
context 2.0.1 (``registry/contexts/``, registered with :mod:`registry.core.signing`'s loader, so a
CLR can carry an ``eddsa-rdfc-2022`` signature; see ``docs/clr.md`` for what that can and cannot
cover). As for credential files, ``format`` is not asserted by the schema validators; this module
checks the dates it writes itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import jsonschema_rs

from registry.core.credential import CONTEXT_OB3, CONTEXT_VC2
from registry.core.pathway import AllOf, AtLeast, Leaf, Node, Pathway
from registry.errors import InvalidInput

__all__ = [
    "ASSOCIATION_TYPE",
    "CLR_CONTEXTS",
    "CLR_SCHEMA_ID",
    "CONTEXT_CLR",
    "MAX_COMPONENTS",
    "QUALIFICATION_SUFFIX",
    "InvalidClr",
    "build_clr",
    "clr_schema",
    "components_of",
    "validate_clr",
]

CONTEXT_CLR: Final = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
CLR_CONTEXTS: Final = (CONTEXT_VC2, CONTEXT_CLR, CONTEXT_OB3)
"""The ``@context`` of a CLR, in the order the CLR 2.0 schema requires (VC 2.0, CLR, OB 3.0)."""
CLR_SCHEMA_ID: Final = "https://purl.imsglobal.org/spec/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json"
CLR_TYPE: Final = "ClrCredential"
MAX_COMPONENTS: Final = 1000
"""Most credentials one CLR may embed (a bound for verifiers; a transcript is far smaller)."""
QUALIFICATION_SUFFIX: Final = "#qualification"
"""A pathway's qualification is the Achievement ``<pathway id>#qualification``."""
ASSOCIATION_TYPE: Final = "isPartOf"
"""How an earned achievement relates to the qualification of the pathway it counts towards."""

_URN_UUID: Final = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATE_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
_URI: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_URI_NO_FRAGMENT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s#]+")
_GROUPS: Final = ("allOf", "anyOf", "atLeast")


class InvalidClr(InvalidInput):
    """A CLR cannot be built from these inputs, or a document is not a valid ``ClrCredential``."""

    code = "invalid_clr"


# ----------------------------------------------------------------------------------------------
# The schema
# ----------------------------------------------------------------------------------------------


@cache
def clr_schema() -> dict[str, Any]:
    """The official CLR 2.0 ClrCredential JSON Schema shipped in the package."""
    text = resources.files("registry").joinpath("schemas", "clr", "clr_v2p0_clrcredential_schema.json")
    data: dict[str, Any] = json.loads(text.read_text("utf-8"))
    return data


def _no_retrieval(uri: str) -> Any:
    raise InvalidClr("clr", f"the CLR schema refers to {uri}, which is never fetched")


@cache
def _compiled() -> Any:
    """``jsonschema-rs``, compiled once: answers for a valid document (the common case)."""
    return jsonschema_rs.Draft201909Validator(clr_schema(), validate_formats=False, retriever=_no_retrieval)


@cache
def _reference() -> Any:
    """The pure-Python ``jsonschema`` validator: decides and words every rejection."""
    from jsonschema import Draft201909Validator

    return Draft201909Validator(clr_schema())


def _first_error(doc: Any) -> str | None:
    try:
        if _compiled().is_valid(doc):
            return None
    except Exception:  # a value the compiled validator cannot take: the reference decides
        pass
    import jsonschema

    err = jsonschema.exceptions.best_match(_reference().iter_errors(doc))
    if err is None:
        return None
    where = "/" + "/".join(str(p) for p in err.absolute_path)
    message: str = err.message
    return f"{where}: {message[:300] + '...' if len(message) > 300 else message}"


def validate_clr(doc: Any) -> None:
    """Raise :class:`InvalidClr` unless ``doc`` follows the 1EdTech CLR 2.0 ClrCredential schema.
    The schema wraps nearly every property in ``oneOf`` (its JSON-LD value-compaction form), so the
    error named is ``jsonschema``'s best match, the one deepest inside the branch that fits best."""
    if not isinstance(doc, Mapping):
        raise InvalidClr("clr", f"must be a JSON object, not {type(doc).__name__}")
    error = _first_error(dict(doc))
    if error is not None:
        raise InvalidClr("clr", f"does not follow the 1EdTech CLR 2.0 ClrCredential schema: {error}")


# ----------------------------------------------------------------------------------------------
# Reading a CLR
# ----------------------------------------------------------------------------------------------


def _types(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def components_of(clr: Any) -> list[dict[str, Any]]:
    """The credentials a CLR embeds, as they are in it (copies), in order, for a verifier to check
    one by one. Raises :class:`InvalidClr` for a document that is not a ``ClrCredential`` with
    between 1 and :data:`MAX_COMPONENTS` embedded credentials, each a JSON object."""
    if not isinstance(clr, Mapping):
        raise InvalidClr("clr", f"must be a JSON object, not {type(clr).__name__}")
    if CLR_TYPE not in _types(clr.get("type")):
        raise InvalidClr("type", f"a CLR's type must include {CLR_TYPE!r} (got {clr.get('type')!r})")
    subject = clr.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise InvalidClr("credentialSubject", "a CLR needs a ClrSubject object")
    if "verifiableCredential" not in subject:
        raise InvalidClr("credentialSubject/verifiableCredential", "a CLR must embed at least one credential")
    embedded = subject["verifiableCredential"]
    items = embedded if isinstance(embedded, list) else [embedded]
    if not items:
        raise InvalidClr("credentialSubject/verifiableCredential", "a CLR must embed at least one credential")
    if len(items) > MAX_COMPONENTS:
        raise InvalidClr(
            "credentialSubject/verifiableCredential", f"{len(items)} credentials; at most {MAX_COMPONENTS} are read"
        )
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidClr(
                f"credentialSubject/verifiableCredential/{i}", f"must be a credential (JSON object), not {_kind(item)}"
            )
    return [_json_copy(item, f"credentialSubject/verifiableCredential/{i}") for i, item in enumerate(items)]


# ----------------------------------------------------------------------------------------------
# Building a CLR
# ----------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _json_copy(value: Any, field: str) -> Any:
    """A deep copy through JSON: equal as JSON to ``value`` (key order kept), and a refusal of
    anything JSON cannot hold (NaN, infinities, objects that are not JSON)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise InvalidClr(field, f"is not plain JSON ({exc})") from None


def _check_components(components: Any) -> list[dict[str, Any]]:
    if isinstance(components, str | bytes | Mapping) or not isinstance(components, Sequence):
        raise InvalidClr("components", "must be a list of credentials (JSON objects)")
    if not components:
        raise InvalidClr("components", "a CLR needs at least one credential")
    if len(components) > MAX_COMPONENTS:
        raise InvalidClr("components", f"{len(components)} credentials; a CLR holds at most {MAX_COMPONENTS}")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, component in enumerate(components):
        if not isinstance(component, Mapping):
            raise InvalidClr(f"components[{i}]", f"must be a credential (JSON object), not {_kind(component)}")
        copied = _json_copy(component, f"components[{i}]")
        cid = copied.get("id")
        if isinstance(cid, str):
            if cid in seen:
                raise InvalidClr(f"components[{i}]", f"the credential {cid} is already in the CLR")
            seen.add(cid)
        subject = copied.get("credentialSubject")
        if not isinstance(subject, dict) or not isinstance(subject.get("achievement"), dict):
            raise InvalidClr(
                f"components[{i}]",
                "has no credentialSubject.achievement (an Open Badges 3.0 AchievementCredential is expected)",
            )
        out.append(copied)
    return out


def _check_issuer(issuer: Any) -> dict[str, Any]:
    if not isinstance(issuer, Mapping):
        raise InvalidClr("issuer", "must be an Open Badges Profile object (id, type, name)")
    if not isinstance(issuer.get("id"), str) or not _URI_NO_FRAGMENT.fullmatch(issuer["id"]):
        raise InvalidClr("issuer", "needs an id that is an absolute URI without a fragment (e.g. did:web:uni.example)")
    if "Profile" not in _types(issuer.get("type")):
        raise InvalidClr("issuer", "type must include 'Profile'")
    if not isinstance(issuer.get("name"), str) or not issuer["name"].strip():
        raise InvalidClr("issuer", "needs a name")
    copied: dict[str, Any] = _json_copy(issuer, "issuer")
    return copied


def _check_date_time(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise InvalidClr(field, "must be an RFC 3339 date-time with a time zone, e.g. 2026-01-31T12:00:00Z")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise InvalidClr(field, f"{value!r} is not a real date and time") from None
    return value


def _identifier(subject_identifier: Any, components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if subject_identifier is None:
        found = components[0]["credentialSubject"].get("identifier")
        if found is None:
            raise InvalidClr("subject_identifier", "not given, and the first credential names no identifier")
        subject_identifier = found if isinstance(found, list) else [found]
    if isinstance(subject_identifier, str | bytes | Mapping) or not isinstance(subject_identifier, Sequence):
        raise InvalidClr("subject_identifier", "must be a list of IdentityObjects")
    if not subject_identifier:
        raise InvalidClr("subject_identifier", "the learner needs at least one IdentityObject")
    for i, item in enumerate(subject_identifier):
        if not isinstance(item, Mapping):
            raise InvalidClr(f"subject_identifier[{i}]", f"must be an IdentityObject (JSON object), not {_kind(item)}")
    copied: list[dict[str, Any]] = _json_copy(list(subject_identifier), "subject_identifier")
    return copied


def _achievements(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each component's achievement once (an identical repeat is dropped, a differing definition
    under the same id kept: nothing a component says is lost)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for component in components:
        achievement = component["credentialSubject"]["achievement"]
        key = json.dumps(achievement, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(_json_copy(achievement, "achievement"))
    return out


# -- pathways -------------------------------------------------------------------------------------


def _narrative(node: Node, names: Mapping[str, str], top: bool = True) -> str:
    """The requirement in words, for the qualification's ``criteria.narrative``."""
    if isinstance(node, Leaf):
        return f"{names.get(node.achievement, node.achievement)} (from {', '.join(node.issuers)})"
    if isinstance(node, AllOf):
        head, children = "all of", node.all_of
    elif isinstance(node, AtLeast):
        head, children = f"at least {node.at_least} of", node.of
    else:
        head, children = f"{node.credits:g} credits from", node.from_
    text = f"{head}: " + "; ".join(_narrative(child, names, top=False) for child in children)
    return text if top else f"({text})"


def _pathway(pathway: Pathway, achievements: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The qualification Achievement of ``pathway`` (``registry.core.pathway``) and an
    ``isPartOf`` Association to it from each of the CLR's achievements its requirements name
    (those not earned are not associated)."""
    if not isinstance(pathway, Pathway):
        raise InvalidClr("pathway", "must be a pathway definition (registry.core.pathway.load_pathway)")
    names = {
        a["id"]: a["name"] for a in achievements if isinstance(a.get("id"), str) and isinstance(a.get("name"), str)
    }
    qualification_id = f"{pathway.id}{QUALIFICATION_SUFFIX}"
    qualification: dict[str, Any] = {
        "id": qualification_id,
        "type": ["Achievement"],
        "name": pathway.qualification.name,
        "description": pathway.description
        or f"The qualification awarded for completing the pathway {pathway.name} (version {pathway.version}).",
        "criteria": {"narrative": "Requires " + _narrative(pathway.requirements, names) + "."},
    }
    if pathway.qualification.credits is not None:
        qualification["creditsAvailable"] = pathway.qualification.credits
    earned: list[str] = []
    for _, node in pathway.nodes():
        if isinstance(node, Leaf) and node.achievement in names and node.achievement not in earned:
            earned.append(node.achievement)
    if not earned:
        raise InvalidClr("pathway", "its requirements name none of the achievements of these credentials")
    associations = [
        {"type": "Association", "associationType": ASSOCIATION_TYPE, "sourceId": aid, "targetId": qualification_id}
        for aid in earned
    ]
    return qualification, associations


def build_clr(
    components: Sequence[Mapping[str, Any]],
    *,
    issuer: Mapping[str, Any],
    subject_identifier: Sequence[Mapping[str, Any]] | None,
    clr_id: str,
    valid_from: str,
    name: str,
    pathway: Pathway | None = None,
) -> dict[str, Any]:
    """A CLR 2.0 ``ClrCredential`` (unsigned) bundling ``components`` unchanged.

    ``issuer`` is the CLR's issuer (an OB ``Profile``: id, type, name); ``subject_identifier`` the
    learner's IdentityObjects (None: those of the first component; that all components name the
    same learner is the verifier's ``components`` check); ``clr_id`` a lower-case ``urn:uuid``;
    ``valid_from`` an RFC 3339 date-time. ``pathway`` (a :class:`registry.core.pathway.Pathway`)
    adds the qualification Achievement ``<pathway id>#qualification`` and an ``isPartOf``
    Association to it from each earned achievement its requirements name; whether they are met is
    the stack verifier's to decide.
    The result is checked against the official CLR 2.0 schema; raises :class:`InvalidClr`.
    """
    embedded = _check_components(components)
    issuer_json = _check_issuer(issuer)
    if not isinstance(clr_id, str) or not _URN_UUID.fullmatch(clr_id):
        raise InvalidClr("clr_id", "must be a lower-case urn:uuid (urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    if any(c.get("id") == clr_id for c in embedded):
        raise InvalidClr("clr_id", "is the id of one of the credentials it would contain")
    _check_date_time(valid_from, "valid_from")
    if not isinstance(name, str) or not name.strip():
        raise InvalidClr("name", "a CLR needs a name (wallets display it)")
    achievements = _achievements(embedded)
    subject: dict[str, Any] = {
        "type": ["ClrSubject"],
        "identifier": _identifier(subject_identifier, embedded),
        "achievement": achievements,
    }
    if pathway is not None:
        qualification, associations = _pathway(pathway, achievements)
        if any(a.get("id") == qualification["id"] for a in achievements):
            raise InvalidClr("pathway", f"{qualification['id']} is already the id of a component's achievement")
        subject["achievement"] = [*achievements, qualification]
        subject["association"] = associations
    subject["verifiableCredential"] = embedded
    clr: dict[str, Any] = {
        "@context": list(CLR_CONTEXTS),
        "id": clr_id,
        "type": ["VerifiableCredential", CLR_TYPE],
        "name": name,
        "issuer": issuer_json,
        "validFrom": valid_from,
        "credentialSubject": subject,
    }
    validate_clr(clr)
    return clr
