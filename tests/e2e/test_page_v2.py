"""Format v2 in the self-contained verifier page (web/verifier/), in real Chromium from file://:
the issuer's DataIntegrityProof (eddsa-rdfc-2022) checked by Digital Bazaar's own code bundled in
the page (the reference vector signed by Digital Bazaar, and the Python issuer's files), the
signing key's binding on chain (rotation, compromise, keys of no issuer or of another issuer),
redaction and profiles, the EU micro-credential elements on display, and no network but the RPC;
every chain-backed report agrees with the Python verifier's."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from registry.cli.app import app
from registry.core.batch import batch_metadata
from registry.core.credential import format_datetime
from registry.core.credfile import AnchorInfo, make_credential_file, redact
from registry.core.signing import Signer, public_key_from_multibase, public_key_multibase
from registry.issue.prepare import prepare_batch
from registry.issue.signing import signing_key, signing_public_key
from registry.verify import VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.cohort import synthetic_cohort
from tests.e2e.test_pages import ARGS, CHROMIUM, _require_browser
from tests.legacy_signing import legacy_signed

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "assets" / "golden-v2"
DI = "DataIntegrityProof eddsa-rdfc-2022"
ANCHOR = "CredentialRegistryAnchorProof"
ORDER = ["format", "integrity", "inclusion", "anchor", "issuer", "signature", "revocation", "validity"]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "verifier.html"
    result = CliRunner().invoke(app, ["verifier-page", "--out", str(out), "--no-trust"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def requested() -> list[str]:
    return []


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser: Any, page_file: Path, requested: list[str]) -> Iterator[Any]:
    pg = browser.new_page()
    pg.on("request", lambda r: requested.append(r.url))
    pg.goto(page_file.as_uri())
    pg.wait_for_function("() => window.credentialRegistry !== undefined")
    yield pg
    pg.close()


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def check_signature(page: Any, credential: dict[str, Any]) -> dict[str, Any]:
    return page.evaluate("(c) => window.credentialRegistry.verifySignature(c)", credential)  # type: ignore[no-any-return]


def in_page(page: Any, data: dict[str, Any], registry: Registry, **options: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "rpc": registry.rpc_url,
        "trustedRegistries": [{"chainId": 31337, "address": registry.client.registry_address}],
        **options,
    }
    return page.evaluate("([t, o]) => window.credentialRegistry.verify(t, o)", [json.dumps(data), opts])  # type: ignore[no-any-return]


def in_python(data: dict[str, Any], registry: Registry) -> dict[str, Any]:
    report = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify(data)
    return report.model_dump(mode="json")


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in report["checks"] if c["name"] == name]
    return found  # type: ignore[no-any-return]


def agree(page: Any, data: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """The page's report, after checking it agrees with Python's: verdict, the checks (names,
    order, statuses), the details of the offline checks and of ``signature``, the credential,
    issuer, proofs and hidden fields."""
    js = in_page(page, data, registry)
    py = in_python(data, registry)
    assert [(c["name"], c["status"]) for c in js["checks"]] == [(c["name"], c["status"]) for c in py["checks"]], (
        js["summary"],
        py["summary"],
    )
    assert js["verdict"] == py["verdict"]
    for name in ("format", "integrity", "signature", "validity"):
        if name in statuses(py):
            assert check(js, name)["details"] == check(py, name)["details"], name
    for key in ("credential", "issuer", "proofs", "hidden_fields", "redacted_field_count"):
        assert js[key] == py[key], key
    assert [c["name"] for c in js["checks"]] == [n for n in ORDER if n in statuses(js)]
    return js


# -- the signature, offline: Digital Bazaar's reference vector and the Python issuer's files ----


def test_digital_bazaars_reference_signature_verifies_in_the_page(page: Any) -> None:
    ref = load(GOLDEN / "di-reference.json")
    signed = ref["signed_credential"]
    assert signed["proof"]["verificationMethod"] == ref["verification_method"]
    got = check_signature(page, signed)
    assert got["ok"], got["reason"]
    seed = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(ref["seed_hex"]))
    public = seed.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert got["publicKey"] == "0x" + public.hex()
    assert public_key_multibase(public) == ref["public_key_multibase"]
    # The proof set form of a v2 file (the signature first) reads the same.
    assert check_signature(page, {**signed, "proof": [signed["proof"]]})["ok"]


def _changed(doc: dict[str, Any], edit: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    edit(out)
    return out


def test_the_reference_signature_fails_when_anything_signed_changes(page: Any) -> None:
    signed = load(GOLDEN / "di-reference.json")["signed_credential"]
    other = public_key_multibase(Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    changed = [
        lambda d: d["credentialSubject"].__setitem__("name", "Mallory"),
        lambda d: d["credentialSubject"]["achievement"].__setitem__("creditsAvailable", 7.6),
        lambda d: d["credentialSubject"]["achievement"]["alignment"].pop(),
        lambda d: d.__setitem__("validFrom", "2025-02-28T09:00:01Z"),
        lambda d: d["issuer"].__setitem__("name", "Another University"),
        lambda d: d["proof"].__setitem__("created", "2025-03-01T12:00:01Z"),
        lambda d: d["proof"].__setitem__("verificationMethod", f"did:web:uni.example#{other}"),
    ]
    for edit in changed:
        got = check_signature(page, _changed(signed, edit))
        assert not got["ok"]
        assert "changed after it was signed" in got["reason"], got["reason"]
    not_the_issuers = check_signature(
        page, _changed(signed, lambda d: d["issuer"].__setitem__("id", "did:web:x.example"))
    )
    assert not not_the_issuers["ok"] and "is not a key of the issuer" in not_the_issuers["reason"]
    value = signed["proof"]["proofValue"]
    short = check_signature(page, _changed(signed, lambda d: d["proof"].__setitem__("proofValue", value[:-8])))
    assert not short["ok"] and "64-byte" in short["reason"]
    # A term no context defines: refused by JSON-LD safe mode, never signed over silently.
    extra = check_signature(page, _changed(signed, lambda d: d["credentialSubject"].__setitem__("studentNumber", "1")))
    assert not extra["ok"] and "JSON-LD" in extra["reason"], extra["reason"]


def test_the_python_issuers_golden_files_verify_with_digital_bazaars_code(page: Any) -> None:
    pins = load(GOLDEN / "pins.json")
    key = "0x" + public_key_from_multibase(pins["verificationMethod"].split("#", 1)[1]).hex()
    for name in ("credential.json", "credential-profile-without-result.json"):
        got = check_signature(page, load(GOLDEN / name))
        assert got["ok"] and got["publicKey"] == key, (name, got["reason"])
    assert not check_signature(page, load(GOLDEN / "credential-redacted.json"))["ok"]  # no signature to check


def test_offline_the_signature_is_checked_and_its_key_binding_left_open(page: Any) -> None:
    full = page.evaluate(
        "(t) => window.credentialRegistry.verify(t, {offline: true})", (GOLDEN / "credential.json").read_text()
    )
    assert full["proofs"] == [DI, ANCHOR]
    assert [c["name"] for c in full["checks"]] == ORDER
    assert statuses(full)["signature"] == "indeterminate" and "signature verifies" in check(full, "signature")["reason"]
    assert check(full, "format")["details"] == {"version": 2, "disclosure": "full"}
    tampered = _changed(
        load(GOLDEN / "credential.json"), lambda d: d["proof"][0].__setitem__("created", "2020-01-01T00:00:00Z")
    )
    report = page.evaluate("(t) => window.credentialRegistry.verify(t, {offline: true})", json.dumps(tampered))
    assert report["verdict"] == "INVALID" and statuses(report)["signature"] == "fail"
    redacted = page.evaluate(
        "(t) => window.credentialRegistry.verify(t, {offline: true})", (GOLDEN / "credential-redacted.json").read_text()
    )
    assert "signature" not in statuses(redacted) and redacted["proofs"] == [ANCHOR]
    assert check(redacted, "validity")["status"] == "pass" and "no expiry" in check(redacted, "validity")["reason"]


# -- on chain ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issued(registry: Registry) -> list[dict[str, Any]]:
    return [load(p) for p in registry.issue(4).files]


def test_full_redacted_and_profile_files_agree_with_python(
    page: Any, registry: Registry, issued: list[dict[str, Any]]
) -> None:
    full = agree(page, issued[0], registry)
    assert full["verdict"] == "VALID" and full["proofs"] == [DI, ANCHOR]
    assert [c["name"] for c in full["checks"]] == ORDER
    assert check(full, "signature")["details"]["verificationMethod"] == issued[0]["proof"][0]["verificationMethod"]
    hidden = agree(page, redact(issued[1], ["/credentialSubject/name"]), registry)
    assert hidden["verdict"] == "VALID" and hidden["proofs"] == [ANCHOR] and "signature" not in statuses(hidden)
    assert hidden["hidden_fields"] == ["/credentialSubject/name"] and hidden["redacted_field_count"] == 1
    profile = agree(page, redact(issued[2], profile="without-result"), registry)
    assert profile["verdict"] == "VALID" and statuses(profile)["signature"] == "pass"
    assert check(profile, "format")["details"]["disclosure"] == "profile:without-result"
    tampered = _changed(issued[3], lambda d: d["credentialSubject"]["result"][0].__setitem__("value", "A+"))
    bad = agree(page, tampered, registry)
    assert bad["verdict"] == "INVALID"
    assert statuses(bad)["integrity"] == "fail" and statuses(bad)["signature"] == "fail"
    untrusted = in_page(page, issued[0], registry, trustedRegistries=[])
    assert untrusted["verdict"] == "INDETERMINATE" and statuses(untrusted)["signature"] == "pass"


def _resigned(data: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    credential = {k: copy.deepcopy(v) for k, v in data.items() if k != "proof"}
    signer = Signer(key, credential["issuer"]["id"], data["proof"][0]["created"])
    return {**credential, "proof": [signer.proof(credential), copy.deepcopy(data["proof"][1])]}


def _anchor_signed_by(registry: Registry, key: Ed25519PrivateKey, seed: int) -> dict[str, Any]:
    """A file of a batch of issuer 2 anchored now and signed with ``key``, whatever the chain
    records as its signing key (``Registry.issue`` would set the derived key first)."""
    docs = list(synthetic_cohort(1, registry.profile(2), ACHIEVEMENT, seed=seed))
    prepared = prepare_batch(docs)
    result = registry.client.writes.anchor(
        registry.issuer2_key, prepared.tree.root, len(docs), batch_metadata(docs, registry.issuer2_key.address)
    )
    anchored_at = datetime.fromtimestamp(registry.client.history.block_timestamp(result.block_number), UTC)
    assert registry.client.registry_address is not None
    anchor = AnchorInfo(
        chain_id=31337,
        registry=registry.client.registry_address,
        issuer_address=registry.issuer2_key.address,
        anchor_tx=result.tx_hash,
        anchor_block=result.block_number,
        anchored_at=anchored_at,
    )
    signer = Signer(key, docs[0]["issuer"]["id"], format_datetime(anchored_at))
    return make_credential_file(
        docs[0],
        prepared.salts[0],
        prepared.digests[0],
        prepared.tree.root,
        prepared.tree.proof(0),
        anchor,
        signer=signer,
    )


def _advance(registry: Registry, seconds: int = 60) -> int:
    registry.client.rpc.batch([("evm_increaseTime", [seconds]), ("evm_mine", [])])
    return registry.client.history.block_timestamp(registry.client.reads.head())


def test_signing_keys_of_no_issuer_or_of_another_issuer_fail_like_python(
    page: Any, registry: Registry, issued: list[dict[str, Any]]
) -> None:
    nobody = agree(page, _resigned(issued[0], Ed25519PrivateKey.generate()), registry)
    assert nobody["verdict"] == "INVALID" and "not a signing key of any issuer" in check(nobody, "signature")["reason"]
    assert statuses(nobody)["integrity"] == "pass"
    registry.issue(1, key=registry.issuer2_key, issuer=registry.profile(2))  # registers issuer 2's key
    other = agree(page, _resigned(issued[0], signing_key(registry.issuer2_key)), registry)
    assert other["verdict"] == "INVALID" and "belongs to issuer" in check(other, "signature")["reason"]


def test_a_rotated_and_a_compromised_signing_key_agree_with_python(page: Any, registry: Registry) -> None:
    """Issuer 2 rotates its signing key: files anchored while the old key was of record stay
    valid; the old key signing a later batch, or the new key a batch anchored before it was set,
    fails; so does the new key once declared compromised before the anchoring."""
    earlier = load(registry.issue(1, key=registry.issuer2_key, issuer=registry.profile(2)).files[0])
    old = signing_key(registry.issuer2_key)
    _advance(registry)
    new = Ed25519PrivateKey.generate()
    new_public = new.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    registry.client.writes.set_signing_key(registry.issuer2_key, new_public)
    _advance(registry)
    assert agree(page, earlier, registry)["verdict"] == "VALID"  # anchored before the rotation
    before = agree(page, _resigned(earlier, new), registry)
    assert before["verdict"] == "INVALID" and "after the batch was anchored" in check(before, "signature")["reason"]
    assert agree(page, _anchor_signed_by(registry, new, 1), registry)["verdict"] == "VALID"
    retired = agree(page, _anchor_signed_by(registry, old, 2), registry)
    assert retired["verdict"] == "INVALID" and "retired" in check(retired, "signature")["reason"]
    registry.client.writes.declare_signing_key_compromised(registry.issuer2_key, new_public, _advance(registry))
    _advance(registry)
    compromised = agree(page, _anchor_signed_by(registry, new, 3), registry)
    assert compromised["verdict"] == "INVALID" and "compromised" in check(compromised, "signature")["reason"]
    assert signing_public_key(registry.issuer2_key) != new_public


def test_many_files_at_once_read_each_signing_key_once_and_agree(
    page: Any, registry: Registry, issued: list[dict[str, Any]]
) -> None:
    files = [
        issued[0],
        redact(issued[1], ["/credentialSubject/name"]),
        redact(issued[2], profile="without-name"),
        _resigned(issued[3], Ed25519PrivateKey.generate()),
        issued[3],
    ]
    options = {
        "rpc": registry.rpc_url,
        "trustedRegistries": [{"chainId": 31337, "address": registry.client.registry_address}],
    }
    many = page.evaluate(
        "([fs, o]) => window.credentialRegistry.verifyMany(fs.map((data, i) => ({source: `f${i}`, data})), o)",
        [[json.dumps(f) for f in files], options],
    )
    py = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url).verify_many(
        [(f"f{i}", f) for i, f in enumerate(files)]
    )
    assert [[(c["name"], c["status"]) for c in r["checks"]] for r in many] == [
        [(c.name, c.status.value) for c in r.checks] for r in py
    ]
    assert [r["verdict"] for r in many] == ["VALID", "VALID", "VALID", "INVALID", "VALID"]


def test_an_unreachable_rpc_leaves_the_key_binding_indeterminate(page: Any, issued: list[dict[str, Any]]) -> None:
    report = page.evaluate(
        "([t]) => window.credentialRegistry.verify(t, {rpc: 'http://127.0.0.1:9/'})", [json.dumps(issued[0])]
    )
    assert report["verdict"] == "INDETERMINATE"
    assert {n: statuses(report)[n] for n in ("anchor", "issuer", "signature", "revocation")} == dict.fromkeys(
        ("anchor", "issuer", "signature", "revocation"), "indeterminate"
    )
    assert "could not read the chain" in check(report, "signature")["reason"]
    py = Verifier(VerificationPolicy(trusted={}), rpc_url="http://127.0.0.1:9/").verify(issued[0])
    assert [(c.name, c.status.value) for c in py.checks] == [(c["name"], c["status"]) for c in report["checks"]]


# -- the page itself ---------------------------------------------------------------------------


def test_a_signature_over_the_old_wrong_form_is_named_in_the_page_as_in_python(page: Any, registry: Registry) -> None:
    """A file a release before 2026-12-07 signed over its wrong canonical form of pasted text: the
    page fails ``signature`` with Python's reason (the mistake named, not "changed after it was
    signed"); the same content signed today verifies; another credential's signature over that
    form is still "changed"."""
    docs = list(synthetic_cohort(2, registry.profile(), ACHIEVEMENT, seed=611))
    docs[0]["credentialSubject"]["name"] = "Zed\u2028Aardvark"
    docs[1]["credentialSubject"]["achievement"]["description"] = "Line one\u2029line two\x85end\ufffe"
    today = [load(p) for p in registry.issue(docs=docs).files]
    old = [legacy_signed(f, registry.issuer_key) for f in today]
    for file in old:
        js = agree(page, file, registry)
        reason = check(js, "signature")["reason"]
        assert js["verdict"] == "INVALID" and "registry resign" in reason
        assert reason == check(in_python(file, registry), "signature")["reason"]
        profile = redact(file, profile="without-result")
        assert check(agree(page, profile, registry), "signature")["reason"] == reason
    for file in today:
        assert agree(page, file, registry)["verdict"] == "VALID"
    swapped = copy.deepcopy(old[0])
    swapped["proof"][0]["proofValue"] = old[1]["proof"][0]["proofValue"]
    reason = check(agree(page, swapped, registry), "signature")["reason"]
    assert reason.endswith("changed after it was signed")


def test_the_form_shows_the_eu_elements_and_the_proofs_checked(
    page: Any, registry: Registry, issued: list[dict[str, Any]]
) -> None:
    page.fill("#credential", json.dumps(issued[0]))
    page.fill("#rpc", registry.rpc_url)
    page.fill("#trusted", f"31337 {registry.client.registry_address}")
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "VALID"
    facts = {el.get_attribute("data-fact"): el.inner_text() for el in page.locator("[data-fact]").all()}
    assert facts["Workload"] == "2 ECTS credits"
    assert facts["EQF level"] == "5"
    assert facts["Participation"] == "Online"
    assert facts["Assessment"] == "Written exam"
    assert facts["Quality assurance"] == "Internal QA"
    assert page.locator("#learning-outcomes li").all_inner_texts() == ["Explain Merkle trees", "Verify a credential"]
    assert page.locator("#proofs").inner_text() == f"{DI}, {ANCHOR}"
    assert page.locator('[data-check="signature"]').get_attribute("data-status") == "pass"
    # A v1 file shows the same elements from its extension terms.
    page.fill("#credential", (ROOT / "tests" / "assets" / "golden-v1" / "credential.json").read_text())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_function("() => document.querySelector('#status').textContent.startsWith('Done')")
    facts = {el.get_attribute("data-fact"): el.inner_text() for el in page.locator("[data-fact]").all()}
    assert facts["EQF level"] and facts["Workload"].endswith("ECTS credits")
    assert page.locator('[data-check="signature"]').count() == 0
    assert page.locator("#proofs").inner_text() == ANCHOR


def test_the_signature_is_checked_where_webcrypto_is_missing(
    browser: Any, page_file: Path, registry: Registry, issued: list[dict[str, Any]]
) -> None:
    """A page served over plain http (not a secure context) has no crypto.subtle: the digests
    then come from @noble/hashes, with the same result."""
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(Crypto.prototype, 'subtle', {get() { return undefined; }})")
    try:
        pg = context.new_page()
        pg.goto(page_file.as_uri())
        pg.wait_for_function("() => window.credentialRegistry !== undefined")
        assert pg.evaluate("() => crypto.subtle !== undefined && !(crypto.subtle instanceof SubtleCrypto)")
        report = in_page(pg, issued[0], registry)
        assert report["verdict"] == "VALID" and statuses(report)["signature"] == "pass"
        assert check_signature(pg, load(GOLDEN / "di-reference.json")["signed_credential"])["ok"]
    finally:
        context.close()


def test_the_page_asked_nothing_but_the_rpc(page: Any, registry: Registry, requested: list[str]) -> None:
    assert requested, "no request recorded"
    others = [u for u in requested if not u.startswith(("file://", registry.rpc_url, "http://127.0.0.1:9/"))]
    assert others == []
