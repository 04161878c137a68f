"""Rollback triggers on the alert cadence: announced once per breach with a rollback
proposed, quiet while the breach lasts, announced again after it cleared and came back."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.kpi_report import format_rate, window_text
from bot.rehearsal.slack_standin import ApiCall
from bot.render.blocks import ACKNOWLEDGE_ACTION, REQUEST_ROLLBACK_ACTION, SNOOZE_ACTION
from bot.runtime import build_context
from bot.settings import Settings
from bot.store.breaches import Breaches
from jobs import alert_watch
from tests.support.app_logs import Traffic, append_lines, append_log, lock_skip_lines
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import AUDIT_KEY, OPERATOR, START


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
    fired = alert_watch.run(bot.context, at(bot, 10))
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

    assert alert_watch.run(bot.context, at(bot, 15)) == []
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
    assert [t.name for t in alert_watch.run(bot.context, at(bot, 10))] == [
        "Collision warnings detected"
    ]
    log(bot, 10, 80, Traffic(staggered=True))
    assert alert_watch.run(bot.context, at(bot, 75)) == []  # the 60-min window is clean
    assert not [
        b for b in Breaches(bot.store).open_breaches("prod") if b.key.startswith("trigger:")
    ]
    log(bot, 90, 10, Traffic(staggered=True, collisions_per_hour=1))
    assert [t.name for t in alert_watch.run(bot.context, at(bot, 100))] == [
        "Collision warnings detected"
    ]
    assert len(alerts(bot)) == 2


def test_triggers_are_not_evaluated_while_the_stagger_is_off(bot: Bot) -> None:
    start_phase(bot, "prod-baseline", START)
    log(bot, 0, 20, Traffic(staggered=False, pool_util=90.0))
    assert alert_watch.run(bot.context, at(bot, 10)) == []
    assert alerts(bot) == []


def kpi_alerts(bot: Bot) -> list[ApiCall]:
    return [c for c in bot.slack.of("chat.postMessage") if "Alert on prod" in c.text]


def test_a_kpi_alert_posts_once_reminds_after_the_interval_and_resolves_once(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 60, Traffic(staggered=True, pool_util=65.0))  # avg in alert (> 60)
    alert_watch.run(bot.context, at(bot, 10))
    [alert] = kpi_alerts(bot)
    assert "Pool Utilization (Avg) is 65% (alert > 60, target < 40)" in alert.text
    buttons = [
        e["action_id"] for b in alert.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [ACKNOWLEDGE_ACTION, SNOOZE_ACTION, REQUEST_ROLLBACK_ACTION]
    alert_watch.run(bot.context, at(bot, 30))
    # A restart: a new process on the same store does not announce the breach again.
    restarted = build_context(
        Settings.from_environ({"STAGGER_DB": str(bot.store.path), "STAGGER_AUDIT_KEY": AUDIT_KEY}),
        bot.context.spec, transport=bot.context.transport, poster=bot.context.poster,
        clock=bot.clock,
    )  # fmt: skip
    alert_watch.run(restarted, at(bot, 40))
    assert len(kpi_alerts(bot)) == 1
    alert_watch.run(restarted, at(bot, 70))
    reminder = bot.slack.wait_for(lambda c: "Still in alert since 2026-02-01 12:10 UTC" in c.text)
    assert reminder.params["thread_ts"] == alert.params["_ts"]
    alert_watch.run(restarted, at(bot, 75))
    assert len([c for c in bot.slack.of("chat.postMessage") if "Still in alert" in c.text]) == 1
    log(bot, 60, 90, Traffic(staggered=True, pool_util=25.0))
    alert_watch.run(restarted, at(bot, 125))
    resolved = bot.slack.wait_for(lambda c: "Resolved: Pool Utilization (Avg) is 25%" in c.text)
    assert resolved.params["thread_ts"] == alert.params["_ts"]
    alert_watch.run(restarted, at(bot, 130))
    assert len([c for c in bot.slack.of("chat.postMessage") if "Resolved" in c.text]) == 1


def test_a_silenced_kpi_is_not_posted_and_status_shows_the_silence(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", START)
    reply = bot.command(OPERATOR, "silence pool_util_avg 2h --reason 'known noisy host'")
    assert "silenced pool_util_avg alerts until 2026-02-01 14:00 UTC" in reply.json()["text"]
    log(bot, 0, 60, Traffic(staggered=True, pool_util=65.0))
    alert_watch.run(bot.context, at(bot, 10))
    assert kpi_alerts(bot) == []
    status = bot.command(OPERATOR, "status").json()["text"]
    assert "pool_util_avg silenced until 2026-02-01 14:00 UTC" in status
    assert "known noisy host" in status
    assert "Pool Utilization (Avg) is 65%" in status  # the breach is open, just quiet
    assert "ended 1 silence(s)" in bot.command(OPERATOR, "unsilence").json()["text"]
    actions = [row["action"] for row in bot.context.audit.latest(None, 10)]
    assert "silence" in actions and "unsilence" in actions


def test_an_unavailable_kpi_is_an_alert_after_the_grace_period(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 60, Traffic(staggered=True))
    alert_watch.run(bot.context, at(bot, 5))
    alert_watch.run(bot.context, at(bot, 19))
    assert not [c for c in bot.slack.of("chat.postMessage") if "unavailable" in c.text]
    alert_watch.run(bot.context, at(bot, 20))
    posted = bot.slack.wait_for(lambda c: "KPIs unavailable on prod" in c.text)
    assert "• job_duration_avg: PROD_DATABASE_URL is not set" in posted.text
    alert_watch.run(bot.context, at(bot, 25))
    assert len([c for c in bot.slack.of("chat.postMessage") if "KPIs unavailable" in c.text]) == 1


def test_a_429_from_slack_delays_the_alert_but_loses_nothing(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 60, Traffic(staggered=True, pool_util=65.0))
    bot.slack.fail_next("chat.postMessage", 429, retry_after=1)
    alert_watch.run(bot.context, at(bot, 10))
    assert len(kpi_alerts(bot)) == 1


def capture_lock_skip_baseline(bot: Bot, hours: int, per_hour: int) -> None:
    """Lock skips for `hours` before START - 6h, captured then as staging's baseline."""
    log = bot.app_dir / "logs" / "combined.log"
    append_lines(log, lock_skip_lines(START - timedelta(hours=6 + hours), hours, per_hour))
    bot.clock.set(START - timedelta(hours=6))
    bot.command(OPERATOR, f"baseline capture staging {hours}h")
    bot.slack.wait_for(lambda call: "Baseline for staging captured" in call.text)


def test_lock_skips_doubled_per_hour_fire_the_alert_against_a_day_long_baseline(
    bot: Bot,
) -> None:
    capture_lock_skip_baseline(bot, hours=24, per_hour=1)
    start_phase(bot, "staging-stagger", START - timedelta(hours=6))
    log = bot.app_dir / "logs" / "combined.log"
    append_lines(log, lock_skip_lines(START - timedelta(hours=6), 6, 2))
    bot.clock.set(START)
    alert_watch.run(bot.context, START)  # over the last 60 min: 2 skips, 1/h in the baseline
    [alert] = [c for c in bot.slack.of("chat.postMessage") if "Alert on staging" in c.text]
    window = window_text(START - timedelta(hours=1), START, "UTC")
    baseline = window_text(START - timedelta(hours=30), START - timedelta(hours=6), "UTC")
    assert (
        f"Lock Skips is 2 in {window} ({format_rate(2 / 1)} against {format_rate(24 / 24)}: "
        f"+100% per hour; baseline {baseline}) (alert change > 10%, target change <= -80%)"
    ) in alert.text


def test_too_few_lock_skips_in_the_baseline_raise_no_alert_on_one_to_two(bot: Bot) -> None:
    capture_lock_skip_baseline(bot, hours=1, per_hour=1)
    start_phase(bot, "staging-stagger", START - timedelta(hours=6))
    log = bot.app_dir / "logs" / "combined.log"
    append_lines(log, lock_skip_lines(START - timedelta(hours=1), 1, 2))
    bot.clock.set(START)
    alert_watch.run(bot.context, START)
    assert not [c for c in bot.slack.of("chat.postMessage") if "Alert on staging" in c.text]
    bot.command(OPERATOR, "kpi staging 1h")
    table = bot.slack.wait_for(lambda call: "KPIs for staging" in call.text).text
    row = next(line for line in table.splitlines() if line.startswith("Lock Skips"))
    assert row.endswith(
        "too few events to compare (1 in the baseline window (1h), at least 10 needed)"
    )
