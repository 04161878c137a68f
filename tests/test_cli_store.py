"""`stagger-bot store migrate` as an operator runs it, the bot stopped: a recorded
rollout's SQLite store copied whole into PostgreSQL, where `audit verify` passes and the
bot goes on numbering rows; refused while a process holds the store, and into a store
that already holds something."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store.leadership import AdvisoryLockLeadership
from bot.store.lease import Lease
from bot.store.store import Store
from bot.store.tables import TABLES, quoted
from tests.support.recorded_rollout import RecordedRollout, recorded_rollout
from tests.support.store_backends import StoreFactory


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedRollout:
    return recorded_rollout(tmp_path_factory)


@pytest.fixture
def stopped_bots_store(recorded: RecordedRollout, tmp_path: Path) -> Path:
    """A copy of the recorded store: the tests change theirs, never the shared one."""
    path = tmp_path / "stagger.db"
    shutil.copyfile(recorded.store, path)
    return path


def stagger_bot(
    *arguments: str, key: str, db: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))}
    environment["STAGGER_AUDIT_KEY"] = key
    if db is not None:
        environment["STAGGER_DB"] = db
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *arguments],
        capture_output=True, text=True, env=environment, check=False, timeout=120,
    )  # fmt: skip


def every_row(store: Store) -> dict[str, list[tuple[object, ...]]]:
    rows = {}
    for table in TABLES:
        names = ", ".join(quoted(column.name) for column in table.columns)
        found = store.read().execute(f"SELECT {names} FROM {quoted(table.name)}").fetchall()
        rows[table.name] = sorted((tuple(row) for row in found), key=repr)
    return rows


def test_a_recorded_rollout_moves_to_postgresql_whole_and_its_audit_trail_verifies_there(
    recorded: RecordedRollout, stopped_bots_store: Path, pg_store: StoreFactory, tmp_path: Path
) -> None:
    target = str(pg_store.location)
    moved = stagger_bot(
        "store", "migrate", "--from", str(stopped_bots_store), "--to", target,
        key=recorded.audit_key,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    assert "audit trail on the copy OK: 61 row(s), chain intact" in moved.stdout
    assert "audit 61" in moved.stdout and "log_events 18512" in moved.stdout

    verified = stagger_bot("audit", "verify", key=recorded.audit_key, db=target)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit trail OK: 61 row(s), chain intact" in verified.stdout
    exported = stagger_bot("audit", "export", "--format", "jsonl", key="", db=target)
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["id"] for line in exported.stdout.splitlines()] == list(range(1, 62))
    source, copy = Store(stopped_bots_store), pg_store()
    try:
        assert every_row(copy) == every_row(source)
    finally:
        source.close()
    # The bot goes on numbering after the copied rows, as it would have on SQLite.
    with copy.transaction() as db:
        phases = db.table("phase_history")
        phases.insert({"phase": "done", "env": "prod", "started_at": "2026-02-02T00:00:00Z"})
    assert phases.last_pk == 6

    back = stagger_bot(
        "store", "migrate", "--from", target, "--to", str(tmp_path / "back.db"),
        key=recorded.audit_key,
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert "audit trail on the copy OK: 61 row(s)" in back.stdout


def test_a_store_a_running_bot_holds_is_not_migrated(
    recorded: RecordedRollout, stopped_bots_store: Path, pg_store: StoreFactory
) -> None:
    holding = Store(stopped_bots_store)
    assert Lease(holding, "web-1:4242").hold(datetime.now(UTC))
    holding.close()
    refused = stagger_bot(
        "store", "migrate", "--from", str(stopped_bots_store), "--to", str(pg_store.location),
        key=recorded.audit_key,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "a process holds the store" in refused.stderr
    assert "web-1:4242" in refused.stderr and "stop the bot first" in refused.stderr
    assert pg_store().select("audit") == []


def test_a_target_that_holds_anything_is_refused_and_kept_as_it_was(
    recorded: RecordedRollout, stopped_bots_store: Path, pg_store: StoreFactory
) -> None:
    pg_store().first_time("trigger:already-here", datetime.now(UTC))
    refused = stagger_bot(
        "store", "migrate", "--from", str(stopped_bots_store), "--to", str(pg_store.location),
        key=recorded.audit_key,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "is not empty (its seen_requests has rows)" in refused.stderr
    assert [row["key"] for row in pg_store().select("seen_requests")] == ["trigger:already-here"]
    assert pg_store().select("audit") == []


def test_a_source_that_does_not_exist_is_named(recorded: RecordedRollout, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    refused = stagger_bot(
        "store", "migrate", "--from", str(missing), "--to", str(tmp_path / "to.db"),
        key=recorded.audit_key,
    )  # fmt: skip
    assert refused.returncode == 1
    assert f"no store at {missing} to migrate from" in refused.stderr
    assert not missing.exists()


def test_a_postgresql_store_whose_scheduler_a_replica_leads_is_not_migrated(
    recorded: RecordedRollout, pg_store: StoreFactory, tmp_path: Path
) -> None:
    """On PostgreSQL the leader holds an advisory lock and never writes the lease: that
    lock is what says a bot is running."""
    pg_store().first_time("trigger:live", datetime.now(UTC))
    leader = AdvisoryLockLeadership(str(pg_store.location), "web-2:77")
    try:
        assert leader.hold(datetime.now(UTC))
        refused = stagger_bot(
            "store", "migrate", "--from", str(pg_store.location),
            "--to", str(tmp_path / "copy.db"), key=recorded.audit_key,
        )  # fmt: skip
    finally:
        leader.close()
    assert refused.returncode == 1
    assert "a process holds the store" in refused.stderr and "web-2:77" in refused.stderr
    assert not (tmp_path / "copy.db").exists() or Store(tmp_path / "copy.db").select("audit") == []
