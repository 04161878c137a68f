"""KPI checkpoints on the spec's cron: posted at 00:00, 06:00 and 12:00 with a chart in
the thread, once each, and after a restart the missed ones are run once or listed."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from PIL import Image

from bot.store.checkpoints import Checkpoints
from jobs import checkpoints
from tests.support.app_logs import Traffic, append_log
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR, START

MIDNIGHT = START - timedelta(hours=12)  # 2026-02-01 00:00 UTC


def at(bot: Bot, moment: datetime) -> datetime:
    bot.clock.set(moment)
    return moment


def posts(bot: Bot) -> list[str]:
    return [c.text for c in bot.slack.of("chat.postMessage") if "KPI checkpoint" in c.text]


def test_checkpoints_fire_at_00_06_and_12_with_a_chart_each(bot: Bot) -> None:
    save_baseline(bot, "prod", MIDNIGHT - timedelta(hours=2), pool_util_avg=85.0)
    start_phase(bot, "prod-stagger", MIDNIGHT - timedelta(hours=1))
    log = bot.app_dir / "logs" / "combined.log"
    spec = bot.context.spec
    append_log(log, spec, MIDNIGHT - timedelta(hours=1), 7 * 60, Traffic(True, pool_util=30.0))
    append_log(log, spec, MIDNIGHT + timedelta(hours=6), 6 * 60, Traffic(True, pool_util=20.0))
    fired = [
        checkpoints.run(bot.context, at(bot, MIDNIGHT + timedelta(hours=hour, minutes=minute)))
        for hour, minute in ((0, 0), (0, 1), (5, 59), (6, 0), (6, 1), (12, 0))
    ]
    assert fired == [
        MIDNIGHT,
        None,
        None,
        MIDNIGHT + timedelta(hours=6),
        None,
        MIDNIGHT + timedelta(hours=12),
    ]
    texts = posts(bot)
    assert len(texts) == 3
    assert "prod-stagger, 1h of 7d (6d 23h left)" in texts[0]
    pool_row = next(
        line for line in texts[2].splitlines() if line.startswith("Pool Utilization (Avg")
    )
    # 20% now, 30% at the previous checkpoint, 85% in the baseline.
    assert "20%" in pool_row and "< 40" in pool_row and "> 60" in pool_row and "✅ met" in pool_row
    assert pool_row.split()[-2:] == ["-33%", "-76%"]
    completed = bot.slack.of("files.completeUploadExternal")
    assert len(completed) == 3
    messages = [c for c in bot.slack.of("chat.postMessage") if "KPI checkpoint" in c.text]
    assert [c.params["thread_ts"] for c in completed] == [m.params["_ts"] for m in messages]
    png = list(bot.slack.uploads.values())[-1]
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG" and image.size == (640, 400) and len(png) > 10_000
    assert [c.all_met for c in Checkpoints(bot.store).of_phase(1)] == [False, False, False]


def test_a_checkpoint_missed_during_a_restart_runs_once_within_its_grace(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", MIDNIGHT - timedelta(hours=1))
    assert checkpoints.run(bot.context, at(bot, MIDNIGHT + timedelta(hours=6))) is not None
    # Down from 06:05 to 12:10; 12:00 is within the 30 min grace.
    assert checkpoints.run(bot.context, at(bot, START + timedelta(minutes=10))) == START
    assert checkpoints.run(bot.context, at(bot, START + timedelta(minutes=11))) is None
    assert len(posts(bot)) == 2


def test_checkpoints_missed_beyond_the_grace_are_listed_in_one_line(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", MIDNIGHT - timedelta(hours=1))
    checkpoints.run(bot.context, at(bot, MIDNIGHT))
    assert checkpoints.run(bot.context, at(bot, START + timedelta(hours=1))) is None
    missed = bot.slack.wait_for(lambda c: "were missed" in c.text, method="chat.postMessage")
    assert "2 checkpoint(s) of prod were missed" in missed.text
    assert "(2026-02-01 06:00 UTC, 2026-02-01 12:00 UTC)" in missed.text
    assert len(posts(bot)) == 1
    assert checkpoints.run(bot.context, at(bot, START + timedelta(hours=2))) is None


def test_no_checkpoint_without_a_running_phase(bot: Bot) -> None:
    assert checkpoints.run(bot.context, at(bot, MIDNIGHT)) is None
    assert posts(bot) == []


def test_the_checkpoint_command_posts_one_now(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", START - timedelta(hours=1))
    reply = bot.command(OPERATOR, "checkpoint prod").json()["text"]
    assert "Measuring prod" in reply
    bot.slack.wait_for(lambda c: "KPI checkpoint — prod" in c.text, method="chat.postMessage")
