"""The simulated fleet on disk: its layout, the reload command the bot runs in a local
shell, job rows in the machine's real PostgreSQL, and the bot's own code reading it all."""

from __future__ import annotations

import io
import shlex
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.core.changes import FlagChange, Timeouts
from bot.core.clock import ManualClock
from bot.core.envfile import read_env_value, set_env_value
from bot.core.host_address import HostAddress
from bot.core.log_lines import EventKind, LogEvent, parse_line
from bot.core.spec import Spec, parse_spec
from bot.core.spec_fleet import DatabaseSpec, LogSpec
from bot.hosts.db_source import db_kpis
from bot.hosts.flag_change import apply_everywhere
from bot.hosts.local_transport import LocalTransport
from bot.rehearsal.fleet import Fleet, FleetDatabase, SimHost
from bot.rehearsal.fleet_files import read_clock
from bot.rehearsal.fleet_scenario import ErrorSpike, FleetKnobs, HostDown
from bot.rehearsal.job_model_flags import RunnerFlags
from bot.rollout.measuring import measure
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.poster import ConsolePoster
from tests.support.job_table import DSN, JobTable
from tests.support.spec_data import AUDIT_KEY

T0 = datetime(2026, 2, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
ENABLE = FlagChange("JOB_STAGGER_ENABLED", "true", "Job stagger enabled")
TIMEOUTS = Timeouts(command_s=20, verify_s=5)


def example_data() -> dict[str, Any]:
    return tomllib.loads(Path("stagger.example.toml").read_text(encoding="utf-8"))


def rehearsal_spec(fleet: Fleet) -> Spec:
    """The example spec, its environments pointed at the fleet, as the rehearsal will."""
    data = example_data()
    for env, settings in data["environments"].items():
        settings.update(fleet.spec_environment(env))
    return parse_spec(data)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with Fleet.create(tmp_path / "fleet", parse_spec(example_data()), T0, seed=3) as created:
        yield created


def log_events(host: SimHost, since: datetime = T0) -> list[LogEvent]:
    lines = host.log_path.read_bytes().splitlines()
    parsed = [parse_line(line, LogSpec()) for line in lines]
    assert all(isinstance(event, LogEvent) for event in parsed)
    return [event for event in parsed if isinstance(event, LogEvent) and event.at >= since]


def start_seconds(host: SimHost, since: datetime) -> dict[str, set[int]]:
    seconds: dict[str, set[int]] = {}
    for event in log_events(host, since):
        if event.kind is EventKind.JOB_STARTED and event.job:
            seconds.setdefault(event.job, set()).add(event.at.second)
    return seconds


def run_reload(fleet: Fleet, host: SimHost) -> subprocess.CompletedProcess[str]:
    """As the bot's local transport runs it: `cd <app_dir> && <reload_command>`."""
    command = f"cd -- {shlex.quote(str(host.app_dir))} && {fleet.reload_command()}"
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)


def turn_stagger_on(host: SimHost) -> None:
    host.env_path.write_bytes(
        set_env_value(host.env_path.read_bytes(), "JOB_STAGGER_ENABLED", "true")
    )


def test_each_env_gets_its_hosts_with_the_stagger_off_in_the_env_file(fleet: Fleet) -> None:
    assert [host.hostname for host in fleet.hosts_of("staging")] == [
        "staging-1.rehearsal.example.com"
    ]
    assert [host.hostname for host in fleet.hosts_of("prod")] == [
        "prod-1.rehearsal.example.com",
        "prod-2.rehearsal.example.com",
    ]
    for host in fleet.hosts:
        assert host.app_dir == fleet.work / host.env / host.hostname
        assert read_env_value(host.env_path.read_bytes(), "JOB_STAGGER_ENABLED") == "false"
        assert host.log_path.read_text(encoding="utf-8") == (
            "2026-02-01 00:00:00.000 info: ⏸️ Job stagger disabled\n"
        )
    assert read_clock(fleet.work) == int(T0.timestamp() * 1000)


def test_the_spec_environment_points_the_bot_at_each_hosts_own_app_dir(fleet: Fleet) -> None:
    spec = rehearsal_spec(fleet)
    for host in fleet.hosts:
        environment = spec.environments[host.env]
        address = HostAddress.parse(host.address)
        assert environment.app_dir_on(address) == str(host.app_dir)
        assert environment.env_file_on(address) == str(host.env_path)
        assert environment.log_file_on(address) == str(host.log_path)


def test_the_reload_command_logs_the_new_flag_at_the_simulated_time(fleet: Fleet) -> None:
    staging = fleet.hosts_of("staging")[0]
    fleet.advance(T0 + HOUR)
    turn_stagger_on(staging)
    result = run_reload(fleet, staging)
    assert result.returncode == 0, result.stderr
    last = staging.log_path.read_text(encoding="utf-8").splitlines()[-1]
    assert last == "2026-02-01 01:00:00.000 info: ▶️ Job stagger enabled"
    fleet.advance(T0 + 2 * HOUR)
    assert fleet.runner_flags(staging.hostname) == RunnerFlags(staggered=True)
    assert start_seconds(staging, T0 + HOUR)["Live Stats Sync"] == {45}
    assert start_seconds(fleet.hosts_of("prod")[0], T0 + HOUR)["Live Stats Sync"] == {0}


def test_a_flag_written_but_not_reloaded_changes_nothing(fleet: Fleet) -> None:
    staging = fleet.hosts_of("staging")[0]
    turn_stagger_on(staging)
    fleet.advance(T0 + HOUR)
    assert start_seconds(staging, T0)["Live Stats Sync"] == {0}
    assert fleet.runner_flags(staging.hostname) == RunnerFlags()


def test_the_reload_command_fails_with_a_reason_outside_an_app_dir(fleet: Fleet) -> None:
    command = f"cd -- {shlex.quote(str(fleet.work))} && {fleet.reload_command()}"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "reload failed" in result.stderr


def test_the_bot_turns_the_stagger_on_across_prod_and_verifies_every_host(fleet: Fleet) -> None:
    fleet.advance(T0 + HOUR)
    prod = rehearsal_spec(fleet).environments["prod"]
    outcome = apply_everywhere(
        prod, ENABLE, LocalTransport(), timeouts=TIMEOUTS, stamp="t1", observe=lambda _: None
    )
    assert outcome.verified, outcome.failed_hosts
    fleet.advance(T0 + 2 * HOUR)
    for host in fleet.hosts_of("prod"):
        assert fleet.runner_flags(host.hostname).staggered
        assert start_seconds(host, T0 + HOUR)["Referral Tier 3 Processor"] == {15}
    assert not fleet.runner_flags(fleet.hosts_of("staging")[0].hostname).staggered


def test_the_bots_kpi_report_reads_the_contention_and_its_end_from_the_hosts(
    fleet: Fleet, tmp_path: Path
) -> None:
    spec = rehearsal_spec(fleet)
    clock = ManualClock(T0)
    settings = Settings.from_environ(
        {"STAGGER_DB": str(tmp_path / "stagger.db"), "STAGGER_AUDIT_KEY": AUDIT_KEY}
    )
    context = build_context(
        settings, spec, transport=LocalTransport(), poster=ConsolePoster(io.StringIO()), clock=clock
    )
    fleet.advance(T0 + 2 * HOUR)
    clock.set(fleet.now)
    before = measure(context, "prod", HOUR).measurements
    apply_everywhere(
        spec.environments["prod"], ENABLE, LocalTransport(),
        timeouts=TIMEOUTS, stamp="t2", observe=lambda _: None,
    )  # fmt: skip
    fleet.advance(T0 + 4 * HOUR)
    clock.set(fleet.now)
    after = measure(context, "prod", HOUR).measurements
    assert (before["pool_util_avg"].value or 0) >= 75
    assert before["max_concurrent_jobs"].value == 8
    assert (after["pool_util_max"].value or 100) < 50
    assert after["max_concurrent_jobs"].value == 1
    assert before["job_duration_avg"].reason == "PROD_DATABASE_URL is not set"


def test_job_rows_reach_the_envs_database_where_the_bots_db_kpis_read_them(
    tmp_path: Path, job_table: JobTable
) -> None:
    database = {"staging": FleetDatabase(DSN, job_table.spec)}
    spec = parse_spec(example_data())
    with Fleet.create(tmp_path / "fleet", spec, T0, seed=5, databases=database) as fleet:
        staging = fleet.hosts_of("staging")[0]
        fleet.advance(T0 + 3 * HOUR)
        turn_stagger_on(staging)
        fleet.reload(staging)
        fleet.advance(T0 + 6 * HOUR)
    before = db_kpis(DSN, job_table.spec, T0 + HOUR, T0 + 3 * HOUR)
    after = db_kpis(DSN, job_table.spec, T0 + 4 * HOUR, T0 + 6 * HOUR)
    logged = log_events(staging)
    starts = [e for e in logged if e.kind is EventKind.JOB_STARTED and e.at < T0 + 6 * HOUR]
    with psycopg.connect(DSN) as connection:
        rows = connection.execute(
            "SELECT metadata->>'host', (metadata->>'staggered')::bool, count(*) "
            f"FROM {job_table.spec.table} GROUP BY 1, 2 ORDER BY 2"
        ).fetchall()
    host = staging.hostname
    assert [(name, staggered) for name, staggered, _ in rows] == [(host, False), (host, True)]
    assert sum(count for _, _, count in rows) == len(starts)
    assert before.avg_duration_ms is not None and after.avg_duration_ms is not None
    assert after.avg_duration_ms <= before.avg_duration_ms * 0.7
    assert (before.max_overlap, after.max_overlap) == (8, 1)
    assert before.runs < after.runs  # lock skips cost runs before, not after
    assert before.metadata_errors == after.metadata_errors == 0


def test_the_job_table_is_created_when_missing(tmp_path: Path) -> None:
    schema = f"fleet_test_{uuid.uuid4().hex[:8]}"
    table = DatabaseSpec(table=f"{schema}.job_execution_logs")
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        database = {"prod": FleetDatabase(DSN, table)}
        spec = parse_spec(example_data())
        with Fleet.create(tmp_path / "fleet", spec, T0, databases=database) as fleet:
            fleet.advance(T0 + HOUR)
        kpis = db_kpis(DSN, table, T0, T0 + HOUR)
        assert kpis.runs > 2 * 250  # both prod hosts, about 276 starts an hour each
    finally:
        with psycopg.connect(DSN, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def test_with_the_database_down_runs_are_logged_but_no_rows_are_written(
    tmp_path: Path, job_table: JobTable
) -> None:
    knobs = FleetKnobs(database_down_since=T0 + HOUR)
    database = {"staging": FleetDatabase(DSN, job_table.spec)}
    spec = parse_spec(example_data())
    with Fleet.create(tmp_path / "f", spec, T0, knobs=knobs, databases=database) as fleet:
        fleet.advance(T0 + 2 * HOUR)
    staging = fleet.hosts_of("staging")[0]
    assert db_kpis(DSN, job_table.spec, T0 + HOUR, T0 + 2 * HOUR).runs == 0
    assert db_kpis(DSN, job_table.spec, T0, T0 + HOUR - timedelta(minutes=1)).runs > 250
    assert log_events(staging, T0 + HOUR)[-1].at > T0 + HOUR + timedelta(minutes=59)


def test_a_down_host_stops_logging_and_says_it_is_down(tmp_path: Path) -> None:
    down = HostDown("prod-2.rehearsal.example.com", since=T0 + HOUR)
    spec = parse_spec(example_data())
    with Fleet.create(tmp_path / "f", spec, T0, knobs=FleetKnobs(host_down=down)) as fleet:
        fleet.advance(T0 + HOUR - timedelta(seconds=1))
        assert not fleet.is_down(down.host)
        fleet.advance(T0 + 2 * HOUR)
        assert fleet.is_down(down.host)
        assert not fleet.is_down("prod-1.rehearsal.example.com")
    prod_1, prod_2 = fleet.hosts_of("prod")
    assert log_events(prod_2)[-1].at < T0 + HOUR
    assert log_events(prod_1)[-1].at > T0 + 2 * HOUR - timedelta(minutes=1)


def test_the_fleet_cannot_go_back_in_time_and_the_clock_file_follows_it(fleet: Fleet) -> None:
    fleet.advance(T0 + HOUR + timedelta(milliseconds=250))
    assert read_clock(fleet.work) == int((T0 + HOUR).timestamp() * 1000) + 250
    assert fleet.now == T0 + HOUR + timedelta(milliseconds=250)
    with pytest.raises(ValueError, match="cannot go back"):
        fleet.advance(T0)


def test_one_simulated_day_for_one_host_writes_a_day_of_log(tmp_path: Path) -> None:
    """How fast it goes is measured in bench/fleet_simulation.py."""
    spec = parse_spec(example_data())
    one_host = {"staging": 1, "prod": 0}
    with Fleet.create(tmp_path / "f", spec, T0, hosts_per_env=one_host) as fleet:
        fleet.advance(T0 + timedelta(days=1))
    assert len(fleet.hosts_of("staging")[0].log_path.read_bytes()) > 1_000_000


def test_an_error_spike_turned_on_mid_run_reaches_the_log_and_the_table_verbatim(
    tmp_path: Path, job_table: JobTable
) -> None:
    message = 'metadata insert failed:\tcolumn "tier" \\ missing'
    spike = ErrorSpike("staging", rate=1.0, only_while_staggered=False, message=message)
    database = {"staging": FleetDatabase(DSN, job_table.spec)}
    spec = parse_spec(example_data())
    with Fleet.create(tmp_path / "f", spec, T0, databases=database) as fleet:
        fleet.advance(T0 + HOUR)
        fleet.change_knobs(FleetKnobs(error_spike=spike))
        fleet.advance(T0 + 2 * HOUR)
    before = db_kpis(DSN, job_table.spec, T0, T0 + HOUR - timedelta(minutes=1))
    during = db_kpis(DSN, job_table.spec, T0 + HOUR, T0 + 2 * HOUR - timedelta(minutes=1))
    assert during.runs > 250 and all(job.failures == job.runs for job in during.jobs)
    assert during.metadata_errors >= during.runs * 0.95  # the rest timed out on the pool
    assert before.metadata_errors == 0
    with psycopg.connect(DSN) as connection:
        stored = connection.execute(
            f"SELECT DISTINCT error_message FROM {job_table.spec.table} WHERE status = 'failed' "
            "AND started_at >= %s",
            (T0 + HOUR,),
        ).fetchall()
    assert (message,) in stored
    failed = [e for e in log_events(fleet.hosts_of("staging")[0]) if e.kind is EventKind.JOB_FAILED]
    assert failed and all(event.at >= T0 + HOUR for event in failed)


@pytest.mark.parametrize(
    "knobs",
    [
        lambda: FleetKnobs(failure_rate=1.5),
        lambda: FleetKnobs(error_spike=ErrorSpike("prod", rate=-0.1)),
        lambda: FleetKnobs(database_down_since=datetime(2026, 2, 1)),
    ],
)
def test_knobs_refuse_rates_outside_0_to_1_and_naive_times(knobs: Any) -> None:
    with pytest.raises(ValueError, match=r"fractions|timezone"):
        knobs()


@pytest.mark.parametrize("factor", [0.0, -0.5, float("nan")])
def test_knobs_refuse_a_staggered_duration_factor_not_above_0(factor: float) -> None:
    with pytest.raises(ValueError, match="above 0"):
        FleetKnobs(staggered_duration_factor=factor)
