"""``registry resign``: files a release before 2026-12-07 signed over a wrong canonical form (text
holding U+2028, U+2029, U+0085, U+FFFE or U+FFFF) are signed again by their issuer and then verify
VALID against the chain and in Digital Bazaar's verifier; nothing else is signed, and a file that
is refused is left byte for byte as it was."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from registry.cli.app import app
from registry.core.baking import extract_png, extract_svg
from registry.core.credfile import redact
from registry.core.signing import check_signature
from registry.issue.badges import baked_png, baked_svg
from registry.issue.signing import did_document, signing_public_key
from registry.verify import Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.cohort import synthetic_cohort
from tests.di_support import digital_bazaar_available, verify_with_digital_bazaar
from tests.legacy_signing import legacy_signed

PASTED = "Zed\u2028Aardvark"


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def _resign(registry: Registry, *args: str) -> Any:
    return CliRunner().invoke(app, ["resign", *args], env={"REGISTRY_HOME": str(registry.settings.home)})


@pytest.fixture(scope="module")
def pasted(registry: Registry) -> list[dict[str, Any]]:
    """Two files with pasted text (as issued today: correct signatures) of issuer 1, one of issuer 2."""
    docs = list(synthetic_cohort(2, registry.profile(), ACHIEVEMENT, seed=501))
    docs[0]["credentialSubject"]["name"] = PASTED
    docs[1]["credentialSubject"]["achievement"]["description"] = "Line one\u2029line two\x85end\ufffe"
    other = list(synthetic_cohort(1, registry.profile(2), ACHIEVEMENT, seed=502))
    other[0]["credentialSubject"]["name"] = PASTED
    files = [*registry.issue(docs=docs).files, *registry.issue(docs=other, key=registry.issuer2_key).files]
    return [json.loads(p.read_text("utf-8")) for p in files]


def test_legacy_files_are_signed_again_and_verify_valid(
    registry: Registry, pasted: list[dict[str, Any]], tmp_path: Path
) -> None:
    first, second, _ = pasted
    old_first = legacy_signed(first, registry.issuer_key)
    old_second = legacy_signed(second, registry.issuer_key)
    folder = tmp_path / "files"
    folder.mkdir()
    a = _write(folder / "a.json", old_first)
    b = folder / "b.png"
    b.write_bytes(baked_png(old_second))
    c = folder / "c.svg"
    c.write_text(baked_svg(old_first), "utf-8")
    (folder / "notes.txt").write_text("not a credential")
    verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
    for data in (a.read_bytes(), extract_png(b.read_bytes()), extract_svg(c.read_bytes())):
        report = verifier.verify(data, "old")
        assert report.verdict is Verdict.INVALID
        assert "registry resign" in report.check("signature").reason

    checked = _resign(registry, "--check", str(folder))
    assert checked.exit_code == 0, checked.output
    assert checked.output.count("would sign") == 3 and (folder / "a.json").read_text("utf-8") == a.read_text("utf-8")
    assert f"not read (not *.json, *.png or *.svg): {folder / 'notes.txt'}" in checked.stderr
    assert "3 would be signed again, 0 unchanged, 0 refused" in checked.stderr

    done = _resign(registry, str(folder))
    assert done.exit_code == 0, done.output
    # a.json: the file's and the without-result profile's; without-name hides the only such text,
    # so that profile's signature was right all along. b.png: the description is in all three.
    assert f"{a}: signed 2 signatures again" in done.output
    assert f"{b}: signed 3 signatures again" in done.output
    assert f"{c}: signed 2 signatures again" in done.output
    new_a = json.loads(a.read_text("utf-8"))
    new_b = json.loads(extract_png(b.read_bytes()))
    # Only signatures changed; the standard form is what today's issuance signs, byte for byte.
    assert new_a == first
    assert new_b == second
    assert json.loads(extract_svg(c.read_bytes())) == first
    for data in (a.read_bytes(), extract_png(b.read_bytes()), extract_svg(c.read_bytes())):
        report = verifier.verify(data, "new")
        assert report.verdict is Verdict.VALID, report.model_dump()
    profile = redact(new_a, profile="without-result")
    assert verifier.verify(json.dumps(profile).encode(), "profile").verdict is Verdict.VALID
    # A profile copy the learner made from the old file: its one signature is signed again too.
    old_profile = _write(tmp_path / "profile.json", redact(old_first, profile="without-result"))
    assert verifier.verify(old_profile.read_bytes(), "old profile").verdict is Verdict.INVALID
    assert f"{old_profile}: signed 1 signature again" in _resign(registry, str(old_profile)).output
    assert json.loads(old_profile.read_text("utf-8")) == profile

    again = _resign(registry, str(folder))
    assert again.exit_code == 0 and again.output.count("unchanged, its signatures verify") == 3
    assert "0 signed again, 3 unchanged, 0 refused" in again.stderr

    if digital_bazaar_available():
        key = registry.issuer_key
        did = _write(
            tmp_path / "did.json", did_document(registry.profile().id, signing_public_key(key), 31337, key.address)
        )
        c = _write(tmp_path / "c.json", new_b)
        p = _write(tmp_path / "p.json", profile)
        old = _write(tmp_path / "old.json", old_first)
        verdicts = verify_with_digital_bazaar([a, c, p, old], [did])
        assert [verdicts[str(x)] for x in (a, c, p)] == ["VERIFIED"] * 3
        assert verdicts[str(old)] == "Invalid signature."  # what the release wrote: refused by the standard


def test_what_is_not_the_issuers_legacy_signature_is_refused_and_left_alone(
    registry: Registry, pasted: list[dict[str, Any]], tmp_path: Path
) -> None:
    first, second, other_issuer = pasted
    old = legacy_signed(first, registry.issuer_key)
    changed = copy.deepcopy(old)
    changed["credentialSubject"]["name"] = "Zed\u2028Aardvarks"  # the digest no longer matches
    # Issuer 2's file claiming issuer 1's anchoring address (not covered by the digest): issuer 1's
    # key is taken, and the signature is not by it.
    other_key = legacy_signed(other_issuer, registry.issuer2_key)
    other_key["proof"][1]["issuerAddress"] = registry.issuer_key.address.lower()
    swapped = copy.deepcopy(old)  # the issuer's legacy signature, but of another credential
    swapped["proof"][0]["proofValue"] = legacy_signed(second, registry.issuer_key)["proof"][0]["proofValue"]
    cases = {
        "changed.json": (changed, "recomputed digest"),
        "swapped.json": (swapped, "changed after it was signed: not signed again"),
        "other-key.json": (other_key, "not with this issuer key"),
        "array.json": ([old], "not a credential file"),
    }
    paths = {name: _write(tmp_path / name, doc) for name, (doc, _) in cases.items()}
    before = {name: p.read_bytes() for name, p in paths.items()}
    result = _resign(registry, *map(str, paths.values()))
    assert result.exit_code == 1, result.output
    for name, (_, words) in cases.items():
        line = next(x for x in result.output.splitlines() if x.startswith(str(paths[name])))
        assert "refused, left as it is" in line and words in line, line
        assert paths[name].read_bytes() == before[name]
    assert not list(tmp_path.glob("*.resign-tmp"))


def test_out_writes_elsewhere_and_today_s_files_need_nothing(
    registry: Registry, pasted: list[dict[str, Any]], tmp_path: Path
) -> None:
    first, _, other_issuer = pasted
    today = _write(tmp_path / "today.json", first)
    hidden = _write(tmp_path / "hidden.json", redact(first, ["/credentialSubject/name"]))
    hidden_bytes = hidden.read_bytes()
    nothing = _resign(registry, str(hidden))
    assert nothing.exit_code == 0 and "unchanged, it carries no issuer signature" in nothing.output
    assert hidden.read_bytes() == hidden_bytes
    old = _write(tmp_path / "old.json", legacy_signed(first, registry.issuer_key))
    old_bytes = old.read_bytes()
    result = _resign(registry, "--out", str(tmp_path / "out"), str(today), str(old))
    assert result.exit_code == 0, result.output
    assert f"{today}: unchanged" in result.output
    assert old.read_bytes() == old_bytes
    written = json.loads((tmp_path / "out" / "old.json").read_text("utf-8"))
    assert written == first and not (tmp_path / "out" / "today.json").exists()
    assert check_signature({k: v for k, v in written.items() if k != "proof"}, written["proof"][0]).ok
    # No keystore on a development chain: the development key that anchored each file signs it.
    second = _write(tmp_path / "issuer2.json", legacy_signed(other_issuer, registry.issuer2_key))
    by_address = _resign(registry, str(second))
    assert by_address.exit_code == 0 and f"{second}: signed" in by_address.output, by_address.output
    assert json.loads(second.read_text("utf-8")) == other_issuer
    (tmp_path / "elsewhere").mkdir()
    twin = _write(tmp_path / "elsewhere" / "old.json", legacy_signed(first, registry.issuer_key))
    clash = _resign(registry, "--out", str(tmp_path / "out2"), str(old), str(twin))
    assert clash.exit_code == 1 and f"{twin}: refused, left as it is: file: another file named old.json" in clash.output
