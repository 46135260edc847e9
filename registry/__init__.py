"""Blockchain-anchored credential registry for micro-credentials (Open Badges 3.0).

What an integrator uses, importable from here::

    from registry import VerificationPolicy, Verifier, verify_files

    reports = verify_files([Path("credential.json")], VerificationPolicy(min_confirmations=3))

The exports load lazily (PEP 562), so ``import registry.core.merkle`` does not pull in the chain
client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.errors import RegistryError
    from registry.verify import (
        Check,
        CheckStatus,
        Report,
        Verdict,
        VerificationPolicy,
        Verifier,
        read_credential_bytes,
        verify_files,
    )

__version__ = "0.1.0"

_EXPORTS = {
    "Check": "registry.verify",
    "CheckStatus": "registry.verify",
    "RegistryError": "registry.errors",
    "Report": "registry.verify",
    "Verdict": "registry.verify",
    "VerificationPolicy": "registry.verify",
    "Verifier": "registry.verify",
    "read_credential_bytes": "registry.verify",
    "verify_files": "registry.verify",
}

__all__ = [
    "Check",
    "CheckStatus",
    "RegistryError",
    "Report",
    "Verdict",
    "VerificationPolicy",
    "Verifier",
    "__version__",
    "read_credential_bytes",
    "verify_files",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'registry' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
