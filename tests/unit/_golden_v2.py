"""Deterministic builder of the golden-v2 vectors (run as a script to regenerate the files).

The files under ``tests/assets/golden-v2/`` are the reference (a full file, an ad hoc redacted
copy, a profile copy, the issuer's DID document and the pins); tests load them and are never
allowed to regenerate them. The signing key is derived from a fixed anchoring key.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from _golden import ACHIEVEMENT, ANCHOR, ISSUER

from registry.core.credential import build_credential, format_datetime
from registry.core.credfile import make_credential_file, redact
from registry.core.disclosure import compute_digest, salt_fields
from registry.core.merkle import MerkleTree
from registry.core.signing import Signer, derive_signing_key

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "golden-v2"
HIDE = ["/credentialSubject/name"]
PROFILES = {"without-result": ["/credentialSubject/result"]}
ANCHORING_KEY = bytes.fromhex("5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
"""The anchoring key of anvil's third development account (0x3c44…93bc, ANCHOR.issuer_address)."""


def signer() -> Signer:
    return Signer(derive_signing_key(ANCHORING_KEY), ISSUER.id, format_datetime(ANCHOR.anchored_at))


def build() -> dict[str, Any]:
    """The golden v2 credential, files and pinned values."""
    from datetime import UTC, datetime

    rng = random.Random(20261204).randbytes
    doc = build_credential(
        achievement=ACHIEVEMENT,
        issuer=ISSUER,
        recipient_email="ada.lovelace@example.org",
        recipient_name="Ada Lovelace",
        valid_from=datetime(2025, 2, 28, 9, 0, 0, tzinfo=UTC),
        result="A",
        rng=rng,
    )
    salts = salt_fields(doc, rng=rng)
    digest = compute_digest(doc, salts)
    tree = MerkleTree.build([digest, bytes.fromhex("11" * 32), bytes.fromhex("22" * 32)])
    file = make_credential_file(
        doc, salts, digest, tree.root, tree.proof(0), ANCHOR, signer=signer(), profiles=PROFILES
    )
    return {
        "file": file,
        "redacted": redact(file, HIDE),
        "profile": redact(file, profile="without-result"),
        "digest": "0x" + digest.hex(),
        "root": "0x" + tree.root.hex(),
    }


def write() -> None:
    out = build()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, suffix in (("file", ""), ("redacted", "-redacted"), ("profile", "-profile-without-result")):
        target = GOLDEN / f"credential{suffix}.json"
        target.write_text(json.dumps(out[name], indent=2, ensure_ascii=False) + "\n", "utf-8")
    pins = {
        "credentialDigest": out["digest"],
        "merkleRoot": out["root"],
        "hidden": HIDE,
        "verificationMethod": signer().verification_method,
    }
    (GOLDEN / "pins.json").write_text(json.dumps(pins, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    write()
    sys.stdout.write(f"wrote {GOLDEN}\n")
