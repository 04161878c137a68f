"""The store locked by another process: commands that only read still answer, one that
must write says the store is locked, nothing is half-done, and all works once it is free."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.conftest import OPERATOR, Bot

HOLD_THE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""


def test_a_store_locked_by_another_process_is_named_and_nothing_half_done(
    bot_factory: Any,
) -> None:
    bot: Bot = bot_factory(db_busy_timeout_s=0.5)
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(bot.store.path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert other.stdout is not None and other.stdout.readline() == "locked\n"
        status = bot.command(OPERATOR, "status prod")
        assert status.status == 200 and "*prod* — phase *not started*" in status.json()["text"]

        refused = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")

        assert refused.status == 200
        text = refused.json()["text"]
        assert "is locked or unwritable" in text and str(bot.store.path) in text
        assert "Traceback" not in text
    finally:
        other.communicate("")
    assert bot.store.open_requests() == []
    accepted = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()["text"]
    assert bot.request_id_from(accepted) in [r.id for r in bot.store.open_requests()]
