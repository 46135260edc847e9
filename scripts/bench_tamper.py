#!/usr/bin/env python3
"""Bad-input campaigns: tampered credential files and schemathesis against the service.

``run(long=False)`` (called by ``scripts/bench.py``) issues real batches on a private anvil,
verifies 10,000 tampered files against it (50,000 with ``long``) and fuzzes the service's
OpenAPI schema (15 cases per operation, mode and key; 100 with ``long``). Figures:
``tamper_cases``, ``tamper_accepted`` (must be 0), the breakdown by mutation class,
``api_fuzz_cases`` and ``api_fuzz_5xx`` (must be 0).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run(long: bool = False) -> dict[str, Any]:
    from tests.api_fuzz import fuzz, serve
    from tests.chain_fixtures import deploy_fixture
    from tests.tamper_mutations import run_campaign

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fixture = deploy_fixture(Path(tmp))
        assert isinstance(fixture, Generator)
        registry = next(fixture)
        try:
            campaign = run_campaign(registry, 50_000 if long else 10_000, seed=2024, n_files=48)
            examples = campaign.pop("tamper_examples")
            figures.update(campaign)
            if examples:
                figures["tamper_accepted_examples"] = examples
            with serve(registry, Path(tmp) / "svc") as service:
                result = fuzz(service, examples_per_operation=100 if long else 15, seed=2024)
            figures["api_fuzz_cases"] = result.cases
            figures["api_fuzz_5xx"] = result.server_errors
            figures["api_fuzz_operations"] = len(result.by_operation)
            figures["api_fuzz_by_status"] = {str(k): v for k, v in result.by_status.items()}
            figures["api_fuzz_s"] = result.seconds
            if result.failures:
                figures["api_fuzz_failures"] = result.failures[:10]
        finally:
            fixture.close()
    return figures


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(long="--long" in sys.argv), indent=2, sort_keys=True) + "\n")
