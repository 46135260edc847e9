"""Subprocesses at the test session's clock.

``REGISTRY_TEST_CLOCK`` moves this process's clock (tests/conftest.py, time-machine); a worker
or webhook sender a test starts in its own process must see the same time, or it judges leases,
batch windows and backoff deadlines by another calendar than the rows the test wrote.
:func:`python` builds the command line: plain ``python ARGS`` normally, and under a moved clock
``python tests/clock.py EPOCH ARGS`` (this file as a script), which moves the child's clock to
the parent's current time, ticking, before running ``ARGS`` (``-m module``, ``-c code`` or a
script) as ``python`` would.
"""

from __future__ import annotations

import os
import runpy
import sys
import time

__all__ = ["python"]


def python(*args: str) -> list[str]:
    """The command running ``python *args`` at this process's (possibly moved) time."""
    if not os.environ.get("REGISTRY_TEST_CLOCK"):
        return [sys.executable, *args]
    return [sys.executable, os.path.abspath(__file__), repr(time.time()), *args]


def _run(epoch: str, args: list[str]) -> None:
    import time_machine

    time_machine.travel(float(epoch), tick=True).start()
    if args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    elif args[0] == "-c":
        sys.argv = ["-c", *args[2:]]
        sys.path.insert(0, "")
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    # Run as a script, sys.path[0] is tests/: put the working directory first, as `python -m` does.
    sys.path[0] = os.getcwd()
    _run(sys.argv[1], sys.argv[2:])
