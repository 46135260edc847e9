"""The self-contained verifier page (web/verifier/, `registry verifier-page`) in real Chromium,
opened from file:// and reading a real anvil through its JSON-RPC URL only: every check status and
the verdict agree with the Python verifier (genuine, untrusted registry, tampered, revoked, baked
PNG and SVG badges, redacted), and the page's own form works without any server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry.chain.local import LocalChain
from registry.core.baking import extract_if_baked
from registry.core.credfile import redact
from registry.issue.badges import baked_png, baked_svg
from registry.verify import VerificationPolicy, Verifier
from tests.chain_fixtures import Registry
from tests.e2e.test_identity import issue, legacy_registry

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def issued(registry: Registry) -> list[dict[str, Any]]:
    batch = registry.issue(4)
    return [json.loads(f.read_text()) for f in batch.files]


def in_page(page: Any, data: str | bytes, registry: Registry, *, trusted: bool = True) -> dict[str, Any]:
    options: dict[str, Any] = {"rpc": registry.rpc_url}
    if trusted:
        options["trustedRegistries"] = [{"chainId": 31337, "address": registry.client.registry_address}]
    if isinstance(data, bytes):
        return page.evaluate(  # type: ignore[no-any-return]
            "([b, o]) => window.credentialRegistry.verifyBytes(new Uint8Array(b), o)", [list(data), options]
        )
    return page.evaluate("([t, o]) => window.credentialRegistry.verify(t, o)", [data, options])  # type: ignore[no-any-return]


def in_python(data: str | bytes, registry: Registry, *, trusted: bool = True) -> dict[str, Any]:
    policy = VerificationPolicy(trusted=registry.trust if trusted else {})
    payload = extract_if_baked(data) if isinstance(data, bytes) else data
    report = Verifier(policy, rpc_url=registry.rpc_url).verify(payload)
    return report.model_dump(mode="json")


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in report["checks"] if c["name"] == name]
    return found  # type: ignore[no-any-return]


def agree(page: Any, data: str | bytes, registry: Registry, *, trusted: bool = True) -> dict[str, Any]:
    """The page's report, after checking it agrees with Python's on the verdict and every check."""
    js = in_page(page, data, registry, trusted=trusted)
    py = in_python(data, registry, trusted=trusted)
    assert [c["name"] for c in js["checks"]] == [c["name"] for c in py["checks"]]
    assert (js["verdict"], statuses(js)) == (py["verdict"], statuses(py)), (js["summary"], py["summary"])
    assert js["credential"] == py["credential"]
    assert js["hidden_fields"] == py["hidden_fields"]
    assert js["redacted_field_count"] == py["redacted_field_count"]
    if py["issuer"] is not None:
        assert js["issuer"] == py["issuer"]
    return js


def test_genuine_file_is_valid_when_its_registry_is_trusted(
    page: Any, issued: list[dict[str, Any]], registry: Registry, requested: list[str]
) -> None:
    report = agree(page, json.dumps(issued[0], indent=2), registry)
    assert report["verdict"] == "VALID"
    assert "Universidad de Ejemplo" in report["checks"][4]["reason"]
    assert report["checks"][3]["details"]["confirmations"] >= 1
    # The page talked to nothing but the RPC URL (and its own file).
    others = [u for u in requested if not u.startswith(("file://", registry.rpc_url))]
    assert others == []


def test_untrusted_registry_is_indeterminate_with_the_issuer_check(
    page: Any, issued: list[dict[str, Any]], registry: Registry
) -> None:
    report = agree(page, json.dumps(issued[0]), registry, trusted=False)
    assert report["verdict"] == "INDETERMINATE"
    assert statuses(report)["issuer"] == "indeterminate"
    assert "not one you trust" in report["checks"][4]["reason"]


def test_tampered_file_fails_integrity(page: Any, issued: list[dict[str, Any]], registry: Registry) -> None:
    data = json.loads(json.dumps(issued[1]))
    data["credentialSubject"]["name"] = "Somebody Else"
    report = agree(page, json.dumps(data), registry)
    assert report["verdict"] == "INVALID"
    assert statuses(report)["integrity"] == "fail"
    assert "altered" in report["checks"][1]["reason"]


def test_malformed_inputs_fail_format_like_python(page: Any, issued: list[dict[str, Any]], registry: Registry) -> None:
    text = json.dumps(issued[1])
    cases = [
        "",
        "[]",
        "{",
        text[:-1],
        text.replace('"proof": [', '"proof": [], "proof2": [', 1),
        text.replace("{", '{"id": "x", ', 1),  # duplicate key
        text.replace('"chainId": 31337', '"chainId": 31337.0'),
        text.replace('"chainId": 31337', '"chainId": NaN'),
        text.replace('"anchorBlock": ', '"anchorBlock": 1e400, "x": '),
        text.replace("https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/v2\\n"),
        text.replace('"salts": {', '"salts": {"/bogus": "0x' + "0" * 32 + '", ', 1),
        text.replace('"validFrom": "', '"validFrom": "2025-02-30T00:00:00Z", "validFromX": "', 1),
    ]
    for case in cases:
        agree(page, case, registry)
    # A salt pointer on which the file schema's Pointer pattern would backtrack for hours: the
    # page refuses it at once (same outcome: not a pointer, format fails).
    slow = text.replace('"salts": {', '"salts": {"' + "/" * 60 + '~x": "0x' + "0" * 32 + '", ', 1)
    refused = in_page(page, slow, registry)
    assert statuses(refused)["format"] == "fail" and "JSON pointer" in refused["checks"][0]["reason"]


def test_baked_png_and_svg_badges_are_read(page: Any, issued: list[dict[str, Any]], registry: Registry) -> None:
    png = baked_png(issued[2])
    report = agree(page, png, registry)
    assert report["verdict"] == "VALID"
    svg = baked_svg(issued[2]).encode("utf-8")
    assert agree(page, svg, registry)["verdict"] == "VALID"
    # Text input of an SVG works too (the paste box).
    assert in_page(page, svg.decode("utf-8"), registry)["verdict"] == "VALID"
    broken = bytearray(png)
    broken[40] ^= 0xFF  # a chunk's CRC no longer matches
    bad = in_page(page, bytes(broken), registry)
    assert bad["verdict"] == "INVALID" and statuses(bad)["format"] == "fail"
    # A DTD is refused before parsing (entities are never expanded), as defusedxml does.
    dtd = svg.replace(b"<svg", b'<!DOCTYPE svg [<!ENTITY x "y">]><svg', 1)
    refused = in_page(page, dtd, registry)
    assert statuses(refused)["format"] == "fail" and "DTD" in refused["checks"][0]["reason"]


def test_redacted_file_lists_hidden_fields(page: Any, issued: list[dict[str, Any]], registry: Registry) -> None:
    data = redact(issued[3], ["/credentialSubject/result"])
    report = agree(page, json.dumps(data), registry)
    assert report["hidden_fields"] == ["/credentialSubject/result"]


def test_revoked_credential_is_invalid(page: Any, registry: Registry) -> None:
    batch = registry.issue(3)
    files = [json.loads(f.read_text()) for f in batch.files]
    registry.client.writes.revoke_credentials(registry.issuer_key, [files[0]["proof"][-1]["credentialDigest"]], 1)
    report = agree(page, json.dumps(files[0]), registry)
    assert report["verdict"] == "INVALID"
    assert statuses(report)["revocation"] == "fail"
    assert "issued in error" in check(report, "revocation")["reason"]
    assert agree(page, json.dumps(files[1]), registry)["verdict"] == "VALID"
    registry.client.writes.revoke_batch(registry.issuer_key, batch.root, 2)
    whole = agree(page, json.dumps(files[1]), registry)
    assert check(whole, "revocation")["details"]["scope"] == "batch"


def test_unreachable_rpc_is_indeterminate(page: Any, issued: list[dict[str, Any]], registry: Registry) -> None:
    report = page.evaluate(
        "([t]) => window.credentialRegistry.verify(t, {rpc: 'http://127.0.0.1:9/'})", [json.dumps(issued[0])]
    )
    assert report["verdict"] == "INDETERMINATE"
    assert statuses(report)["anchor"] == "indeterminate"
    assert "could not read the chain" in report["checks"][3]["reason"]


def test_the_form_verifies_a_chosen_file(
    page: Any, issued: list[dict[str, Any]], registry: Registry, tmp_path: Path
) -> None:
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(issued[0]))
    page.get_by_label("JSON-RPC URL of the chain").fill(registry.rpc_url)
    page.get_by_label("Trusted registries (one per line: chain id and contract address)").fill(
        f"31337 {registry.client.registry_address}"
    )
    page.get_by_label("Credential file (JSON) or baked badge (PNG, SVG)").set_input_files(str(path))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "VALID"
    assert page.locator("[data-check=issuer]").get_attribute("data-status") == "pass"
    assert "Universidad de Ejemplo" in page.locator("#issuer-on-chain").inner_text()


def test_a_look_alike_entry_of_a_legacy_registry_is_invalid_in_the_page(
    page: Any, anvil: LocalChain, tmp_path: Path
) -> None:
    """Issue 15: on a registry that already holds two entries for one identity, the page refuses a
    credential from the second entry (and from either of two legacy spellings), as Python does."""
    chain = legacy_registry(
        anvil,
        [
            ("Universidad de Ejemplo", "did:web:uni.example", "issuer"),
            ("Universidad de Ejemplo", "https://uni.example", "issuer2"),
        ],
    )
    options = {"rpc": anvil.rpc_url, "trustedRegistries": [{"chainId": 31337, "address": chain.registry_address}]}
    policy = VerificationPolicy(trusted={31337: {str(chain.registry_address).lower()}})
    reports = {}
    for role, seed in (("issuer2", 11), ("issuer", 12)):
        text = issue(chain, role, tmp_path, seed).files[0].read_text()
        js = page.evaluate("([t, o]) => window.credentialRegistry.verify(t, o)", [text, options])
        py = Verifier(policy, rpc_url=anvil.rpc_url).verify(text).model_dump(mode="json")
        assert (js["verdict"], statuses(js)) == (py["verdict"], statuses(py)), (js["summary"], py["summary"])
        assert check(js, "issuer")["reason"] == check(py, "issuer")["reason"]
        reports[role] = js
    assert reports["issuer"]["verdict"] == "VALID", reports["issuer"]["summary"]
    assert reports["issuer2"]["verdict"] == "INVALID"
    reason = check(reports["issuer2"], "issuer")["reason"]
    assert "belongs to directory entry #1 Universidad de Ejemplo ('did:web:uni.example')" in reason
    assert "#2 Universidad de Ejemplo ('https://uni.example')" in reason
