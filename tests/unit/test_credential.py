"""OB 3.0 / VC 2.0 credential building and strict input validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from _core_fixtures import ACHIEVEMENT, ISSUER, ROOT, credential
from jsonschema import Draft201909Validator

from registry.core.credential import (
    CONTEXTS_V1,
    Achievement,
    IssuerProfile,
    build_credential,
    identity_hash,
    recipient_matches,
    validate_model,
)
from registry.errors import InvalidInput

OB3 = json.loads((Path(ROOT) / "registry/schemas/ob3/achievementcredential.schema.json").read_text("utf-8"))


def test_credential_shape() -> None:
    doc = credential()
    assert doc["@context"] == list(CONTEXTS_V1)
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["id"].startswith("urn:uuid:")
    assert doc["issuer"] == {
        "id": "did:web:uni.example",
        "type": ["Profile"],
        "name": "Example University",
        "url": "https://uni.example",
    }
    assert doc["validFrom"] == "2025-02-01T09:00:00Z"
    assert doc["validUntil"] == "2030-02-01T09:00:00Z"
    subject = doc["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    ident = subject["identifier"][0]
    assert ident["identityType"] == "emailAddress" and ident["hashed"] is True
    assert ident["identityHash"] == identity_hash("ada.lovelace@example.org", ident["salt"])
    assert len(ident["salt"]) == 32
    ach = subject["achievement"]
    assert ach["achievementType"] == "MicroCredential"
    assert ach["criteria"] == {"narrative": "Pass the exam."}
    assert ach["creditsAvailable"] == ach["workloadEcts"] == 5
    assert ach["eqfLevel"] == 6 and ach["participationForm"] == "online"
    assert ach["learningOutcomes"] == ["Read charts", "Clean data", "Explain bias"]
    assert subject["result"] == [{"type": ["Result"], "value": "A"}]
    assert "proof" not in doc


def test_output_validates_against_official_ob3_schema() -> None:
    validator = Draft201909Validator(OB3)
    for doc in (
        credential(),
        credential(recipient_name=None, result=None, valid_until=None),
        credential(extra_subject={"activityEndDate": "2025-01-31T00:00:00Z"}),
    ):
        assert not list(validator.iter_errors(doc))


def test_extension_context_defines_our_terms() -> None:
    ctx = json.loads((Path(ROOT) / "registry/contexts/microcredential-v1.jsonld").read_text())
    terms = ctx["@context"]
    for term in ("learningOutcomes", "workloadEcts", "eqfLevel", "assessmentType"):
        assert term in terms
    assert "participationForm" in terms and "qualityAssurance" in terms
    assert "CredentialRegistryAnchorProof" in terms


def test_deterministic_with_rng_and_offset_times() -> None:
    tz = timezone(timedelta(hours=2))
    a = credential(7, valid_from=datetime(2025, 2, 1, 11, 0, tzinfo=tz))
    b = credential(7, valid_from=datetime(2025, 2, 1, 11, 0, tzinfo=tz))
    assert a == b
    assert a["validFrom"] == "2025-02-01T09:00:00Z"


def test_recipient_matches() -> None:
    doc = credential()
    assert recipient_matches(doc, "ada.lovelace@example.org")
    assert recipient_matches(doc, "  ADA.LOVELACE@EXAMPLE.ORG ")
    assert not recipient_matches(doc, "eve@example.org")
    assert not recipient_matches({}, "ada.lovelace@example.org")
    plain = json.loads(json.dumps(doc))
    plain["credentialSubject"]["identifier"][0].update(hashed=False, identityHash="Ada.Lovelace@example.org")
    assert recipient_matches(plain, "ada.lovelace@example.org")


def _achievement(**changes: Any) -> dict[str, Any]:
    data = ACHIEVEMENT.model_dump()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"eqf_level": 9}, "achievement.eqf_level"),
        ({"eqf_level": "6"}, "achievement.eqf_level"),
        ({"workload_ects": 0}, "achievement.workload_ects"),
        ({"workload_ects": 61}, "achievement.workload_ects"),
        ({"learning_outcomes": []}, "achievement.learning_outcomes"),
        ({"learning_outcomes": ["ok", " "]}, "achievement.learning_outcomes.1"),
        ({"participation_form": "hybrid"}, "achievement.participation_form"),
        ({"id": "not a uri"}, "achievement.id"),
        ({"name": ""}, "achievement.name"),
        ({"achievement_type": "Degree"}, "achievement.achievement_type"),
        ({"surprise": 1}, "achievement.surprise"),
    ],
)
def test_achievement_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}: ") as info:
        credential(achievement=_achievement(**changes))
    assert info.value.field == field


def test_issuer_and_argument_errors_name_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"^issuer.id: "):
        credential(issuer={"id": "uni", "name": "U"})
    with pytest.raises(InvalidInput, match=r"^issuer.email: "):
        credential(issuer={"id": "did:web:u.example", "name": "U", "email": "nope"})
    with pytest.raises(InvalidInput, match=r"^issuer.name: Field required"):
        validate_model(IssuerProfile, {"id": "did:web:u.example"}, "issuer.")
    with pytest.raises(InvalidInput, match=r"^recipient_email: must be an e-mail"):
        credential(recipient_email="ada")
    with pytest.raises(InvalidInput, match=r"^valid_from: must be timezone-aware"):
        credential(valid_from=datetime(2025, 1, 1))
    with pytest.raises(InvalidInput, match=r"^valid_until: must be later than valid_from"):
        credential(valid_until=datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match=r"^credential_id: must be a URI"):
        credential(credential_id="123")
    with pytest.raises(InvalidInput, match=r"^extra_subject.achievement: reserved"):
        credential(extra_subject={"achievement": {}})
    with pytest.raises(InvalidInput, match=r"^result: must be a non-empty string"):
        credential(result=" ")


def test_models_are_strict_and_frozen() -> None:
    assert isinstance(validate_model(Achievement, ACHIEVEMENT), Achievement)
    with pytest.raises(InvalidInput, match=r"^achievement.eqf_level: "):
        validate_model(Achievement, _achievement(eqf_level=6.0), "achievement.")
    with pytest.raises(Exception, match=r"frozen"):
        ISSUER.name = "Other"  # type: ignore[misc]
    doc = build_credential(
        achievement=ACHIEVEMENT,
        issuer=ISSUER,
        recipient_email="x@example.org",
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
        credential_id="urn:uuid:00000000-0000-4000-8000-000000000000",
    )
    assert doc["id"] == "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert "validUntil" not in doc
