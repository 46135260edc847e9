"""Trustless verification of credential files against the chain (named checks, verdicts).

Imports only :mod:`registry.core` and the chain reader: never the service, the store or the
auditor, so an employer runs it with nothing else installed or running.
"""

from registry.verify.policy import VerificationPolicy
from registry.verify.report import CHECK_NAMES, OPTIONAL_CHECKS, Check, CheckStatus, Report, Verdict
from registry.verify.verifier import Verifier, read_credential_bytes, verify_files

__all__ = [
    "CHECK_NAMES",
    "OPTIONAL_CHECKS",
    "Check",
    "CheckStatus",
    "Report",
    "Verdict",
    "VerificationPolicy",
    "Verifier",
    "read_credential_bytes",
    "verify_files",
]
