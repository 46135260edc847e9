"""The one error hierarchy of the registry.

Every error the package raises on purpose derives from :class:`RegistryError`; each subclass
builds its message in ``__init__`` so call sites stay short and messages stay consistent.

Each class also carries the exit code the ``registry`` command gives it (``exit_code``): this is
the one table of exit codes. 0/1/2 are reserved for VALID/INVALID/INDETERMINATE (and success);
3 is a usage or configuration error (bad input, missing setting, unknown object), 4 the chain is
unavailable, 5 any other registry error (a reverted transaction, a conflict, ...).
"""

from __future__ import annotations

from enum import Enum


class RegistryError(Exception):
    """Base class of every error the registry raises on purpose."""

    code = "registry_error"
    exit_code = 5


class ConfigError(RegistryError):
    """A setting is missing, malformed or unsafe."""

    code = "config_error"
    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidInput(RegistryError):
    """User-supplied data is malformed; ``field`` names where."""

    code = "invalid_input"
    exit_code = 3

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class CredentialFormatError(InvalidInput):
    """A credential file does not follow the credential file format."""

    code = "invalid_credential_file"


class RedactionError(InvalidInput):
    """A selective-disclosure request cannot be honoured."""

    code = "invalid_redaction"


class InvalidProof(RegistryError):
    """A Merkle proof is malformed or does not lead to the expected root."""

    code = "invalid_proof"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid Merkle proof: {reason}")


class VerificationError(RegistryError):
    """Verification could not be carried out (as opposed to a credential that failed a check)."""

    code = "verification_error"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ChainError(RegistryError):
    """Base class of errors that come from talking to a chain."""

    code = "chain_error"


class ChainUnavailable(ChainError):
    """The JSON-RPC endpoint is down, slow, rate-limited or answered garbage."""

    code = "chain_unavailable"
    exit_code = 4

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"chain RPC {url} unavailable: {reason}")


class WrongChain(ChainError):
    """The endpoint serves another chain than the one expected."""

    code = "wrong_chain"

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"RPC serves chain id {actual}, expected {expected}")


class TransactionFailed(ChainError):
    """A transaction reverted or could not be sent; ``reason`` is the decoded revert message and
    ``revert`` the contract's custom error as a :class:`registry.chain.abi.Revert` member (None
    when the failure was not a revert)."""

    code = "transaction_failed"

    def __init__(self, action: str, reason: str, revert: Enum | None = None) -> None:
        self.action = action
        self.reason = reason
        self.revert = revert
        super().__init__(f"{action} failed: {reason}")


class DeploymentError(ChainError):
    """No usable deployment of the registry contract, or one would be overwritten."""

    code = "deployment_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class NotFound(RegistryError):
    """A requested object does not exist (or is not visible to the caller)."""

    code = "not_found"
    exit_code = 3

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} not found")


class PermissionDenied(RegistryError):
    """The caller may not do this."""

    code = "permission_denied"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class AuthenticationError(RegistryError):
    """A request carries no API key, or one that is unknown or revoked."""

    code = "invalid_api_key"

    def __init__(self, message: str = "missing or invalid API key") -> None:
        super().__init__(message)


class Conflict(RegistryError):
    """The request contradicts the current state (already revoked, not yet released, ...)."""

    code = "conflict"

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class ImportRejected(InvalidInput):
    """A CSV or bulk import had invalid rows; nothing of it was stored. ``rows`` lists them."""

    code = "import_rejected"

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows
        first = rows[0] if rows else {}
        more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
        super().__init__(
            "rows",
            f"{len(rows)} invalid row(s), nothing imported; row {first.get('row')}: "
            f"{first.get('field')}: {first.get('problem')}{more}",
        )


class NotARegistry(ChainError):
    """The contract at an address does not answer as a CredentialRegistry (its views revert)."""

    code = "not_a_registry"

    def __init__(self, address: str, detail: str) -> None:
        self.address = address
        super().__init__(f"the contract at {address} does not answer as a credential registry ({detail})")
