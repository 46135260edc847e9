"""Mutation testing of the verdict-deciding core (issue 16): `make mutation`.

Runs mutmut (configured in pyproject.toml's ``[tool.mutmut]``: which modules are mutated, which
unit tests may kill them) and prints, for each mutated module, how many of its mutants the tests
killed: one JSON object per line, then a table. Exits 1 when the overall share is below the
threshold (90 %), 2 when mutmut itself failed. The surviving mutants are written, each name
followed by its diff, to ``mutants/survivors.txt``; docs/testing.md says why each is harmless.

    python scripts/mutation.py            # fresh run (removes mutants/ first), then the summary
    python scripts/mutation.py --resume   # keep mutants/ (mutmut's copy and test stats); mutants rerun
    python scripts/mutation.py --summary  # only read the results of the last run
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
THRESHOLD = 90.0

#: mutmut's exit codes of a mutant's test run (mutmut/__main__.py ``status_by_exit_code``).
KILLED = {1: "killed", 3: "killed", 37: "killed"}  # 37: caught by the type checker
TIMEOUT = {-24: "timeout", 24: "timeout", 36: "timeout", 152: "timeout", 255: "timeout"}
NOT_RUN = {None: "not checked", 2: "interrupted", 34: "skipped"}


#: The mutants that decide a verdict: every function of the format rules and the credential file;
#: of disclosure.py the reference digest (not the issuer's batch fast path, FieldTails/_Leaf/
#: fresh_digest, proved byte-equal to it by test_perf_equivalence); merkleproof.py, the proof
#: verification (not merkle.py, the issuer's tree building); every per-file check of verify/checks.py (unit
#: tests on hand-made chain records, tests/unit/test_checks.py). docs/testing.md says why.
_DISCLOSURE = (
    "_encode_str",
    "escape_pointer_token",
    "parse_pointer",
    "_walk",
    "_walk_list",
    "flatten",
    "_encode_value",
    "encode_field",
    "field_hash",
    "salt_fields",
    "field_hashes",
    "_parse_hash",
    "_digest_of",
    "digest_version",
    "pointer_hash",
    "digest_v2",
    "compute_digest",
)
SELECTION = (
    "registry.core.filerules.*",
    "registry.core.credfile.*",
    *(f"registry.core.disclosure.x_{name}__mutmut_*" for name in _DISCLOSURE),
    "registry.core.merkleproof.*",
    "registry.verify.checks.*",
)


def _status(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    if code in NOT_RUN:
        return NOT_RUN[code]
    return {0: "survived", 5: "no tests", 33: "no tests"}.get(code, "suspicious")  # type: ignore[arg-type]


def _modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["mutmut"]
    return list(config["only_mutate"])


def _mutmut(*args: str, stdout: TextIO) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mutmut")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.pop("CI", None)  # the node cross-checks skip inside mutants/ (no node_modules there); not a CI failure
    return subprocess.run(
        [str(exe), *args], cwd=ROOT, env=env, text=True, stdout=stdout, stderr=subprocess.STDOUT, check=False
    )


def _diffs(names: list[str]) -> str:
    """Each mutant's name and diff, as ``mutmut show`` prints them (in this process: one import)."""
    from mutmut.__main__ import get_diff_for_mutant
    from mutmut.configuration import Config

    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        Config.ensure_loaded()
        parts = []
        for name in names:
            module = name.split(".x", 1)[0].replace(".", "/") + ".py"
            parts.append(f"## {name}\n{get_diff_for_mutant(name, path=module)}\n")
    finally:
        os.chdir(cwd)
    return "\n".join(parts)


def summarize(*, write_survivors: bool = True) -> tuple[list[dict[str, object]], list[str]]:
    rows: list[dict[str, object]] = []
    survivors: list[str] = []
    for module in _modules():
        meta = MUTANTS / f"{module}.meta"
        codes: dict[str, int | None] = json.loads(meta.read_text("utf-8"))["exit_code_by_key"] if meta.exists() else {}
        counts: dict[str, int] = {}
        for name, code in sorted(codes.items()):
            if not any(fnmatch.fnmatchcase(name, pattern) for pattern in SELECTION):
                continue
            status = _status(code)
            counts[status] = counts.get(status, 0) + 1
            if status in ("survived", "no tests", "suspicious"):
                survivors.append(name)
        killed = counts.get("killed", 0) + counts.get("timeout", 0)
        total = sum(n for s, n in counts.items() if s not in ("skipped",))
        rows.append(
            {
                "module": module,
                "killed": killed,
                "total": total,
                "score": round(100.0 * killed / total, 1) if total else 0.0,
                **{s: n for s, n in sorted(counts.items()) if s not in ("killed",)},
            }
        )
    if write_survivors and MUTANTS.is_dir():
        (MUTANTS / "survivors.txt").write_text(_diffs(survivors), "utf-8")
    return rows, survivors


def report(rows: list[dict[str, object]], seconds: float | None) -> float:
    killed = sum(int(r["killed"]) for r in rows)  # type: ignore[call-overload]
    total = sum(int(r["total"]) for r in rows)  # type: ignore[call-overload]
    score = 100.0 * killed / total if total else 0.0
    for row in rows:
        print(json.dumps(row))
    overall: dict[str, object] = {"module": "overall", "killed": killed, "total": total, "score": round(score, 1)}
    if seconds is not None:
        overall["seconds"] = round(seconds)
    print(json.dumps(overall))
    print()
    print(f"{'module':<32} {'killed':>7} {'total':>6} {'score':>7}")
    for row in [*rows, overall]:
        print(f"{row['module']!s:<32} {row['killed']!s:>7} {row['total']!s:>6} {row['score']!s:>6}%")
    return score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resume", action="store_true", help="keep mutants/ (mutmut's copy, test stats)")
    parser.add_argument("--summary", action="store_true", help="only summarize the last run")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "2")))
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    args = parser.parse_args()

    seconds = None
    if not args.summary:
        if not args.resume and MUTANTS.exists():
            shutil.rmtree(MUTANTS)
        MUTANTS.mkdir(exist_ok=True)
        log = MUTANTS / "run.log"
        print(f"mutmut run --max-children {args.jobs} (progress: mutants/run.log) ...", flush=True)
        start = time.monotonic()
        with log.open("w", encoding="utf-8") as out:
            code = _mutmut("run", "--max-children", str(args.jobs), *SELECTION, stdout=out).returncode
        seconds = time.monotonic() - start
        if code != 0:
            print(log.read_text("utf-8", errors="replace")[-4000:], file=sys.stderr)
            print(f"error: mutmut run exited {code} (log: mutants/run.log)", file=sys.stderr)
            return 2
    rows, survivors = summarize()
    score = report(rows, seconds)
    print(f"\n{len(survivors)} surviving mutants: mutants/survivors.txt (why each is harmless: docs/testing.md)")
    if score < args.threshold:
        print(f"error: {score:.1f} % killed, below {args.threshold:.0f} %", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
