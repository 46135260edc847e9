"""Differential verification: the same files through the Python verifier and the standalone
verifier page (``registry verifier-page``) opened from ``file://`` in real Chromium.

Each file's verdict, the checks its report holds (names, order and statuses: ``signature`` only
for a file carrying the issuer's DataIntegrityProof) and the proofs it names (``proofs``) must
agree; any disagreement is a bug in one of them. Used by ``tests/e2e/test_page_differential.py``
and ``scripts/bench.py`` (figures ``page_cli_disagreements``, ``page_verify_ms``).

Corpora: :func:`v1_corpus` (the tamper corpus of ``tests/tamper_mutations.py`` issued as format
v1 files, which keep verifying forever), :func:`v2_cases` (format v2 files: full, redacted ad
hoc, disclosure profiles, and tampered or re-signed copies, each class named) and
:func:`supersession_cases` (corrections and renewals: superseded files, successors with a
``supersedes`` claim the chain confirms, and claims it does not).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.verify import VerificationPolicy, Verifier

if TYPE_CHECKING:
    from tests.tamper_mutations import Corpus

CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

Case = tuple[str, dict[str, Any] | bytes]
Outcome = tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]]
"""A verdict, each check's (name, status) in report order, and the proofs the report names."""

# Verify a chunk of files inside the page: one evaluate() per chunk, files as text or base64 bytes.
_RUN_CHUNK = """
async ([files, options]) => {
  const out = [];
  const started = performance.now();
  for (const [kind, body] of files) {
    let input = body;
    if (kind === "b64") {
      const raw = atob(body);
      input = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) input[i] = raw.charCodeAt(i);
    }
    try {
      const report = await window.credentialRegistry.verify(input, options);
      out.push([report.verdict, report.checks.map((c) => [c.name, c.status]), report.proofs]);
    } catch (e) {
      out.push(["ERROR", [["error", String(e && e.stack || e)]], []]);
    }
  }
  return [out, performance.now() - started];
}
"""


@dataclass
class Comparison:
    files: int = 0
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    page_ms: float = 0.0
    python_s: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)

    @property
    def page_verify_ms(self) -> float:
        return round(self.page_ms / self.files, 3) if self.files else 0.0


def _encode(data: dict[str, Any] | bytes) -> tuple[str, str]:
    if isinstance(data, dict):
        return "text", json.dumps(data, ensure_ascii=False)
    try:
        return "text", data.decode("utf-8")  # what a file picker reading text would give
    except UnicodeDecodeError:
        return "b64", base64.b64encode(data).decode("ascii")


def _outcome(report: Any) -> Outcome:
    return (
        report.verdict.value,
        tuple((c.name, c.status.value) for c in report.checks),
        tuple(report.proofs),
    )


def python_outcomes(cases: Sequence[Case], verifier: Verifier, chunk: int = 500) -> list[Outcome]:
    """The Python verifier's outcomes, in chunks sharing chain reads; a chunk that raises is
    verified file by file, and a file that raises is the outcome ``ERROR`` (a disagreement)."""
    out: list[Outcome] = []
    for start in range(0, len(cases), chunk):
        part = cases[start : start + chunk]
        try:
            out.extend(_outcome(r) for r in verifier.verify_many([(name, data) for name, data in part]))
        except Exception:
            for name, data in part:
                try:
                    out.append(_outcome(verifier.verify(data, source=name)))
                except Exception as exc:
                    out.append(("ERROR", (("error", f"{type(exc).__name__}: {exc}"),), ()))
    return out


@contextmanager
def open_page(page_file: Path) -> Iterator[Any]:
    """The verifier page from ``file://`` in a fresh Chromium (Debian's, via Playwright)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(page_file.resolve().as_uri())
            page.wait_for_function("() => window.credentialRegistry && window.credentialRegistry.verify")
            yield page
        finally:
            browser.close()


def page_options(rpc: str, trusted: dict[int, set[str]], now: datetime) -> dict[str, Any]:
    return {
        "rpc": rpc,
        "trustedRegistries": [{"chainId": cid, "address": a} for cid, addrs in trusted.items() for a in addrs],
        "now": now.isoformat().replace("+00:00", "Z"),
    }


def compare(
    page: Any,
    cases: Sequence[Case],
    *,
    rpc: str,
    trusted: dict[int, set[str]],
    now: datetime,
    chunk: int = 250,
) -> Comparison:
    """Verify ``cases`` both ways; every disagreement with its class, both outcomes and the file."""
    verifier = Verifier(VerificationPolicy(trusted=trusted, now=now), rpc_url=rpc)
    t0 = time.perf_counter()
    expected = python_outcomes(cases, verifier)
    result = Comparison(files=len(cases), python_s=time.perf_counter() - t0)
    options = page_options(rpc, trusted, now)
    got: list[Outcome] = []
    for start in range(0, len(cases), chunk):
        files = [_encode(data) for _, data in cases[start : start + chunk]]
        outcomes, ms = page.evaluate(_RUN_CHUNK, [files, options])
        got.extend((v, tuple((n, st) for n, st in c), tuple(p)) for v, c, p in outcomes)
        result.page_ms += ms
    for (name, data), want, have in zip(cases, expected, got, strict=True):
        result.verdicts[want[0]] = result.verdicts.get(want[0], 0) + 1
        if want != have:
            result.disagreements.append(
                {
                    "class": name,
                    "python": want,
                    "page": have,
                    "file": data if isinstance(data, dict) else repr(data[:200]),
                }
            )
    return result


# -- corpora -------------------------------------------------------------------------------------


def v1_corpus(registry: Any, n_files: int = 24) -> Corpus:
    """The tamper corpus (``tests.tamper_mutations.build_corpus``) of format v1 files."""
    from tests.tamper_mutations import build_corpus

    corpus = build_corpus(registry, n_files, version=1)
    assert all(f["proof"][-1]["format"] == "credreg-proof-v1" for f in corpus.files)
    return corpus


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _resigned(data: dict[str, Any], key: Any) -> dict[str, Any]:
    """A v2 file's credential signed again with Ed25519 ``key`` (same created, same anchor proof)."""
    from registry.core.signing import Signer

    credential = {k: copy.deepcopy(v) for k, v in data.items() if k != "proof"}
    di, anchor = data["proof"]
    signer = Signer(key, credential["issuer"]["id"], di["created"])
    return {**credential, "proof": [signer.proof(credential), copy.deepcopy(anchor)]}


def _multibase_of(key: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from registry.core.signing import public_key_multibase

    return public_key_multibase(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _hide_valid_until(data: dict[str, Any]) -> dict[str, Any]:
    """A hand-made v2 file hiding its validUntil (``redact`` refuses it): the field hash under
    its pointer in ``redacted``, the signature dropped."""
    from registry.core.disclosure import field_hashes

    credential = {k: copy.deepcopy(v) for k, v in data.items() if k != "proof"}
    anchor = copy.deepcopy(data["proof"][-1])
    hashes = field_hashes(credential, anchor["salts"])
    anchor["salts"].pop("/validUntil")
    anchor["redacted"] = {**anchor["redacted"], "/validUntil": "0x" + hashes["/validUntil"].hex()}
    anchor["hiddenPaths"] = anchor["hiddenPaths"] or ["/credentialSubject/note"]
    anchor["disclosure"] = "redacted"
    anchor.pop("profiles", None)
    del credential["validUntil"]
    return {**credential, "proof": [anchor]}


def v2_cases(registry: Any) -> list[Case]:
    """Format v2 files of real anchored batches, each class named: genuine (full, redacted ad hoc,
    pre-signed profiles, without expiry) and altered (content, signature, proof set, disclosure,
    redacted pointers, keys the chain does not bind to the issuer). Issues three batches, and
    registers issuer 2's signing key."""
    from datetime import timedelta

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from registry.core.credential import build_credential
    from registry.core.credfile import redact
    from registry.core.signing import derive_signing_key
    from tests.chain_fixtures import ACHIEVEMENT

    files = [_load(p) for p in registry.issue(8).files]
    assert all(f["proof"][-1]["format"] == "credreg-proof-v2" for f in files)
    other = [_load(p) for p in registry.issue(2, key=registry.issuer2_key, issuer=registry.profile(2)).files]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    open_ended = [
        build_credential(
            achievement=ACHIEVEMENT,
            issuer=registry.profile(),
            recipient_email=f"open-{i}@example.org",
            recipient_name="Grace Hopper",
            valid_from=start,
            result="B",
            rng=os.urandom,
        )
        for i in range(2)
    ]
    no_expiry = [_load(p) for p in registry.issue(docs=open_ended).files]

    cases: list[Case] = [("v2 full", f) for f in files[:4] + other[:1]]
    cases += [("v2 full, no expiry", no_expiry[0])]
    hides = [
        ["/credentialSubject/name"],
        ["/credentialSubject/result"],
        ["/credentialSubject/achievement/alignment"],
        ["/credentialSubject/name", "/credentialSubject/result", "/credentialSubject/achievement/resultDescription"],
    ]
    redacted = [redact(f, h) for f, h in zip(files[4:8], hides, strict=True)]
    cases += [("v2 redacted", r) for r in redacted]
    cases += [("v2 redacted, no expiry", redact(no_expiry[1], ["/credentialSubject/result"]))]
    profiles = [redact(files[5], profile="without-result"), redact(files[6], profile="without-name")]
    cases += [("v2 profile", p) for p in profiles]
    cases += [("v2 hidden expiry", _hide_valid_until(files[7]))]

    def altered(name: str, base: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
        data = copy.deepcopy(base)
        out = change(data)
        cases.append((f"v2 {name}", out if isinstance(out, dict) else data))

    full, red, prof = files[0], redacted[0], profiles[0]
    altered("content edited", full, lambda d: d["credentialSubject"].__setitem__("name", "Mallory Example"))
    altered("grade edited", prof, lambda d: d["credentialSubject"]["achievement"].__setitem__("name", "Other"))
    altered("credits edited", full, lambda d: d["credentialSubject"]["achievement"].__setitem__("creditsAvailable", 60))
    altered("issuer id edited", full, lambda d: d["issuer"].__setitem__("id", "did:web:evil.example"))

    def flip_proof_value(d: dict[str, Any]) -> None:
        value = d["proof"][0]["proofValue"]
        d["proof"][0]["proofValue"] = value[:-3] + ("2" if value[-3] != "2" else "3") + value[-2:]

    altered("proofValue edited", full, flip_proof_value)
    altered("created edited", full, lambda d: d["proof"][0].__setitem__("created", "2020-01-01T00:00:00Z"))
    stranger = Ed25519PrivateKey.generate()
    altered(
        "verificationMethod names another key",
        full,
        lambda d: d["proof"][0].__setitem__("verificationMethod", f"{d['issuer']['id']}#{_multibase_of(stranger)}"),
    )
    altered("re-signed by a key of no issuer", full, lambda d: _resigned(d, derive_signing_key(b"\x09" * 32)))
    altered(
        "re-signed by another issuer's key",
        full,
        lambda d: _resigned(d, derive_signing_key(bytes(registry.issuer2_key.key))),
    )
    altered("re-signed, then edited", full, lambda d: _resigned({**d, "name": "Other Name"}, stranger))
    altered("signature dropped, still full", full, lambda d: d["proof"].pop(0))

    def drop_signature_say_redacted(d: dict[str, Any]) -> None:
        d["proof"].pop(0)
        d["proof"][0]["disclosure"] = "redacted"
        d["proof"][0].pop("profiles", None)

    altered("signature dropped, says redacted", full, drop_signature_say_redacted)
    altered("proofs swapped", full, lambda d: d["proof"].reverse())
    altered("two anchor proofs", full, lambda d: d["proof"].__setitem__(0, copy.deepcopy(d["proof"][1])))
    altered("signature duplicated", full, lambda d: d["proof"].insert(0, copy.deepcopy(d["proof"][0])))

    def sign_redacted(d: dict[str, Any]) -> None:
        d["proof"].insert(0, copy.deepcopy(files[4]["proof"][0]))
        d["proof"][1]["disclosure"] = "profile:without-name"

    altered("redacted, full signature attached", red, sign_redacted)
    altered("redacted, says full", red, lambda d: d["proof"][0].__setitem__("disclosure", "full"))
    altered("profile, says redacted", prof, lambda d: d["proof"][1].__setitem__("disclosure", "redacted"))
    altered(
        "profile, profiles listed", prof, lambda d: d["proof"][1].__setitem__("profiles", full["proof"][1]["profiles"])
    )

    def move_redacted(d: dict[str, Any]) -> None:
        anchor = d["proof"][-1]
        ((pointer, value),) = anchor["redacted"].items()
        anchor["redacted"] = {pointer + "x": value}

    altered("redacted pointer renamed", red, move_redacted)

    def swap_redacted(d: dict[str, Any]) -> None:
        anchor = d["proof"][-1]
        pointers = sorted(anchor["redacted"])
        values = [anchor["redacted"][p] for p in pointers]
        anchor["redacted"] = dict(zip(pointers, values[1:] + values[:1], strict=True))

    altered("redacted hashes swapped", redacted[3], swap_redacted)
    altered(
        "redacted pointer also disclosed",
        red,
        lambda d: d["proof"][-1]["redacted"].__setitem__("/credentialSubject/achievement/name", "0x" + "11" * 32),
    )
    altered(
        "mandatory pointer redacted",
        red,
        lambda d: d["proof"][-1]["redacted"].__setitem__("/issuer/url", "0x" + "11" * 32),
    )
    altered(
        "profile proofValue edited",
        full,
        lambda d: d["proof"][1]["profiles"]["without-result"].__setitem__("proofValue", d["proof"][0]["proofValue"]),
    )
    altered(
        "v1 contexts", full, lambda d: d["@context"].append("https://w3id.org/credential-registry/microcredential/v1")
    )
    altered("v1 format name", full, lambda d: d["proof"][1].__setitem__("format", "credreg-proof-v1"))
    altered("proofPurpose edited", full, lambda d: d["proof"][0].__setitem__("proofPurpose", "authentication"))
    altered("signature with extra member", full, lambda d: d["proof"][0].__setitem__("expires", "2030-01-01T00:00:00Z"))
    altered("signature with @context", full, lambda d: d["proof"][0].__setitem__("@context", d["@context"]))
    altered("cryptosuite edited", full, lambda d: d["proof"][0].__setitem__("cryptosuite", "eddsa-jcs-2022"))
    return cases


EDGE_CASES: dict[str, tuple[str, str]] = {
    "v2 edge disclosure with a final newline": (
        "format",
        "filerules._strict_v2 must match `disclosure` as a whole (re.fullmatch): Python's re.search lets the "
        "schema pattern accept 'full\\n', which then escapes every disclosure rule",
    ),
    "v2 edge verificationMethod with a final newline": (
        "format",
        "filerules._strict_v2 must fullmatch the DataIntegrityProof's verificationMethod pattern",
    ),
    "v2 edge created with a final newline": (
        "format",
        "filerules._strict_v2 must fullmatch `created` (ASCII date-time)",
    ),
    "v2 edge created with fullwidth digits": (
        "format",
        "filerules._strict_v2 must check `created` with the ASCII date-time pattern (as validFrom/validUntil)",
    ),
    "v2 edge proofValue with a final newline": (
        "format",
        "filerules._strict_v2 must fullmatch proofValue (and each profile's proofValue): base58.b58decode "
        "ignores the newline, so Python accepts the file as VALID",
    ),
    "v2 edge term no context defines": (
        "signature",
        "signing.check_signature must refuse terms no context defines (JSON-LD safe mode, as Digital "
        "Bazaar's eddsa-rdfc-2022 verifier and every standard wallet do): pyld drops them, so the signature "
        "'verifies' over less than the file shows",
    ),
    "v2 edge redacted pointer with a lone surrogate": (
        "integrity",
        "disclosure.pointer_hash raises UnicodeEncodeError (the verifier crashes): a pointer that is not "
        "valid Unicode must fail integrity",
    ),
}
"""Corner cases of format v2 strictness: the check both verifiers fail, and why (the Python side
was changed to agree with the page on each)."""


def v2_edge_cases(registry: Any) -> list[Case]:
    """Format v2 files where the page and the Python verifier must agree on corner cases of
    strictness: trailing newlines and non-ASCII digits the JSON Schemas' patterns let through in
    Python (``re.search``: ``$`` before a final newline, Unicode ``\\d``), terms no context defines
    (a JSON-LD processor in safe mode refuses them, as Digital Bazaar's does), and pointers that
    are not valid Unicode."""
    from registry.core.credfile import redact

    files = [_load(p) for p in registry.issue(2).files]
    full = files[0]
    red = redact(files[1], ["/credentialSubject/name"])
    cases: list[Case] = []

    def altered(name: str, base: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
        data = copy.deepcopy(base)
        change(data)
        cases.append((f"v2 edge {name}", data))

    altered("disclosure with a final newline", red, lambda d: d["proof"][0].__setitem__("disclosure", "full\n"))
    altered(
        "verificationMethod with a final newline",
        full,
        lambda d: d["proof"][0].__setitem__("verificationMethod", d["proof"][0]["verificationMethod"] + "\n"),
    )
    altered(
        "created with a final newline",
        full,
        lambda d: d["proof"][0].__setitem__("created", d["proof"][0]["created"] + "\n"),
    )
    altered(
        "created with fullwidth digits",
        full,
        lambda d: d["proof"][0].__setitem__("created", "\uff12" + d["proof"][0]["created"][1:]),
    )
    altered(
        "proofValue with a final newline",
        full,
        lambda d: d["proof"][0].__setitem__("proofValue", d["proof"][0]["proofValue"] + "\n"),
    )
    altered("term no context defines", full, lambda d: d["credentialSubject"].__setitem__("studentNumber", "12345"))

    def lone_surrogate(d: dict[str, Any]) -> None:
        anchor = d["proof"][-1]
        ((pointer, value),) = anchor["redacted"].items()
        anchor["redacted"] = {pointer + "\udc00": value}

    surrogate = copy.deepcopy(red)
    lone_surrogate(surrogate)
    # As a file's bytes: JSON text with the escape "\udc00" (a Python dict would be refused earlier).
    cases.append(("v2 edge redacted pointer with a lone surrogate", json.dumps(surrogate).encode("ascii")))
    return cases


# -- supersessions (corrections and renewals) ----------------------------------------------------


def supersede(registry: Any, old: dict[str, Any], new: dict[str, Any], kind: str) -> tuple[dict[str, Any], int]:
    """Record on chain that anchored file ``new`` replaces ``old`` (``kind`` "correction" or
    "renewal", by the fixture's first issuer): ``new`` with its ``supersedes`` claim, and the unix
    time of the supersession's block."""
    from registry.chain.model import SUPERSESSION_KINDS
    from registry.core.credfile import with_supersedes

    code = {name: number for number, name in SUPERSESSION_KINDS.items()}[kind]
    before, after = old["proof"][-1], new["proof"][-1]
    tx = registry.client.writes.supersede_credential(
        registry.issuer_key,
        before["credentialDigest"],
        after["merkleRoot"],
        after["credentialDigest"],
        after["merklePath"],
        code,
        new["id"],
    )
    at = registry.client.history.block_timestamp(tx.block_number)
    return with_supersedes(new, old_id=old["id"], old_digest=before["credentialDigest"], kind=kind), at


def supersession_cases(registry: Any) -> list[Case]:
    """Corrections and renewals on a real chain, each class named: the superseded files (a
    correction, a renewal, and one whose batch the issuer then revoked), a plain revocation with
    reason 2 (no supersession recorded), their successors with and without the claim (redacted
    too), and claims the chain does not confirm (no record, another successor, another kind, a
    digest never anchored, another issuer's namespace). Issues four batches."""
    from registry.core.credfile import redact, with_supersedes

    old = [_load(p) for p in registry.issue(4).files]
    new = [_load(p) for p in registry.issue(4).files]
    other_issuer = [_load(p) for p in registry.issue(1, key=registry.issuer2_key, issuer=registry.profile(2)).files]
    corrected, _ = supersede(registry, old[0], new[0], "correction")
    renewed, _ = supersede(registry, old[1], new[1], "renewal")
    registry.client.writes.revoke_credentials(registry.issuer_key, [old[2]["proof"][-1]["credentialDigest"]], 2)
    late = [_load(p) for p in registry.issue(2).files]
    batch_revoked_successor, _ = supersede(registry, late[0], new[3], "correction")
    registry.client.writes.revoke_batch(registry.issuer_key, late[0]["proof"][-1]["merkleRoot"], 1)

    def claim(base: dict[str, Any], replaced: dict[str, Any], kind: str) -> dict[str, Any]:
        digest = replaced["proof"][-1]["credentialDigest"]
        return with_supersedes(base, old_id=replaced["id"], old_digest=digest, kind=kind)

    never = with_supersedes(new[2], old_id="urn:uuid:never-anchored", old_digest="0x" + "7e" * 32, kind="renewal")
    return [
        ("superseded: correction", old[0]),
        ("superseded: renewal", old[1]),
        ("superseded, then its batch revoked", late[0]),
        ("revoked with reason 2, no supersession", old[2]),
        ("not superseded", old[3]),
        ("successor of a correction, with the claim", corrected),
        ("successor of a renewal, with the claim", renewed),
        ("successor of a correction, redacted", redact(corrected, ["/credentialSubject/name"])),
        ("successor, without the claim", new[0]),
        ("successor of a batch later revoked, with the claim", batch_revoked_successor),
        ("claim the chain has no record of", claim(new[2], old[2], "correction")),
        ("claim to replace what another file replaced", claim(new[2], old[0], "correction")),
        ("claim of another kind", claim(new[1], old[1], "correction")),
        ("claim of a digest never anchored", never),
        ("claim of another issuer's credential", claim(new[2], other_issuer[0], "correction")),
        ("claim in another issuer's file", claim(other_issuer[0], old[0], "correction")),
    ]
