"""Rollback triggers on the alert cadence: announced once per breach with a rollback
proposed, quiet while the breach lasts, announced again after it cleared and came back."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.breaches import Breaches
from jobs import trigger_watch
from tests.app_logs import Traffic, append_log
from tests.conftest import START, Bot
from tests.rollout_state import save_baseline, start_phase


def at(bot: Bot, minutes: int) -> datetime:
    bot.clock.set(START + timedelta(minutes=minutes))
    return bot.clock.now()


def log(bot: Bot, from_minute: int, minutes: int, traffic: Traffic) -> None:
    path = bot.app_dir / "logs" / "combined.log"
    append_log(path, bot.context.spec, START + timedelta(minutes=from_minute), minutes, traffic)


def alerts(bot: Bot) -> list[str]:
    return [c.text for c in bot.slack.of("chat.postMessage") if "Rollback trigger fired" in c.text]


def test_a_firing_trigger_is_announced_once_with_value_and_threshold(bot: Bot) -> None:
    save_baseline(bot, "prod", START, error_rate=0.0)
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 20, Traffic(staggered=False, pool_util=30.0))  # the stagger did not take
    fired = trigger_watch.run(bot.context, at(bot, 10))
    assert {t.name for t in fired} == {
        "Jobs fail to execute at expected offsets",
        "Concurrent jobs still >3",
    }
    alert = bot.slack.wait_for(
        lambda call: "Rollback trigger fired on prod" in call.text, method="chat.postMessage"
    )
    assert "Concurrent jobs still >3: max_concurrent_jobs = 8 (threshold > 3)" in alert.text
    proposal = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "rollback prod" in call.text,
        method="chat.postMessage",
    )
    assert "rollback trigger: " in proposal.all_text()

    assert trigger_watch.run(bot.context, at(bot, 15)) == []
    assert len(alerts(bot)) == 1
    assert len(bot.store.open_requests("prod")) == 1
    audited = [
        row for row in bot.context.audit.latest("prod", 50) if row["action"] == "trigger.fired"
    ]
    assert len(audited) == 2


def test_a_cleared_trigger_that_returns_is_announced_again(bot: Bot) -> None:
    save_baseline(bot, "prod", START, error_rate=0.0)
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 10, Traffic(staggered=True, collisions_per_hour=1))
    assert [t.name for t in trigger_watch.run(bot.context, at(bot, 10))] == [
        "Collision warnings detected"
    ]
    log(bot, 10, 80, Traffic(staggered=True))
    assert trigger_watch.run(bot.context, at(bot, 75)) == []  # the 60-min window is clean
    assert not Breaches(bot.store).open_breaches("prod")
    log(bot, 90, 10, Traffic(staggered=True, collisions_per_hour=1))
    assert [t.name for t in trigger_watch.run(bot.context, at(bot, 100))] == [
        "Collision warnings detected"
    ]
    assert len(alerts(bot)) == 2


def test_triggers_are_not_evaluated_while_the_stagger_is_off(bot: Bot) -> None:
    start_phase(bot, "prod-baseline", START)
    log(bot, 0, 20, Traffic(staggered=False, pool_util=90.0))
    assert trigger_watch.run(bot.context, at(bot, 10)) == []
    assert alerts(bot) == []
