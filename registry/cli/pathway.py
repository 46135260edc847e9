"""`registry pathway`: pathway definitions (stackable credentials) and their anchors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from registry.cli.output import fail as _fail
from registry.cli.output import out
from registry.errors import ConfigError, RegistryError

commands = typer.Typer()
pathway_app = typer.Typer(
    help="Pathways: stacks of credentials toward a qualification (docs/pathways.md).", no_args_is_help=True
)
commands.add_typer(pathway_app, name="pathway")


def _load(path: Path) -> object:
    from registry.core.pathway import load_pathway

    try:
        return load_pathway(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


@pathway_app.command("check")
def check(file: Annotated[Path, typer.Argument(help="a pathway definition (JSON)")]) -> None:
    """Check a pathway definition (schema, rules that can never be met, ambiguities) and print its
    digest: what `registry pathway publish` anchors."""
    from registry.core.pathway import Pathway, pathway_digest

    try:
        pathway = _load(file)
    except RegistryError as exc:
        _fail(exc)
        return
    assert isinstance(pathway, Pathway)
    out.print(f"{pathway.id} version {pathway.version}: {pathway.name}, owner {pathway.owner}")
    out.print(f"digest 0x{pathway_digest(pathway).hex()}")


@pathway_app.command("publish")
def publish(
    file: Annotated[Path, typer.Argument(help="a pathway definition (JSON)")],
    rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint")] = None,
    keystore: Annotated[Path | None, typer.Option(help="the owner's encrypted keystore")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the anchor as JSON")] = False,
) -> None:
    """Anchor a pathway's digest with its owner's key (one transaction; nothing is sent when this
    version is already anchored). Verifiers then know the rule is the owner's, and since when."""
    from registry.chain.admin import connect
    from registry.chain.keys import load_signer
    from registry.config import Settings
    from registry.core.pathway import Pathway
    from registry.issue.pathway import publish_pathway

    try:
        pathway = _load(file)
        assert isinstance(pathway, Pathway)
        chain = connect(Settings(), rpc)
        key = load_signer(chain.reads.chain_id(), role="issuer", keystore=keystore)
        done = publish_pathway(chain, key, pathway)
    except RegistryError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps({**done.__dict__, "registry": chain.registry_address}))
    elif done.tx_hash is None:
        out.print(f"{pathway.id} version {pathway.version} was already anchored in block {done.block} ({done.digest})")
    else:
        out.print(
            f"{pathway.id} version {pathway.version} anchored in block {done.block} (tx {done.tx_hash}); "
            f"digest {done.digest}"
        )


@pathway_app.command("award")
def award(
    file: Annotated[Path, typer.Argument(help="the pathway definition (JSON)")],
    components: Annotated[list[Path], typer.Argument(help="the learner's credential files (JSON or baked badges)")],
    learner: Annotated[str, typer.Option(help="the learner's e-mail, bound to every component")],
    name: Annotated[str | None, typer.Option(help="the learner's name, shown in the qualification")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the qualification's credential file")] = Path(
        "umbrella"
    ),
    rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint")] = None,
    keystore: Annotated[Path | None, typer.Option(help="the owner's encrypted keystore")] = None,
) -> None:
    """Award the qualification of a completed stack: verify the files as one stack, and when it is
    VALID, issue and anchor the umbrella credential (the owner's key) naming its components."""
    from datetime import UTC, datetime

    from registry.chain.admin import connect
    from registry.chain.keys import load_signer
    from registry.cli.verify import _local_trust
    from registry.config import Settings
    from registry.core.credential import IssuerProfile
    from registry.core.pathway import Pathway
    from registry.issue.direct import issue_and_anchor
    from registry.issue.umbrella import umbrella_document
    from registry.verify import VerificationPolicy, Verifier, read_credential_bytes
    from registry.verify.stack import StackVerdict, verify_stack

    try:
        pathway = _load(file)
        assert isinstance(pathway, Pathway)
        settings = Settings()
        chain = connect(settings, rpc)
        verifier = Verifier(VerificationPolicy(trusted=_local_trust(settings)), rpc_urls=[chain.rpc_url])
        files = [(p.name, read_credential_bytes(p)) for p in components]
        report = verify_stack(verifier, pathway, files, learner=learner)
        if report.verdict is not StackVerdict.VALID:
            _fail(ConfigError(f"the stack is {report.verdict.value}: {report.summary}"))
        key = load_signer(chain.reads.chain_id(), role="issuer", keystore=keystore)
        info = chain.reads.keys_by_address([key.address])[key.address]
        entry = chain.reads.issuers([info.issuer_id])[info.issuer_id]
        doc = umbrella_document(
            pathway,
            report.model_dump(mode="json"),
            issuer=IssuerProfile(id=entry.did, name=entry.name),
            learner_email=learner,
            learner_name=name,
            valid_from=datetime.now(UTC).replace(microsecond=0),
        )
        batch = issue_and_anchor(chain, key, [doc], out_dir)
    except RegistryError as exc:
        _fail(exc)
        return
    out.print(f"{pathway.qualification.name} awarded: {batch.files[0]} (anchored in block {batch.anchor.anchor_block})")


@commands.command("clr")
def clr(
    files: Annotated[list[Path], typer.Argument(help="the learner's credential files (JSON or baked badges)")],
    out_file: Annotated[Path, typer.Option("--out", help="where to write the transcript (JSON)")],
    pathway_file: Annotated[Path | None, typer.Option("--pathway", help="a pathway the files stack toward")] = None,
    name: Annotated[str | None, typer.Option(help="the transcript's name")] = None,
    rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC endpoint")] = None,
    keystore: Annotated[Path | None, typer.Option(help="the issuing institution's keystore")] = None,
) -> None:
    """Bundle a learner's files into a 1EdTech CLR 2.0 transcript (ClrCredential), the files
    embedded unchanged, issued in the name of the institution whose key is given. `registry
    verify` checks a transcript component by component."""
    import uuid
    from datetime import UTC, datetime

    from registry.chain.admin import connect
    from registry.chain.keys import load_signer
    from registry.config import Settings
    from registry.core.clr import build_clr
    from registry.core.pathway import Pathway
    from registry.verify import read_credential_bytes

    try:
        components = [json.loads(read_credential_bytes(p)) for p in files]
        pathway = _load(pathway_file) if pathway_file is not None else None
        assert pathway is None or isinstance(pathway, Pathway)
        chain = connect(Settings(), rpc)
        key = load_signer(chain.reads.chain_id(), role="issuer", keystore=keystore)
        info = chain.reads.keys_by_address([key.address])[key.address]
        if info.issuer_id == 0:
            raise ConfigError(f"{key.address} is not an issuer key in registry {chain.registry_address}")
        entry = chain.reads.issuers([info.issuer_id])[info.issuer_id]
        doc = build_clr(
            components,
            issuer={"id": entry.did, "type": ["Profile"], "name": entry.name},
            subject_identifier=None,
            clr_id=uuid.uuid4().urn,
            valid_from=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            name=name or f"Transcript issued by {entry.name}",
            pathway=pathway,
        )
        out_file.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    except (OSError, ValueError) as exc:
        _fail(ConfigError(f"cannot read or write a file: {exc}"))
        return
    except RegistryError as exc:
        _fail(exc)
        return
    out.print(f"wrote a CLR 2.0 transcript of {len(components)} credential(s) to {out_file}")
