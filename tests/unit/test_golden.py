"""Golden files of format v1: they must keep loading and verifying offline, forever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _core_fixtures import ROOT, node_available, oz
from _golden import GOLDEN, build

from registry.core.credfile import check_inclusion, check_integrity, hidden_fields, parse_credential_file
from registry.core.disclosure import compute_digest, field_hashes, flatten
from registry.core.merkle import MerkleTree, leaf_hash, verify_proof

PINS = json.loads((GOLDEN / "pins.json").read_text("utf-8"))
VECTOR = json.loads((GOLDEN / "vector.json").read_text("utf-8"))


@pytest.mark.parametrize("name", ["credential.json", "credential-redacted.json"])
def test_golden_files_verify(name: str) -> None:
    cf = parse_credential_file((GOLDEN / name).read_bytes())
    assert "0x" + check_integrity(cf).hex() == PINS["credentialDigest"]
    assert "0x" + cf.root.hex() == PINS["merkleRoot"]
    check_inclusion(cf)


def test_golden_redacted_hides_what_it_says() -> None:
    cf = parse_credential_file((GOLDEN / "credential-redacted.json").read_bytes())
    assert hidden_fields(cf) == PINS["hidden"]
    assert "name" not in cf.credential["credentialSubject"]
    assert len(cf.redacted) == 3


def test_builder_still_reproduces_the_golden_files() -> None:
    """The deterministic builder must still produce byte-identical JSON values."""
    out = build()
    assert out["file"] == json.loads((GOLDEN / "credential.json").read_text("utf-8"))
    assert out["redacted"] == json.loads((GOLDEN / "credential-redacted.json").read_text("utf-8"))


def test_worked_vector_of_docs_format_md() -> None:
    doc = VECTOR["document"]
    fields = VECTOR["fields"]
    salts = {f["pointer"]: f["salt"] for f in fields}
    assert [(f["pointer"], f["value"]) for f in fields] == flatten(doc)
    hashes = field_hashes(doc, salts)
    for f in fields:
        assert "0x" + hashes[f["pointer"]].hex() == f["fieldHash"]
    digest = compute_digest(doc, salts)
    assert "0x" + digest.hex() == VECTOR["credentialDigest"]
    tree_vec = VECTOR["tree"]
    values = [bytes.fromhex(v[2:]) for v in tree_vec["values"]]
    tree = MerkleTree.build(values)
    assert "0x" + tree.root.hex() == tree_vec["root"]
    for i, v in enumerate(values):
        assert "0x" + leaf_hash(v).hex() == tree_vec["leaves"][i]
        assert ["0x" + p.hex() for p in tree.proof(i)] == tree_vec["proofs"][i]
        verify_proof(tree.root, v, tree.proof(i))
    text = (Path(ROOT) / "docs/format.md").read_text("utf-8")
    assert VECTOR["credentialDigest"] in text and tree_vec["root"] in text


@pytest.mark.skipif(not node_available(), reason="node or @openzeppelin/merkle-tree missing")
def test_worked_vector_matches_openzeppelin() -> None:
    tree_vec = VECTOR["tree"]
    theirs = oz("build", tree_vec["values"])
    assert theirs["root"] == tree_vec["root"]
    assert theirs["proofs"] == tree_vec["proofs"]
