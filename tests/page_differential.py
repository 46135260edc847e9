"""Differential verification: the same files through the Python verifier and the standalone
verifier page (``registry verifier-page``) opened from ``file://`` in real Chromium.

Each file's verdict and every check's status must agree; any disagreement is a bug in one of
them. Used by ``tests/e2e/test_page_differential.py`` and ``scripts/bench.py`` (figures
``page_cli_disagreements``, ``page_verify_ms``).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from registry.verify import VerificationPolicy, Verifier

CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

Case = tuple[str, dict[str, Any] | bytes]
Outcome = tuple[str, dict[str, str]]
"""A verdict and each check's status."""

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
      out.push([report.verdict, Object.fromEntries(report.checks.map((c) => [c.name, c.status]))]);
    } catch (e) {
      out.push(["ERROR", {error: String(e && e.stack || e)}]);
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


def python_outcomes(cases: Sequence[Case], verifier: Verifier, chunk: int = 500) -> list[Outcome]:
    out: list[Outcome] = []
    for start in range(0, len(cases), chunk):
        part = cases[start : start + chunk]
        for report in verifier.verify_many([(name, data) for name, data in part]):
            out.append((report.verdict.value, {c.name: c.status.value for c in report.checks}))
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
        got.extend((v, dict(c)) for v, c in outcomes)
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
