#!/usr/bin/env python3
"""The standalone verifier page against the Python verifier (``registry verifier-page``).

``run(long=False)`` issues real batches on a private anvil, derives 6,000 tampered files (20,000
with ``long``) plus the genuine controls from format v1 files, and the format v2 cases (full,
redacted, profiles, tampered, re-signed), and verifies each one with the Python verifier and with
the page opened from ``file://`` in Debian's Chromium (Playwright), with only the RPC URL.
Figures: ``page_cli_files``, ``page_cli_disagreements`` (must be 0), ``page_verify_ms`` (the
page's mean time per file, each file verified on its own with its own chain reads) beside
``page_python_verify_ms`` (the Python verifier's mean per file, in batches of 500 sharing reads);
``page_v2_*`` the same for the format v2 cases (the page checks each signature with Digital
Bazaar's eddsa-rdfc-2022 code), and ``page_bundle_kib`` the size of the self-contained page.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run(long: bool = False) -> dict[str, Any]:
    from typer.testing import CliRunner

    from registry.cli.app import app
    from tests.chain_fixtures import deploy_fixture
    from tests.page_differential import compare, open_page, v1_corpus, v2_cases
    from tests.tamper_mutations import controls, generate

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "verifier.html"
        written = CliRunner().invoke(app, ["verifier-page", "--out", str(page_file)])
        if written.exit_code != 0:
            return {"page_error": written.output.strip()[:300]}
        figures["page_bundle_kib"] = round(page_file.stat().st_size / 1024)
        fixture = deploy_fixture(Path(tmp) / "chain")
        assert isinstance(fixture, Generator)
        registry = next(fixture)
        try:
            corpus = v1_corpus(registry, 24)
            cases, _ = generate(corpus, 20_000 if long else 6_000, seed=2026)
            cases += controls(corpus)
            v2 = v2_cases(registry)
            with open_page(page_file) as page:
                found = compare(page, cases, rpc=registry.rpc_url, trusted=registry.trust, now=datetime.now(UTC))
                found_v2 = compare(page, v2, rpc=registry.rpc_url, trusted=registry.trust, now=datetime.now(UTC))
            figures.update(
                page_cli_files=found.files,
                page_cli_disagreements=len(found.disagreements),
                page_verify_ms=found.page_verify_ms,
                page_python_verify_ms=round(found.python_s * 1000 / found.files, 3),
                page_cli_verdicts=dict(sorted(found.verdicts.items())),
            )
            figures.update(
                page_v2_files=found_v2.files,
                page_v2_disagreements=len(found_v2.disagreements),
                page_v2_verify_ms=found_v2.page_verify_ms,
                page_v2_python_verify_ms=round(found_v2.python_s * 1000 / found_v2.files, 3),
                page_v2_verdicts=dict(sorted(found_v2.verdicts.items())),
            )
            if found.disagreements or found_v2.disagreements:
                figures["page_cli_disagreement_examples"] = (found.disagreements + found_v2.disagreements)[:3]
        finally:
            fixture.close()
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run("--long" in sys.argv), indent=2, default=str))
