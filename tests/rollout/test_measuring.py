"""KPIs measured from the hosts' logs, end to end: Slack command and the CLI's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.core.checks import CheckState as GateState
from bot.core.kpi_report import format_rate, parse_window, window_text
from bot.core.phases import criteria_gates
from bot.core.spec_fleet import LogSpec
from bot.render.kpi_json import report_json
from bot.rollout.measuring import measure
from bot.store.event_log import EventLog
from tests.support.app_logs import Traffic, append_lines, append_log, lock_skip_lines
from tests.support.job_table import DSN, JobTable
from tests.support.served_bot import Bot
from tests.support.spec_data import AUDIT_KEY, OPERATOR, START

LOG = (
    "2026-02-01 11:00:00.100 info: 🔄 Job started: Referral Tier 2 Processor\n"
    "2026-02-01 11:00:00.200 info: 🔄 Job started: Live Stats Sync\n"
    "2026-02-01 11:00:01.000 info: [PoolMonitor] utilization 90.0% waiting=4\n"
    "2026-02-01 11:00:02.000 info: ✅ Job completed: Referral Tier 2 Processor (900 ms)\n"
    "2026-02-01 11:00:03.000 error: ❌ Job failed: Live Stats Sync - timeout\n"
    "2026-02-01 11:00:04.000 info: [PoolMonitor] utilization 70.0% waiting=0\n"
    "2026-02-01 11:00:05.000 info: live stats skipped_lock\n"
    "2026-02-01 05:00:00.000 info: 🔄 Job started: Live Stats Sync\n"  # outside a 6h window
)


def write_log(bot: Bot) -> None:
    (bot.app_dir / "logs" / "combined.log").write_text(LOG, encoding="utf-8")


def test_kpi_command_posts_the_judged_table(bot: Bot) -> None:
    write_log(bot)
    reply = bot.command(OPERATOR, "kpi prod 6h")
    assert reply.json()["text"] == "Measuring prod over the last 6h…"
    posted = bot.slack.wait_for(
        lambda call: "KPIs for prod" in call.text, method="chat.postMessage"
    )
    table = posted.text
    assert "Pool Utilization (Avg)" in table and "80%" in table
    assert "Pool Utilization (Max)" in table and "90%" in table
    assert "Concurrent Jobs" in table
    assert "job_starts: 2, job_completions: 1, job_failures: 1" in table


def test_measurements_are_exact_and_the_next_scan_is_incremental(bot: Bot) -> None:
    write_log(bot)
    report = measure(bot.context, "prod", parse_window("6h"))
    values = {name: m.value for name, m in report.measurements.items()}
    assert values["pool_util_avg"] == 80.0 and values["pool_util_max"] == 90.0
    assert values["job_starts"] == 2 and values["error_rate"] == 50.0
    assert values["max_concurrent_jobs"] == 2 and values["lock_skips"] == 1
    verdicts = {j.kpi: j.verdict.value for j in report.judgements}
    assert verdicts["pool_util_max"] == "alert" and verdicts["pool_util_avg"] == "alert"
    assert verdicts["job_duration_avg"] == "unavailable"  # a database KPI: not measured here
    again = measure(bot.context, "prod", parse_window("6h"))
    assert again.measurements["job_starts"].value == 2  # stored events, not re-read twice


def test_a_down_host_is_unavailable_while_the_others_are_reported(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(extra_hosts=("root@127.0.0.1:1",))
    write_log(bot)
    document = json.loads(report_json(measure(bot.context, "prod", parse_window("6h"))))
    hosts = document["hosts"]
    assert hosts["root@127.0.0.1:1"] == {
        "available": False,
        "reason": "port 1: connection refused",
        "kpis": {},
    }
    answering = next(h for name, h in hosts.items() if name != "root@127.0.0.1:1")
    assert answering["kpis"]["job_starts"]["value"] == 2
    assert document["kpis"]["pool_util_max"]["value"] == 90.0
    assert "root@127.0.0.1:1 unavailable" in document["kpis"]["pool_util_max"]["reason"]
    for key in (
        "pool_util_avg",
        "pool_util_max",
        "job_starts",
        "job_completions",
        "job_failures",
        "error_rate",
        "lock_skips",
        "slow_queries",
        "max_concurrent_jobs",
        "collision_warnings",
        "offset_misses",
    ):
        assert "verdict" in document["kpis"][key] and "value" in document["kpis"][key]


def test_an_empty_window_is_null_with_a_reason_not_zero(bot: Bot) -> None:
    (bot.app_dir / "logs" / "combined.log").write_text("", encoding="utf-8")
    document = json.loads(report_json(measure(bot.context, "prod", parse_window("30m"))))
    assert document["kpis"]["pool_util_avg"] == {
        "value": None,
        "verdict": "unavailable",
        "reason": "no PoolMonitor samples in the window",
    }


def test_kpi_cli_rejects_a_bad_window_and_env(tmp_path: Path, bot: Bot) -> None:
    assert "is not a window" in bot.command(OPERATOR, "kpi prod soon").json()["text"]
    environment = {
        **os.environ,
        "STAGGER_CONFIG": "stagger.example.toml",
        "STAGGER_DB": str(tmp_path / "s.db"),
        "STAGGER_AUDIT_KEY": AUDIT_KEY,
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "kpi", "qa", "--json"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert result.returncode == 1 and "unknown environment 'qa'" in result.stderr


def test_a_captured_baseline_makes_relative_targets_judgeable(bot: Bot) -> None:
    write_log(bot)
    assert (
        "Capturing the baseline for prod"
        in bot.command(OPERATOR, "baseline capture prod 6h").json()["text"]
    )
    posted = bot.slack.wait_for(
        lambda call: "Baseline for prod captured" in call.text, method="chat.postMessage"
    )
    assert "lock_skips 1" in posted.text and "pool_util_max 90" in posted.text
    assert "job_duration_avg" in posted.text  # named as not available: no database here
    shown = bot.command(OPERATOR, "baseline show prod").json()["text"]
    assert "*Baseline for prod*" in shown and f"<@{OPERATOR}>" in shown

    with (bot.app_dir / "logs" / "combined.log").open("a", encoding="utf-8") as log:
        log.write("2026-02-01 11:30:00.000 info: x skipped_lock\n" * 4)
    report = measure(bot.context, "prod", parse_window("6h"))
    errors = next(j for j in report.judgements if j.kpi == "error_rate")
    assert (errors.value, errors.baseline, errors.change_pct) == (50.0, 50.0, 0.0)
    assert errors.verdict.value == "met"  # target change <= 0%
    # One lock skip in the baseline is too few for 1 -> 5 to mean +400%.
    lock = next(j for j in report.judgements if j.kpi == "lock_skips")
    assert (lock.value, lock.baseline, lock.change_pct) == (5.0, 1.0, None)
    assert lock.verdict.value == "too few events to compare"
    audit = bot.context.audit.latest("prod", 1)[0]
    assert audit["action"] == "baseline.captured" and audit["actor"] == OPERATOR


def test_no_baseline_yet_is_said_plainly(bot: Bot) -> None:
    assert (
        bot.command(OPERATOR, "baseline show staging").json()["text"]
        == "No baseline captured for staging yet."
    )
    assert "Say `capture` or `show`" in bot.command(OPERATOR, "baseline drop prod").json()["text"]


def lock_skip_history(bot: Bot) -> tuple[int, int]:
    """The issue's lock skips: 1/h over a day, captured as staging's 24 h baseline at
    START - 6h, then 2/h for the 6 h up to START. The lines logged in each window."""
    log = bot.app_dir / "logs" / "combined.log"
    before = lock_skip_lines(START - timedelta(hours=30), 24, 1)
    append_lines(log, before)
    bot.clock.set(START - timedelta(hours=6))
    bot.command(OPERATOR, "baseline capture staging 24h")
    bot.slack.wait_for(lambda call: "Baseline for staging captured" in call.text)
    after = lock_skip_lines(START - timedelta(hours=6), 6, 2)
    append_lines(log, after)
    bot.clock.set(START)
    return len(before), len(after)


def test_lock_skips_are_judged_per_hour_against_a_longer_baseline(bot: Bot) -> None:
    before, after = lock_skip_history(bot)
    report = measure(bot.context, "staging", parse_window("6h"))
    lock = next(j for j in report.judgements if j.kpi == "lock_skips")
    rate, baseline_rate = after / 6, before / 24
    assert (lock.value, lock.baseline) == (after, before)
    assert lock.change_pct == pytest.approx((rate - baseline_rate) / baseline_rate * 100)
    assert lock.change_pct == pytest.approx(100.0)  # doubled per hour
    assert lock.verdict.value == "alert"  # alert at change > 10%, never "not met" at -50%

    bot.command(OPERATOR, "kpi staging 6h")
    posted = bot.slack.wait_for(lambda call: "KPIs for staging" in call.text).text
    row = next(line for line in posted.splitlines() if line.startswith("Lock Skips"))
    assert "  alert (" in row
    assert f"{format_rate(rate)} against {format_rate(baseline_rate)}" in row
    assert "+100% per hour" in row
    window = window_text(START - timedelta(hours=6), START, "UTC")
    baseline_window = window_text(START - timedelta(hours=30), START - timedelta(hours=6), "UTC")
    assert window in posted and f"against the baseline of {baseline_window}" in posted


def test_kpi_json_has_a_schema_version_and_each_relative_kpis_comparison(bot: Bot) -> None:
    before, after = lock_skip_history(bot)
    document = json.loads(report_json(measure(bot.context, "staging", parse_window("6h"))))
    assert document["schema_version"] == 2
    assert document["window"]["hours"] == 6.0
    assert document["baseline"] == {
        "start": "2026-01-31T06:00:00Z",
        "end": "2026-02-01T06:00:00Z",
        "hours": 24.0,
    }
    lock = document["kpis"]["lock_skips"]
    assert lock["value"] == after and lock["verdict"] == "alert"
    assert lock["comparison"] == {
        "baseline": before,
        "per": "hour",
        "now_rate": after / 6,
        "baseline_rate": before / 24,
        "change_pct": pytest.approx(100.0),
        "min_events": 10,
    }
    assert "comparison" not in document["kpis"]["pool_util_max"]  # absolute only
    duration = document["kpis"]["job_duration_avg"]["comparison"]  # relative, no baseline
    assert duration == {"baseline": None, "per": None, "reason": "STAGING_DATABASE_URL is not set"}


def without_a_database(bot: Bot) -> None:
    spec = bot.context.spec
    environments = {
        name: environment.model_copy(update={"database_url_env": None})
        for name, environment in spec.environments.items()
    }
    bot.context.spec = spec.model_copy(update={"environments": environments})


def test_without_a_database_job_durations_come_from_the_log_and_are_judged(bot: Bot) -> None:
    without_a_database(bot)
    spec, log = bot.context.spec, bot.app_dir / "logs" / "combined.log"
    before, after = Traffic(False, run_s=2.0), Traffic(True, run_s=1.2)
    append_log(log, spec, START - timedelta(hours=30), 24 * 60, before)
    bot.clock.set(START - timedelta(hours=6))
    bot.command(OPERATOR, "baseline capture prod 24h")
    bot.slack.wait_for(lambda call: "Baseline for prod captured" in call.text)
    append_log(log, spec, START - timedelta(hours=6), 6 * 60, after)
    bot.clock.set(START)

    report = measure(bot.context, "prod", parse_window("6h"))
    duration = next(j for j in report.judgements if j.kpi == "job_duration_avg")
    now_ms, baseline_ms = after.run_s * 1000, before.run_s * 1000
    assert (duration.value, duration.baseline, duration.source) == (now_ms, baseline_ms, "log")
    assert duration.change_pct == pytest.approx((now_ms - baseline_ms) / baseline_ms * 100)
    assert duration.verdict.value == "met"  # -40% against a target of -30%
    assert report.measurements["job_duration_p95"].value == now_ms
    [gate] = [
        gate
        for gate in criteria_gates(spec.phases[1], report.measurements)
        if gate.name.startswith("job_duration_avg")
    ]
    assert gate.state is GateState.MET  # staging-stagger's "improves by >= 20%"

    bot.command(OPERATOR, "kpi prod 6h")
    posted = bot.slack.wait_for(lambda call: "KPIs for prod" in call.text).text
    row = next(line for line in posted.splitlines() if line.startswith("Job Duration"))
    assert row.endswith(f"met (-40.0% against {baseline_ms:.0f}ms; from the log)")


def test_the_database_durations_win_where_there_is_one(bot: Bot, job_table: JobTable) -> None:
    bot.context.spec = bot.context.spec.model_copy(update={"database": job_table.spec})
    bot.context.database_urls = {"PROD_DATABASE_URL": SecretStr(DSN)}
    append_log(
        bot.app_dir / "logs" / "combined.log", bot.context.spec,
        START - timedelta(hours=1), 60, Traffic(True, run_s=1.2),
    )  # fmt: skip
    durations = [400.0, 500.0, 900.0]
    for minute, duration_ms in enumerate(durations):
        job_table.add("Live Stats Sync", START - timedelta(minutes=30 - minute), duration_ms,
                      "completed", None)  # fmt: skip
    report = measure(bot.context, "prod", parse_window("1h"))
    average = report.measurements["job_duration_avg"]
    assert average.value == pytest.approx(sum(durations) / 3) and average.source == "database"
    [host] = report.hosts
    assert host.measurements["job_duration_avg"].value == 1200.0  # the log's, per host
    document = json.loads(report_json(report))
    assert document["kpis"]["job_duration_avg"]["source"] == "database"


def test_a_log_in_local_time_is_measured_in_its_zone_and_shown_in_the_specs(bot: Bot) -> None:
    spec = bot.context.spec
    berlin = spec.logs.model_copy(update={"timezone": "Europe/Berlin"})
    bot.context.spec = spec.model_copy(update={"logs": berlin, "timezone": "Europe/Berlin"})
    # Berlin is UTC+1 in February: 12:30 there is 11:30 UTC, inside the 6 h up to START
    # (12:00 UTC); 13:30 there is after it. Read as UTC, it would be the other way round.
    (bot.app_dir / "logs" / "combined.log").write_text(
        "2026-02-01 12:30:00.000 info: 🔄 Job started: Live Stats Sync\n"
        "2026-02-01 13:30:00.000 info: 🔄 Job started: Referral Tier 2 Processor\n"
        "2026-02-01 13:30:00.000 info: 🔄 Job started: Live Stats Sync\n",
        encoding="utf-8",
    )
    report = measure(bot.context, "prod", parse_window("6h"))
    assert report.measurements["job_starts"].value == 1
    bot.command(OPERATOR, "kpi prod 6h")
    posted = bot.slack.wait_for(lambda call: "KPIs for prod" in call.text).text
    assert "*KPIs for prod* — 2026-02-01 07:00–13:00 Europe/Berlin (6h)" in posted


def test_local_log_times_in_the_repeated_hour_follow_the_scan_before(bot: Bot) -> None:
    # Europe/London repeats 01:00-02:00 local on 2026-10-25. Alert scans every 5 minutes
    # split the hour: the next scan's first line is after the last one stored, not an
    # hour before it.
    context = replace(
        bot.context,
        spec=bot.context.spec.model_copy(update={"logs": LogSpec(timezone="Europe/London")}),
    )
    log = bot.app_dir / "logs" / "combined.log"
    log.write_text(
        "2026-10-25 01:40:00.000 info: x skipped_lock\n"  # BST: 00:40 UTC
        "2026-10-25 01:05:00.000 info: x skipped_lock\n",  # GMT, the second pass: 01:05 UTC
        encoding="utf-8",
    )
    bot.clock.set(datetime(2026, 10, 25, 1, 15, tzinfo=UTC))
    measure(context, "prod", parse_window("6h"))
    append_lines(log, ["2026-10-25 01:20:00.000 info: x skipped_lock"])
    bot.clock.set(datetime(2026, 10, 25, 1, 25, tzinfo=UTC))
    report = measure(context, "prod", parse_window("1h"))
    [host] = context.spec.environments["prod"].host_addresses
    stored = EventLog(context.store).events(
        "prod", str(host), datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)
    )
    assert [event.at for event in stored] == [
        datetime(2026, 10, 25, 0, 40, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 5, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 20, tzinfo=UTC),
    ]
    assert report.measurements["lock_skips"].value == 3.0


def test_a_baseline_over_a_log_shorter_than_its_window_is_rated_over_what_the_log_covers(
    bot: Bot,
) -> None:
    # A fresh log: 3 hours of 10 lock skips an hour, captured as a 24 h baseline. Per hour
    # it is 10, not 30 / 24: the same 10 an hour after it is no change, not +700%.
    log = bot.app_dir / "logs" / "combined.log"
    log.write_text("", encoding="utf-8")
    append_lines(log, lock_skip_lines(START - timedelta(hours=4), 3, 10))
    bot.clock.set(START - timedelta(hours=1))
    bot.command(OPERATOR, "baseline capture prod 24h")
    posted = bot.slack.wait_for(lambda call: "Baseline for prod captured" in call.text)
    covered = window_text(
        START - timedelta(hours=4, seconds=-30), START - timedelta(hours=1), "UTC"
    )
    assert covered in posted.text
    append_lines(log, lock_skip_lines(START - timedelta(hours=1), 1, 10))
    bot.clock.set(START)
    report = measure(bot.context, "prod", parse_window("1h"))
    lock = next(j for j in report.judgements if j.kpi == "lock_skips")
    assert lock.compared is not None
    assert lock.compared.baseline == pytest.approx(30 / (3 - 30 / 3600))
    assert lock.change_pct == pytest.approx(0.0, abs=0.5)
