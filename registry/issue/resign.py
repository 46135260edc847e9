"""Signing again the files a registry release before 2026-12-07 signed over a wrong canonical form.

Those releases canonicalised text holding U+2028, U+2029, U+0085, U+FFFE or U+FFFF wrongly on
their fast path (docs/format.md v2 §4), so the issuer's ``DataIntegrityProof`` of such a file, and
of its pre-signed disclosure profiles, covers a form no standard verifier computes. Nothing else in
the file is wrong: its digest, salts, Merkle path and anchor are the batch's. :func:`resign_file`
gives the same file with signatures over the standard form, made with the same key and the same
``created`` time, so the chain's record of the key still applies and nothing is anchored again.

It signs only what the issuer signed before: every signature it replaces must verify, with the
issuer's own key, over the wrong form of exactly this content (:attr:`SignatureCheck.legacy`);
a file changed since, signed by another key or failing any offline check is refused, unchanged.
A file that carries no issuer signature (format v1, or redacted ad hoc) has nothing to sign.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.core.credfile import AnchorInfo, check_inclusion, check_integrity, parse_credential_file, redact
from registry.core.signing import PROOF_TYPE_DI, Signer, check_signature, public_key_multibase
from registry.errors import InvalidInput, InvalidProof

__all__ = ["Resigned", "resign_file"]


@dataclass(frozen=True)
class Resigned:
    """What :func:`resign_file` did: ``file`` is the new file, or None when there is nothing to
    change (``why`` says why); ``signatures`` counts the signatures signed again."""

    file: dict[str, Any] | None
    signatures: int
    why: str = ""


def resign_file(file_dict: Mapping[str, Any], key_for: Callable[[AnchorInfo], Ed25519PrivateKey]) -> Resigned:
    """The credential file ``file_dict`` with each signature that a release before 2026-12-07 made
    over the wrong canonical form signed again with the issuer's signing key, ``key_for(anchor)``
    (asked only for a sound file that carries a signature).

    Raises :class:`InvalidInput` (nothing signed) when the file is not a sound credential file,
    was signed with another key, or has a signature that fails for any other reason (the content
    was changed after it was signed).
    """
    try:
        cf = parse_credential_file(file_dict)
        check_integrity(cf)
        check_inclusion(cf)
    except InvalidProof as exc:
        raise InvalidInput("/proof", str(exc)) from None
    if cf.version < 2:
        return Resigned(None, 0, "a format v1 file carries no issuer signature")
    if cf.signature is None:
        return Resigned(None, 0, "it carries no issuer signature (fields were hidden after it was issued)")
    key = key_for(cf.anchor)
    old = cf.signature
    issuer = cf.credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    created = old.get("created")
    if not isinstance(issuer_id, str) or not isinstance(created, str):
        raise InvalidInput("/proof/0", "the signature names no issuer or no created time")
    signer = Signer(key, issuer_id, created)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    options = {k: v for k, v in old.items() if k != "proofValue"}
    method = old.get("verificationMethod")
    if method != signer.verification_method:
        raise InvalidInput(
            "/proof/0",
            f"signed with the key {method!r}, not with this issuer key ({issuer_id}#{public_key_multibase(public)}): "
            f"sign it again with the anchoring key that issued it ({cf.anchor.issuer_address})",
        )
    if options != signer.options:
        raise InvalidInput(
            "/proof/0",
            f"the signature's options ({', '.join(sorted(options))}) are not those the registry signs with: "
            "not signed again",
        )
    signed = 0
    proofs = copy.deepcopy(list(file_dict["proof"]))
    main = _index(proofs, lambda p: p.get("type") == PROOF_TYPE_DI)
    anchor = _index(proofs, lambda p: p.get("type") != PROOF_TYPE_DI)
    if _needs_signing(cf.credential, old, f"/proof/{main}"):
        proofs[main]["proofValue"] = signer.proof_value(cf.credential)
        signed += 1
    for name, profile in (cf.proof.get("profiles") or {}).items():
        reduced_file = redact(file_dict, profile=name)
        reduced = {k: v for k, v in reduced_file.items() if k != "proof"}
        profile_proof = {**options, "proofValue": profile.get("proofValue")}
        if _needs_signing(reduced, profile_proof, f"/proof/{anchor}/profiles/{name}"):
            proofs[anchor]["profiles"][name]["proofValue"] = signer.proof_value(reduced)
            signed += 1
    if not signed:
        return Resigned(None, 0, "its signatures verify")
    out = {**file_dict, "proof": proofs}
    _check_signed(out)
    return Resigned(out, signed)


def _index(proofs: list[Any], match: Any) -> int:
    return next(i for i, p in enumerate(proofs) if isinstance(p, dict) and match(p))


def _needs_signing(credential: Mapping[str, Any], proof: Mapping[str, Any], where: str) -> bool:
    """False when ``proof`` verifies over ``credential``; True when it is the issuer's signature
    over the wrong canonical form; otherwise :class:`InvalidInput` with the check's reason."""
    check = check_signature(credential, proof)
    if check.ok:
        return False
    if check.legacy:
        return True
    raise InvalidInput(where, f"{check.reason}: not signed again")


def _check_signed(file_dict: Mapping[str, Any]) -> None:
    """Every signature of the new file verifies (a file that would not is never produced)."""
    cf = parse_credential_file(file_dict)
    assert cf.signature is not None
    checks = [check_signature(cf.credential, cf.signature)]
    options = {k: v for k, v in cf.signature.items() if k != "proofValue"}
    for name, profile in (cf.proof.get("profiles") or {}).items():
        reduced = {k: v for k, v in redact(file_dict, profile=name).items() if k != "proof"}
        checks.append(check_signature(reduced, {**options, "proofValue": profile["proofValue"]}))
    failed = next((c for c in checks if not c.ok), None)
    if failed is not None:  # never expected: signing is deterministic and the form is the standard one
        raise InvalidInput("/proof", f"internal error: a new signature does not verify ({failed.reason})")
