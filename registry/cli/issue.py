"""`registry issue` and `registry revoke`: issuing and revoking without the service.

`issue` reads a CSV of learners and an achievement definition, builds Open Badges 3.0
credentials, anchors the batch with one transaction and writes one file per learner. Every
input is validated before anything is anchored, so bad input changes nothing. `revoke` revokes
the credentials (or whole batches) of given files with the issuer's key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from registry.chain.client import REVOCATION_REASONS
from registry.cli.output import err, out
from registry.cli.output import fail as _fail
from registry.errors import ConfigError, InvalidInput, RegistryError

_REASONS = ", ".join(f"{k} {v}" for k, v in REVOCATION_REASONS.items())


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=False,
    )  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add `issue` and `revoke` to the main command."""

    @app.command("issue")
    def issue(
        csv_file: Annotated[
            Path, typer.Option("--csv", help="learners: email (required), name, result, valid_from, valid_until")
        ],
        achievement_file: Annotated[Path, typer.Option("--achievement", help="achievement definition (JSON)")],
        out_dir: Annotated[Path, typer.Option("--out", help="directory for the credential files")],
        rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint")] = None,
        keystore: Annotated[Path | None, typer.Option(help="the issuer's encrypted keystore")] = None,
    ) -> None:
        """Issue credentials to the learners of a CSV and anchor them as one batch (one transaction)."""
        from registry.chain.keys import load_signer
        from registry.chain.ops import anchor_root, connect
        from registry.config import Settings
        from registry.core.credential import Achievement, IssuerProfile, build_credential, validate_model
        from registry.issue.direct import batch_metadata, write_files
        from registry.issue.prepare import prepare_batch
        from registry.service.issuance import parse_csv

        try:
            try:
                achievement_data = json.loads(achievement_file.read_text())
                csv_bytes = csv_file.read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read {exc.filename}: {exc.strerror}") from exc
            except json.JSONDecodeError as exc:
                raise InvalidInput(str(achievement_file), f"not JSON: {exc}") from exc
            achievement = validate_model(Achievement, achievement_data, "achievement.")
            rows = parse_csv(csv_bytes, 1)
            settings = Settings()
            client = connect(settings, rpc)
            key = load_signer(client.chain_id(), role="issuer", keystore=keystore)
            info = client.keys_by_address([key.address])[key.address]
            if info.issuer_id == 0:
                raise ConfigError(f"{key.address} is not an issuer key in registry {client.registry_address}")
            entry = client.issuers([info.issuer_id])[info.issuer_id]
            issuer = IssuerProfile(id=entry.did, name=entry.name)
            now = datetime.now(UTC).replace(microsecond=0)
            docs: list[dict[str, Any]] = []
            with _progress() as bar:
                task = bar.add_task("building credentials", total=len(rows))
                for _, req in rows:
                    docs.append(
                        build_credential(
                            achievement=achievement, issuer=issuer, recipient_email=req.recipient_email,
                            recipient_name=req.recipient_name, result=req.result,
                            valid_from=req.valid_from or now, valid_until=req.valid_until,
                        )
                    )  # fmt: skip
                    bar.advance(task)
            prepared = prepare_batch(docs)
            result = anchor_root(client, key, prepared.tree.root, len(docs), batch_metadata(docs, key.address))
            from registry.core.credfile import AnchorInfo

            assert client.registry_address is not None
            anchor = AnchorInfo(
                chain_id=client.chain_id(), registry=client.registry_address.lower(),
                issuer_address=key.address.lower(), anchor_tx=result.tx_hash, anchor_block=result.block_number,
                anchored_at=datetime.fromtimestamp(client.block_timestamp(result.block_number), UTC),
            )  # fmt: skip
            with _progress() as bar:
                bar.add_task("writing files", total=len(docs))
                files = write_files(docs, prepared, anchor, out_dir)
                bar.update(bar.task_ids[0], completed=len(files))
        except RegistryError as exc:
            _fail(exc)
            return
        out.print(
            f"issued {len(files)} credentials of {entry.name} ({entry.did}); batch root 0x{prepared.tree.root.hex()} "
            f"anchored in block {result.block_number} (tx {result.tx_hash}, gas {result.gas_used}); files in {out_dir}"
        )

    @app.command("revoke")
    def revoke(
        files: Annotated[list[Path], typer.Argument(help="credential files (JSON or baked badges) to revoke")],
        reason: Annotated[int, typer.Option(min=0, max=255, help=f"reason code: {_REASONS}")] = 0,
        batch: Annotated[bool, typer.Option("--batch", help="revoke the whole batch of each file")] = False,
        rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint")] = None,
        keystore: Annotated[Path | None, typer.Option(help="the issuer's encrypted keystore")] = None,
    ) -> None:
        """Revoke credentials (one transaction for all of them) or their whole batches."""
        from registry.chain.client import ChainClient
        from registry.chain.keys import load_signer
        from registry.chain.ops import revoke_batch, revoke_credentials
        from registry.config import Settings
        from registry.core.credfile import parse_credential_file
        from registry.verify.verifier import read_credential_bytes

        try:
            parsed = [parse_credential_file(read_credential_bytes(f)) for f in files]
            targets = {(cf.proof["chainId"], cf.proof["registry"].lower()) for cf in parsed}
            if len(targets) != 1:
                raise InvalidInput("files", "all files must belong to one registry on one chain")
            chain_id, registry = targets.pop()
            client = ChainClient(rpc or Settings().rpc, registry)
            if client.chain_id() != chain_id:
                raise ConfigError(
                    f"the RPC serves chain {client.chain_id()}, the files were anchored on chain {chain_id}"
                )
            key = load_signer(chain_id, role="issuer", keystore=keystore)
            if batch:
                for root in sorted({cf.proof["merkleRoot"] for cf in parsed}):
                    tx = revoke_batch(client, key, bytes.fromhex(root[2:]), reason)
                    out.print(f"batch {root} revoked in block {tx.block_number} (tx {tx.tx_hash})")
                return
            digests = sorted({bytes.fromhex(cf.proof["credentialDigest"][2:]) for cf in parsed})
            tx = revoke_credentials(client, key, digests, reason)
        except RegistryError as exc:
            _fail(exc)
            return
        why = REVOCATION_REASONS.get(reason, f"code {reason}")
        where = f"block {tx.block_number} (tx {tx.tx_hash}, gas {tx.gas_used})"
        out.print(f"{len(digests)} credential(s) revoked ({why}) in {where}")
