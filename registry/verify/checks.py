"""The named checks of one credential file (DESIGN.md, ``docs/verification.md``) and its report.

Each check sets its :class:`~registry.verify.report.Check` on the file's :class:`Item`, passing,
failing or indeterminate with a reason a person can act on: :func:`offline_checks` (``format``,
``integrity``, ``inclusion``, the signature itself, ``validity``) from the file alone, the chain
checks (:func:`anchor_check`, :func:`issuer_check`, :func:`signature_check`,
:func:`revocation_check`, :func:`lineage_check`) from the records the
:class:`~registry.verify.verifier.Verifier` read;
:func:`report_of` adds them up to the verdict: INVALID if any check fails, else INDETERMINATE if
any is indeterminate, else VALID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from eth_utils import to_checksum_address

from registry.chain.model import (
    REVOCATION_REASONS,
    AccreditorInfo,
    BatchInfo,
    CredentialRevocation,
    IssuerInfo,
    KeyInfo,
    SigningKeyInfo,
    Supersession,
)
from registry.core import credfile
from registry.core.identity import issuer_did
from registry.core.signing import Canonicalizer, SignatureCheck, check_signature
from registry.errors import InvalidInput, RegistryError
from registry.locales.reasons import Reason, phrase
from registry.verify.identity import named_identity
from registry.verify.policy import VerificationPolicy
from registry.verify.report import CHECK_NAMES, OPTIONAL_CHECKS, Check, CheckStatus, Report, Verdict

__all__ = [
    "CHAIN_CHECKS",
    "Item",
    "anchor_check",
    "checksum",
    "issuer_check",
    "lineage_check",
    "offline_checks",
    "report_of",
    "revocation_check",
    "signature_check",
]

CHAIN_CHECKS = ("anchor", "issuer", "signature", "revocation", "lineage")
"""The checks that read the chain (INDETERMINATE together when it cannot be read)."""

checksum = lru_cache(maxsize=4096)(to_checksum_address)
"""EIP-55 form of an address, memoised: each costs a keccak, and a verify service sees the same
few registries and keys on every request."""

_did_of_uri = lru_cache(maxsize=4096)(issuer_did)
"""A directory entry's identifier (``IssuerInfo.did``), memoised: canonicalisation (IDNA) costs
more than the rest of the issuer check."""


@dataclass
class Item:
    """One file going through the checks."""

    source: str
    checks: dict[str, Check] = field(default_factory=dict)
    cf: credfile.CredentialFile | None = None
    digest: str = ""
    root: str = ""
    chain_id: int = 0
    registry: str = ""
    identity: str = ""
    """The issuer the credential names, in canonical form (:func:`named_identity`)."""
    issuer_info: dict[str, Any] | None = None
    signature: SignatureCheck | None = None
    """The offline check of the issuer's DataIntegrityProof (format v2)."""

    def set(self, check: str, status: CheckStatus, reason: str, /, **details: Any) -> None:
        self.checks[check] = Check(name=check, status=status, reason=reason, details=details)

    def pending(self, name: str) -> bool:
        return name not in self.checks

    def applies(self, name: str) -> bool:
        """Whether check ``name`` belongs in this file's report: ``signature`` only for a file
        carrying the issuer's DataIntegrityProof, ``lineage`` only for one claiming to replace
        another credential."""
        if name == "signature":
            return self.cf is not None and self.cf.signature is not None
        if name == "lineage":
            return self.cf is not None and self.cf.supersedes is not None
        return True


def _ts(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def _revocation_reason(code: int) -> Reason:
    """The name of a revocation reason code (``code N`` for one this code does not know)."""
    return phrase(REVOCATION_REASONS[code]) if code in REVOCATION_REASONS else Reason("code {code}", code=code)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def offline_checks(
    source: str, data: bytes | str | dict[str, Any], policy: VerificationPolicy, canonicalizer: Canonicalizer
) -> Item:
    """The checks that need no chain: ``format``, ``integrity``, ``inclusion``, the signature itself
    (format v2) and ``validity`` (at the policy's clock)."""
    item = Item(source=source)
    try:
        cf = credfile.parse_credential_file(data)
    except RegistryError as exc:  # CredentialFormatError, or any other refusal of the input
        # The check is named "format": a refusal *of the format as a whole* ("format: not valid
        # JSON") gives its problem alone, so the summary reads "format: not valid JSON", not
        # "format: format: ..."; a refusal at a member keeps its pointer ("/proof/0: ...").
        reason = exc.problem if isinstance(exc, InvalidInput) and exc.field == "format" else str(exc)
        item.set("format", CheckStatus.FAIL, reason)
        for name in [n for n in CHECK_NAMES[1:] if n not in OPTIONAL_CHECKS]:
            item.set(
                name,
                CheckStatus.INDETERMINATE,
                Reason("not checked: the file is not a valid credential file"),
            )
        return item
    item.cf = cf
    proof = cf.proof
    item.digest = proof["credentialDigest"]
    item.root = proof["merkleRoot"]
    item.chain_id = int(proof["chainId"])
    item.registry = checksum(proof["registry"])
    item.identity = named_identity(cf.credential)
    item.set(
        "format",
        CheckStatus.PASS,
        Reason("well-formed credential file (credreg-proof-v{version}, Open Badges 3.0 schema)", version=cf.version),
        version=cf.version,
        disclosure=cf.disclosure,
    )
    try:
        credfile.check_integrity(cf)
        item.set(
            "integrity",
            CheckStatus.PASS,
            Reason("credential digest recomputed from the disclosed fields and salts"),
            digest=item.digest,
            hidden=len(cf.redacted),
        )
    except RegistryError as exc:
        item.set(
            "integrity",
            CheckStatus.FAIL,
            Reason(
                "the content does not match the anchored digest: {problem}. The file was altered after issuance.",
                problem=str(exc),
            ),
        )
    try:
        credfile.check_inclusion(cf)
        item.set(
            "inclusion",
            CheckStatus.PASS,
            Reason("the Merkle path leads from the credential digest to the batch root"),
            root=item.root,
            depth=len(proof["merklePath"]),
        )
    except RegistryError as exc:
        item.set(
            "inclusion",
            CheckStatus.FAIL,
            Reason("{problem}: this credential is not part of the batch it names", problem=str(exc)),
        )
    if cf.signature is not None:
        item.signature = check_signature(cf.credential, cf.signature, canonicalizer)
        if not item.signature.ok:
            item.set(
                "signature",
                CheckStatus.FAIL,
                item.signature.reason,
                verificationMethod=cf.signature.get("verificationMethod"),
            )
    _validity_check(item, policy)
    return item


def _validity_check(item: Item, policy: VerificationPolicy) -> None:
    assert item.cf is not None
    doc = item.cf.credential
    now = policy.clock()
    valid_from = _parse_time(doc.get("validFrom"))
    valid_until = _parse_time(doc.get("validUntil"))
    if valid_from is None:
        item.set("validity", CheckStatus.FAIL, Reason("validFrom is missing or not a date-time"))
    elif now < valid_from:
        item.set(
            "validity",
            CheckStatus.FAIL,
            Reason("not yet valid: valid from {validFrom}", validFrom=doc["validFrom"]),
            validFrom=doc["validFrom"],
        )
    elif valid_until is None and item.cf.hides("/validUntil") is not False:
        item.set(
            "validity",
            CheckStatus.INDETERMINATE,
            (
                Reason(
                    "the file hides its validUntil: the expiry date cannot be checked; ask the holder for a copy "
                    "that shows it"
                )
                if item.cf.version >= 2
                else Reason(
                    "the file shows no validUntil but hides {count} field(s): an expiry date may be among them (a "
                    "correct redaction never hides validUntil); ask the holder for a copy that hides less",
                    count=len(item.cf.redacted),
                )
            ),
            validFrom=doc["validFrom"],
        )
    elif valid_until is not None and now > valid_until:
        item.set(
            "validity",
            CheckStatus.FAIL,
            Reason("expired on {validUntil}", validUntil=doc["validUntil"]),
            validUntil=doc["validUntil"],
        )
    else:
        item.set(
            "validity",
            CheckStatus.PASS,
            Reason(
                "valid from {validFrom} until {validUntil}", validFrom=doc["validFrom"], validUntil=doc["validUntil"]
            )
            if valid_until
            else Reason("valid from {validFrom} with no expiry", validFrom=doc["validFrom"]),
            validFrom=doc.get("validFrom"),
            validUntil=doc.get("validUntil"),
        )


def anchor_check(
    item: Item, batch: BatchInfo, head: int, chain_id: int, registry: str, policy: VerificationPolicy
) -> None:
    """``anchor``: the batch is anchored in the block the file says, with the confirmations the policy asks."""
    assert item.cf is not None
    confirmations = head - batch.block_number + 1
    details = {
        "chainId": chain_id,
        "registry": registry,
        "block": batch.block_number,
        "anchoredAt": _ts(batch.anchored_at),
        "confirmations": confirmations,
        "credentialCount": batch.count,
    }
    claimed_block = item.cf.proof.get("anchorBlock")
    if claimed_block != batch.block_number:
        item.set(
            "anchor",
            CheckStatus.FAIL,
            Reason(
                "the file says the batch was anchored in block {claimed}, the chain says block {block}",
                claimed=claimed_block,
                block=batch.block_number,
            ),
            **details,
        )
    elif confirmations < policy.min_confirmations:
        item.set(
            "anchor",
            CheckStatus.INDETERMINATE,
            Reason(
                "anchored in block {block} but only {confirmations} of {required} confirmations yet; check again "
                "shortly",
                block=batch.block_number,
                confirmations=confirmations,
                required=policy.min_confirmations,
            ),
            **details,
        )
    else:
        item.set(
            "anchor",
            CheckStatus.PASS,
            Reason(
                "batch root anchored on chain {chain_id} in block {block} at {at} ({confirmations} confirmations)",
                chain_id=chain_id,
                block=batch.block_number,
                at=_ts(batch.anchored_at),
                confirmations=confirmations,
            ),
            **details,
        )


def issuer_check(
    item: Item,
    batch: BatchInfo,
    key: KeyInfo,
    issuer: IssuerInfo,
    registry: str,
    trusted: str | None,
    identity_check: tuple[str, str | None],
    *,
    accreditor: AccreditorInfo | None = None,
) -> None:
    """``issuer``: the batch's anchoring key was the named issuer's, valid when it anchored, in a registry
    the policy trusts (``trusted``: why, None if not); ``identity_check`` is the named identity and
    why it is not this entry's (None: it is)."""
    assert item.cf is not None
    # The body that admitted the issuer, by name when it has a directory entry (else, and on a
    # registry that predates entries, by address).
    body = accreditor or AccreditorInfo(issuer.admitted_by)
    named = item.cf.credential.get("issuer", {})
    named_id = named.get("id") if isinstance(named, dict) else named
    identity, conflict = identity_check  # the named identity (canonical), and why it is not this entry's
    claimed_key = checksum(item.cf.proof["issuerAddress"])
    did = _did_of_uri(issuer.uri)  # IssuerInfo.did, memoised
    info = {
        "issuerId": issuer.issuer_id,
        "name": issuer.name,
        "uri": issuer.uri,
        "did": did,
        "accreditedBy": issuer.admitted_by,
        "accreditor": body.as_json(),
        "admittedAt": _ts(issuer.admitted_at),
        "anchoringKey": key.address,
        "suspendedAt": _ts(issuer.suspended_at) if issuer.suspended else None,
        "keyCompromisedAt": _ts(key.compromised_at) if key.compromised_at else None,
        "registryPinned": trusted is not None,
        "trustSource": trusted,
    }
    item.issuer_info = info
    if trusted is None and conflict is not None:  # a trusted registry admits the named identity
        item.set("issuer", CheckStatus.INDETERMINATE, conflict, lookalikeOf=identity, **info)
    elif trusted is None:
        item.set(
            "issuer",
            CheckStatus.INDETERMINATE,
            Reason(
                "registry {registry} on chain {chain_id} is not one you trust, so its directory cannot vouch for "
                "{name!r}: anyone can deploy a registry and admit any name. If it is the registry you expect, "
                'trust it with `registry trust add {chain_id} {registry}` (or list it under "registries" in '
                "networks.json)",
                registry=registry,
                chain_id=item.chain_id,
                name=issuer.name,
            ),
            **info,
        )
    elif claimed_key != key.address:
        item.set(
            "issuer",
            CheckStatus.FAIL,
            Reason(
                "the file names anchoring key {claimed}, but the batch was anchored by {key}",
                claimed=claimed_key,
                key=key.address,
            ),
            **info,
        )
    elif identity != did:
        item.set(
            "issuer",
            CheckStatus.FAIL,
            Reason(
                "the credential names issuer {named!r}, but the batch was anchored by the key of directory entry "
                "{did!r} ({name}): an issuer cannot issue in another's name",
                named=named_id,
                did=did,
                name=issuer.name,
            ),
            **info,
        )
    elif conflict is not None:
        item.set("issuer", CheckStatus.FAIL, conflict, **info)
    elif key.compromised_for(batch.anchored_at):
        item.set(
            "issuer",
            CheckStatus.FAIL,
            Reason(
                "the anchoring key {key} was declared compromised from {since}; this batch was anchored after "
                "that, at {at}",
                key=key.address,
                since=_ts(key.compromised_at),
                at=_ts(batch.anchored_at),
            ),
            **info,
        )
    elif batch.anchored_at < issuer.admitted_at:
        item.set("issuer", CheckStatus.FAIL, Reason("the batch predates the issuer's admission"), **info)
    elif issuer.suspended:
        item.set(
            "issuer",
            CheckStatus.FAIL,
            Reason(
                "{name} ({did}) has been suspended by its accreditation body since {since}",
                name=issuer.name,
                did=did,
                since=_ts(issuer.suspended_at),
            ),
            **info,
        )
    else:
        item.set(
            "issuer",
            CheckStatus.PASS,
            Reason(
                "issued by {name} ({did}), admitted {admitted} by accreditation body {body}; anchoring key valid "
                "at anchoring time; registry trusted via {trusted}",
                name=issuer.name,
                did=did,
                admitted=_ts(issuer.admitted_at),
                body=body.label,
                trusted=trusted,
            ),
            **info,
        )


def signature_check(item: Item, batch: BatchInfo, key: SigningKeyInfo | None) -> None:
    """The issuer signature's key binding: the key was the anchoring issuer's signing key,
    uncompromised, when the batch was anchored (docs/format.md v2 §4)."""
    assert item.cf is not None and item.cf.signature is not None
    method = item.cf.signature.get("verificationMethod")
    if key is None or key.issuer_id == 0:
        item.set(
            "signature",
            CheckStatus.FAIL,
            Reason(
                "the signature verifies, but its key {method} is not a signing key of any issuer in the registry: "
                "anyone can make such a key",
                method=method,
            ),
            verificationMethod=method,
        )
        return
    if key.issuer_id != batch.issuer_id:
        item.set(
            "signature",
            CheckStatus.FAIL,
            Reason(
                "the signing key {method} belongs to issuer #{owner}, not to issuer #{anchoring} that anchored the "
                "batch",
                method=method,
                owner=key.issuer_id,
                anchoring=batch.issuer_id,
            ),
            verificationMethod=method,
        )
        return
    problem = key.valid_at(batch.anchored_at)
    if problem is not None:
        item.set("signature", CheckStatus.FAIL, problem, verificationMethod=method)
        return
    item.set(
        "signature",
        CheckStatus.PASS,
        Reason(
            "the issuer's Ed25519 signature (eddsa-rdfc-2022) verifies with its signing key of record since {since}",
            since=_ts(key.since),
        ),
        verificationMethod=method,
        keySince=_ts(key.since),
    )


def revocation_check(
    item: Item,
    batch: BatchInfo,
    revocation: CredentialRevocation | None,
    supersession: Supersession | None = None,
) -> None:
    """``revocation``: neither the batch nor the credential (in the batch issuer's namespace) is
    revoked; a credential revoked by a supersession names its successor, the date and the kind."""
    if batch.revoked:
        item.set(
            "revocation",
            CheckStatus.FAIL,
            Reason(
                "the whole batch was revoked by the issuer on {at}: {why}",
                at=_ts(batch.revoked_at),
                why=_revocation_reason(batch.revocation_reason),
            ),
            revokedAt=_ts(batch.revoked_at),
            reasonCode=batch.revocation_reason,
            scope="batch",
        )
    elif revocation is not None and supersession is not None:
        item.set(
            "revocation",
            CheckStatus.FAIL,
            Reason(
                "superseded by {successor} on {on}: {kind}",
                successor=supersession.new_id,
                on=_date(supersession.superseded_at),
                kind=phrase(supersession.kind_name),
            ),
            revokedAt=_ts(revocation.revoked_at),
            reasonCode=revocation.reason,
            scope="credential",
            supersededBy=supersession.new_id,
            supersededByDigest=supersession.new_digest,
            supersededAt=_ts(supersession.superseded_at),
            kind=supersession.kind_name,
        )
    elif revocation is not None:
        item.set(
            "revocation",
            CheckStatus.FAIL,
            Reason(
                "revoked by the issuer on {at}: {why}",
                at=_ts(revocation.revoked_at),
                why=_revocation_reason(revocation.reason),
            ),
            revokedAt=_ts(revocation.revoked_at),
            reasonCode=revocation.reason,
            scope="credential",
        )
    else:
        item.set("revocation", CheckStatus.PASS, Reason("neither the credential nor its batch is revoked"))


def lineage_check(item: Item, supersession: Supersession | None) -> None:
    """``lineage``, for a file claiming to replace another credential: the registry records that
    supersession, by this very credential (``supersession`` is the record of the claimed digest
    in the namespace of the issuer that anchored this file's batch; None when there is none).

    The claim lies outside the digest and the signature: only the chain's record makes it true.
    """
    assert item.cf is not None and item.cf.supersedes is not None
    claim = item.cf.supersedes
    details = {"replaces": claim["id"], "replacesDigest": claim["credentialDigest"], "kind": claim["kind"]}
    if supersession is None or supersession.new_digest != item.digest.lower():
        item.set(
            "lineage",
            CheckStatus.FAIL,
            Reason("claims to replace {replaces} but the registry records no such supersession", replaces=claim["id"]),
            **details,
        )
    elif supersession.kind_name != claim["kind"]:
        item.set(
            "lineage",
            CheckStatus.FAIL,
            Reason(
                "claims to replace {replaces} by a {claimed}, but the registry records a {recorded}",
                replaces=claim["id"],
                claimed=phrase(str(claim.get("kind"))),
                recorded=phrase(supersession.kind_name),
            ),
            **details,
        )
    else:
        item.set(
            "lineage",
            CheckStatus.PASS,
            Reason(
                "replaces {replaces} ({kind}, on {on})",
                replaces=claim["id"],
                kind=phrase(supersession.kind_name),
                on=_date(supersession.superseded_at),
            ),
            **details,
            supersededAt=_ts(supersession.superseded_at),
        )


def report_of(item: Item, policy: VerificationPolicy) -> Report:
    """The report of ``item``: its checks in order, the verdict and summary they add up to, and what
    the credential shows."""
    checks = [item.checks[name] for name in CHECK_NAMES if name in item.checks]
    if any(c.status is CheckStatus.FAIL for c in checks):
        verdict = Verdict.INVALID
        failed = [c for c in checks if c.status is CheckStatus.FAIL]
        summary = "; ".join(f"{c.name}: {c.reason}" for c in failed)
    elif any(c.status is CheckStatus.INDETERMINATE for c in checks):
        verdict = Verdict.INDETERMINATE
        open_ = [c for c in checks if c.status is CheckStatus.INDETERMINATE]
        summary = "; ".join(f"{c.name}: {c.reason}" for c in open_)
    else:
        verdict = Verdict.VALID
        summary = "all checks passed"
    credential: dict[str, Any] = {}
    hidden: list[str] = []
    redacted = 0
    proofs: list[str] = []
    if item.cf is not None:
        doc = item.cf.credential
        subject = doc.get("credentialSubject", {})
        achievement = subject.get("achievement", {}) if isinstance(subject, dict) else {}
        issuer = doc.get("issuer", {})
        credential = {
            "id": doc.get("id"),
            "name": doc.get("name") or achievement.get("name"),
            "achievement": achievement.get("name"),
            "issuerId": issuer.get("id") if isinstance(issuer, dict) else issuer,
            "issuerName": issuer.get("name") if isinstance(issuer, dict) else None,
            "validFrom": doc.get("validFrom"),
            "validUntil": doc.get("validUntil"),
            "digest": item.digest,
            "root": item.root,
            "chainId": item.chain_id,
            "registry": item.registry,
        }
        hidden = credfile.hidden_fields(item.cf)
        redacted = len(item.cf.redacted)
        if item.cf.signature is not None:
            proofs.append(f"{item.cf.signature.get('type')} {item.cf.signature.get('cryptosuite')}")
        proofs.append(str(item.cf.proof.get("type")))
    return Report(
        source=item.source,
        verdict=verdict,
        summary=summary,
        checks=checks,
        credential=credential,
        issuer=item.issuer_info,
        hidden_fields=hidden,
        redacted_field_count=redacted,
        proofs=proofs,
        offline=policy.offline,
        checked_at=policy.clock().isoformat(timespec="seconds"),
    )
