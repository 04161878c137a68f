"""The judge's samples of a window: an env's completed runs from its database, kept in the
store so a window the database has lost (or a database that is down) is still judged from
what was read before; from the log for an env without a database."""

from __future__ import annotations

import io
from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from bot.core.clock import ManualClock
from bot.core.log_cursor import LogCursor
from bot.core.log_lines import EventKind, LogEvent
from bot.core.spec import parse_spec
from bot.hosts.local_transport import LocalTransport
from bot.rollout.context import BotContext
from bot.rollout.replay_context import ReplayContext
from bot.rollout.samples import duration_samples
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.poster import ConsolePoster
from bot.store.event_log import EventLog
from tests.support.job_table import DSN, JobTable
from tests.support.spec_data import AUDIT_KEY, START, make_app_dir, spec_data

LIVE, BADGE = "Live Stats Sync", "Badge Auto-Unlock"
WINDOW = (START, START + timedelta(hours=1))
CLOSED = "postgresql://app:hunter2@127.0.0.1:1/test"


@pytest.fixture
def samples_context(job_table: JobTable, tmp_path: Path, clock: ManualClock) -> BotContext:
    """prod reads this test's job table; staging names no database (its log stands)."""
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        ["sim@prod-1.example.com"], app, known_hosts=tmp_path / "kh", key_file=tmp_path / "k"
    )
    data["database"] = {"table": job_table.spec.table}
    del data["environments"]["staging"]["database_url_env"]
    settings = Settings.from_environ(
        {"STAGGER_DB": str(tmp_path / "s.db"), "PROD_DATABASE_URL": DSN,
         "STAGGER_AUDIT_KEY": AUDIT_KEY}
    )  # fmt: skip
    return build_context(
        settings, parse_spec(data), transport=LocalTransport(),
        poster=ConsolePoster(io.StringIO()), clock=clock,
    )  # fmt: skip


def with_dsn(context: BotContext, dsn: str | None) -> BotContext:
    return replace(
        context, database_urls={} if dsn is None else {"PROD_DATABASE_URL": SecretStr(dsn)}
    )


def test_a_databases_runs_are_the_samples_and_outlive_the_databases_rows(
    samples_context: BotContext, job_table: JobTable
) -> None:
    job_table.add(LIVE, START + timedelta(seconds=45), 1000, "completed", None)
    job_table.add(LIVE, START + timedelta(seconds=105), 3000, "failed", "timeout")
    job_table.add(BADGE, START + timedelta(seconds=5), 500, "completed", None)
    job_table.add(BADGE, START + timedelta(seconds=65), None, "running", None)

    samples = duration_samples(samples_context, "prod", *WINDOW)

    assert samples.by_job == {BADGE: (500.0,), LIVE: (1000.0, 3000.0)}
    assert (samples.source, samples.error, samples.count) == ("database", None, 3)

    # The app's table is pruned, and a run is added; the window read again keeps both.
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(f"DELETE FROM {job_table.spec.table} WHERE job_name = %s", [LIVE])
    job_table.add(BADGE, START + timedelta(seconds=125), 700, "completed", None)

    again = duration_samples(samples_context, "prod", *WINDOW)

    assert again.by_job == {BADGE: (500.0, 700.0), LIVE: (1000.0, 3000.0)}
    assert again.error is None


def test_a_database_gone_away_leaves_the_stored_runs_and_says_why(
    samples_context: BotContext, job_table: JobTable
) -> None:
    job_table.add(LIVE, START + timedelta(seconds=45), 1000, "completed", None)
    job_table.add(LIVE, START - timedelta(seconds=45), 9000, "completed", None)  # before
    assert duration_samples(samples_context, "prod", *WINDOW).count == 1

    down = duration_samples(with_dsn(samples_context, CLOSED), "prod", *WINDOW)

    assert down.by_job == {LIVE: (1000.0,)}
    assert down.source == "database"
    assert down.error is not None and down.error.startswith("database unavailable: ")
    assert "refused" in down.error.lower() or "connect" in down.error.lower()
    assert "hunter2" not in down.error and CLOSED not in down.error


def test_a_database_url_not_set_leaves_the_stored_runs_and_names_the_variable(
    samples_context: BotContext, job_table: JobTable
) -> None:
    job_table.add(BADGE, START + timedelta(seconds=5), 500, "completed", None)
    duration_samples(samples_context, "prod", *WINDOW)

    unset = duration_samples(with_dsn(samples_context, None), "prod", *WINDOW)

    assert unset.by_job == {BADGE: (500.0,)}
    assert unset.error == "PROD_DATABASE_URL is not set"


def test_an_env_without_a_database_is_judged_from_its_log_lines(
    samples_context: BotContext, job_table: JobTable
) -> None:
    job_table.add(LIVE, START + timedelta(seconds=45), 1000, "completed", None)  # prod's
    lines = [
        LogEvent(START + timedelta(seconds=46), EventKind.JOB_COMPLETED, LIVE, 1200.0),
        LogEvent(START + timedelta(seconds=50), EventKind.JOB_FAILED, LIVE, None),
        LogEvent(START + timedelta(seconds=70), EventKind.JOB_COMPLETED, BADGE, 300.0),
    ]
    EventLog(samples_context.store).append(
        "staging", "sim@prod-1.example.com", "/srv/app/logs/combined.log", lines,
        LogCursor(1, 10), after=None,
    )  # fmt: skip

    samples = duration_samples(samples_context, "staging", *WINDOW)

    assert samples.by_job == {LIVE: (1200.0,), BADGE: (300.0,)}
    assert (samples.source, samples.error, samples.count) == ("log", None, 2)


def test_a_replay_judges_the_runs_the_store_kept_and_reads_no_database(
    samples_context: BotContext, job_table: JobTable
) -> None:
    job_table.add(LIVE, START + timedelta(seconds=45), 1000, "completed", None)
    assert duration_samples(samples_context, "prod", *WINDOW).count == 1
    job_table.add(LIVE, START + timedelta(seconds=105), 2000, "completed", None)  # not kept
    replaying = ReplayContext(
        **{field.name: getattr(samples_context, field.name) for field in fields(samples_context)}
    )
    kept = duration_samples(replaying, "prod", *WINDOW)
    assert (kept.by_job, kept.source, kept.error) == ({LIVE: (1000.0,)}, "database", None)
