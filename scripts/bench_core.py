"""Benchmarks of the pure core: Merkle tree (vs @openzeppelin/merkle-tree) and batch issuance.

``run(long=False)`` returns JSON-able figures. Memory-heavy measurements run in a fresh
subprocess each, so every peak RSS belongs to one measurement (``ru_maxrss`` of the child and of
its own worker processes). ``long=True`` runs the issuance pipeline on 1,000,000 credentials;
the default runs it on 100,000 and extrapolates linearly (marked in the output).

The issuance pipeline is measured end to end with its input generated inside the worker
processes (``prepare_batch_from`` + ``synthetic_source``), so the timed window includes creating
the credential documents and the parent never holds them: ``issue_pipeline_1m_s`` (peak
``issue_pipeline_1m_peak_mb``) uses the ``basic`` OB 3.0 profile (25 fields, "about 20" as the
issue asks), ``issue_pipeline_1m_38_fields_s`` (also under its older name
``issue_pipeline_1m_38fields_s``) the full EU micro-credential (38 fields). Wall-clock figures
depend on the load of the machine, so each pipeline figure comes with the load average at the start
and end of its measurement; the ``*_cpu_s`` figures (parent + workers) depend on it much less.

Usage: ``python scripts/bench_core.py [--long]`` prints the JSON.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from registry.core.credential import Achievement, IssuerProfile  # noqa: E402
from registry.core.disclosure import flatten  # noqa: E402
from registry.core.merkle import MerkleTree  # noqa: E402
from registry.issue.prepare import build_tree, prepare_batch_from  # noqa: E402
from tests.cohort import Profile, synthetic_source  # noqa: E402
from tests.proofcheck import verify_proofs  # noqa: E402

ISSUER = IssuerProfile(
    id="did:web:uni.example",
    name="Example University",
    url="https://uni.example",
    email="registrar@uni.example",
)
ACHIEVEMENT = Achievement(
    id="https://uni.example/achievements/data-literacy",
    name="Data Literacy for Researchers",
    description="A 5 ECTS micro-credential on reading, cleaning and explaining data.",
    criteria_narrative="Pass the written exam and submit a data-cleaning project.",
    learning_outcomes=["Read and critique charts", "Clean tabular data", "Explain sampling bias"],
    workload_ects=5.0,
    eqf_level=6,
    assessment_type="Written exam and project",
    participation_form="blended",
    quality_assurance="Reviewed by the university's Quality Assurance Board",
)


def _digests(n: int, seed: int = 1) -> list[bytes]:
    import random

    r = random.Random(seed)
    return [r.randbytes(32) for _ in range(n)]


def _median(fn: Callable[[], float], times: int = 3) -> float:
    return statistics.median(fn() for _ in range(times))


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished worker processes."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_mb() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": round(me, 1), "workers": round(kids, 1)}


def _child_merkle_1m() -> dict[str, Any]:
    digests = _digests(1_000_000)
    gc.collect()
    c0 = _cpu_s()
    t0 = time.perf_counter()
    tree = build_tree(b"".join(digests))  # the production builder: parallel above 200,000 leaves
    t1 = time.perf_counter()
    count = 0
    for _, _, proof in tree.iter_proofs():
        count += len(proof)
    t2 = time.perf_counter()
    cpu = _cpu_s() - c0
    return {"build_s": t1 - t0, "proofs_s": t2 - t1, "cpu_s": cpu, "elements": count, "peak_mb": _peak_mb()}


def _child_pipeline(n: int, profile: Profile) -> dict[str, Any]:
    source = synthetic_source(ISSUER, ACHIEVEMENT, seed=1, profile=profile)
    sample_n = min(n, 50_000)
    fields = len(flatten(next(iter(source(0, 1)))))
    g0 = time.process_time()
    for _ in source(0, sample_n):
        pass
    generate_cpu = (time.process_time() - g0) * n / sample_n
    gc.collect()
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load_start = os.getloadavg()
    c1 = _cpu_s()
    t1 = time.perf_counter()
    batch = prepare_batch_from(n, source)
    t2 = time.perf_counter()
    count = 0
    for _, _, proof in batch.tree.iter_proofs():
        count += len(proof)
    t3 = time.perf_counter()
    return {
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "n": n,
        "profile": profile,
        "fields_per_credential": fields,
        "generate_cpu_s": generate_cpu,
        "prepare_s": t2 - t1,
        "proofs_s": t3 - t2,
        "cpu_s": _cpu_s() - c1,
        "base_mb": round(base_mb, 1),
        "peak_mb": _peak_mb(),
    }


def _child_signing(n: int) -> dict[str, Any]:
    """Format v2 signing (eddsa-rdfc-2022) on one core: per credential, RDFC-1.0 canonicalisation
    included, the way a batch is signed (one Canonicalizer, templates shared by the cohort)."""
    from registry.core.signing import Canonicalizer, Signer, derive_signing_key, reference_canonical

    docs = list(synthetic_source(ISSUER, ACHIEVEMENT, seed=3, profile="microcredential")(0, n))
    canon = Canonicalizer()
    signer = Signer(derive_signing_key(b"\x05" * 32), ISSUER.id, "2026-01-01T00:00:00Z", canon)
    load = os.getloadavg()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for doc in docs:
        signer.proof_value(doc)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    sample = docs[:20]
    r0 = time.process_time()
    for doc in sample:
        reference_canonical(doc)
    reference_us = (time.process_time() - r0) / len(sample) * 1e6
    return {
        "n": n,
        "cpu_us": cpu / n * 1e6,
        "wall_us": wall / n * 1e6,
        "reference_canonical_us": reference_us,
        "fast": canon.fast,
        "slow": canon.slow,
        "load_average": [round(x, 2) for x in load],
    }


def _in_child(name: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _oz_100k(digests: list[bytes]) -> float | None:
    script = ROOT / "scripts" / "oz_tree.mjs"
    if not (ROOT / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        return None
    payload = json.dumps(["0x" + d.hex() for d in digests])
    try:
        out = subprocess.run(
            ["node", str(script), "bench"],
            input=payload,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    seconds: float = json.loads(out.stdout)["seconds"]
    return seconds


def run(long: bool = False) -> dict[str, Any]:
    """Measure and return the figures (seconds, MB)."""
    digests = _digests(100_000)
    trees: list[MerkleTree] = []

    def build() -> float:
        t = time.perf_counter()
        trees.append(MerkleTree.build(digests))
        return time.perf_counter() - t

    build_s = _median(build)
    tree = trees[-1]

    def proofs() -> float:
        t = time.perf_counter()
        for _ in tree.iter_proofs():
            pass
        return time.perf_counter() - t

    proofs_s = _median(proofs)
    all_proofs = list(tree.iter_proofs())
    root = tree.root

    verify_cpu: list[float] = []
    items = [(d, p) for _, d, p in all_proofs]

    def verify() -> float:
        c = _cpu_s()
        t = time.perf_counter()
        failures = verify_proofs(root, items)
        elapsed = time.perf_counter() - t
        verify_cpu.append(_cpu_s() - c)
        if failures:
            raise AssertionError(f"{len(failures)} proofs failed")
        return elapsed

    verify_s = _median(verify)
    all_proofs.clear()
    items.clear()
    oz_s = _oz_100k(digests)
    ours_s = build_s + proofs_s

    m1 = _in_child("merkle1m")
    n = 1_000_000 if long else 100_000
    pipe = _in_child("pipeline", str(n), "basic")
    pipe38 = _in_child("pipeline", str(n), "microcredential")
    pipe_s = pipe["prepare_s"] + pipe["proofs_s"]
    pipe38_s = pipe38["prepare_s"] + pipe38["proofs_s"]
    factor = 1_000_000 / n
    sign = _in_child("signing", str(3_000))
    cores = os.cpu_count() or 1
    return {
        "merkle_build_100k_s": round(build_s, 3),
        "merkle_proofs_100k_s": round(proofs_s, 3),
        "merkle_verify_100k_s": round(verify_s, 3),
        "merkle_build_proofs_1m_s": round(m1["build_s"] + m1["proofs_s"], 3),
        "merkle_1m_peak_mb": max(m1["peak_mb"]["self"], m1["peak_mb"]["workers"]),
        "issue_pipeline_1m_s": round(pipe_s * factor, 2),
        "issue_pipeline_1m_peak_mb": max(pipe["peak_mb"]["self"], pipe["peak_mb"]["workers"]),
        "issue_pipeline_1m_38_fields_s": round(pipe38_s * factor, 2),
        "sign_per_credential_us": round(sign["cpu_us"], 1),
        "issue_pipeline_signed_1m_s": round(pipe38_s * factor + sign["cpu_us"] * 1_000_000 / 1e6 / cores, 2),
        "issue_pipeline_load_average_start": pipe["load_average_start"],
        "issue_pipeline_load_average_end": pipe["load_average_end"],
        "issue_pipeline_38_fields_load_average_start": pipe38["load_average_start"],
        "issue_pipeline_38_fields_load_average_end": pipe38["load_average_end"],
        "issue_pipeline_peak_mb": max(pipe["peak_mb"]["self"], pipe["peak_mb"]["workers"]),
        "oz_merkle_tree_100k_s": None if oz_s is None else round(oz_s, 3),
        "ratio_vs_oz_100k": None if oz_s is None else round(oz_s / ours_s, 1),
        # own figures
        "merkle_verify_100k_cpu_s": round(statistics.median(verify_cpu), 3),
        "merkle_1m_build_s": round(m1["build_s"], 3),
        "merkle_1m_proofs_s": round(m1["proofs_s"], 3),
        "merkle_1m_peak_mb_detail": m1["peak_mb"],
        "merkle_1m_cpu_s": round(m1["cpu_s"], 2),
        "issue_pipeline_measured_n": n,
        "issue_pipeline_extrapolated": not long,
        "issue_pipeline_measured_s": round(pipe_s, 3),
        "issue_pipeline_prepare_s": round(pipe["prepare_s"], 3),
        "issue_pipeline_proofs_s": round(pipe["proofs_s"], 3),
        "issue_pipeline_cpu_s": round(pipe["cpu_s"] * factor, 1),
        "issue_pipeline_fields_per_credential": pipe["fields_per_credential"],
        "issue_pipeline_input": "generated in the worker processes, inside the timed window",
        "issue_pipeline_input_generation_s": round(pipe["generate_cpu_s"] * factor, 2),
        "issue_pipeline_input_docs_mb": 0.0,
        "issue_pipeline_parent_base_mb": pipe["base_mb"],
        "issue_pipeline_peak_mb_detail": pipe["peak_mb"],
        "issue_pipeline_1m_38fields_s": round(pipe38_s * factor, 2),
        "issue_pipeline_38fields_peak_mb": max(pipe38["peak_mb"]["self"], pipe38["peak_mb"]["workers"]),
        "issue_pipeline_38fields_cpu_s": round(pipe38["cpu_s"] * factor, 1),
        "issue_pipeline_38fields_fields_per_credential": pipe38["fields_per_credential"],
        "issue_pipeline_38fields_peak_mb_detail": pipe38["peak_mb"],
        "sign_per_credential_wall_us": round(sign["wall_us"], 1),
        "sign_reference_pyld_canonicalisation_us": round(sign["reference_canonical_us"], 1),
        "sign_fast_path_share": round(sign["fast"] / max(1, sign["fast"] + sign["slow"]), 4),
        "sign_load_average": sign["load_average"],
        "issue_pipeline_signed_note": (
            "the microcredential pipeline plus signing every credential, signing measured on one core "
            "and divided over cpu_count processes (files are signed as they are assembled)"
        ),
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "--child":
        if argv[1] == "merkle1m":
            result = _child_merkle_1m()
        elif argv[1] == "signing":
            result = _child_signing(int(argv[2]))
        else:
            result = _child_pipeline(int(argv[2]), argv[3])  # type: ignore[arg-type]
        sys.stdout.write(json.dumps(result))
        return
    sys.stdout.write(json.dumps(run(long="--long" in argv), indent=2) + "\n")


if __name__ == "__main__":
    _main(sys.argv[1:])
