"""A phase's alerts read as one thread under its start message: a new breach's first post
is in the thread and broadcast to the channel, triggers always broadcast, reminders and
resolved notices stay in the thread; a phase without a thread gets its alerts in the
channel, saying so."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.rehearsal.slack_standin import ApiCall
from bot.render.blocks import ACKNOWLEDGE_ACTION, REQUEST_ROLLBACK_ACTION, SNOOZE_ACTION
from bot.rollout.phase_thread import NO_THREAD_NOTE, open_phase_thread
from bot.store.outbox import Outbox
from jobs import alert_watch, deliver_outbox
from tests.support.app_logs import Traffic, append_log
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import START


def at(bot: Bot, minutes: int) -> datetime:
    bot.clock.set(START + timedelta(minutes=minutes))
    return bot.clock.now()


def log(bot: Bot, from_minute: int, minutes: int, traffic: Traffic) -> None:
    path = bot.app_dir / "logs" / "combined.log"
    append_log(path, bot.context.spec, START + timedelta(minutes=from_minute), minutes, traffic)


def start_with_thread(bot: Bot, phase: str = "prod-stagger") -> str:
    record = start_phase(bot, phase, START)
    ts = open_phase_thread(bot.context, record)
    assert ts is not None
    return ts


def posts(bot: Bot, words: str) -> list[ApiCall]:
    return [call for call in bot.slack.of("chat.postMessage") if words in call.text]


def buttons(call: ApiCall) -> list[str]:
    return [e["action_id"] for b in call.blocks if b["type"] == "actions" for e in b["elements"]]


def test_a_kpi_alert_its_reminder_and_its_resolution_are_one_thread_under_the_phase_start(
    bot: Bot,
) -> None:
    thread = start_with_thread(bot)
    [start] = posts(bot, "*prod-stagger* started on prod")
    assert "thread_ts" not in start.params  # the phase's own, top-level message
    assert "alerts, their reminders and resolved notices" in start.text

    log(bot, 0, 60, Traffic(staggered=True, pool_util=65.0))
    alert_watch.run(bot.context, at(bot, 10))
    [alert] = posts(bot, "Alert on prod")
    assert (alert.params["thread_ts"], alert.params["reply_broadcast"]) == (thread, True)
    assert buttons(alert) == [ACKNOWLEDGE_ACTION, SNOOZE_ACTION, REQUEST_ROLLBACK_ACTION]
    assert NO_THREAD_NOTE not in alert.text

    alert_watch.run(bot.context, at(bot, 70))
    [reminder] = posts(bot, "Still in alert since")
    assert reminder.params["thread_ts"] == thread
    assert not reminder.params.get("reply_broadcast")

    log(bot, 60, 90, Traffic(staggered=True, pool_util=25.0))
    alert_watch.run(bot.context, at(bot, 125))
    [resolved] = posts(bot, "Resolved: Pool Utilization (Avg) is 25%")
    assert resolved.params["thread_ts"] == thread
    assert not resolved.params.get("reply_broadcast")


def test_a_fired_trigger_is_broadcast_from_the_thread_and_cannot_be_snoozed(bot: Bot) -> None:
    save_baseline(bot, "prod", START, error_rate=0.0)
    thread = start_with_thread(bot)
    log(bot, 0, 20, Traffic(staggered=False, pool_util=30.0))  # the stagger did not take
    alert_watch.run(bot.context, at(bot, 10))
    [fired] = posts(bot, "Rollback trigger fired on prod")
    assert (fired.params["thread_ts"], fired.params["reply_broadcast"]) == (thread, True)
    assert buttons(fired) == [ACKNOWLEDGE_ACTION, REQUEST_ROLLBACK_ACTION]


def test_kpis_unavailable_past_the_grace_are_announced_in_the_thread_and_broadcast(
    bot: Bot,
) -> None:
    thread = start_with_thread(bot)
    log(bot, 0, 60, Traffic(staggered=True))
    alert_watch.run(bot.context, at(bot, 5))
    alert_watch.run(bot.context, at(bot, 20))
    [unavailable] = posts(bot, "KPIs unavailable on prod")
    assert (unavailable.params["thread_ts"], unavailable.params["reply_broadcast"]) == (
        thread,
        True,
    )
    assert ACKNOWLEDGE_ACTION in buttons(unavailable)


def test_a_phase_whose_start_message_is_queued_posts_its_alerts_to_the_channel_saying_so(
    bot: Bot,
) -> None:
    record = start_phase(bot, "prod-stagger", START)
    bot.slack.go_down()
    assert open_phase_thread(bot.context, record) is None
    assert [call.method for call in Outbox(bot.store).pending()] == ["post"]
    bot.slack.come_back()

    log(bot, 0, 60, Traffic(staggered=True, pool_util=65.0))
    alert_watch.run(bot.context, at(bot, 10))
    [alert] = posts(bot, "Alert on prod")
    assert "thread_ts" not in alert.params
    assert "Nothing is lost" in alert.text and "its alerts are posted here" in alert.text
    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1
    bot.slack.wait_for(lambda call: "*prod-stagger* started on prod" in call.text)
