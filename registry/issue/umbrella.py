"""The umbrella credential: the qualification a completed stack earns (docs/pathways.md).

The pathway's owner issues it as an ordinary format v2 Open Badges 3.0 credential (anchored and
signed like any other), whose achievement is the pathway's qualification
(``<pathway id>#qualification``, ``achievementType`` Certificate) and which names its components
in VC 2.0 ``relatedResource``: each component's credential id with ``digestMultibase``, the
keccak-256 multihash of the component's ``credentialDigest`` (the digest its anchor covers, the
same for any redacted copy of it). Alone it verifies VALID on the owner's word; with the components
presented, :func:`registry.verify.stack.verify_umbrella` checks them as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from registry.core.credential import Achievement, IssuerProfile, build_credential
from registry.core.pathway import Pathway
from registry.core.stacking import component_digest_multibase
from registry.errors import InvalidInput

__all__ = ["component_digest_multibase", "umbrella_document"]  # the first re-exported from core

# build_credential wants a micro-credential; the qualification replaces it (a Certificate).
_PLACEHOLDER = Achievement(
    id="urn:x-placeholder:qualification",
    name="qualification",
    description="replaced",
    criteria_narrative="replaced",
    learning_outcomes=["replaced"],
    workload_ects=1,
    eqf_level=1,
    assessment_type="replaced",
    participation_form="online",
    quality_assurance="replaced",
)


def umbrella_document(
    pathway: Pathway,
    stack: Mapping[str, Any],
    *,
    issuer: IssuerProfile,
    learner_email: str,
    learner_name: str | None,
    valid_from: datetime,
) -> dict[str, Any]:
    """The unsigned qualification credential for a VALID stack (``StackReport.model_dump``)."""
    if stack.get("verdict") != "VALID":
        raise InvalidInput("stack", f"the stack is {stack.get('verdict')}, not VALID: no qualification to award")
    if stack.get("pathway", {}).get("id") != pathway.id or stack["pathway"].get("version") != pathway.version:
        raise InvalidInput("stack", "the stack was verified against another pathway or version")
    if issuer.id != pathway.owner:
        raise InvalidInput("issuer", f"only the pathway's owner {pathway.owner} awards its qualification")
    used = {key for node in stack["result"]["nodes"] for key in node["satisfied_by"]}
    related = [
        {
            "id": c["credential"]["id"],
            "digestMultibase": component_digest_multibase(c["credential"]["digest"]),
        }
        for c in stack["components"]
        if c["source"] in used
    ]
    doc = build_credential(
        achievement=_PLACEHOLDER,
        issuer=issuer,
        recipient_email=learner_email,
        recipient_name=learner_name,
        valid_from=valid_from,
    )
    q = pathway.qualification
    achievement: dict[str, Any] = {
        "id": f"{pathway.id}#qualification",
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": q.name,
        "description": pathway.description or f"Awarded for completing the pathway {pathway.name}.",
        "criteria": {"narrative": f"Completed the pathway {pathway.name} ({pathway.id}, version {pathway.version})."},
        "creditsAvailable": q.credits if q.credits is not None else stack["result"]["total_credits"],
    }
    if q.eqf_level is not None:
        achievement["alignment"] = [
            {
                "type": ["Alignment"],
                "targetType": "ext:EQFLevel",
                "targetFramework": "European Qualifications Framework",
                "targetCode": str(q.eqf_level),
                "targetName": f"EQF level {q.eqf_level}",
                "targetUrl": f"http://data.europa.eu/snb/eqf/{q.eqf_level}",
            }
        ]
    doc["name"] = q.name
    doc["credentialSubject"]["achievement"] = achievement
    doc["relatedResource"] = related
    return doc
