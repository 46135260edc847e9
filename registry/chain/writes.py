"""Typed writes to a CredentialRegistry: deploy, appoint accreditation bodies, admit, anchor,
revoke, supersede (corrections and renewals), and bind the issuer's Ed25519 signing key (format
v2 §4).

Each write pre-flights its call (a revert raises TransactionFailed with the contract's custom
error as a :class:`~registry.chain.abi.Revert`), signs it locally, sends it and waits for it.
Functions without a typed write here go through :meth:`ChainWriter.transact` with a builder of
:mod:`registry.chain.calls`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from registry.chain import calls
from registry.chain.abi import Revert
from registry.chain.artifacts import load_artifact
from registry.chain.model import ACCREDITOR_ROLE, AccreditorInfo, Call, TxResult, as_bytes32
from registry.chain.reads import ChainReader
from registry.chain.sender import TxSender
from registry.core.identity import canonical_issuer_id
from registry.core.keccak import keccak256
from registry.errors import InvalidInput, TransactionFailed

__all__ = ["ChainWriter"]

_MAY_ANCHOR = "only an issuer's active anchoring key, while it may anchor, sets the issuer's signing key"
_SIGNING_KEY_HINTS: dict[Revert, str] = {
    Revert.UNKNOWN_KEY: _MAY_ANCHOR + "; the sender is no anchoring key",
    Revert.KEY_RETIRED: _MAY_ANCHOR + "; the sender was retired by a rotation",
    Revert.COMPROMISED_KEY: _MAY_ANCHOR + "; the sender was declared compromised",
    Revert.SUSPENDED_ISSUER: _MAY_ANCHOR + "; the issuer is suspended",
    Revert.INVALID_SIGNING_KEY: "the zero value is not an Ed25519 public key",
    Revert.SIGNING_KEY_ALREADY_REGISTERED: (
        "signing keys are never reused: this key was registered before (as the issuer's current or a "
        "retired key, or by another issuer)"
    ),
    Revert.UNKNOWN_SIGNING_KEY: "no issuer registered this signing key",
    Revert.UNAUTHORIZED_SIGNING_KEY_COMPROMISE: (
        "only an accreditation body, or the active, non-compromised anchoring key of the issuer that "
        "registered the signing key, may declare it compromised"
    ),
    Revert.INVALID_COMPROMISE_TIME: "the compromise time must be after 0 and not in the future",
    Revert.SIGNING_KEY_ALREADY_COMPROMISED: "a declared compromise time can only move earlier",
}
"""What each revert of the two signing-key writes means, appended to the decoded error."""
_V2 = "signing keys (credential format v2)"

_SUPERSESSION_HINTS: dict[Revert, str] = {
    Revert.UNKNOWN_KEY: "only an anchoring key of the issuer (active or retired) supersedes its credentials",
    Revert.COMPROMISED_KEY: "the sender was declared compromised and can no longer revoke or supersede",
    Revert.INVALID_SUPERSESSION: (
        "the kind must be 1 (correction) or 2 (renewal), the new digest non-zero and different from the old "
        "one, and the new credential id 1 to 256 bytes"
    ),
    Revert.SUCCESSOR_NOT_ANCHORED: (
        "the new credential must be in a batch the same issuer anchored and did not revoke, with its Merkle "
        "proof (anchor the new credential's batch first)"
    ),
    Revert.SUCCESSOR_REVOKED: "the new credential is itself revoked (or superseded): issue a fresh one",
    Revert.CREDENTIAL_ALREADY_REVOKED: "the old credential is already revoked (or superseded) by this issuer",
}
"""What each revert of :meth:`ChainWriter.supersede_credential` means, appended to the error."""


def _public_key(value: bytes | str) -> bytes:
    try:
        return as_bytes32(value)
    except ValueError as exc:
        raise InvalidInput("public_key", "a raw 32-byte Ed25519 public key (32 bytes or 0x-hex)") from exc


class ChainWriter:
    """Writes to the reader's registry; every method takes the signing account first."""

    def __init__(self, sender: TxSender) -> None:
        self.sender = sender
        self.reader: ChainReader = sender.reader

    def transact(self, account: LocalAccount, call: Call) -> TxResult:
        """Pre-flight ``call``, sign it, send it and wait for the receipt."""
        return self.sender.transact(account, call)

    def deploy(self, account: LocalAccount, admin: str | None = None, *, bytecode: str | None = None) -> TxResult:
        """Deploy CredentialRegistry with ``admin`` (default: the deployer) as admin, and bind
        the reader to it. ``bytecode`` replaces the compiled artifact's (same constructor)."""
        code = bytes.fromhex((bytecode or load_artifact("CredentialRegistry").bytecode).removeprefix("0x"))
        args = self.reader.abi.encode_constructor(to_checksum_address(admin or account.address))
        result = self.sender.create(account, code + args, "deploy")
        if result.contract_address:
            self.reader.registry_address = result.contract_address
        return result

    def grant_accreditor(self, admin: LocalAccount, accreditor: str) -> TxResult | None:
        """Give ``accreditor`` the accreditation-body role without a directory entry (no-op when
        it already has it): reports show such a body by its address. Prefer
        :meth:`appoint_accreditor`."""
        call = self.grant_accreditor_call(accreditor)
        return None if call is None else self.transact(admin, call)

    def grant_accreditor_call(self, accreditor: str) -> Call | None:
        """The call of :meth:`grant_accreditor` (None: nothing to do)."""
        if self.reader.has_role(ACCREDITOR_ROLE, accreditor):
            return None
        return replace(
            calls.grant_role(ACCREDITOR_ROLE, to_checksum_address(accreditor)), action="grant accreditor role"
        )

    def appoint_accreditor(self, admin: LocalAccount, accreditor: str, name: str, uri: str) -> TxResult | None:
        """Appoint ``accreditor`` as a named accreditation body: grant the role if needed and
        record its directory entry (no-op when it holds the role with exactly this entry).

        ``uri`` must be a canonical DID, like an issuer's (refused before any transaction,
        naming the canonical form); appointing again with another name or URI renames the body.
        """
        call = self.appoint_accreditor_call(accreditor, name, uri)
        return None if call is None else self.transact(admin, call)

    def appoint_accreditor_call(self, accreditor: str, name: str, uri: str) -> Call | None:
        """The call of :meth:`appoint_accreditor`, after its checks (None: nothing to do)."""
        canonical = canonical_issuer_id(uri)
        if canonical != uri:
            raise InvalidInput("uri", f"{uri!r} is not in canonical form; appoint it as {canonical!r}")
        if not name:
            raise InvalidInput("name", "an accreditation body needs a public name")
        account = to_checksum_address(accreditor)
        entry: AccreditorInfo = self.reader.accreditors([account])[account]
        if self.reader.lacks_accreditor_entries():
            raise TransactionFailed(
                "appoint accreditation body",
                f"registry {self.reader.registry_address} predates named accreditation bodies (it has no "
                "onboardAccreditor): grant the bare role instead (`registry accreditor ADDRESS` without "
                "--name), and its reports will show the body's address",
            )
        if entry.name == name and entry.uri == uri and self.reader.has_role(ACCREDITOR_ROLE, account):
            return None
        return calls.appoint_accreditor(account, name, uri)

    def admit_issuer(self, accreditor: LocalAccount, name: str, uri: str, key: str) -> int:
        """Admit an issuer (or return its id when this URI is already admitted with this key).

        ``uri`` must be a canonical issuer identifier (:func:`registry.core.identity.canonical_issuer_id`);
        another spelling is refused naming the canonical form, before any transaction.
        """
        call = self.admit_issuer_call(name, uri, key)
        if isinstance(call, int):
            return call
        result = self.transact(accreditor, call)
        return int(result.events("IssuerAdmitted")[0]["issuerId"])

    def admit_issuer_call(self, name: str, uri: str, key: str) -> Call | int:
        """The call of :meth:`admit_issuer`, after its checks, or the issuer's id when this URI is
        already admitted with this key (nothing to do)."""
        canonical = canonical_issuer_id(uri)
        if canonical != uri:
            raise InvalidInput("uri", f"{uri!r} is not in canonical form; admit it as {canonical!r}")
        existing = self.reader.issuer_id_by_uri(uri)
        if existing:
            info = self.reader.keys_by_address([key])[to_checksum_address(key)]
            if info.issuer_id == existing:
                return existing
            raise TransactionFailed("admit issuer", f"URI {uri} already belongs to issuer {existing}")
        return calls.admit_issuer(name, uri, key)

    def anchor(self, issuer_key: LocalAccount, root: bytes | str, count: int, metadata: bytes) -> TxResult:
        """Anchor one batch root with the hash of its metadata (one transaction whatever the
        batch size)."""
        return self.transact(issuer_key, calls.anchor(root, count, keccak256(metadata)))

    def revoke_credentials(self, issuer_key: LocalAccount, digests: Sequence[bytes | str], reason: int) -> TxResult:
        """Revoke credentials by digest in the issuer's namespace: one call, or a bulk call."""
        if len(digests) == 1:
            return self.transact(issuer_key, calls.revoke_credential(digests[0], reason))
        return self.transact(issuer_key, calls.revoke_credentials(digests, reason))

    def revoke_batch(self, issuer_key: LocalAccount, root: bytes | str, reason: int) -> TxResult:
        """Revoke a whole batch (only the issuer that anchored it)."""
        return self.transact(issuer_key, calls.revoke_batch(root, reason))

    def supersede_credential(
        self,
        issuer_key: LocalAccount,
        digest: bytes | str,
        new_root: bytes | str,
        new_digest: bytes | str,
        proof: Sequence[bytes | str],
        kind: int,
        new_id: str,
    ) -> TxResult:
        """Supersede credential ``digest`` with ``new_digest`` (its correction, kind 1, or
        renewal, kind 2), already anchored by the same issuer under ``new_root`` (``proof`` its
        Merkle proof) and published as ``new_id``: revokes ``digest`` with reason 2 and records the
        link. A revert raises TransactionFailed naming the custom error and what it means."""
        call = calls.supersede_credential(digest, new_root, new_digest, proof, kind, new_id)
        return self._explained(issuer_key, call, _SUPERSESSION_HINTS, "supersession")

    def set_signing_key(self, account: LocalAccount, public_key: bytes | str) -> TxResult:
        """Make ``public_key`` (raw 32-byte Ed25519) the signing key of ``account``'s issuer from
        now on, retiring the previous one; ``account`` is the issuer's active anchoring key. A
        revert raises TransactionFailed naming the custom error and what it means."""
        return self._explained(account, calls.set_signing_key(_public_key(public_key)), _SIGNING_KEY_HINTS, _V2)

    def declare_signing_key_compromised(self, account: LocalAccount, public_key: bytes | str, since: int) -> TxResult:
        """Declare signing key ``public_key`` compromised from unix time ``since`` (an
        accreditation body, or the active anchoring key of the key's issuer)."""
        call = calls.declare_signing_key_compromised(_public_key(public_key), since)
        return self._explained(account, call, _SIGNING_KEY_HINTS, _V2)

    def _explained(self, account: LocalAccount, call: Call, hints: dict[Revert, str], feature: str) -> TxResult:
        """:meth:`transact` of a call whose reverts ``hints`` explain; on a registry deployed
        before ``feature`` (no such function), the message says so."""
        try:
            return self.transact(account, call)
        except TransactionFailed as exc:
            hint = hints.get(exc.revert) if isinstance(exc.revert, Revert) else None
            if hint is None and exc.revert in (None, Revert.NO_REASON, Revert.UNRECOGNISED):
                registry = self.reader.require_registry()
                if call.data[:4].hex() not in self.reader.runtime_code(registry).hex():  # the dispatcher's PUSH4
                    hint = f"registry {registry} predates {feature}: it has no {call.function}"
            if hint is None:
                raise
            raise TransactionFailed(exc.action, f"{exc.reason}: {hint}", exc.revert) from exc
