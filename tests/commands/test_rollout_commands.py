"""`/stagger history`, `report` and `analysis` as the rollout moves through its phases."""

from __future__ import annotations

from datetime import timedelta

from tests.support.app_logs import Traffic, append_log
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR, START


def test_history_before_anything_started_says_so(bot: Bot) -> None:
    assert bot.command(OPERATOR, "history").json()["text"] == "No phase has started yet."
    assert "Unknown environment `qa`" in bot.command(OPERATOR, "history qa").json()["text"]


def test_history_lists_each_phase_with_its_duration_and_ending(bot: Bot) -> None:
    start_phase(bot, "staging-baseline", START - timedelta(hours=30))
    start_phase(bot, "staging-stagger", START - timedelta(hours=5))
    text = bot.command(OPERATOR, "history staging").json()["text"]
    lines = text.splitlines()
    assert lines[1].startswith(
        "• *staging-baseline* (staging) 2026-01-31 06:00 UTC → 2026-02-01 07:00 UTC"
    )
    assert "1d 1h" in lines[1] and lines[1].endswith("; advanced")
    assert "2026-02-01 07:00 UTC → now, 5h" in lines[2] and lines[2].endswith("; running")


def test_report_shows_baseline_now_change_and_target_per_kpi(bot: Bot) -> None:
    save_baseline(bot, "prod", START - timedelta(hours=2), pool_util_avg=80.0, lock_skips=10.0)
    start_phase(bot, "prod-stagger", START - timedelta(hours=1))
    append_log(
        bot.app_dir / "logs" / "combined.log", bot.context.spec, START - timedelta(hours=1), 60,
        Traffic(staggered=True, pool_util=20.0, lock_skips_per_minute=0),
    )  # fmt: skip
    bot.command(OPERATOR, "report")
    posted = bot.slack.wait_for(
        lambda call: "Report for prod" in call.text, method="chat.postMessage"
    )
    assert "over phase prod-stagger (since 2026-02-01 11:00 UTC)" in posted.text
    row = next(
        line for line in posted.text.splitlines() if line.startswith("Pool Utilization (Avg")
    )
    assert row.split()[3:7] == ["80%", "20%", "-75.0%", "<"]
    skips = next(line for line in posted.text.splitlines() if line.startswith("Lock Skips"))
    assert "10" in skips and "-100.0%" in skips and "change <= -80%" in skips
    # Another look at the phase's criteria, as the judge decides them now.
    assert "*Success criteria of prod-stagger*:" in posted.text
    assert ":white_check_mark: pool_util_max < 50: now 20" in posted.text


def test_analysis_compares_the_running_phase_with_the_baseline_window(bot: Bot) -> None:
    save_baseline(bot, "prod", START - timedelta(hours=3), pool_util_avg=80.0)
    start_phase(bot, "prod-stagger", START - timedelta(hours=2))
    bot.command(OPERATOR, "analysis prod")
    posted = bot.slack.wait_for(
        lambda call: "Analysis for prod" in call.text, method="chat.postMessage"
    )
    assert (
        "2026-02-01 10:00–12:00 UTC (2h) against the baseline of "
        "2026-01-31 09:00–2026-02-01 09:00 UTC (1d)" in posted.text
    )
