"""Stack verification latency (issue 12): ``stack_verify_10_files_ms``.

On a private anvil: ten micro-credentials of one learner, from both issuers, each in its own
anchored batch; a pathway needing all ten, published by its owner. Then, in process, a fresh
:class:`~registry.verify.Verifier` verifies the ten files as one stack (every file's checks,
the pathway's anchor, the learner binding and the rule): the median and p95 of 30 runs.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LEARNER = "ada@example.org"


def run() -> dict[str, Any]:
    from registry.core.credential import build_credential
    from registry.core.pathway import load_pathway
    from registry.issue.pathway import publish_pathway
    from registry.verify import VerificationPolicy, Verifier
    from registry.verify.stack import StackVerdict, verify_stack
    from tests.chain_fixtures import ACHIEVEMENT, deploy_fixture

    with tempfile.TemporaryDirectory() as tmp:
        fixture = deploy_fixture(Path(tmp))
        registry = next(fixture)
        try:
            leaves, files = [], []
            for i in range(10):
                which = 1 + i % 2
                profile = registry.profile(which)
                aid = f"https://uni.example/achievements/module-{i}"
                doc = build_credential(
                    achievement=ACHIEVEMENT.model_copy(update={"id": aid, "name": f"Module {i}"}),
                    issuer=profile,
                    recipient_email=LEARNER,
                    valid_from=datetime(2026, 1, 10, tzinfo=UTC),
                    rng=random.Random(i).randbytes,
                )
                key = registry.issuer_key if which == 1 else registry.issuer2_key
                path = registry.issue(docs=[doc], key=key, issuer=profile).files[0]
                files.append((path.name, path.read_bytes()))
                leaves.append({"id": f"m{i}", "achievement": aid, "issuers": [profile.id]})
            pathway = load_pathway(
                {
                    "type": "Pathway",
                    "id": "https://uni.example/pathways/bench",
                    "version": 1,
                    "name": "Bench pathway",
                    "owner": registry.profile(1).id,
                    "qualification": {"name": "Bench certificate"},
                    "requirements": {"id": "all", "allOf": leaves},
                }
            )
            published = publish_pathway(registry.client, registry.issuer_key, pathway)
            timings = []
            for _ in range(30):
                verifier = Verifier(VerificationPolicy(trusted=registry.trust), rpc_url=registry.rpc_url)
                t0 = time.perf_counter()
                report = verify_stack(verifier, pathway, files, learner=LEARNER)
                timings.append((time.perf_counter() - t0) * 1000)
                assert report.verdict is StackVerdict.VALID, report.summary
        finally:
            fixture.close()
    timings.sort()
    return {
        "stack_verify_10_files_ms": round(statistics.median(timings), 2),
        "stack_verify_10_files_p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
        "pathway_publish_block": published.block,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
