"""A command's posts, through the bot's real Slack poster to the stand-in: the first two as
they come, the third the command's last message, which takes every later post in order."""

from __future__ import annotations

from bot.render.blocks import rollback_offer_blocks
from commands.post_budget import PostBudget
from tests.support.bot_process import wait_until
from tests.support.served_bot import Bot


def test_posts_past_the_third_are_added_to_it_in_order_with_their_buttons(bot: Bot) -> None:
    budget = PostBudget(bot.context.poster)
    channel = bot.context.spec.channel
    first = budget.post(channel, "post 1")
    assert first is not None
    budget.post(channel, "post 2", thread_ts=first)
    third = budget.post(channel, "post 3", thread_ts=first)
    fourth = budget.post(channel, "post 4", rollback_offer_blocks("post 4", "prod"))
    fifth = budget.post(channel, "post 5")

    assert [call.text for call in bot.slack.of("chat.postMessage")] == [
        "post 1",
        "post 2",
        "post 3",
    ]
    assert third is not None and fourth == fifth == third
    wait_until(lambda: len(bot.slack.of("chat.update")) == 2)
    last = bot.slack.of("chat.update")[-1]
    assert last.params["ts"] == third
    assert last.text == "post 3\n\npost 4\n\npost 5"
    shown = [block for block in last.blocks if block["type"] == "section"]
    assert "post 3\n\npost 4\n\npost 5" in shown[0]["text"]["text"]
    assert [e["value"] for b in last.blocks if b["type"] == "actions" for e in b["elements"]] == [
        "prod"
    ]


def test_an_approval_request_past_the_third_post_keeps_no_other_message(bot: Bot) -> None:
    budget = PostBudget(bot.context.poster)
    channel = bot.context.spec.channel
    for n in range(3):
        budget.post(channel, f"post {n}")
    assert budget.post(channel, "Approval needed: R2ABCD", request_id="R2ABCD") is None
    wait_until(lambda: bool(bot.slack.of("chat.update")))
    assert "Approval needed: R2ABCD" in bot.slack.of("chat.update")[-1].text
    assert len(bot.slack.of("chat.postMessage")) == 3
