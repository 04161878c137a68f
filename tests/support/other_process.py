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

# Another process of the bot (the scheduler beside `serve`) claims a request to execute
# and keeps its lease (one second) alive while it runs, as an executing bot does.
CLAIM_EXECUTION = """
import sys, threading
from datetime import UTC, datetime, timedelta
from bot.core.approvals import Status
from bot.store.executions import Executions
from bot.store.store import Store
executions = Executions(Store(sys.argv[1]))
def lease():
    return datetime.now(UTC) + timedelta(seconds=1)
assert executions.claim(sys.argv[2], (Status.PENDING,), lease_until=lease()).claimed
def renew():
    while True:
        threading.Event().wait(0.1)
        executions.renew(sys.argv[2], lease())
threading.Thread(target=renew, daemon=True).start()
"""

# Another process's scheduler claims a validation check to run, for a few seconds.
CLAIM_CHECK = """
import sys
from datetime import UTC, datetime, timedelta
from bot.store.check_schedule import CheckSchedule
from bot.store.store import Store
lease = datetime.now(UTC) + timedelta(seconds=5)
assert CheckSchedule(Store(sys.argv[1])).claim(int(sys.argv[2]), lease)
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
