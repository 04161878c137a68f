"""The store's schema: a fresh store is made whole, an older one is migrated once, at start,
and keeps everything it held; a store from a newer stagger-bot is refused."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.approvals import ApprovalRequest, Status
from bot.core.audit_key import parse_keys
from bot.core.errors import StoreError
from bot.core.log_cursor import LogCursor
from bot.core.phase_record import ROLLED_BACK, SUCCEEDED, Entry
from bot.core.run_samples import RunDuration
from bot.store.audit import AuditEntry, AuditTrail
from bot.store.baselines import Baselines
from bot.store.check_schedule import CheckSchedule
from bot.store.checkpoints import Checkpoints
from bot.store.event_log import EventLog
from bot.store.executions import Executions
from bot.store.run_durations import RunDurations
from bot.store.schema import MIGRATIONS, SCHEMA_VERSION
from bot.store.store import EnvState, Store
from bot.store.tables import TABLES
from bot.store.timeline import Timeline
from tests.support.other_process import HOLD_THE_LOCK, another_process
from tests.support.spec_data import AUDIT_KEY

# Made by `stagger-bot rehearse --keep DIR` at commit 93ffdc3 (schema version 1); see data/.
STORE_93FFDC3 = Path(__file__).parent / "data" / "store-93ffdc3.db"
AFTER_THE_REHEARSAL = datetime(2026, 2, 13, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
KEYS = parse_keys(AUDIT_KEY, None)


def sql(path: Path, statement: str, *args: object) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        with connection:
            return list(connection.execute(statement, args))
    finally:
        connection.close()


def stored_version(path: Path) -> int:
    rows = sql(path, "SELECT value FROM meta WHERE key = 'schema_version'")
    assert len(rows) == 1
    return int(str(rows[0][0]))


def ddl_generation(path: Path) -> int:
    """SQLite's schema cookie: it moves with every CREATE, ALTER and DROP."""
    return int(str(sql(path, "PRAGMA schema_version")[0][0]))


def columns_of(path: Path, table: str) -> list[tuple[str, str, int]]:
    """(name, declared type, position in the primary key) of each column, in order."""
    rows = sql(path, f"PRAGMA table_info([{table}])")
    return [(str(row[1]), str(row[2]).lower(), int(str(row[5]))) for row in rows]


def index_names(path: Path) -> set[str]:
    rows = sql(path, "SELECT name FROM sqlite_master WHERE type = 'index'")
    return {str(name) for (name,) in rows if not str(name).startswith("sqlite_autoindex")}


def a_copy_of_the_93ffdc3_store(tmp_path: Path) -> Path:
    path = tmp_path / "stagger.db"
    shutil.copyfile(STORE_93FFDC3, path)
    return path


def test_a_fresh_store_has_every_table_of_the_registry_at_the_current_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    Store(path)

    assert stored_version(path) == SCHEMA_VERSION
    for table in TABLES:
        assert columns_of(path, table.name) == [
            (column.name, column.type, table.primary_key.index(column.name) + 1)
            if column.name in table.primary_key
            else (column.name, column.type, 0)
            for column in table.columns
        ], table.name
    assert index_names(path) == {
        index.name(table.name) for table in TABLES for index in table.indexes
    }


def test_the_migrations_run_one_version_after_another_up_to_the_current_one() -> None:
    assert [migration.version for migration in MIGRATIONS] == list(range(2, SCHEMA_VERSION + 1))


def test_a_generated_key_is_assigned_to_a_row_that_leaves_it_out(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    timeline = Timeline(store)
    first = timeline.enter(Entry("staging-baseline", "staging", NOW, "ended"), None)
    second = timeline.enter(Entry("staging-stagger", "staging", NOW, "passed"), first.id)
    assert (first.id, second.id) == (1, 2)
    assert [record.ended_how for record in timeline.history()] == ["passed", ""]


def test_reopening_a_store_migrates_nothing_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    store.set_env_state(EnvState("prod", "prod-baseline", False, NOW))
    AuditTrail(store, keys=KEYS).record(AuditEntry("U0OPS1", "slack", "command.status"), NOW)
    generation = ddl_generation(path)

    again = Store(path)
    and_again = Store(path)

    assert ddl_generation(path) == generation
    assert stored_version(path) == SCHEMA_VERSION
    assert sql(path, "SELECT count(*) FROM meta WHERE key = 'schema_version'") == [(1,)]
    assert again.env_state("prod") == EnvState("prod", "prod-baseline", False, NOW)
    assert AuditTrail(and_again, keys=KEYS).verify().rows_checked == 1


def test_opening_a_current_store_needs_no_writer_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).set_env_state(EnvState("prod", "prod-baseline", False, NOW))
    with another_process(HOLD_THE_LOCK, path):
        opened = Store(path, busy_timeout_s=0.2)
        assert opened.env_state("prod").phase == "prod-baseline"


def test_stores_opened_at_once_on_a_new_file_make_the_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    barrier = threading.Barrier(6)
    failures: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            Store(path)
        except BaseException as error:  # reported by the assert below
            failures.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert stored_version(path) == SCHEMA_VERSION


def test_a_store_made_by_93ffdc3_opens_and_keeps_its_rollout_and_audit_trail(
    tmp_path: Path,
) -> None:
    path = a_copy_of_the_93ffdc3_store(tmp_path)
    assert stored_version(path) == 1

    store = Store(path)
    timeline, audit = Timeline(store), AuditTrail(store, keys=KEYS)

    assert stored_version(path) == SCHEMA_VERSION
    history = timeline.history()
    assert [record.phase for record in history] == [
        "staging-baseline",
        "staging-stagger",
        "prod-baseline",
        "prod-stagger",
        SUCCEEDED,
    ]
    current = timeline.current()
    assert current is not None and current.phase == SUCCEEDED and current.id == 5
    assert store.env_state("staging").phase == "staging-stagger"
    assert store.env_state("prod") == EnvState(
        "prod", "prod-stagger", True, datetime(2026, 2, 5, 7, 35, tzinfo=UTC)
    )
    approvals = store.requests_in(Status.SUCCEEDED)
    assert len(approvals) == 4
    assert all(isinstance(request, ApprovalRequest) for request in approvals)
    assert {request.env for request in approvals} == {"staging", "prod"}
    assert all(
        row[0] for row in sql(path, "SELECT executor FROM approvals WHERE status = 'succeeded'")
    )
    verified = audit.verify(plain_until=55)
    assert verified.ok and verified.rows_checked == 55
    # The other repositories read what the rehearsal left.
    assert [check.status for check in CheckSchedule(store).of_phase(4)] == ["done"] * 3
    assert Baselines(store).latest("prod") is not None
    assert Checkpoints(store).latest("prod") is not None
    cursors = sql(path, "SELECT env, host, path FROM log_cursors ORDER BY env, host")
    env, host, log_path = (str(value) for value in cursors[0])
    cursor = EventLog(store).cursor(env, host, log_path)
    assert isinstance(cursor, LogCursor) and cursor.head is not None

    # It takes new writes, and the chain still holds.
    row = audit.record(AuditEntry("U0OPS1", "cli", "command.status", "prod"), AFTER_THE_REHEARSAL)
    rolled_back = timeline.enter(
        Entry(ROLLED_BACK, "prod", AFTER_THE_REHEARSAL, "rolled back"), current.id
    )
    assert row == 57 and rolled_back.id == 6  # 56 marks where the keyed chain begins
    assert [record.phase for record in Timeline(Store(path)).history()][-2:] == [
        SUCCEEDED,
        ROLLED_BACK,
    ]
    verified = AuditTrail(Store(path), keys=KEYS).verify(plain_until=55)
    assert verified.ok and verified.rows_checked == 57


def test_a_migrated_store_is_not_migrated_again(tmp_path: Path) -> None:
    path = a_copy_of_the_93ffdc3_store(tmp_path)
    Store(path)
    generation = ddl_generation(path)
    Store(path)
    assert ddl_generation(path) == generation
    assert AuditTrail(Store(path), keys=KEYS).verify(plain_until=55).rows_checked == 55


def test_a_store_from_a_newer_stagger_bot_is_refused_naming_both_versions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    Store(path)
    newer = SCHEMA_VERSION + 1
    sql(path, "UPDATE meta SET value = ? WHERE key = 'schema_version'", str(newer))
    generation = ddl_generation(path)

    with pytest.raises(StoreError) as refused:
        Store(path)

    assert str(refused.value) == (
        f"the store at {path} was written by a newer stagger-bot "
        f"(schema {newer}; this one knows {SCHEMA_VERSION})"
    )
    assert ddl_generation(path) == generation
    assert stored_version(path) == newer


# The first version 1 stores, as the oldest code made them: before the executor, the
# runner, the cursor's head and the breach reminders; log events indexed by (env, at).
OLDEST_V1 = """
PRAGMA journal_mode = WAL;
CREATE TABLE "env_state" ("env" TEXT PRIMARY KEY, "phase" TEXT, "stagger_enabled" INTEGER,
    "since" TEXT, "disabled_jobs" TEXT, "note" TEXT);
CREATE TABLE "approvals" ("id" TEXT PRIMARY KEY, "action" TEXT, "env" TEXT, "args" TEXT,
    "requester" TEXT, "reason" TEXT, "created_at" TEXT, "expires_at" TEXT,
    "required" INTEGER, "status" TEXT, "approved_by" TEXT, "decided_by" TEXT,
    "decided_at" TEXT, "channel" TEXT, "message_ts" TEXT, "outcome" TEXT);
CREATE INDEX "idx_approvals_env_status" ON "approvals" ("env", "status");
CREATE TABLE "seen_requests" ("key" TEXT PRIMARY KEY, "at" TEXT);
CREATE TABLE "meta" ("key" TEXT PRIMARY KEY, "value" TEXT);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE "log_cursors" ("env" TEXT, "host" TEXT, "path" TEXT, "inode" INTEGER,
    "offset" INTEGER, PRIMARY KEY ("env", "host", "path"));
CREATE TABLE "log_events" ("env" TEXT, "host" TEXT, "at" TEXT, "kind" TEXT, "job" TEXT,
    "value" REAL);
CREATE INDEX "idx_log_events_env_at" ON "log_events" ("env", "at");
CREATE TABLE "breaches" ("id" INTEGER PRIMARY KEY, "env" TEXT, "key" TEXT,
    "opened_at" TEXT, "closed_at" TEXT, "detail" TEXT, "message_ts" TEXT);
CREATE INDEX "idx_breaches_env_key_closed_at" ON "breaches" ("env", "key", "closed_at");
CREATE TABLE "scheduled_checks" ("id" INTEGER PRIMARY KEY, "env" TEXT, "phase_id" INTEGER,
    "label" TEXT, "due_at" TEXT, "thread_ts" TEXT, "status" TEXT, "result" TEXT);
CREATE INDEX "idx_scheduled_checks_status_due_at" ON "scheduled_checks" ("status", "due_at");
INSERT INTO approvals VALUES ('RABCDE', 'rollback', 'prod', '{}', 'U0OPS1', 'pool at 90%',
    '2026-02-01T12:00:00Z', '2026-02-01T12:30:00Z', 1, 'pending', '[]', NULL, NULL, NULL,
    NULL, '');
INSERT INTO scheduled_checks VALUES (1, 'prod', 1, '+5 min', '2026-02-01T12:05:00Z', NULL,
    'pending', '');
INSERT INTO log_cursors VALUES ('prod', 'app@prod-1', '/srv/app/logs/combined.log', 7, 120);
"""


def test_a_version_1_store_without_the_ad_hoc_columns_gets_them_on_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    connection = sqlite3.connect(path)
    connection.executescript(OLDEST_V1)
    connection.close()

    store = Store(path)

    assert stored_version(path) == SCHEMA_VERSION
    assert "executor" in [name for name, _, _ in columns_of(path, "approvals")]
    assert "runner" in [name for name, _, _ in columns_of(path, "scheduled_checks")]
    assert "head" in [name for name, _, _ in columns_of(path, "log_cursors")]
    assert "reminded_at" in [name for name, _, _ in columns_of(path, "breaches")]
    assert "idx_log_events_env_host_at" in index_names(path)
    assert "idx_log_events_env_at" not in index_names(path)
    assert {table.name for table in TABLES} <= {
        str(name) for (name,) in sql(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    # What was there reads as before, and what needs the new columns works.
    request = store.request("RABCDE")
    assert request is not None and request.status is Status.PENDING
    lapsed = datetime.now(UTC) - timedelta(seconds=1)
    executions = Executions(store)
    assert executions.claim("RABCDE", (Status.PENDING,), lease_until=lapsed).claimed
    lease = executions.lease_of("RABCDE")
    assert lease is not None and lease.owner and lease.lapsed(datetime.now(UTC))
    schedule = CheckSchedule(store)
    assert schedule.claim(1, lapsed) and schedule.release_lapsed(datetime.now(UTC)) == 1
    events = EventLog(store)
    assert events.cursor("prod", "app@prod-1", "/srv/app/logs/combined.log") == LogCursor(7, 120)
    assert events.append(
        "prod",
        "app@prod-1",
        "/srv/app/logs/combined.log",
        [],
        LogCursor(7, 180, 42),
        after=LogCursor(7, 120),
    )
    assert events.cursor("prod", "app@prod-1", "/srv/app/logs/combined.log") == LogCursor(
        7, 180, 42
    )
    assert AuditTrail(store, keys=KEYS).record(AuditEntry("bot", "bot", "store.opened"), NOW) == 1
    assert Timeline(store).enter(Entry("staging-baseline", "staging", NOW, "ended"), None).id == 1


def test_a_version_1_store_that_cannot_be_upgraded_now_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    connection = sqlite3.connect(path)
    connection.executescript(OLDEST_V1)
    connection.close()
    generation = ddl_generation(path)

    with another_process(HOLD_THE_LOCK, path), pytest.raises(StoreError, match="locked"):
        Store(path, busy_timeout_s=0.2)

    assert ddl_generation(path) == generation
    assert stored_version(path) == 1
    assert Store(path).request("RABCDE") is not None
    assert stored_version(path) == SCHEMA_VERSION


def test_a_store_made_by_93ffdc3_keeps_run_durations_once_opened(tmp_path: Path) -> None:
    path = a_copy_of_the_93ffdc3_store(tmp_path)
    assert "run_durations" not in {
        str(name) for (name,) in sql(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }

    durations = RunDurations(Store(path))
    runs = [RunDuration("Live Stats Sync", NOW, 1200.0)]

    assert stored_version(path) == SCHEMA_VERSION
    assert durations.save("prod", "database", runs) == 1
    assert durations.save("prod", "database", runs) == 0
    assert RunDurations(Store(path)).between("prod", NOW, NOW + timedelta(hours=1)) == {
        "Live Stats Sync": [1200.0]
    }
    assert Timeline(Store(path)).current() is not None


def test_a_version_6_store_gets_the_run_durations_table_on_open(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).set_env_state(EnvState("prod", "prod-baseline", False, NOW))
    sql(path, "DROP TABLE run_durations")
    sql(path, "UPDATE meta SET value = '6' WHERE key = 'schema_version'")

    store = Store(path)

    assert stored_version(path) == SCHEMA_VERSION
    assert RunDurations(store).save("prod", "database", [RunDuration("Live", NOW, 1.0)]) == 1
    assert store.env_state("prod").phase == "prod-baseline"


def test_a_version_8_store_gets_the_approvals_plan_column_and_its_requests_read_unpinned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    request = ApprovalRequest(
        "RPLAN8", "rollback", "prod", {}, "U0OPS1", "pool at 90%",
        NOW, NOW + timedelta(minutes=30), 1,
    )  # fmt: skip
    Store(path).add_request(request)
    sql(path, "ALTER TABLE approvals DROP COLUMN plan")
    sql(path, "UPDATE meta SET value = '8' WHERE key = 'schema_version'")

    store = Store(path)

    assert stored_version(path) == SCHEMA_VERSION
    assert "plan" in {str(row[1]) for row in sql(path, "PRAGMA table_info(approvals)")}
    kept = store.request("RPLAN8")
    assert kept is not None and kept.plan is None and kept.reason == "pool at 90%"
