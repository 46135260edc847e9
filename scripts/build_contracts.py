#!/usr/bin/env python3
"""Compile contracts/ with the pinned solc (py-solc-x, offline shim) into registry/artifacts/.

Each artifact holds the ABI, creation and runtime bytecode and the exact compiler input
settings, so anyone (the auditor's bytecode check included) can reproduce the deployed code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.chain.artifacts import COMPILER_SETTINGS, SOLC_VERSION, compile_sources  # noqa: E402


def build(out_dir: Path) -> dict[str, Any]:
    """Compile every contract under contracts/ and write one JSON artifact per contract."""
    output = compile_sources(ROOT)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {}
    for source, contracts in sorted(output["contracts"].items()):
        if not source.startswith("contracts/"):
            continue
        for name, data in sorted(contracts.items()):
            artifact = {
                "contractName": name,
                "sourceName": source,
                "compiler": {"version": SOLC_VERSION, "settings": COMPILER_SETTINGS},
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
            }
            text = json.dumps(artifact, indent=2, sort_keys=True) + "\n"
            (out_dir / f"{name}.json").write_text(text)
            written[name] = hashlib.sha256(text.encode()).hexdigest()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "registry" / "artifacts")
    args = parser.parse_args()
    written = build(args.out)
    for name, digest in written.items():
        print(f"built {name} (sha256 {digest[:16]}) -> {args.out / (name + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
