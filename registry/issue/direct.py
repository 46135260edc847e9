"""Direct issuance without the service: prepare a batch, anchor its root, write the files.

Files are written only after the anchoring transaction is mined and has the required
confirmations, so no file ever carries a proof for a root that is not on chain. The service's
crash-safe worker (which records every step in the database) is the production path; this
module serves the CLI, the demo and benchmarks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount

from registry.chain.adapter import Chain
from registry.core.batch import PreparedBatch, batch_metadata
from registry.core.credential import Achievement, IssuerProfile, build_credential
from registry.core.credfile import AnchorInfo, make_credential_file
from registry.core.disclosure import digest_version
from registry.core.signing import Signer
from registry.issue.prepare import prepare_batch
from registry.issue.signing import default_profiles, ensure_signing_key, issuer_signer

__all__ = ["IssuedBatch", "Learner", "build_credentials", "issue_and_anchor", "write_files"]

Progress = Callable[[int], None]
"""Called with the number of items done since the last call (for progress bars)."""


class Learner(Protocol):
    """What a credential needs to know of its learner (a CSV row, an API request)."""

    @property
    def recipient_email(self) -> str: ...
    @property
    def recipient_name(self) -> str | None: ...
    @property
    def result(self) -> str | None: ...
    @property
    def valid_from(self) -> datetime | None: ...
    @property
    def valid_until(self) -> datetime | None: ...


@dataclass(frozen=True)
class IssuedBatch:
    prepared: PreparedBatch
    anchor: AnchorInfo
    root: str
    files: list[Path]
    gas_used: int


def build_credentials(
    learners: Iterable[Learner],
    achievement: Achievement,
    issuer: IssuerProfile,
    now: datetime,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One Open Badges 3.0 credential per learner; ``valid_from`` defaults to ``now``."""
    docs: list[dict[str, Any]] = []
    for learner in learners:
        docs.append(
            build_credential(
                achievement=achievement,
                issuer=issuer,
                recipient_email=learner.recipient_email,
                recipient_name=learner.recipient_name,
                result=learner.result,
                valid_from=learner.valid_from or now,
                valid_until=learner.valid_until,
            )
        )
        if progress is not None:
            progress(1)
    return docs


def _slug(doc: dict[str, Any], index: int) -> str:
    ident = str(doc.get("id", index)).rsplit(":", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]", "_", ident)[:80] or str(index)


def write_files(
    docs: Sequence[dict[str, Any]],
    prepared: PreparedBatch,
    anchor: AnchorInfo,
    out_dir: Path,
    progress: Progress | None = None,
    *,
    issuer_key: LocalAccount | None = None,
) -> list[Path]:
    """One credential file per learner (``<credential uuid>.json``); format v2 credentials are
    signed with ``issuer_key``'s signing key, with the default disclosure profiles."""
    out_dir.mkdir(parents=True, exist_ok=True)
    root = prepared.tree.root
    paths: list[Path] = []
    signers: dict[str, Signer] = {}
    for index, doc in enumerate(docs):
        signer = None
        if issuer_key is not None and digest_version(doc) == 2:
            named = doc["issuer"]["id"] if isinstance(doc.get("issuer"), dict) else str(doc.get("issuer"))
            signer = signers.get(named)
            if signer is None:
                signer = signers[named] = issuer_signer(issuer_key, named, anchor.anchored_at)
        data = make_credential_file(
            doc,
            prepared.salts[index],
            prepared.digests[index],
            root,
            prepared.tree.proof(index),
            anchor,
            signer=signer,
            profiles=default_profiles(doc) if signer is not None else None,
        )
        path = out_dir / f"{_slug(doc, index)}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        tmp.replace(path)
        paths.append(path)
        if progress is not None:
            progress(1)
    return paths


def issue_and_anchor(
    chain: Chain,
    issuer_key: LocalAccount,
    docs: Sequence[dict[str, Any]],
    out_dir: Path,
    progress: Progress | None = None,
) -> IssuedBatch:
    """Salt, digest and tree the batch, anchor its root (one transaction), write the files.

    ``progress`` is told of every file written."""
    prepared = prepare_batch(list(docs))
    metadata = batch_metadata(docs, issuer_key.address)
    if any(digest_version(doc) == 2 for doc in docs):
        ensure_signing_key(chain, issuer_key)  # before the anchor: the key must be of record by then
    result = chain.writes.anchor(issuer_key, prepared.tree.root, len(docs), metadata)
    anchored_at = datetime.fromtimestamp(chain.history.block_timestamp(result.block_number), UTC)
    assert chain.registry_address is not None
    anchor = AnchorInfo(
        chain_id=chain.reads.chain_id(),
        registry=chain.registry_address.lower(),
        issuer_address=issuer_key.address.lower(),
        anchor_tx=result.tx_hash,
        anchor_block=result.block_number,
        anchored_at=anchored_at,
    )
    files = write_files(docs, prepared, anchor, out_dir, progress, issuer_key=issuer_key)
    return IssuedBatch(prepared, anchor, "0x" + prepared.tree.root.hex(), files, result.gas_used)
