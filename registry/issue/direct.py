"""Direct issuance without the service: prepare a batch, anchor its root, write the files.

Files are written only after the anchoring transaction is mined and has the required
confirmations, so no file ever carries a proof for a root that is not on chain. The service's
crash-safe worker (which records every step in the database) is the production path; this
module serves the CLI, the demo and benchmarks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from eth_account.signers.local import LocalAccount

from registry.chain.client import ChainClient
from registry.chain.ops import anchor_root
from registry.core.credfile import AnchorInfo, make_credential_file
from registry.issue.prepare import PreparedBatch, prepare_batch

__all__ = ["IssuedBatch", "batch_metadata", "issue_and_anchor", "write_files"]


@dataclass(frozen=True)
class IssuedBatch:
    prepared: PreparedBatch
    anchor: AnchorInfo
    root: str
    files: list[Path]
    gas_used: int


def batch_metadata(docs: Sequence[dict[str, Any]], issuer_address: str) -> bytes:
    """Canonical (RFC 8785) batch metadata whose keccak goes on chain: no personal data."""
    achievements = sorted({d["credentialSubject"]["achievement"]["id"] for d in docs})
    meta: Any = {
        "format": "credreg-batch-metadata-v1",
        "count": len(docs),
        "issuer": issuer_address.lower(),
        "achievements": achievements,
    }
    return bytes(rfc8785.dumps(meta))


def _slug(doc: dict[str, Any], index: int) -> str:
    ident = str(doc.get("id", index)).rsplit(":", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]", "_", ident)[:80] or str(index)


def write_files(
    docs: Sequence[dict[str, Any]], prepared: PreparedBatch, anchor: AnchorInfo, out_dir: Path
) -> list[Path]:
    """One credential file per learner (``<credential uuid>.json``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    root = prepared.tree.root
    paths: list[Path] = []
    for index, doc in enumerate(docs):
        data = make_credential_file(
            doc,
            prepared.salts[index],
            prepared.digests[index],
            root,
            prepared.tree.proof(index),
            anchor,
        )
        path = out_dir / f"{_slug(doc, index)}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        tmp.replace(path)
        paths.append(path)
    return paths


def issue_and_anchor(
    client: ChainClient, issuer_key: LocalAccount, docs: Sequence[dict[str, Any]], out_dir: Path
) -> IssuedBatch:
    """Salt, digest and tree the batch, anchor its root (one transaction), write the files."""
    prepared = prepare_batch(list(docs))
    metadata = batch_metadata(docs, issuer_key.address)
    result = anchor_root(client, issuer_key, prepared.tree.root, len(docs), metadata)
    anchored_at = datetime.fromtimestamp(client.block_timestamp(result.block_number), UTC)
    assert client.registry_address is not None
    anchor = AnchorInfo(
        chain_id=client.chain_id(),
        registry=client.registry_address.lower(),
        issuer_address=issuer_key.address.lower(),
        anchor_tx=result.tx_hash,
        anchor_block=result.block_number,
        anchored_at=anchored_at,
    )
    files = write_files(docs, prepared, anchor, out_dir)
    return IssuedBatch(prepared, anchor, "0x" + prepared.tree.root.hex(), files, result.gas_used)
