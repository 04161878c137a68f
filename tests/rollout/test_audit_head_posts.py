"""The posts that close an action, and every checkpoint, carry the audit head: the entry
that recorded the outcome, as `stagger-bot audit verify --head` takes it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from bot.core.audit_head import parse_head
from bot.rehearsal.slack_standin import ApiCall
from bot.render.blocks import APPROVE_ACTION
from bot.store.audit import AuditEntry
from tests.support.rollout_state import request_rollback, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, OPERATOR, START

HEAD = re.compile(r"audit head `(\d+:[0-9a-f]{16})`")
REQUEST_ID = re.compile(r"\bR[A-Z2-9]{5}\b")


def head_in(call: ApiCall) -> str:
    found = HEAD.findall(call.text)
    assert len(found) == 1, call.text
    return str(found[0])


def request_id(posted: ApiCall) -> str:
    match = REQUEST_ID.search(posted.text)
    assert match is not None, posted.text
    return match[0]


def assert_witnesses(bot: Bot, head: str, action: str) -> None:
    """The head is an entry of the trail that records `action`, and the trail verifies
    against it."""
    parsed = parse_head(head)
    row = next(row for row in bot.context.audit.latest(None, 100) if row["id"] == parsed.id)
    assert row["action"] == action and row["hash"].startswith(parsed.hash)
    assert bot.context.audit.verify(parsed).ok


def test_a_verified_rollback_reports_with_the_head_of_its_finished_entry(bot: Bot) -> None:
    request_id = request_rollback(bot)
    posted = bot.slack.of("chat.postMessage")[0]
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    done = bot.slack.wait_for(
        lambda call: "Rollback of prod verified" in call.text, method="chat.postMessage"
    )
    assert_witnesses(bot, head_in(done), "rollback.finished")


def test_a_failed_rollback_reports_with_the_head_too(bot_factory: Callable[..., Bot]) -> None:
    bot = bot_factory(required=0, extra_hosts=("root@127.0.0.1:1",))
    bot.command(OPERATOR, "rollback prod")
    failed = bot.slack.wait_for(
        lambda call: "FAILED on 1 of 2 host(s)" in call.text, method="chat.postMessage"
    )
    assert_witnesses(bot, head_in(failed), "rollback.finished")


def test_a_transition_reports_with_the_head_of_its_finished_entry(bot: Bot) -> None:
    bot.command(OPERATOR, "advance")
    posted = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text, method="chat.postMessage"
    )
    bot.click(LEAD, APPROVE_ACTION, request_id(posted), message_ts=posted.params["_ts"])
    done = bot.slack.wait_for(
        lambda call: "*staging-baseline* started" in call.text, method="chat.postMessage"
    )
    assert_witnesses(bot, head_in(done), "transition.finished")


def test_a_failed_transition_shows_the_head_in_its_message_and_its_blocks(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(extra_hosts=("root@127.0.0.1:1",))
    bot.command(OPERATOR, "advance")
    posted = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text, method="chat.postMessage"
    )
    bot.click(LEAD, APPROVE_ACTION, request_id(posted), message_ts=posted.params["_ts"])
    failed = bot.slack.wait_for(
        lambda call: "The rollout stays in *not started*" in call.text, method="chat.postMessage"
    )
    head = head_in(failed)
    assert f"audit head `{head}`" in str(failed.blocks)  # what Slack shows of the message
    assert_witnesses(bot, head, "transition.finished")


def test_a_checkpoint_post_carries_the_head_of_the_trail(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", START - timedelta(hours=1))
    bot.context.record(AuditEntry(OPERATOR, "slack", "silence", None, {"kpi": "all"}))
    bot.command(OPERATOR, "checkpoint prod")
    posted = bot.slack.wait_for(
        lambda call: "KPI checkpoint — prod" in call.text, method="chat.postMessage"
    )
    head = parse_head(head_in(posted))
    newest = bot.context.audit.latest(None, 1)[0]
    assert head.id <= newest["id"] and bot.context.audit.verify(head).ok
