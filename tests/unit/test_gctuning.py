"""The garbage-collector settings of bulk-verifying processes (registry.gctuning), in a fresh
interpreter each (the test process's own collector is left alone)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from registry import gctuning
before = gc.get_threshold()
gctuning.tune()
frozen = gc.get_freeze_count()
gc.set_threshold(1234, 5, 6)
gctuning.tune()  # a second call changes nothing
print(json.dumps({"before": before, "frozen": frozen, "after": gc.get_threshold(), "enabled": gc.isenabled()}))
"""


def test_tune_freezes_start_up_objects_and_raises_the_young_threshold_once() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    assert got["before"][0] == 700  # CPython's default, which tune() replaces
    assert got["frozen"] > 1000  # the imports' objects are in the permanent generation
    assert got["after"] == [1234, 5, 6]  # the second call left the settings alone
    assert got["enabled"] is True  # cycles are still collected


def test_a_disabled_young_generation_stays_disabled() -> None:
    probe = "import gc\ngc.set_threshold(0)\nfrom registry import gctuning\ngctuning.tune()\n"
    probe += "print(gc.get_threshold()[0])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"


def test_the_cli_runs_tuned() -> None:
    probe = (
        "import gc, sys; sys.argv = ['registry', '--help']\n"
        "from registry.cli import app\n"
        "try:\n    app.main()\nexcept SystemExit:\n    pass\n"
        "print('THRESHOLD', gc.get_threshold()[0], gc.get_freeze_count() > 0)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "THRESHOLD 20000 True" in out
