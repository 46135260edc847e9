#!/usr/bin/env python3
"""The standalone verifier page against the Python verifier (``registry verifier-page``).

``run(long=False)`` issues real batches on a private anvil, derives 6,000 tampered files (20,000
with ``long``) plus the genuine controls, and verifies each one with the Python verifier and
with the page opened from ``file://`` in Debian's Chromium (Playwright), with only the RPC URL.
Figures: ``page_cli_files``, ``page_cli_disagreements`` (must be 0), ``page_verify_ms`` (the
page's mean time per file, each file verified on its own with its own chain reads) beside
``page_python_verify_ms`` (the Python verifier's mean per file, in batches of 500 sharing reads).
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
    from tests.page_differential import compare, open_page
    from tests.tamper_mutations import build_corpus, controls, generate

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "verifier.html"
        written = CliRunner().invoke(app, ["verifier-page", "--out", str(page_file)])
        if written.exit_code != 0:
            return {"page_error": written.output.strip()[:300]}
        fixture = deploy_fixture(Path(tmp) / "chain")
        assert isinstance(fixture, Generator)
        registry = next(fixture)
        try:
            corpus = build_corpus(registry, 24)
            cases, _ = generate(corpus, 20_000 if long else 6_000, seed=2026)
            cases += controls(corpus)
            with open_page(page_file) as page:
                found = compare(page, cases, rpc=registry.rpc_url, trusted=registry.trust, now=datetime.now(UTC))
            figures.update(
                page_cli_files=found.files,
                page_cli_disagreements=len(found.disagreements),
                page_verify_ms=found.page_verify_ms,
                page_python_verify_ms=round(found.python_s * 1000 / found.files, 3),
                page_cli_verdicts=dict(sorted(found.verdicts.items())),
            )
            if found.disagreements:
                figures["page_cli_disagreement_examples"] = found.disagreements[:3]
        finally:
            fixture.close()
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run("--long" in sys.argv), indent=2, default=str))
