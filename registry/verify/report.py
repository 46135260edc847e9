"""The verification report: named checks (DESIGN.md), their statuses and the overall verdict."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidatorFunctionWrapHandler, WrapValidator

from registry.locales.reasons import Reason

__all__ = ["CHECK_NAMES", "OPTIONAL_CHECKS", "Check", "CheckStatus", "Report", "Verdict"]

CHECK_NAMES = (
    "format",
    "integrity",
    "inclusion",
    "anchor",
    "issuer",
    "signature",
    "revocation",
    "lineage",
    "validity",
)
OPTIONAL_CHECKS = ("signature", "lineage")
"""Checks a report holds only when they apply: ``signature`` for a file carrying the issuer's
DataIntegrityProof (format v2, not redacted ad hoc), ``lineage`` for a file claiming to replace
another credential (``supersedes``, docs/format.md §4a)."""


class CheckStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INDETERMINATE = "indeterminate"


class Verdict(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    INDETERMINATE = "INDETERMINATE"

    @property
    def exit_code(self) -> int:
        return {"VALID": 0, "INVALID": 1, "INDETERMINATE": 2}[self.value]


def _keep_reason(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A :class:`Reason` stays one (its template, for a report shown in another language)."""
    return value if isinstance(value, Reason) else handler(value)


class Check(BaseModel):
    name: str
    status: CheckStatus
    reason: Annotated[str, WrapValidator(_keep_reason)]
    """Why, in English (the JSON report's words); a :class:`~registry.locales.reasons.Reason`
    when the verifier made it, so a report for a person can show it in another language."""
    details: dict[str, Any] = Field(default_factory=dict)


class Report(BaseModel):
    """What a verifier prints (``--json``) and the service returns."""

    source: str
    verdict: Verdict
    summary: str
    checks: list[Check]
    credential: dict[str, Any] = Field(default_factory=dict)
    issuer: dict[str, Any] | None = None
    hidden_fields: list[str] = Field(default_factory=list)
    redacted_field_count: int = 0
    proofs: list[str] = Field(default_factory=list)
    """The proofs checked, e.g. ``["DataIntegrityProof eddsa-rdfc-2022", "CredentialRegistryAnchorProof"]``."""
    offline: bool = False
    checked_at: str

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)
