"""A generator of realistic, reproducible synthetic cohorts, for tests and benchmarks only.

Every credential depends only on ``(seed, index)`` (and, for ``validUntil``, today's date: 5 to 6
years ahead, never a fixed date), so any range can be generated on its own
(inside a worker process, say) and matches the same range of a longer run; the documents are
exactly what :func:`registry.core.credential.build_credential` returns (a unit test pins this).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from registry.core.credential import Achievement, IssuerProfile, build_credential, identity_hash
from registry.issue.prepare import DocSource

__all__ = ["Profile", "synthetic_cohort", "synthetic_source"]

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
"""``validFrom`` is this moment plus up to a year: always in the past, whatever the clock says."""
_VALID_YEARS: Final = 5


def _until_base() -> datetime:
    """``validUntil`` is this moment plus the same offset as ``validFrom``: 5 to 6 years after the
    current date (read at each call, so a frozen test clock moves it too). Relative, not fixed: a
    fixed expiry date is a time bomb that fails the suite by itself once the date has passed."""
    today = datetime.now(UTC).date()
    year = today.year + _VALID_YEARS
    day = min(today.day, 28) if today.month == 2 else today.day
    return datetime(year, today.month, day, _BASE.hour, _BASE.minute, _BASE.second, tzinfo=UTC)


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


def _clone(template: Any) -> Any:
    """Copy nested dicts and lists (the leaves, immutable, are shared)."""
    if type(template) is dict:
        return {k: _clone(v) if type(v) is list or type(v) is dict else v for k, v in template.items()}
    return [_clone(v) if type(v) is list or type(v) is dict else v for v in template]


@dataclass(frozen=True)
class _Learner:
    """The random choices behind credential ``i`` of a synthetic cohort."""

    email: str
    name: str
    valid_from: datetime
    valid_until: datetime
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
        valid_until=_until_base() + timedelta(days=days, seconds=seconds),
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
    version: Literal[1, 2] = 2,
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
        version=version,
    )
    full = profile == "microcredential"
    if not full:
        template = _to_basic(template)
    contexts = template["@context"]
    issuer_t = template["issuer"]
    ach_t = template["credentialSubject"]["achievement"]
    cred_types = template["type"]
    result_t = template["credentialSubject"]["result"][0]
    key = hashlib.sha256(f"credential-registry synthetic cohort {seed}".encode()).digest()
    day0 = _BASE.date()
    from_dates = [(day0 + timedelta(days=d)).isoformat() for d in range(367)]
    until0 = _until_base().date()
    until_dates = [(until0 + timedelta(days=d)).isoformat() for d in range(367)]
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
        subject["result"] = [{**result_t, "type": ["Result"], "value": _GRADES[h[8] % n_grades]}]
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
