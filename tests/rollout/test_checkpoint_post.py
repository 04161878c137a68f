"""A checkpoint post: the table names the windows its changes compare, counts change per
hour of each window, and a checkpoint taken outside a phase still has its chart."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from PIL import Image

from bot.core.kpi_report import window_text
from bot.core.thresholds import change_pct
from bot.render.comparisons import percent
from jobs import checkpoints
from tests.support.app_logs import Traffic, append_log, log_lines
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR, START


def test_a_checkpoint_outside_a_phase_posts_the_chart_of_the_window_it_measured(
    bot: Bot,
) -> None:
    log = bot.app_dir / "logs" / "combined.log"
    append_log(log, bot.context.spec, START - timedelta(hours=3), 180, Traffic(False))
    assert "Measuring prod" in bot.command(OPERATOR, "checkpoint prod").json()["text"]
    message = bot.slack.wait_for(
        lambda call: "KPI checkpoint — prod" in call.text, method="chat.postMessage"
    )
    assert "no phase running" in message.text
    done = bot.slack.wait_for(lambda call: True, method="files.completeUploadExternal")
    assert done.params["thread_ts"] == message.params["_ts"]
    # Until the next slot of the 6-hourly cron: the last 6 h, hour by hour.
    window = window_text(START - timedelta(hours=6), START, "UTC")
    [uploaded] = json.loads(done.params["files"])
    assert uploaded["title"] == f"prod: pool utilization and concurrent jobs per hour, {window}"
    png = next(iter(bot.slack.uploads.values()))
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG"


def test_a_checkpoint_names_its_windows_and_compares_counts_per_hour(bot: Bot) -> None:
    spec, log = bot.context.spec, bot.app_dir / "logs" / "combined.log"
    traffic = Traffic(True, lock_skips_per_minute=1)
    baseline_skips = sum(
        "skipped_lock" in line for line in log_lines(spec, START, 24 * 60, traffic)
    )
    save_baseline(bot, "prod", START - timedelta(hours=8), lock_skips=baseline_skips)
    start_phase(bot, "prod-stagger", START - timedelta(hours=8))  # 04:00
    append_log(log, spec, START - timedelta(hours=8), 8 * 60, traffic)
    bot.clock.set(START - timedelta(hours=6))
    assert checkpoints.run(bot.context, bot.clock.now()) is not None  # 06:00: 2 h of phase
    bot.clock.set(START)
    assert checkpoints.run(bot.context, bot.clock.now()) is not None  # 12:00: the last 6 h
    first, second = [c.text for c in bot.slack.of("chat.postMessage") if "KPI checkpoint" in c.text]

    earlier = (START - timedelta(hours=8), START - timedelta(hours=6))
    window = (START - timedelta(hours=6), START)
    baseline = (START - timedelta(hours=32), START - timedelta(hours=8))
    assert f"Window {window_text(*window, 'UTC')}" in second
    assert f"vs last: {window_text(*earlier, 'UTC')}" in second
    assert f"vs base: {window_text(*baseline, 'UTC')}" in second

    def skips(start_h: int, hours: int) -> int:
        lines = log_lines(spec, START - timedelta(hours=start_h), hours * 60, traffic)
        return sum("skipped_lock" in line for line in lines)

    now_rate, last_rate = skips(6, 6) / 6, skips(8, 2) / 2
    row = next(line for line in second.splitlines() if line.startswith("Lock Skips"))
    assert f"{skips(6, 6)} " in row  # the count over the window shown
    assert row.split()[-2:] == [
        percent(change_pct(now_rate, last_rate)),
        percent(change_pct(now_rate, baseline_skips / 24)),
    ]
    assert row.split()[-2:] == ["+0%", "+0%"]  # raw totals would say +200% and -75%
    assert "Lock Skips" in first
