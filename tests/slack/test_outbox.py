"""Slack down for longer than the client's retries: the post is queued in the store and
delivered later — delayed, not lost, and still usable."""

from __future__ import annotations

from typing import Any

from bot.render.blocks import APPROVE_ACTION
from bot.store.outbox import Outbox
from jobs import deliver_outbox
from tests.support.bot_process import wait_until
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, OPERATOR


def test_a_post_slack_refuses_is_delivered_later_with_its_buttons(bot: Bot) -> None:
    for _ in range(4):  # the first try and the ServerErrorRetryHandler's three retries
        bot.slack.fail_next("chat.postMessage", 500)
    reply = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")
    request_id = bot.request_id_from(reply.json()["text"])
    outbox = Outbox(bot.store)
    wait_until(lambda: bool(outbox.pending()), what="the refused post in the outbox")
    assert bot.slack.of("chat.postMessage") == []
    queued = outbox.pending()
    assert len(queued) == 1 and request_id in queued[0].arguments["text"]

    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1
    [posted] = bot.slack.of("chat.postMessage")
    assert posted.text.startswith("_(delayed: Slack was unavailable at 2026-02-01 12:00 UTC)_")
    assert outbox.pending() == []
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(lambda call: "verified on all" in call.text, method="chat.postMessage")


def test_while_slack_stays_down_the_queue_keeps_its_order(bot: Bot) -> None:
    outbox = Outbox(bot.store)
    for text in ("first", "second"):
        outbox.enqueue("post", {"channel": "C0ROLLOUT", "text": text}, bot.clock.now(), "500")
    for _ in range(4):
        bot.slack.fail_next("chat.postMessage", 500)
    assert deliver_outbox.run(bot.context, bot.clock.now()) == 0
    assert [call.attempts for call in Outbox(bot.store).pending()] == [2, 1]
    assert deliver_outbox.run(bot.context, bot.clock.now()) == 2
    texts = [call.text.splitlines()[-1] for call in bot.slack.of("chat.postMessage")]
    assert texts == ["first", "second"]


def test_a_post_slack_never_answers_is_queued_and_the_command_still_answered(
    bot_factory: Any,
) -> None:
    bot = bot_factory(slack_timeout_s=3)
    bot.slack.hang_next("chat.postMessage")

    reply = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")

    assert reply.status == 200
    request_id = bot.request_id_from(reply.json()["text"])
    outbox = Outbox(bot.store)
    wait_until(lambda: bool(outbox.pending()), what="the timed-out post in the outbox")
    [queued] = outbox.pending()
    assert request_id in queued.arguments["text"]
    [(why,)] = bot.store.read().execute("SELECT last_error FROM outbox").fetchall()
    assert why == "TimeoutError"
    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1
    [posted] = bot.slack.of("chat.postMessage")
    assert request_id in posted.text and outbox.pending() == []


def test_an_approval_request_delivered_late_is_closed_on_approval_and_answered_in_its_thread(
    bot: Bot,
) -> None:
    for _ in range(4):  # the first try and the ServerErrorRetryHandler's three retries
        bot.slack.fail_next("chat.postMessage", 500)
    reply = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")
    request_id = bot.request_id_from(reply.json()["text"])
    outbox = Outbox(bot.store)
    wait_until(lambda: bool(outbox.pending()), what="the request's post in the outbox")
    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1
    [posted] = bot.slack.of("chat.postMessage")
    ts = posted.params["_ts"]

    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=ts)

    result = bot.slack.wait_for(
        lambda call: "verified on all" in call.text, method="chat.postMessage"
    )
    assert result.params.get("thread_ts") == ts
    closed = bot.slack.wait_for(lambda call: call.params.get("ts") == ts, method="chat.update")
    assert APPROVE_ACTION not in closed.all_text()


def test_a_request_decided_while_its_post_was_queued_is_closed_once_delivered(bot: Bot) -> None:
    for _ in range(4):
        bot.slack.fail_next("chat.postMessage", 500)
    reply = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")
    request_id = bot.request_id_from(reply.json()["text"])
    outbox = Outbox(bot.store)
    wait_until(lambda: bool(outbox.pending()), what="the request's post in the outbox")
    assert "Denied" in bot.command(LEAD, f"deny {request_id} not now").json()["text"]

    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1

    posted = bot.slack.wait_for(
        lambda call: call.text.endswith(f"({request_id})"), method="chat.postMessage"
    )
    closed = bot.slack.wait_for(
        lambda call: call.params.get("ts") == posted.params["_ts"], method="chat.update"
    )
    assert APPROVE_ACTION not in closed.all_text()
    assert "denied" in closed.text
