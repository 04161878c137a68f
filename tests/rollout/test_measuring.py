"""KPIs measured from the hosts' logs, end to end: Slack command and the CLI's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.core.kpi_report import parse_window
from bot.render.kpi_json import report_json
from bot.rollout.measuring import measure
from tests.support.served_bot import Bot
from tests.support.spec_data import AUDIT_KEY, OPERATOR

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
    lock = next(j for j in report.judgements if j.kpi == "lock_skips")
    assert (lock.value, lock.baseline, lock.change_pct) == (5.0, 1.0, 400.0)
    assert lock.verdict.value == "alert"  # +400% against an alert at +10%
    audit = bot.context.audit.latest("prod", 1)[0]
    assert audit["action"] == "baseline.captured" and audit["actor"] == OPERATOR


def test_no_baseline_yet_is_said_plainly(bot: Bot) -> None:
    assert (
        bot.command(OPERATOR, "baseline show staging").json()["text"]
        == "No baseline captured for staging yet."
    )
    assert "Say `capture` or `show`" in bot.command(OPERATOR, "baseline drop prod").json()["text"]
