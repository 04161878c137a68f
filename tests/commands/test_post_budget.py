"""A command's posts, through the bot's real Slack poster to the stand-in: the first three
as they come, each later one added to the command's latest message in its own thread;
alarms (broadcasts, rollback offers) and approval requests always on their own."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.core.approvals import ApprovalRequest
from bot.render.blocks import APPROVE_ACTION, approval_request_blocks, rollback_offer_blocks
from commands.post_budget import PostBudget
from tests.support.bot_process import wait_until
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR, START


def request_in(request_id: str) -> ApprovalRequest:
    return ApprovalRequest(
        request_id, "rollback", "prod", {}, OPERATOR, "pool at 95%",
        START, START + timedelta(minutes=30), 1,
    )  # fmt: skip


HOSTS = "\n".join(f":white_check_mark: `web-{n}` verified" for n in range(45))


def test_posts_past_the_third_join_the_latest_message_of_their_own_thread_in_order(
    bot: Bot,
) -> None:
    budget = PostBudget(bot.context.poster)
    channel = bot.context.spec.channel
    first = budget.post(channel, "post 1")
    assert first is not None
    budget.post(channel, "post 2", thread_ts=first)
    third = budget.post(channel, "post 3", thread_ts=first)
    fourth = budget.post(channel, "post 4", thread_ts=first)
    fifth = budget.post(channel, "post 5", thread_ts=first)
    top = budget.post(channel, "post 6")

    assert [call.text for call in bot.slack.of("chat.postMessage")] == [
        "post 1",
        "post 2",
        "post 3",
    ]
    assert third is not None and fourth == fifth == third and top == first
    wait_until(lambda: len(bot.slack.of("chat.update")) == 3)
    in_thread, in_channel = bot.slack.of("chat.update")[1:]
    assert in_thread.params["ts"] == third
    assert in_thread.text == "post 3\n\npost 4\n\npost 5"
    assert in_channel.params["ts"] == first and in_channel.text == "post 1\n\npost 6"


def test_a_failed_rollback_on_a_big_env_is_broadcast_on_its_own_past_the_third_post(
    bot: Bot,
) -> None:
    budget = PostBudget(bot.context.poster)
    channel = bot.context.spec.channel
    request = budget.post(channel, "Rollback of prod requested")
    assert request is not None
    budget.post(channel, "Rolling back\n" + HOSTS, thread_ts=request)  # a summary and a file

    failed = budget.post(
        channel, ":x: *Rollback FAILED on 1 of 45* — act now\n" + HOSTS,
        thread_ts=request, broadcast=True,
    )  # fmt: skip

    alarm = bot.slack.of("chat.postMessage")[-1]
    assert failed == alarm.params["_ts"] and "Rollback FAILED" in alarm.text
    assert alarm.params["thread_ts"] == request and alarm.params["reply_broadcast"] in (True, "1")
    assert bot.slack.of("chat.update") == []


def test_a_rollback_offer_past_the_third_post_is_a_post_of_its_own_with_its_button(
    bot: Bot,
) -> None:
    budget = PostBudget(bot.context.poster)
    channel = bot.context.spec.channel
    for n in range(3):
        budget.post(channel, f"post {n}")
    budget.post(channel, "KPIs out of bounds", rollback_offer_blocks("KPIs out of bounds", "prod"))

    offer = bot.slack.of("chat.postMessage")[-1]
    assert offer.text == "KPIs out of bounds"
    assert [b["block_id"] for b in offer.blocks if b["type"] == "actions"] == ["offer:prod"]


def test_an_update_of_the_message_that_took_later_posts_keeps_them_after_its_new_text(
    bot: Bot,
) -> None:
    budget = PostBudget(bot.context.poster)
    channel = bot.context.spec.channel
    request = budget.post(channel, "Transition requested")
    assert request is not None
    budget.post(channel, "Soaking the canary", thread_ts=request)
    progress = budget.post(channel, "web-1 not started\nweb-2 not started", thread_ts=request)
    assert progress is not None
    budget.post(channel, "Hosts are being restarted", thread_ts=request)

    assert budget.update(channel, progress, "web-1 verified\nweb-2 verified")

    last = bot.slack.of("chat.update")[-1]
    assert last.params["ts"] == progress
    assert last.text == "web-1 verified\nweb-2 verified\n\nHosts are being restarted"


def test_an_approval_request_past_the_third_post_goes_out_as_its_own_post_with_buttons(
    bot: Bot,
) -> None:
    budget = PostBudget(bot.context.poster)
    channel = bot.context.spec.channel
    for n in range(3):
        budget.post(channel, f"post {n}")
    buttons = approval_request_blocks(request_in("R2ABCD"), bot.context.spec.timezone)
    ts = budget.post(channel, "Approval needed: R2ABCD", buttons, request_id="R2ABCD")
    posts = bot.slack.of("chat.postMessage")
    assert ts is not None and len(posts) == 4
    assert posts[-1].params["_ts"] == ts and "Approval needed: R2ABCD" in posts[-1].text
    assert APPROVE_ACTION in json.dumps(posts[-1].params["blocks"])
    assert not [call for call in bot.slack.of("chat.update") if "R2ABCD" in call.all_text()]


def test_no_post_joins_an_approval_request_its_approval_will_rewrite(bot: Bot) -> None:
    budget = PostBudget(bot.context.poster)
    channel = bot.context.spec.channel
    budget.post(channel, "post 1")
    budget.post(channel, "post 2")
    request = budget.post(channel, "Approval needed: R2ABCD", request_id="R2ABCD")
    assert request is not None
    budget.post(channel, "post 4")

    assert bot.slack.of("chat.update")[-1].params["ts"] != request
