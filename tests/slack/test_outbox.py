"""Slack down for longer than the client's retries: the post is queued in the store and
delivered later — delayed, not lost, and still usable."""

from __future__ import annotations

from typing import Any

from bot.render.blocks import APPROVE_ACTION
from bot.store.outbox import Outbox
from commands.post_budget import PostBudget
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


def test_a_queued_message_slack_refuses_for_good_goes_as_text_and_the_queue_moves_on(
    bot: Bot,
) -> None:
    outbox = Outbox(bot.store)
    offer = {"type": "actions", "block_id": "offer:prod", "elements": []}
    repeated = {"channel": "C0ROLLOUT", "text": "Rollback failed", "blocks": [offer, offer]}
    outbox.enqueue("post", repeated, bot.clock.now(), "500")
    outbox.enqueue("post", {"channel": "C0ROLLOUT", "text": "behind it"}, bot.clock.now(), "500")

    assert deliver_outbox.run(bot.context, bot.clock.now()) == 2

    refused, behind = bot.slack.of("chat.postMessage")
    assert "Rollback failed" in refused.text and "shown as text only" in refused.text
    assert refused.blocks == []
    assert behind.text.endswith("behind it")
    assert outbox.pending() == []
    assert deliver_outbox.run(bot.context, bot.clock.now()) == 0


def test_a_queued_request_message_delivered_as_text_says_how_to_approve_or_deny_it(
    bot: Bot,
) -> None:
    offer = {"type": "actions", "block_id": "offer:prod", "elements": []}
    asked = {"channel": "C0ROLLOUT", "text": "Approval needed (R9QUEUE)", "blocks": [offer, offer]}
    Outbox(bot.store).enqueue("post", asked, bot.clock.now(), "500", "R9QUEUE")

    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1

    [posted] = bot.slack.of("chat.postMessage")
    assert "its buttons are gone: `/stagger approve R9QUEUE` or `/stagger deny R9QUEUE`" in (
        posted.text
    )


def test_a_queued_update_slack_refuses_even_as_text_is_dropped_logged_and_audited(
    bot: Bot,
) -> None:
    outbox = Outbox(bot.store)
    gone = {"channel": "C0ROLLOUT", "ts": "1.000", "text": "progress", "blocks": []}
    outbox.enqueue("update", gone, bot.clock.now(), "500")
    outbox.enqueue("post", {"channel": "C0ROLLOUT", "text": "behind it"}, bot.clock.now(), "500")
    bot.slack.refuse_next("chat.update", "message_not_found")
    bot.slack.refuse_next("chat.update", "message_not_found")

    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1

    [behind] = bot.slack.of("chat.postMessage")
    assert behind.text.endswith("behind it") and outbox.pending() == []
    [(outcome, detail)] = (
        bot.store.read()
        .execute("SELECT outcome, detail FROM audit WHERE action = 'slack.dropped'")
        .fetchall()
    )
    assert outcome == "failed" and "progress" in detail


def test_posts_after_a_third_post_slack_refused_join_it_in_the_queue(bot: Bot) -> None:
    budget = PostBudget(bot.context.poster, outbox=Outbox(bot.store))
    channel = bot.context.spec.channel
    budget.post(channel, "post 1")
    budget.post(channel, "post 2")
    for _ in range(4):  # the first try and the ServerErrorRetryHandler's three retries
        bot.slack.fail_next("chat.postMessage", 500)
    assert budget.post(channel, "post 3") is None
    budget.post(channel, "post 4")
    budget.post(channel, "post 5")

    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1

    texts = [call.text for call in bot.slack.of("chat.postMessage")]
    assert len(texts) == 3 and texts[-1].endswith("post 3\n\npost 4\n\npost 5")


def test_posts_added_to_a_queued_message_as_it_goes_out_follow_as_its_update(bot: Bot) -> None:
    outbox = Outbox(bot.store)
    outbox.enqueue("post", {"channel": "C0ROLLOUT", "text": "post 3"}, bot.clock.now(), "500")
    [going] = outbox.pending()
    assert outbox.rewrite(going.id, "post 3\n\npost 4", [])
    outbox.delivered(going, bot.clock.now(), "1700000000.000900")  # sent as it was read

    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1

    [update] = bot.slack.of("chat.update")
    assert update.params["ts"] == "1700000000.000900" and update.text == "post 3\n\npost 4"
    assert not outbox.rewrite(going.id, "too late", [])


def test_a_message_slack_refuses_for_its_blocks_goes_at_once_as_text_not_to_the_queue(
    bot: Bot,
) -> None:
    offer = {"type": "actions", "block_id": "offer:prod", "elements": []}

    ts = bot.context.poster.post("C0ROLLOUT", "Rollback failed", [offer, offer])

    [posted] = bot.slack.of("chat.postMessage")
    assert ts == posted.params["_ts"] and "shown as text only" in posted.text
    assert Outbox(bot.store).pending() == []


def test_a_request_message_slack_refuses_for_its_blocks_says_how_to_approve_or_deny_it(
    bot: Bot,
) -> None:
    bot.slack.refuse_next("chat.postMessage", "invalid_blocks")
    reply = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")
    request_id = bot.request_id_from(reply.json()["text"])

    posted = bot.slack.wait_for(
        lambda call: "shown as text only" in call.text, method="chat.postMessage"
    )
    assert f"`/stagger approve {request_id}` or `/stagger deny {request_id}`" in posted.text
    approved = bot.command(LEAD, f"approve {request_id}").json()["text"]
    assert f"Approved `{request_id}`" in approved


def test_a_post_slack_refuses_for_good_even_as_text_is_kept_then_dropped_and_audited(
    bot: Bot,
) -> None:
    offer = {"type": "actions", "block_id": "offer:prod", "elements": []}
    bot.slack.refuse_next("chat.postMessage", "invalid_blocks")
    bot.slack.refuse_next("chat.postMessage", "channel_not_found")

    assert bot.context.poster.post("C0ROLLOUT", "Rollback failed on web-2", [offer]) is None

    outbox = Outbox(bot.store)
    [kept] = outbox.pending()
    assert "Rollback failed on web-2" in kept.arguments["text"]
    bot.slack.refuse_next("chat.postMessage", "channel_not_found")
    bot.slack.refuse_next("chat.postMessage", "channel_not_found")
    assert deliver_outbox.run(bot.context, bot.clock.now()) == 0
    assert outbox.pending() == []
    [(outcome, detail)] = (
        bot.store.read()
        .execute("SELECT outcome, detail FROM audit WHERE action = 'slack.dropped'")
        .fetchall()
    )
    assert outcome == "failed" and "Rollback failed on web-2" in detail
