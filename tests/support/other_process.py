"""Another process on the bot's store, for the tests of what several processes do to one
store: it takes something (a claim, the store's lock), says "ready", and holds it until
the test's block ends; then it exits without finishing, as a killed process would."""

from __future__ import annotations

import contextlib
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

# Another process of the bot (the scheduler beside `serve`) claims a request to execute.
CLAIM_EXECUTION = """
import sys
from bot.core.approvals import Status
from bot.store.store import Store
store = Store(sys.argv[1])
assert store.transition(sys.argv[2], (Status.PENDING,), Status.EXECUTING)
"""

# Another process's scheduler claims a validation check to run.
CLAIM_CHECK = """
import sys
from bot.store.check_schedule import CheckSchedule
from bot.store.store import Store
assert CheckSchedule(Store(sys.argv[1])).claim(int(sys.argv[2]))
"""

# Another process holds the store's write lock.
HOLD_THE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
"""

_THEN_HOLD = '\nprint("ready", flush=True)\nsys.stdin.read()\n'


@contextlib.contextmanager
def another_process(script: str, store: Path, *arguments: str) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-c", script + _THEN_HOLD, str(store), *arguments],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready and process.stdout.readline() == "ready\n", "the other process failed"
        yield
    finally:
        try:
            process.communicate("", timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
