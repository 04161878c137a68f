"""A rollback that needs no approval (a break-glass) is never expired: the expiry sweep
running between the end of the change it waits for and its waiter's next poll leaves it
to its waiter, which runs it; one whose waiter is gone (a restart) is claimed and run by
the scheduler's sweep. Signed Slack requests, a real sshd."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.approvals import ApprovalRequest, Status
from bot.core.clock import ManualClock
from bot.rollout.plan_pinning import with_plan
from jobs import expire_requests, recover_orphans
from tests.rollout.test_break_glass import ONCALL, ROLLED_BACK_FILE, audited, on_call
from tests.rollout.test_waiting_rollback import BUSY, break_glass_waiting, busy_elsewhere
from tests.support.executions import finish_elsewhere
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, START


def test_the_expiry_sweep_right_after_the_busy_change_ends_leaves_the_break_glass_to_run(
    bot: Bot,
) -> None:
    on_call(bot)
    busy_elsewhere(bot)
    request_id = break_glass_waiting(bot)
    bot.clock.advance(timedelta(minutes=31))  # past the request's expiry
    finish_elsewhere(bot.store, BUSY)
    # Both sweeps, within the waiter's half-second poll:
    assert expire_requests.run(bot.context, bot.clock.now()) == []
    recover_orphans.run(bot.context, bot.clock.now())

    bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert bot.env_file() == ROLLED_BACK_FILE
    assert bot.request(request_id).status is Status.SUCCEEDED
    posts = [call.text for call in bot.slack.of("chat.postMessage")]
    assert not [text for text in posts if "taken by another" in text or "Expired" in text]


def stored_break_glass_without_waiter(bot: Bot) -> ApprovalRequest:
    """A pending break-glass whose process restarted before it claimed it."""
    request = with_plan(
        bot.context.spec,
        ApprovalRequest(
            "RORPHAN1", "rollback", "prod",
            {"break_glass": ONCALL, "break_glass_reason": "pool at 95%"}, ONCALL,
            "pool at 95%", START, START + timedelta(minutes=30), 0,
        ),
    )  # fmt: skip
    bot.store.add_request(request)
    return request


def test_a_break_glass_whose_waiter_is_gone_is_run_by_the_scheduler_not_expired(
    bot: Bot,
) -> None:
    on_call(bot)
    wall = ManualClock(datetime.now(UTC))
    bot.context.wall_clock = wall
    request = stored_break_glass_without_waiter(bot)
    bot.clock.advance(timedelta(minutes=31))

    assert expire_requests.run(bot.context, bot.clock.now()) == []
    recover_orphans.run(bot.context, bot.clock.now())  # free now: a waiter may yet claim it
    assert bot.request(request.id).status is Status.PENDING and bot.env_file() == ENV_FILE
    wall.advance(timedelta(seconds=3))  # six waiter polls: none claimed it
    recover_orphans.run(bot.context, bot.clock.now())

    assert bot.env_file() == ROLLED_BACK_FILE
    stored = bot.request(request.id)
    assert stored.status is Status.SUCCEEDED and stored.decided_by == "scheduler"
    assert audited(bot, "rollback.orphan_run")
    bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
