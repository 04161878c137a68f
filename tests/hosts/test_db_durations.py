"""Each completed run's duration from the app's job table (the judge's samples), against
the machine's real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from bot.core.run_samples import RunDuration
from bot.core.spec_fleet import DatabaseSpec
from bot.hosts.db_source import DatabaseUnavailable, db_durations
from bot.store.run_durations import RunDurations
from bot.store.store import Store
from tests.support.job_table import DSN, JobTable

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_every_completed_run_started_in_the_window_comes_with_its_duration(
    job_table: JobTable,
) -> None:
    at = T0 + timedelta(seconds=5, microseconds=250_000)
    job_table.add("Live Stats Sync", at, 1250.5, "completed", None)
    job_table.add("Live Stats Sync", T0 + timedelta(minutes=1), 3000, "failed", "timeout")
    job_table.add("Badge Auto-Unlock", T0, 500, "completed", None)
    job_table.add("Badge Auto-Unlock", T0 + timedelta(minutes=2), None, "running", None)
    job_table.add("Badge Auto-Unlock", T0 - timedelta(seconds=1), 400, "completed", None)
    job_table.add("Badge Auto-Unlock", T0 + HOUR, 600, "completed", None)

    runs = db_durations(DSN, job_table.spec, T0, T0 + HOUR)

    assert runs == [
        RunDuration("Badge Auto-Unlock", T0, 500.0),
        RunDuration("Live Stats Sync", at, 1250.5),
        RunDuration("Live Stats Sync", T0 + timedelta(minutes=1), 3000.0),
    ]
    assert all(run.started_at.tzinfo is not None for run in runs)


def test_a_start_column_without_a_zone_is_read_in_the_zone_the_window_is_compared_in(
    job_table: JobTable,
) -> None:
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(
            f"ALTER TABLE {job_table.spec.table} ALTER COLUMN started_at TYPE timestamp, "
            "ALTER COLUMN completed_at TYPE timestamp"
        )
        connection.execute(
            f"INSERT INTO {job_table.spec.table} (job_name, started_at, completed_at, status) "
            "VALUES ('Live Stats Sync', '2026-02-01 12:05:00', '2026-02-01 12:05:00.8', "
            "'completed')"
        )
    berlin = make_conninfo(DSN, options="-c timezone=Europe/Berlin")

    # 12:05 in Berlin is 11:05 UTC: in the window from 11:00 UTC, and said so.
    runs = db_durations(berlin, job_table.spec, T0 - HOUR, T0 - timedelta(minutes=30))

    assert [(run.started_at, run.duration_ms) for run in runs] == [
        (T0 - timedelta(minutes=55), 800.0)
    ]
    assert db_durations(berlin, job_table.spec, T0, T0 + HOUR) == []


def test_an_unreachable_database_is_unavailable_without_its_password() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        db_durations("postgresql://app:hunter2@127.0.0.1:1/goalgpt", DatabaseSpec(), T0, T0)
    assert "hunter2" not in str(caught.value)
    assert "connect" in str(caught.value).lower() or "refused" in str(caught.value).lower()


def test_a_missing_table_is_named(job_table: JobTable) -> None:
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        db_durations(DSN, DatabaseSpec(table="no_such_table_stagger"), T0, T0 + HOUR)


def test_a_slow_database_hits_the_statement_timeout(job_table: JobTable) -> None:
    slow_view = job_table.spec.table.split(".")[0] + ".slow_jobs"
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(
            f"CREATE VIEW {slow_view} AS SELECT l.* FROM {job_table.spec.table} l, pg_sleep(2)"
        )
    job_table.add("Live Stats Sync", T0, 100, "completed", None)
    slow = DatabaseSpec(table=slow_view, statement_timeout_ms=200)
    with pytest.raises(DatabaseUnavailable, match="statement_timeout"):
        db_durations(DSN, slow, T0, T0 + HOUR)


def test_runs_of_a_job_started_in_the_same_second_on_two_hosts_are_both_kept(
    job_table: JobTable, tmp_path: Path
) -> None:
    # Two hosts run Live Stats Sync at :45 of the same minute; the table keeps seconds.
    started = datetime(2026, 2, 1, 12, 0, 45, tzinfo=UTC)
    job_table.add("Live Stats Sync", started, 900, "completed", None)
    job_table.add("Live Stats Sync", started, 1400, "completed", None)
    window = (started - timedelta(minutes=1), started + timedelta(minutes=1))
    rows = db_durations(DSN, job_table.spec, *window)
    store = Store(tmp_path / "stagger.db")
    kept = RunDurations(store)
    assert kept.save("prod", "database", rows) == 2
    assert kept.save("prod", "database", db_durations(DSN, job_table.spec, *window)) == 0
    assert sorted(kept.between("prod", *window)["Live Stats Sync"]) == [900.0, 1400.0]
