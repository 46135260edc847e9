"""Micro-credentials as W3C VC 2.0 / Open Badges 3.0 ``AchievementCredential`` documents.

Input models (pydantic v2, strict) for issuers and achievements, and :func:`build_credential`,
which returns the credential JSON (without ``proof``). Achievement metadata follows the European
micro-credential elements (learning outcomes, workload in ECTS, EQF level, assessment,
participation form, quality assurance) through the extension context
``https://w3id.org/credential-registry/microcredential/v1`` shipped in
``registry/contexts/microcredential-v1.jsonld``. The recipient is identified by a salted SHA-256
``IdentityObject`` (OB 3.0 §IdentityHash), never by a plain e-mail address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from registry.errors import InvalidInput

__all__ = [
    "CONTEXTS",
    "CONTEXTS_V1",
    "CONTEXTS_V2",
    "CONTEXT_EXTENSION",
    "CONTEXT_OB3",
    "CONTEXT_VC2",
    "Achievement",
    "IssuerProfile",
    "build_credential",
    "eu_elements",
    "format_datetime",
    "identity_hash",
    "recipient_matches",
    "validate_model",
]

CONTEXT_VC2: Final = "https://www.w3.org/ns/credentials/v2"
CONTEXT_OB3: Final = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXT_EXTENSION: Final = "https://w3id.org/credential-registry/microcredential/v1"
CONTEXTS_V1: Final = (CONTEXT_VC2, CONTEXT_OB3, CONTEXT_EXTENSION)
CONTEXTS_V2: Final = (CONTEXT_VC2, CONTEXT_OB3)
CONTEXTS: Final = CONTEXTS_V2
"""The contexts of a credential issued today (format v2: Open Badges terms only)."""

EQF_FRAMEWORK: Final = "European Qualifications Framework"
PARTICIPATION_FRAMEWORK: Final = "EU micro-credential participation form"
PARTICIPATION_NAMES: Final = {"online": "Online", "onsite": "On site", "blended": "Blended"}

_URI_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$"
_HTTP_PATTERN: Final = r"^https?://[^\s/]+[^\s]*$"
_EMAIL_PATTERN: Final = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL_RE: Final = re.compile(_EMAIL_PATTERN)

Uri = Annotated[str, StringConstraints(pattern=_URI_PATTERN, max_length=2048)]
HttpUrl = Annotated[str, StringConstraints(pattern=_HTTP_PATTERN, max_length=2048)]
Email = Annotated[str, StringConstraints(pattern=_EMAIL_PATTERN, max_length=320)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

_M = TypeVar("_M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class IssuerProfile(_Strict):
    """The issuing organisation as named inside credentials (OB 3.0 ``Profile``)."""

    id: Uri
    name: Name
    url: HttpUrl | None = None
    email: Email | None = None


class Achievement(_Strict):
    """A micro-credential definition (OB 3.0 ``Achievement`` plus EU micro-credential elements)."""

    id: Uri
    name: Name
    description: Text
    criteria_narrative: Text
    achievement_type: Literal["MicroCredential"] = "MicroCredential"
    learning_outcomes: list[Text] = Field(min_length=1, max_length=100)
    workload_ects: float = Field(gt=0, le=60, allow_inf_nan=False)
    eqf_level: int = Field(ge=1, le=8)
    assessment_type: Name
    participation_form: Literal["online", "onsite", "blended"]
    quality_assurance: Text
    image: HttpUrl | None = None


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "input"


def validate_model(model: type[_M], data: Any, prefix: str = "") -> _M:
    """Validate ``data`` into ``model``; a failure raises :class:`InvalidInput` naming the field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _loc(err["loc"])
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise InvalidInput(f"{prefix}{field}", f"{err['msg']}{more}") from None


def format_datetime(value: datetime, field: str = "datetime") -> str:
    """ISO 8601 UTC with a ``Z`` and whole seconds, e.g. ``2025-01-31T12:00:00Z``."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity_hash(email: str, salt: str) -> str:
    """OB 3.0 IdentityHash of an e-mail: ``"sha256$" + hex(sha256(lower(email) + salt))``."""
    digest = hashlib.sha256((email.strip().lower() + salt).encode("utf-8")).hexdigest()
    return "sha256$" + digest


def _achievement_json_v2(a: Achievement) -> dict[str, Any]:
    """The achievement with the EU micro-credential elements as Open Badges 3.0 terms
    (docs/format.md v2 §1): ECTS as ``creditsAvailable``, the EQF level, participation form,
    quality assurance and learning outcomes as ``alignment`` entries, the assessment as the
    achievement's ``resultDescription``."""
    alignment: list[dict[str, Any]] = [
        {
            "type": ["Alignment"],
            "targetType": "ext:EQFLevel",
            "targetFramework": EQF_FRAMEWORK,
            "targetCode": str(a.eqf_level),
            "targetName": f"EQF level {a.eqf_level}",
            "targetUrl": f"http://data.europa.eu/snb/eqf/{a.eqf_level}",
        },
        {
            "type": ["Alignment"],
            "targetType": "ext:ParticipationForm",
            "targetFramework": PARTICIPATION_FRAMEWORK,
            "targetCode": a.participation_form,
            "targetName": PARTICIPATION_NAMES[a.participation_form],
            "targetUrl": f"urn:credential-registry:participation-form:{a.participation_form}",
        },
        {
            "type": ["Alignment"],
            "targetType": "ext:QualityAssurance",
            "targetFramework": "Quality assurance",
            "targetName": "Quality assurance",
            "targetDescription": a.quality_assurance,
            "targetUrl": f"{a.id}#quality-assurance",
        },
    ]
    for i, outcome in enumerate(a.learning_outcomes, start=1):
        alignment.append(
            {
                "type": ["Alignment"],
                "targetType": "ext:LearningOutcome",
                "targetName": outcome,
                "targetUrl": f"{a.id}#learning-outcome-{i}",
            }
        )
    return _with_image(
        a,
        {
            **_ob_achievement(a),
            "alignment": alignment,
            "resultDescription": [
                {
                    "id": f"{a.id}#result",
                    "type": ["ResultDescription"],
                    "name": a.assessment_type,
                    "resultType": "Result",
                }
            ],
        },
    )


def _ob_achievement(a: Achievement) -> dict[str, Any]:
    """The Open Badges 3.0 members of an achievement, the same in both formats."""
    return {
        "id": a.id,
        "type": ["Achievement"],
        "achievementType": a.achievement_type,
        "name": a.name,
        "description": a.description,
        "criteria": {"narrative": a.criteria_narrative},
        "creditsAvailable": a.workload_ects,
    }


def _with_image(a: Achievement, out: dict[str, Any]) -> dict[str, Any]:
    if a.image is not None:
        out["image"] = {"id": a.image, "type": "Image"}
    return out


def eu_elements(achievement: Mapping[str, Any]) -> dict[str, Any]:
    """The EU micro-credential elements of an achievement JSON, v1 (extension terms) or v2
    (Open Badges terms): ``ects``, ``eqf_level``, ``learning_outcomes``, ``assessment_type``,
    ``participation_form``, ``quality_assurance`` (None or [] when absent or hidden)."""
    out: dict[str, Any] = {
        "ects": achievement.get("workloadEcts", achievement.get("creditsAvailable")),
        "eqf_level": achievement.get("eqfLevel"),
        "learning_outcomes": list(achievement.get("learningOutcomes") or []),
        "assessment_type": achievement.get("assessmentType"),
        "participation_form": achievement.get("participationForm"),
        "quality_assurance": achievement.get("qualityAssurance"),
    }
    alignment = achievement.get("alignment")
    for entry in alignment if isinstance(alignment, list) else []:
        if not isinstance(entry, dict):
            continue
        kind = entry.get("targetType")
        if kind == "ext:EQFLevel" and str(entry.get("targetCode", "")).isdigit():
            out["eqf_level"] = int(entry["targetCode"])
        elif kind == "ext:ParticipationForm":
            out["participation_form"] = entry.get("targetCode")
        elif kind == "ext:QualityAssurance":
            out["quality_assurance"] = entry.get("targetDescription")
        elif kind == "ext:LearningOutcome" and isinstance(entry.get("targetName"), str):
            out["learning_outcomes"].append(entry["targetName"])
    described = achievement.get("resultDescription")
    if out["assessment_type"] is None and isinstance(described, list) and described:
        first = described[0]
        if isinstance(first, dict):
            out["assessment_type"] = first.get("name")
    return out


def _achievement_json(a: Achievement) -> dict[str, Any]:
    return _with_image(
        a,
        {
            **_ob_achievement(a),
            "learningOutcomes": list(a.learning_outcomes),
            "workloadEcts": a.workload_ects,
            "eqfLevel": a.eqf_level,
            "assessmentType": a.assessment_type,
            "participationForm": a.participation_form,
            "qualityAssurance": a.quality_assurance,
        },
    )


def _issuer_json(i: IssuerProfile) -> dict[str, Any]:
    out: dict[str, Any] = {"id": i.id, "type": ["Profile"], "name": i.name}
    if i.url is not None:
        out["url"] = i.url
    if i.email is not None:
        out["email"] = i.email
    return out


_RESERVED_SUBJECT_KEYS: Final = frozenset({"type", "identifier", "achievement", "result", "name"})


def build_credential(
    *,
    achievement: Achievement | Mapping[str, Any],
    issuer: IssuerProfile | Mapping[str, Any],
    recipient_email: str,
    recipient_name: str | None = None,
    valid_from: datetime,
    valid_until: datetime | None = None,
    credential_id: str | None = None,
    result: str | None = None,
    extra_subject: Mapping[str, Any] | None = None,
    rng: Callable[[int], bytes] = os.urandom,
    version: Literal[1, 2] = 2,
) -> dict[str, Any]:
    """Return an OB 3.0 ``AchievementCredential`` JSON object (no ``proof``).

    ``version`` 2 (default) uses Open Badges terms only (docs/format.md v2 §1); version 1 the
    extension context of format v1, kept for tests and for re-building v1 vectors.

    ``rng`` supplies the credential UUID (when ``credential_id`` is None) and the 16-byte salt of
    the recipient identity hash. Raises :class:`InvalidInput` naming the offending field.
    """
    ach = validate_model(Achievement, achievement, "achievement.")
    iss = validate_model(IssuerProfile, issuer, "issuer.")
    if not isinstance(recipient_email, str) or not _EMAIL_RE.match(recipient_email.strip()):
        raise InvalidInput("recipient_email", "must be an e-mail address like ada@example.org")
    start = format_datetime(valid_from, "valid_from")
    end = None
    if valid_until is not None:
        end = format_datetime(valid_until, "valid_until")
        if valid_until <= valid_from:
            raise InvalidInput("valid_until", "must be later than valid_from")
    if credential_id is None:
        credential_id = uuid.UUID(bytes=rng(16), version=4).urn
    elif not isinstance(credential_id, str) or not re.match(_URI_PATTERN, credential_id):
        raise InvalidInput("credential_id", "must be a URI such as urn:uuid:...")
    salt = rng(16).hex()
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityType": "emailAddress",
                "hashed": True,
                "identityHash": identity_hash(recipient_email, salt),
                "salt": salt,
            }
        ],
    }
    if recipient_name is not None:
        if not isinstance(recipient_name, str) or not recipient_name.strip():
            raise InvalidInput("recipient_name", "must be a non-empty string")
        subject["name"] = recipient_name.strip()
    if version not in (1, 2):
        raise InvalidInput("version", "must be 1 or 2")
    subject["achievement"] = _achievement_json(ach) if version == 1 else _achievement_json_v2(ach)
    if result is not None:
        if not isinstance(result, str) or not result.strip():
            raise InvalidInput("result", "must be a non-empty string (e.g. a grade)")
        entry: dict[str, Any] = {"type": ["Result"], "value": result.strip()}
        if version == 2:
            entry = {"type": ["Result"], "resultDescription": f"{ach.id}#result", "value": result.strip()}
        subject["result"] = [entry]
    if extra_subject:
        for key, value in extra_subject.items():
            if not isinstance(key, str) or key in _RESERVED_SUBJECT_KEYS:
                raise InvalidInput(f"extra_subject.{key}", "reserved or invalid key")
            subject[key] = value
    doc: dict[str, Any] = {
        "@context": list(CONTEXTS_V1 if version == 1 else CONTEXTS_V2),
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": ach.name,
        "issuer": _issuer_json(iss),
        "validFrom": start,
    }
    if end is not None:
        doc["validUntil"] = end
    doc["credentialSubject"] = subject
    return doc


def recipient_matches(credential: Mapping[str, Any], email: str) -> bool:
    """True if ``email`` (case-insensitive) is an e-mail identity of the credential's subject."""
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(email, str):
        return False
    identifiers = subject.get("identifier")
    if not isinstance(identifiers, list):
        return False
    wanted = email.strip().lower()
    for ident in identifiers:
        if not isinstance(ident, dict) or ident.get("identityType") != "emailAddress":
            continue
        value = ident.get("identityHash")
        if not isinstance(value, str):
            continue
        if ident.get("hashed") is True:
            salt = ident.get("salt", "")
            if not isinstance(salt, str) or not value.startswith("sha256$"):
                continue
            if hmac.compare_digest(value.lower(), identity_hash(wanted, salt)):
                return True
        elif hmac.compare_digest(value.strip().lower().encode(), wanted.encode()):
            return True
    return False
