"""Database KPIs against the machine's real PostgreSQL (127.0.0.1:5432, database test)."""

from __future__ import annotations

import io
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from bot.core.clock import ManualClock
from bot.core.spec import parse_spec
from bot.core.spec_fleet import DatabaseSpec
from bot.hosts.db_source import DatabaseUnavailable, db_kpis
from bot.hosts.local_transport import LocalTransport
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.poster import ConsolePoster
from tests.support.job_table import DSN, JobTable
from tests.support.pg_fixtures import PASSWORD, PasswordPostgres
from tests.support.spec_data import AUDIT_KEY, make_app_dir, spec_data

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)

# (job, start second, duration ms or None for never completed, status, error)
ROWS = [
    ("Live Stats Sync", 0, 1000, "completed", None),
    ("Live Stats Sync", 60, 3000, "completed", None),
    ("Live Stats Sync", 120, 2000, "failed", "metadata column missing"),
    ("Badge Auto-Unlock", 0, 500, "completed", None),
    ("Badge Auto-Unlock", 300, 700, "failed", "timeout"),
    ("Referral Tier 2 Processor", 0.2, None, "running", None),  # never completes
    ("Referral Tier 2 Processor", 4000, 100, "completed", None),  # outside the window
]


@pytest.fixture
def schema(job_table: JobTable) -> DatabaseSpec:
    for job, second, duration, status, error in ROWS:
        job_table.add(job, T0 + timedelta(seconds=second), duration, status, error)
    return job_table.spec


def p95(values: list[float]) -> float:
    """percentile_cont's linear interpolation, written independently."""
    ordered = sorted(values)
    rank = 0.95 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def test_per_job_numbers_match_the_rows(schema: DatabaseSpec) -> None:
    kpis = db_kpis(DSN, schema, T0, T0 + timedelta(hours=1))
    by_job = {job.job: job for job in kpis.jobs}
    live = by_job["Live Stats Sync"]
    assert (live.runs, live.failures) == (3, 1)
    assert live.avg_duration_ms == pytest.approx(statistics.mean([1000, 3000, 2000]))
    assert live.p95_duration_ms == pytest.approx(p95([1000, 3000, 2000]))
    assert by_job["Referral Tier 2 Processor"].runs == 1
    assert by_job["Referral Tier 2 Processor"].avg_duration_ms is None
    assert kpis.runs == 6
    assert kpis.avg_duration_ms == pytest.approx(statistics.mean([1000, 3000, 2000, 500, 700]))
    assert kpis.metadata_errors == 1


def test_overlap_counts_the_run_that_never_completed(schema: DatabaseSpec) -> None:
    kpis = db_kpis(DSN, schema, T0, T0 + timedelta(hours=1))
    # From 0.2 s to 0.5 s: Live Stats Sync, Badge Auto-Unlock and the unfinished referral run.
    assert kpis.max_overlap == 3


def test_an_empty_window_has_no_duration_rather_than_zero(schema: DatabaseSpec) -> None:
    kpis = db_kpis(DSN, schema, T0 - timedelta(days=1), T0 - timedelta(hours=1))
    assert (kpis.runs, kpis.avg_duration_ms, kpis.max_overlap) == (0, None, 0)


def test_an_unreachable_database_is_unavailable_with_a_reason_and_no_password() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        db_kpis("postgresql://app:hunter2@127.0.0.1:1/goalgpt", DatabaseSpec(), T0, T0)
    assert "hunter2" not in str(caught.value)
    assert "refused" in str(caught.value).lower() or "connect" in str(caught.value).lower()


@pytest.mark.parametrize(
    "dsn",
    [
        "host=127.0.0.1 port=1 password=Tr0ub4dor and 3",  # libpq can't parse it
        "postgresql://app:Tr0ub4dor%20and%203@127.0.0.1:1/goalgpt",  # an escaped space
    ],
)
def test_a_password_with_spaces_is_never_shown_in_the_reason(dsn: str) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        db_kpis(dsn, DatabaseSpec(), T0, T0)
    reason = str(caught.value)
    assert "Tr0ub4dor" not in reason and "and 3" not in reason and "and%203" not in reason


def test_a_wrong_password_is_unavailable_naming_it_without_the_password(
    password_postgres: PasswordPostgres,
) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        db_kpis(password_postgres.dsn("hunter2-wrong"), DatabaseSpec(), T0, T0)
    assert "password authentication failed" in str(caught.value)
    assert "hunter2-wrong" not in str(caught.value)
    # The right one gets past authentication: to the missing table.
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        db_kpis(password_postgres.dsn(PASSWORD), DatabaseSpec(), T0, T0)


def test_a_missing_database_or_table_is_named(schema: DatabaseSpec) -> None:
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        db_kpis("postgresql://postgres@127.0.0.1:5432/no_such_db_stagger", schema, T0, T0)
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        db_kpis(DSN, DatabaseSpec(table="no_such_table_stagger"), T0, T0)


def test_a_slow_database_hits_the_statement_timeout(schema: DatabaseSpec) -> None:
    slow_view = schema.table.split(".")[0] + ".slow_jobs"
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(
            f"CREATE VIEW {slow_view} AS SELECT l.* FROM {schema.table} l, pg_sleep(2)"
        )
    slow = DatabaseSpec(table=slow_view, statement_timeout_ms=200)
    with pytest.raises(DatabaseUnavailable, match="statement_timeout"):
        db_kpis(DSN, slow, T0, T0 + timedelta(hours=1))


def test_the_transaction_is_read_only(schema: DatabaseSpec) -> None:
    db_kpis(DSN, schema, T0, T0 + timedelta(hours=1))
    with psycopg.connect(DSN) as connection:
        count = connection.execute(f"SELECT count(*) FROM {schema.table}").fetchone()
    assert count == (len(ROWS),)


def test_the_kpi_report_carries_database_kpis_or_why_not(
    schema: DatabaseSpec, tmp_path: Path, clock: ManualClock
) -> None:
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        ["sim@prod-1.example.com"], app, known_hosts=tmp_path / "kh", key_file=tmp_path / "k"
    )
    data["database"] = {"table": schema.table}
    spec = parse_spec(data)
    clock.set(T0 + timedelta(hours=1))
    settings = Settings.from_environ(
        {
            "STAGGER_DB": str(tmp_path / "s.db"),
            "PROD_DATABASE_URL": DSN,
            "STAGGER_AUDIT_KEY": AUDIT_KEY,
        }
    )
    context = build_context(
        settings, spec, transport=LocalTransport(), poster=ConsolePoster(io.StringIO()), clock=clock
    )
    report = measure(context, "prod", timedelta(hours=1))
    assert report.measurements["job_duration_avg"].value == pytest.approx(1440.0)
    assert report.measurements["db_metadata_errors"].value == 1
    judged = {j.kpi: j for j in report.judgements}
    assert judged["db_metadata_errors"].verdict.value == "alert"
    assert judged["job_duration_avg"].reason == "no baseline captured"

    staging = measure(context, "staging", timedelta(hours=1))
    assert staging.measurements["job_duration_avg"].reason == "STAGING_DATABASE_URL is not set"


def db_context(
    schema: DatabaseSpec, tmp_path: Path, clock: ManualClock
) -> tuple[BotContext, io.StringIO]:
    """A bot on a local shell and this test's job table, at T0 + 1h, posting to a console."""
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        ["sim@prod-1.example.com"], app, known_hosts=tmp_path / "kh", key_file=tmp_path / "k"
    )
    data["database"] = {"table": schema.table}
    console = io.StringIO()
    settings = Settings.from_environ(
        {
            "STAGGER_DB": str(tmp_path / "s.db"),
            "PROD_DATABASE_URL": DSN,
            "STAGGER_AUDIT_KEY": AUDIT_KEY,
        }
    )
    context = build_context(
        settings, parse_spec(data), transport=LocalTransport(), poster=ConsolePoster(console),
        clock=clock,
    )  # fmt: skip
    clock.set(T0 + timedelta(hours=1))
    return context, console


def test_offsets_predicts_overlap_from_the_databases_durations(
    schema: DatabaseSpec, tmp_path: Path, clock: ManualClock
) -> None:
    from bot.core.replies import Invocation
    from bot.slack.app import run_followups
    from commands import dispatch

    context, console = db_context(schema, tmp_path, clock)
    reply = dispatch(context, Invocation(user="U0OPS1", text="offsets prod"))
    assert reply.text == "Reading job durations…"
    run_followups(reply)
    # Live Stats Sync (:45, 2 s avg) and Badge Auto-Unlock (:05, 0.6 s avg) never meet.
    assert "at most 1 job(s) at once; measured in the same window: 3" in console.getvalue()


def test_analysis_compares_now_with_the_baseline_per_kpi_and_per_job(
    schema: DatabaseSpec, tmp_path: Path, clock: ManualClock
) -> None:
    from bot.core.baseline import Baseline
    from bot.core.replies import Invocation
    from bot.slack.app import run_followups
    from bot.store.baselines import Baselines
    from commands import dispatch

    context, console = db_context(schema, tmp_path, clock)
    assert (
        "baseline capture prod"
        in dispatch(context, Invocation(user="U0OPS1", text="analysis prod")).text
    )
    # Baseline: the first minute only (Live Stats Sync 1000 ms, Badge 500 ms, unfinished referral).
    Baselines(context.store).save(
        Baseline(
            "prod",
            T0,
            T0,
            T0 + timedelta(seconds=59),
            "U0OPS1",
            {"job_duration_avg": 750.0, "db_metadata_errors": 0.0},
        )
    )
    reply = dispatch(context, Invocation(user="U0OPS1", text="analysis prod 1h"))
    run_followups(reply)
    rows = {" ".join(line.split()) for line in console.getvalue().splitlines()}
    assert "job_duration_avg 750 1440 +92.0%" in rows
    # Counts per hour of each window: the baseline's 59 s, and the hour measured.
    from bot.core.kpi_report import format_rate, format_value

    base_h = 59 / 3600
    assert f"db_metadata_errors {format_rate(0.0)} {format_rate(1.0)} new" in rows
    live, badge = format_value(100 / 3, "%"), format_value(100 / 2, "%")  # failed of runs
    assert (
        f"Live Stats Sync {format_rate(1 / base_h)}→{format_rate(3.0)} 0%→{live} 1000→2000 +100.0%"
        in rows
    )
    assert (
        f"Badge Auto-Unlock {format_rate(1 / base_h)}→{format_rate(2.0)} 0%→{badge} 500→600 +20.0%"
        in rows
    )


def test_options_in_the_dsn_such_as_a_search_path_are_kept(schema: DatabaseSpec) -> None:
    name, table = schema.table.split(".")
    dsn = make_conninfo(DSN, options=f"-c search_path={name}")
    kpis = db_kpis(dsn, DatabaseSpec(table=table), T0, T0 + timedelta(hours=1))
    assert {job.job for job in kpis.jobs} >= {"Live Stats Sync", "Badge Auto-Unlock"}
