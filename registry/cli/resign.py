"""``registry resign``: the issuer signs again the files a release before 2026-12-07 signed over a
wrong canonical form (:mod:`registry.issue.resign`), JSON files and baked PNG/SVG badges alike.

Offline: nothing is read from or sent to the chain (the file's digest, path and anchor do not
change). The key is the issuer's anchoring key (``--keystore`` or ``REGISTRY_KEYSTORE``; on a
development chain, the development key that anchored the file), from which its signing key
derives. Registered by :mod:`registry.cli.app`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from registry.cli.output import err, fail, out
from registry.errors import ConfigError, InvalidInput, RegistryError

__all__ = ["register"]


def resign(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="credential files (JSON, baked PNG or SVG) or directories (every *.json, *.png, *.svg in them, "
            "recursively)"
        ),
    ],
    keystore: Annotated[Path | None, typer.Option(help="the issuer's encrypted keystore (its anchoring key)")] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="write the signed files here (same names) instead of replacing them in place"),
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="only say what would be signed again; write nothing")] = False,
) -> None:
    """Sign again the files that a registry release before 2026-12-07 signed over a wrong canonical
    form (text holding U+2028, U+2029, U+0085, U+FFFE or U+FFFF): same content, anchor and proof
    of inclusion, signatures every standard verifier accepts; nothing is anchored again. A file
    changed since, signed with another key or failing any offline check is refused and left as it
    is. Exit 0 when every file is signed or needed nothing, 1 when any was refused."""
    from registry.cli.verify import collect_files

    found, passed_over = collect_files(files)
    if passed_over:  # a folder's other files: named (the first 10), so no one wonders where they went
        listed = ", ".join(map(str, passed_over[:10])) + (
            f" and {len(passed_over) - 10} more" if len(passed_over) > 10 else ""
        )
        err.print(f"not read (not *.json, *.png or *.svg): {listed}", highlight=False, markup=False)
    if not found:
        err.print("no credential files found", highlight=False, markup=False)
        raise typer.Exit(3)
    if out_dir is not None and not check:
        out_dir.mkdir(parents=True, exist_ok=True)
    keys: dict[tuple[int, str], Any] = {}
    refused = 0
    counts = {"signed": 0, "unchanged": 0}
    names: set[str] = set()
    for path in found:
        try:
            if out_dir is not None and path.name in names:
                raise InvalidInput("file", f"another file named {path.name} is already written to {out_dir}")
            names.add(path.name)
            changed, line = _resign_one(path, keys, keystore, out_dir, check)
            counts["signed" if changed else "unchanged"] += 1
        except ConfigError as exc:  # no key to sign with: the same for every file
            fail(exc)
        except RegistryError as exc:
            refused += 1
            line = f"{path}: refused, left as it is: {exc}"
        except OSError as exc:
            refused += 1
            line = f"{path}: refused, left as it is: {exc.strerror or exc}"
        out.print(line, highlight=False, markup=False)
    verb = "would be signed again" if check else "signed again"
    err.print(
        f"{counts['signed']} {verb}, {counts['unchanged']} unchanged, {refused} refused",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(1 if refused else 0)


def _resign_one(
    path: Path, keys: dict[tuple[int, str], Any], keystore: Path | None, out_dir: Path | None, check: bool
) -> tuple[bool, str]:
    """Whether the file is (or, with ``check``, would be) signed again, and the line saying so."""
    from registry.core import strictjson
    from registry.core.baking import bake_png, bake_svg, extract_if_baked, sniff
    from registry.issue.resign import resign_file

    data = path.read_bytes()
    kind = sniff(data)
    try:
        file_dict = strictjson.loads(extract_if_baked(data), what=str(path))
    except strictjson.StrictJsonError as exc:
        raise InvalidInput("file", str(exc)) from None
    if not isinstance(file_dict, dict):
        raise InvalidInput("file", "not a credential file (a JSON object)")
    done = resign_file(file_dict, lambda anchor: _signing_key(anchor, keys, keystore))
    if done.file is None:
        return False, f"{path}: unchanged, {done.why}"
    what = "signature" if done.signatures == 1 else "signatures"
    if check:
        return True, f"{path}: would sign {done.signatures} {what} again (--check: nothing written)"
    if kind == "png":
        new = bake_png(done.file, data)
    elif kind == "svg":
        try:
            svg = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("file", "the SVG badge is not UTF-8 text: it cannot be baked again") from None
        new = bake_svg(done.file, svg).encode("utf-8")
    else:
        new = (json.dumps(done.file, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    target = path if out_dir is None else out_dir / path.name
    tmp = target.with_name(target.name + ".resign-tmp")
    try:
        tmp.write_bytes(new)
        tmp.replace(target)  # atomic: the old file or the new one, never half of either
    finally:
        tmp.unlink(missing_ok=True)  # only left when writing failed (a full disk)
    written = "" if out_dir is None else f", written to {target}"
    return True, f"{path}: signed {done.signatures} {what} again{written}"


def _signing_key(anchor: Any, keys: dict[tuple[int, str], Any], keystore: Path | None) -> Any:
    """The issuer's signing key for a file anchored as ``anchor`` (an ``AnchorInfo``): from the
    keystore (``--keystore`` or ``REGISTRY_KEYSTORE``); without one, on a development chain, from
    the development key that anchored the file, else the development issuer key. Loaded once each."""
    from registry.chain.devkeys import DEV_ROLES, dev_account
    from registry.chain.keys import load_signer
    from registry.chain.networks import DEV_CHAIN_IDS
    from registry.issue.signing import signing_key

    chain_id, address = anchor.chain_id, anchor.issuer_address.lower()
    if (chain_id, address) not in keys:
        account = None
        if keystore is None and not os.environ.get("REGISTRY_KEYSTORE") and chain_id in DEV_CHAIN_IDS:
            dev = (dev_account(role, chain_id) for role in DEV_ROLES)
            account = next((a for a in dev if a.address.lower() == address), None)
        if account is None:
            account = load_signer(chain_id, role="issuer", keystore=keystore)
        keys[(chain_id, address)] = signing_key(account)
    return keys[(chain_id, address)]


def register(app: typer.Typer) -> None:
    """Add ``resign`` to the ``registry`` CLI."""
    app.command("resign")(resign)
