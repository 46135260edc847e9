"""Shared helpers for the pure-core unit tests (imported explicitly, not a conftest)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry.core.credential import Achievement, IssuerProfile, build_credential
from registry.core.credfile import AnchorInfo, make_credential_file
from registry.core.disclosure import compute_digest, salt_fields
from registry.core.merkle import MerkleTree

ROOT = Path(__file__).resolve().parents[2]
OZ_SCRIPT = ROOT / "scripts" / "oz_tree.mjs"
OZ_PACKAGE = ROOT / "node_modules" / "@openzeppelin" / "merkle-tree"

ISSUER = IssuerProfile(id="did:web:uni.example", name="Example University", url="https://uni.example")
ACHIEVEMENT = Achievement(
    id="https://uni.example/achievements/data-literacy",
    name="Data Literacy",
    description="Reading, cleaning and explaining data.",
    criteria_narrative="Pass the exam.",
    learning_outcomes=["Read charts", "Clean data", "Explain bias"],
    workload_ects=5,
    eqf_level=6,
    assessment_type="Written exam",
    participation_form="online",
    quality_assurance="Quality Assurance Board",
)
ANCHOR = AnchorInfo(
    chain_id=31337,
    registry="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    issuer_address="0x" + "3c" * 20,
    anchor_tx="0x" + "ab" * 32,
    anchor_block=7,
    anchored_at=datetime(2025, 3, 1, tzinfo=UTC),
)


def credential(seed: int = 1, **overrides: Any) -> dict[str, Any]:
    """A deterministic credential, format v1 unless ``version=2`` (the v1 suite pins v1 forever;
    tests/unit/test_format_v2.py covers v2)."""
    rng = random.Random(seed).randbytes
    args: dict[str, Any] = {
        "achievement": ACHIEVEMENT,
        "issuer": ISSUER,
        "recipient_email": "Ada.Lovelace@Example.org",
        "recipient_name": "Ada Lovelace",
        "valid_from": datetime(2025, 2, 1, 9, 0, tzinfo=UTC),
        "valid_until": datetime(2030, 2, 1, 9, 0, tzinfo=UTC),
        "result": "A",
        "rng": rng,
        "version": 1,
    }
    args.update(overrides)
    return build_credential(**args)


def credential_file(seed: int = 1, batch: int = 5) -> dict[str, Any]:
    """A credential file whose credential is leaf 0 of a ``batch``-leaf tree."""
    doc = credential(seed)
    salts = salt_fields(doc, rng=random.Random(seed + 1000).randbytes)
    digest = compute_digest(doc, salts)
    others = [bytes([i]) * 32 for i in range(1, batch)]
    tree = MerkleTree.build([digest, *others])
    return make_credential_file(doc, salts, digest, tree.root, tree.proof(0), ANCHOR)


def node_available() -> bool:
    return shutil.which("node") is not None and OZ_PACKAGE.is_dir()


def oz(mode: str, payload: Any) -> Any:
    """Run scripts/oz_tree.mjs with a JSON payload on stdin."""
    out = subprocess.run(
        ["node", str(OZ_SCRIPT), mode],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)
