"""The before/after analysis: counts per hour of each window, and both windows named —
the prod day-1 analysis compares 24 h with a 6.5 h baseline."""

from __future__ import annotations

from datetime import timedelta

from bot.core.baseline import Baseline
from bot.core.kpi_report import format_rate, window_text
from bot.core.thresholds import change_pct
from bot.rollout.analysis_report import analysis_text
from bot.rollout.measuring import measure
from bot.store.baselines import Baselines, snapshot
from tests.support.app_logs import Traffic, append_log, log_lines
from tests.support.served_bot import Bot
from tests.support.spec_data import START

BASELINE_START = START - timedelta(hours=36)
BASELINE_SPAN = timedelta(hours=6, minutes=30)


def test_the_day_1_analysis_compares_job_starts_per_hour_and_names_both_windows(
    bot: Bot,
) -> None:
    spec, log = bot.context.spec, bot.app_dir / "logs" / "combined.log"
    before_traffic, after_traffic = Traffic(False), Traffic(True, fail_every=50)
    append_log(log, spec, BASELINE_START, 390, before_traffic)
    append_log(log, spec, START - timedelta(hours=24), 24 * 60, after_traffic)
    bot.clock.set(BASELINE_START + BASELINE_SPAN)
    captured = measure(bot.context, "prod", BASELINE_SPAN)
    baseline = Baseline(
        "prod", bot.clock.now(), captured.start, captured.end, "test",
        snapshot(captured.measurements),
    )  # fmt: skip
    Baselines(bot.store).save(baseline)
    bot.clock.set(START)
    text = analysis_text(bot.context, "prod", timedelta(hours=24), baseline)

    window = window_text(START - timedelta(hours=24), START, "UTC")
    baseline_window = window_text(BASELINE_START, BASELINE_START + BASELINE_SPAN, "UTC")
    assert f"{window} against the baseline of {baseline_window}" in text
    assert "(1d)" in window and "(6h 30m)" in baseline_window

    def starts(traffic: Traffic, start_h: float, minutes: int) -> int:
        lines = log_lines(spec, START - timedelta(hours=start_h), minutes, traffic)
        return sum("Job started" in line for line in lines)

    base_rate = starts(before_traffic, 36, 390) / 6.5
    now_rate = starts(after_traffic, 24, 24 * 60) / 24
    row = next(line for line in text.splitlines() if line.startswith("job_starts"))
    assert row.split()[1:] == [
        format_rate(base_rate),
        format_rate(now_rate),
        f"{change_pct(now_rate, base_rate):+.1f}%",
    ]
    assert row.split()[-1] == "+0.0%"  # the same schedule; raw totals said +269%
    failures = next(line for line in text.splitlines() if line.startswith("job_failures"))
    now_failures = starts(after_traffic, 24, 24 * 60) // 50  # every 50th start fails
    assert failures.split()[1:3] == [format_rate(0.0), format_rate(now_failures / 24)]
    assert "counts per hour of each window" in text
