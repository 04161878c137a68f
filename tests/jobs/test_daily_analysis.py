"""The before/after analysis on days 1, 2, 3 and 7 of a stagger phase, once each."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.rollout import analysis_report
from jobs import daily_analysis
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import START


def test_analysis_is_posted_on_its_days_once_each(bot: Bot) -> None:
    save_baseline(bot, "prod", START - timedelta(hours=1), pool_util_avg=85.0)
    start_phase(bot, "prod-stagger", START)
    runs = {
        hours: daily_analysis.run(bot.context, START + timedelta(hours=hours))
        for hours in (23, 24, 25, 48, 80)
    }
    assert runs == {23: [], 24: [1], 25: [], 48: [2], 80: [3]}
    headings = [c.text.splitlines()[0] for c in bot.slack.of("chat.postMessage")]
    assert headings == [
        ":bar_chart: *Day 1 of prod-stagger* — before/after analysis of the last 24 h",
        ":bar_chart: *Day 2 of prod-stagger* — before/after analysis of the last 24 h",
        ":bar_chart: *Day 3 of prod-stagger* — before/after analysis of the last 24 h",
    ]


def test_a_long_analysis_goes_up_as_a_file(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis_report, "MESSAGE_LIMIT", 200)
    save_baseline(bot, "prod", START - timedelta(hours=1), pool_util_avg=85.0)
    start_phase(bot, "prod-stagger", START)
    assert daily_analysis.run(bot.context, START + timedelta(days=1)) == [1]
    done = bot.slack.wait_for(lambda c: True, method="files.completeUploadExternal")
    assert "Day 1 of prod-stagger" in done.params["initial_comment"]
    text = next(iter(bot.slack.uploads.values())).decode()
    assert "pool_util_avg" in text and "```" not in text
