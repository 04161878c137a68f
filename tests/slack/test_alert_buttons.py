"""The buttons on an alert, clicked as Slack sends them (signed block actions over HTTP):
Acknowledge records who and stops the reminders, Snooze 1h is the KPI's silence for an
hour, Request rollback asks for a rollback as the clicker."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.approvals import Status
from bot.rehearsal.slack_standin import ApiCall
from bot.render.blocks import ACKNOWLEDGE_ACTION, REQUEST_ROLLBACK_ACTION, SNOOZE_ACTION
from bot.rollout.phase_thread import open_phase_thread
from bot.store.breaches import Breaches
from bot.store.silences import Silences
from jobs import alert_watch
from tests.support.app_logs import Traffic, append_log
from tests.support.bot_process import wait_until
from tests.support.rollout_state import start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR, OPERATOR_2, START, STRANGER


def at(bot: Bot, minutes: int) -> datetime:
    bot.clock.set(START + timedelta(minutes=minutes))
    return bot.clock.now()


def pool_alert(bot: Bot) -> ApiCall:
    """prod-stagger running with its thread, the pool average in alert: the alert post."""
    open_phase_thread(bot.context, start_phase(bot, "prod-stagger", START))
    path = bot.app_dir / "logs" / "combined.log"
    append_log(path, bot.context.spec, START, 60, Traffic(staggered=True, pool_util=65.0))
    alert_watch.run(bot.context, at(bot, 10))
    alert = bot.slack.wait_for(lambda call: "Alert on prod" in call.text, method="chat.postMessage")
    wait_until(lambda: Breaches(bot.store).open_breaches("prod")[0].message_ts is not None)
    return alert


def value_of(alert: ApiCall, action_id: str) -> str:
    return next(
        str(element["value"])
        for block in alert.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )


def answer_to(bot: Bot, user: str, words: str) -> ApiCall:
    return bot.slack.wait_for(
        lambda call: call.params.get("user") == user and words in call.text,
        method="chat.postEphemeral",
    )


def test_acknowledge_shows_who_on_the_alert_stops_its_reminders_and_is_in_status(
    bot: Bot,
) -> None:
    alert = pool_alert(bot)
    alert_id = value_of(alert, ACKNOWLEDGE_ACTION)
    assert f"Alert `{alert_id}`" in alert.text
    at(bot, 12)

    reply = bot.click(OPERATOR, ACKNOWLEDGE_ACTION, alert_id, message_ts=alert.params["_ts"])

    assert reply.status == 200, reply.body
    answer_to(bot, OPERATOR, f"acknowledged `{alert_id}`")
    updated = bot.slack.wait_for(
        lambda call: call.params.get("ts") == alert.params["_ts"], method="chat.update"
    )
    assert f"Acknowledged by <@{OPERATOR}> at 12:12 UTC; reminders stopped." in updated.all_text()
    assert "Pool Utilization (Avg) is 65%" in updated.all_text()
    remaining = [
        e["action_id"] for b in updated.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert remaining == [SNOOZE_ACTION, REQUEST_ROLLBACK_ACTION]
    acknowledged = [
        r for r in bot.context.audit.latest("prod", 20) if r["action"] == "alert.acknowledged"
    ]
    assert [row["actor"] for row in acknowledged] == [OPERATOR]

    alert_watch.run(bot.context, at(bot, 80))  # past remind_every_min
    assert not [c for c in bot.slack.of("chat.postMessage") if "Still in alert" in c.text]
    status = bot.command(OPERATOR_2, "status").json()["text"]
    assert f"alert `{alert_id}`, acknowledged by <@{OPERATOR}> at 2026-02-01 12:12 UTC" in status


def test_a_second_acknowledge_says_who_already_did(bot: Bot) -> None:
    alert = pool_alert(bot)
    alert_id = value_of(alert, ACKNOWLEDGE_ACTION)
    bot.click(OPERATOR, ACKNOWLEDGE_ACTION, alert_id, message_ts=alert.params["_ts"])
    answer_to(bot, OPERATOR, "acknowledged")

    bot.click(OPERATOR_2, ACKNOWLEDGE_ACTION, alert_id, message_ts=alert.params["_ts"])

    answer_to(
        bot, OPERATOR_2, f"`{alert_id}` is already acknowledged by <@{OPERATOR}> at 12:10 UTC."
    )
    assert len(bot.slack.of("chat.update")) == 1
    typed = bot.command(OPERATOR_2, f"ack {alert_id}").json()["text"]
    assert f"already acknowledged by <@{OPERATOR}>" in typed


def test_an_unacknowledged_alert_says_how_to_acknowledge_it_in_status(bot: Bot) -> None:
    alert = pool_alert(bot)
    alert_id = value_of(alert, ACKNOWLEDGE_ACTION)
    status = bot.command(OPERATOR, "status").json()["text"]
    assert f"alert `{alert_id}`, not acknowledged (`/stagger ack {alert_id}`)" in status
    assert "There is no alert `A999`" in bot.command(OPERATOR, "ack A999").json()["text"]


def test_a_stranger_cannot_acknowledge(bot: Bot) -> None:
    alert = pool_alert(bot)
    alert_id = value_of(alert, ACKNOWLEDGE_ACTION)
    bot.click(STRANGER, ACKNOWLEDGE_ACTION, alert_id, message_ts=alert.params["_ts"])
    answer_to(bot, STRANGER, f"<@{STRANGER}> may not run `ack` on prod")
    assert Breaches(bot.store).open_breaches("prod")[0].acknowledged_by is None


def test_snooze_silences_the_kpi_for_an_hour_audited_and_shown_in_status(bot: Bot) -> None:
    alert = pool_alert(bot)

    bot.click(
        OPERATOR, SNOOZE_ACTION, value_of(alert, SNOOZE_ACTION), message_ts=alert.params["_ts"]
    )

    answer_to(bot, OPERATOR, "silenced pool_util_avg alerts until 2026-02-01 13:10 UTC")
    [silence] = Silences(bot.store).active(bot.clock.now())
    assert (silence.kpi, silence.by, silence.reason) == (
        "pool_util_avg",
        OPERATOR,
        "snoozed from the alert",
    )
    audited = [r for r in bot.context.audit.latest(None, 20) if r["action"] == "silence"]
    assert [(row["actor"], row["detail"]) for row in audited] == [
        (OPERATOR, "snoozed from the alert")
    ]
    status = bot.command(OPERATOR, "status").json()["text"]
    assert (
        f":mute: pool_util_avg silenced until 2026-02-01 13:10 UTC by <@{OPERATOR}>: "
        "snoozed from the alert"
    ) in status


def test_request_rollback_on_the_alert_asks_for_a_rollback_as_the_clicker(bot: Bot) -> None:
    alert = pool_alert(bot)

    bot.click(
        OPERATOR, REQUEST_ROLLBACK_ACTION, value_of(alert, REQUEST_ROLLBACK_ACTION),
        message_ts=alert.params["_ts"],
    )  # fmt: skip

    posted = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "rollback prod" in call.text,
        method="chat.postMessage",
    )
    [request] = bot.store.open_requests("prod")
    assert (request.action, request.requester) == ("rollback", OPERATOR)
    assert request.id in posted.text
    assert request.status is Status.PENDING  # it still needs an approver's click
