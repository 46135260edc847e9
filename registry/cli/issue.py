"""`registry issue` and `registry revoke`: issuing and revoking without the service.

`issue` reads a CSV of learners and an achievement definition, builds Open Badges 3.0
credentials, anchors the batch with one transaction and writes one file per learner. Every
input is validated before anything is anchored, so bad input changes nothing. `revoke` revokes
the credentials (or whole batches) of given files with the issuer's key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from registry.chain.model import REVOCATION_REASONS
from registry.cli.output import err, out
from registry.cli.output import fail as _fail
from registry.errors import ConfigError, InvalidInput, RegistryError

_REASONS = ", ".join(f"{k} {v}" for k, v in REVOCATION_REASONS.items())


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err, transient=False)


def _advance(bar: Progress, task: TaskID) -> Callable[[int], None]:
    return lambda done: bar.advance(task, done)


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
        from registry.chain.admin import connect
        from registry.chain.keys import load_signer
        from registry.config import Settings
        from registry.core.credential import Achievement, IssuerProfile, validate_model
        from registry.core.csvimport import parse_csv
        from registry.issue.direct import build_credentials, issue_and_anchor

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
            chain = connect(settings, rpc)
            key = load_signer(chain.reads.chain_id(), role="issuer", keystore=keystore)
            info = chain.reads.keys_by_address([key.address])[key.address]
            if info.issuer_id == 0:
                raise ConfigError(f"{key.address} is not an issuer key in registry {chain.registry_address}")
            entry = chain.reads.issuers([info.issuer_id])[info.issuer_id]
            issuer = IssuerProfile(id=entry.did, name=entry.name)
            now = datetime.now(UTC).replace(microsecond=0)
            with _progress() as bar:
                task = bar.add_task("building credentials", total=len(rows))
                docs = build_credentials((req for _, req in rows), achievement, issuer, now, _advance(bar, task))
            with _progress() as bar:
                task = bar.add_task("anchoring, then writing files", total=len(docs))
                issued = issue_and_anchor(chain, key, docs, out_dir, _advance(bar, task))
        except RegistryError as exc:
            _fail(exc)
            return
        out.print(
            f"issued {len(issued.files)} credentials of {entry.name} ({entry.did}); batch root {issued.root} "
            f"anchored in block {issued.anchor.anchor_block} (tx {issued.anchor.anchor_tx}, gas {issued.gas_used}); "
            f"files in {out_dir}"
        )

    @app.command("did-document")
    def did_document_cmd(
        rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint")] = None,
        keystore: Annotated[Path | None, typer.Option(help="the issuer's encrypted keystore")] = None,
        out_file: Annotated[Path | None, typer.Option("--out", help="write it here instead of printing it")] = None,
    ) -> None:
        """Print the issuer's DID document (did:web): its Ed25519 signing key and anchoring address.

        Publish it at https://<domain>/.well-known/did.json so wallets and standard verifiers find
        the key of the files' DataIntegrityProof (our verifiers read it from the chain)."""
        from registry.chain.admin import connect
        from registry.chain.keys import load_signer
        from registry.config import Settings
        from registry.issue.signing import did_document, signing_public_key

        try:
            chain = connect(Settings(), rpc)
            chain_id = chain.reads.chain_id()
            key = load_signer(chain_id, role="issuer", keystore=keystore)
            info = chain.reads.keys_by_address([key.address])[key.address]
            if info.issuer_id == 0:
                raise ConfigError(f"{key.address} is not an issuer key in registry {chain.registry_address}")
            entry = chain.reads.issuers([info.issuer_id])[info.issuer_id]
            doc = did_document(entry.did, signing_public_key(key), chain_id, key.address)
            text = json.dumps(doc, indent=2) + "\n"
            if out_file is not None:
                out_file.write_text(text)
        except RegistryError as exc:
            _fail(exc)
            return
        except OSError as exc:
            _fail(ConfigError(f"cannot write {exc.filename}: {exc.strerror}"))
            return
        if out_file is None:
            typer.echo(text, nl=False)
        else:
            out.print(f"wrote the DID document of {entry.did} to {out_file}")

    @app.command("revoke")
    def revoke(
        files: Annotated[list[Path], typer.Argument(help="credential files (JSON or baked badges) to revoke")],
        reason: Annotated[int, typer.Option(min=0, max=255, help=f"reason code: {_REASONS}")] = 0,
        batch: Annotated[bool, typer.Option("--batch", help="revoke the whole batch of each file")] = False,
        rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint")] = None,
        keystore: Annotated[Path | None, typer.Option(help="the issuer's encrypted keystore")] = None,
    ) -> None:
        """Revoke credentials (one transaction for all of them) or their whole batches."""
        from registry.chain.adapter import Chain
        from registry.chain.keys import load_signer
        from registry.config import Settings
        from registry.core.credfile import parse_credential_file
        from registry.verify import read_credential_bytes

        try:
            parsed = [parse_credential_file(read_credential_bytes(f)) for f in files]
            targets = {(cf.proof["chainId"], cf.proof["registry"].lower()) for cf in parsed}
            if len(targets) != 1:
                raise InvalidInput("files", "all files must belong to one registry on one chain")
            chain_id, registry = targets.pop()
            chain = Chain(rpc or Settings().rpc, registry)
            if chain.reads.chain_id() != chain_id:
                raise ConfigError(
                    f"the RPC serves chain {chain.reads.chain_id()}, the files were anchored on chain {chain_id}"
                )
            key = load_signer(chain_id, role="issuer", keystore=keystore)
            if batch:
                for root in sorted({cf.proof["merkleRoot"] for cf in parsed}):
                    tx = chain.writes.revoke_batch(key, root, reason)
                    out.print(f"batch {root} revoked in block {tx.block_number} (tx {tx.tx_hash})")
                return
            digests = sorted({bytes.fromhex(cf.proof["credentialDigest"][2:]) for cf in parsed})
            tx = chain.writes.revoke_credentials(key, digests, reason)
        except RegistryError as exc:
            _fail(exc)
            return
        why = REVOCATION_REASONS.get(reason, f"code {reason}")
        where = f"block {tx.block_number} (tx {tx.tx_hash}, gas {tx.gas_used})"
        out.print(f"{len(digests)} credential(s) revoked ({why}) in {where}")
