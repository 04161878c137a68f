"""`stagger-bot audit verify` as an operator runs it on a real store: the HMAC chain under
STAGGER_AUDIT_KEY, the head the bot posted as a witness (`--head`), and one read snapshot
while the bot writes. Every process that writes or verifies the trail needs the key."""

from __future__ import annotations

import base64
import io
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry, row_hash
from jobs import audit_head
from tests.support.bot_process import wait_until
from tests.support.spec_data import AUDIT_KEY

EXAMPLE = Path("stagger.example.toml").resolve()
OTHER_KEY = "7e" * 32


def stagger_bot(*arguments: str, db: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))}
    environment.update(
        {"STAGGER_CONFIG": str(EXAMPLE), "STAGGER_DB": str(db), "STAGGER_AUDIT_KEY": AUDIT_KEY}
    )
    environment.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *arguments],
        capture_output=True, text=True, env=environment, check=False, timeout=60,
    )  # fmt: skip


def record(context: BotContext, count: int, action: str = "command.status") -> None:
    for number in range(count):
        context.record(AuditEntry("U0OPS1", "slack", action, "prod", {"n": number}))


def post_the_head(context: BotContext, console: io.StringIO) -> str:
    """The daily audit head post, as the channel shows it; the head it carries."""
    assert audit_head.run(context, context.clock.now())
    heads = re.findall(r"audit head `(\d+:[0-9a-f]+)`", console.getvalue())
    assert heads, console.getvalue()
    return str(heads[-1])


def sql(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path)
    try:
        with connection:
            for statement in statements:
                connection.execute(statement)
    finally:
        connection.close()


def copy_store(source: Path, target: Path) -> None:
    """sqlite3's online backup: what restoring the store from a backup does."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


# -- the head as a witness -------------------------------------------------------------


def test_the_posted_head_verifies_and_so_do_the_entries_written_after_it(
    context: BotContext, console: io.StringIO
) -> None:
    db = context.store.path
    record(context, 4)
    head = post_the_head(context, console)
    record(context, 3)

    result = stagger_bot("audit", "verify", "--head", head, db=db)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit trail OK: 7 row(s), chain intact" in result.stdout
    assert f"it holds the posted head {head} and every later entry chains to it" in result.stdout


def wipe(db: Path, backup: Path) -> None:
    sql(db, "DELETE FROM audit", "DELETE FROM meta WHERE key = 'audit_head'")


def truncate(db: Path, backup: Path) -> None:
    # Careful: the newest rows deleted and the head in meta moved back to the row before.
    sql(
        db,
        "DELETE FROM audit WHERE id > 5",
        "UPDATE meta SET value = (SELECT id || ':' || hash FROM audit WHERE id = 5) "
        "WHERE key = 'audit_head'",
    )


def rehash(db: Path, backup: Path) -> None:
    """An approval re-attributed, and every row re-hashed as the old plain SHA-256 chain:
    all that someone with the store but without the key can do."""
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    with connection:
        connection.execute("UPDATE audit SET actor = 'U0LEAD1' WHERE id = 2")
        prev = "0" * 64
        for row in list(connection.execute("SELECT * FROM audit ORDER BY id")):
            digest = row_hash(prev, dict(row))
            connection.execute(
                "UPDATE audit SET prev_hash = ?, hash = ?, chain = NULL WHERE id = ?",
                (prev, digest, row["id"]),
            )
            last, prev = row["id"], digest
        connection.execute(
            "UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{last}:{prev}",)
        )
    connection.close()


def rewind(db: Path, backup: Path) -> None:
    copy_store(backup, db)  # the store as it was before the last entries


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        pytest.param(wipe, "the trail is empty, but entry 8 was posted as its head", id="wiped"),
        pytest.param(
            truncate, "the trail ends at entry 5, but entry 8 was posted as its head",
            id="truncated",
        ),
        # Re-hashed without the key, the rows are unsigned: that fails even without a head.
        pytest.param(
            rehash, "row 1 is plain SHA-256, not signed with the audit key", id="re-hashed"
        ),
        pytest.param(
            rewind, "the trail ends at entry 4, but entry 8 was posted as its head", id="rewound"
        ),
    ],
)  # fmt: skip
def test_a_trail_tampered_with_after_its_head_was_posted_fails_verify_with_that_head(
    context: BotContext,
    console: io.StringIO,
    tmp_path: Path,
    tamper: Callable[[Path, Path], None],
    why: str,
) -> None:
    db, backup = context.store.path, tmp_path / "backup.db"
    record(context, 4)
    copy_store(db, backup)
    record(context, 4)
    head = post_the_head(context, console)
    assert head.startswith("8:")

    tamper(db, backup)
    # Each of the others passes the chain on its own: only the witness outside the store
    # tells.
    alone = stagger_bot("audit", "verify", db=db)
    assert alone.returncode == (1 if tamper is rehash else 0), alone.stdout + alone.stderr
    result = stagger_bot("audit", "verify", "--head", head, db=db)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "audit trail BROKEN: " + why in result.stdout
    assert "Traceback" not in result.stderr


def test_a_head_not_written_as_posted_is_refused_with_its_form(tmp_path: Path) -> None:
    result = stagger_bot("audit", "verify", "--head", "9f2c", db=tmp_path / "s.db")
    assert result.returncode == 2
    assert "an audit head is ID:HASH as the bot posts it" in result.stderr
    assert "Traceback" not in result.stderr


# -- one snapshot ----------------------------------------------------------------------


def test_verify_while_the_bot_writes_reports_the_trail_intact(context: BotContext) -> None:
    """The rows and the head are read in one snapshot: entries the bot appends while the
    scan runs are not half-seen (before, the head read after the scan was newer than the
    rows, and verify reported BROKEN)."""
    record(context, 3000)
    stop, written = threading.Event(), [0]

    def write() -> None:
        while not stop.is_set():
            record(context, 1, "checkpoint.posted")
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_until(lambda: written[0] > 0, what="the writer's first entry")
        before = written[0]
        result = stagger_bot("audit", "verify", db=context.store.path)
        during = written[0] - before
    finally:
        stop.set()
        writer.join()
    assert during > 0  # the bot did write while verify ran
    assert result.returncode == 0, result.stdout + result.stderr
    assert "chain intact" in result.stdout


# -- the key -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "0"],
        ["socket"],
        ["scheduler"],
        ["cmd", "--user", "U0OPS1", "status"],
        ["kpi", "prod"],
        ["audit", "verify"],
    ],
    ids=lambda command: command[0] if command[0] != "audit" else "audit-verify",
)
def test_every_process_that_writes_or_verifies_the_trail_refuses_to_start_without_its_key(
    tmp_path: Path, command: list[str]
) -> None:
    result = stagger_bot(*command, db=tmp_path / "s.db", STAGGER_AUDIT_KEY="")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "STAGGER_AUDIT_KEY is not set" in result.stderr
    assert 'python3 -c "import secrets; print(secrets.token_hex(32))"' in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s.db").exists()  # refused before it started anything


def test_export_and_check_config_need_no_key(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert stagger_bot("cmd", "--user", "U0OPS1", "rollback prod --reason x", db=db).returncode == 0
    exported = stagger_bot("audit", "export", db=db, STAGGER_AUDIT_KEY="")
    checked = stagger_bot("check-config", db=db, STAGGER_AUDIT_KEY="")
    assert exported.returncode == 0 and '"action": "rollback.requested"' in exported.stdout
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        pytest.param("0123456789abcdef", "STAGGER_AUDIT_KEY is 8 bytes; it needs at least 32",
                     id="short"),
        pytest.param("0123456789abcde", "STAGGER_AUDIT_KEY has an odd number of hex digits",
                     id="odd-hex"),
        pytest.param("not a key at all!", "STAGGER_AUDIT_KEY is neither hex nor base64",
                     id="neither"),
    ],
)  # fmt: skip
def test_a_malformed_key_is_refused_naming_the_problem_and_not_the_key(
    tmp_path: Path, key: str, problem: str
) -> None:
    result = stagger_bot("cmd", "--user", "U0OPS1", "status", db=tmp_path / "s.db",
                         STAGGER_AUDIT_KEY=key)  # fmt: skip
    assert result.returncode == 2 and problem in result.stderr
    assert key not in result.stderr and "Traceback" not in result.stderr


def test_a_base64_key_is_taken_too(tmp_path: Path) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    db = tmp_path / "s.db"
    requested = stagger_bot("cmd", "--user", "U0OPS1", "rollback prod --reason x", db=db,
                            STAGGER_AUDIT_KEY=key)  # fmt: skip
    assert requested.returncode == 0, requested.stderr
    assert stagger_bot("audit", "verify", db=db, STAGGER_AUDIT_KEY=key).returncode == 0
    assert stagger_bot("audit", "verify", db=db).returncode == 1  # another key


def test_after_a_key_rotation_the_old_key_in_old_keys_verifies_the_older_entries(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    stagger_bot("cmd", "--user", "U0OPS1", "rollback prod --reason x", db=db)
    rotated = stagger_bot(
        "cmd", "--user", "U0OPS1", "rollback staging --reason y", db=db,
        STAGGER_AUDIT_KEY=OTHER_KEY,
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr

    without = stagger_bot("audit", "verify", db=db, STAGGER_AUDIT_KEY=OTHER_KEY)
    assert without.returncode == 1
    assert "give the key that wrote it in STAGGER_AUDIT_OLD_KEYS" in without.stdout
    with_old = stagger_bot(
        "audit", "verify", db=db, STAGGER_AUDIT_KEY=OTHER_KEY, STAGGER_AUDIT_OLD_KEYS=AUDIT_KEY
    )
    assert with_old.returncode == 0, with_old.stdout
    assert "audit trail OK: 3 row(s)" in with_old.stdout  # request, the rotation, request
    # A process still on the retired key is told to restart rather than fork the chain.
    stale = stagger_bot("cmd", "--user", "U0OPS1", "rollback prod --reason z", db=db)
    assert stale.returncode == 1 and "was retired at audit row 2: restart it" in stale.stdout
