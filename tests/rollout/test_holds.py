"""Env locks and freeze windows end to end: signed Slack requests in, a real sshd, Web API
calls out. A hold refuses new transitions and holds the approval of pending ones, naming
who, since when, why and until when; rollbacks are never held."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.core.approvals import Status
from bot.core.replies import Invocation
from bot.rehearsal.slack_standin import ApiCall
from bot.render.blocks import APPROVE_ACTION
from bot.rollout.actions import Actions
from commands import dispatch
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, LEAD, LEAD_2, OPERATOR, OPERATOR_2, STRANGER

REQUEST_ID = re.compile(r"\bR[A-Z2-9]{5}\b")
FLAG_OFF = ENV_FILE.replace(b"JOB_STAGGER_ENABLED=true", b"JOB_STAGGER_ENABLED=false")


def say(bot: Bot, user: str, text: str) -> dict[str, Any]:
    reply = bot.command(user, text)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.json()
    return body


def audit_actions(bot: Bot, env: str) -> list[tuple[str, str]]:
    return [(row["action"], row["detail"]) for row in bot.context.audit.latest(env, 100)]


def requested_transition(bot: Bot, phase: str) -> tuple[str, ApiCall]:
    say(bot, OPERATOR, "advance")
    posted = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and f"to {phase}" in call.text,
        method="chat.postMessage",
    )
    match = REQUEST_ID.search(posted.text)
    assert match is not None
    return match[0], posted


def test_a_locked_env_refuses_an_advance_and_names_the_holder_since_and_why(bot: Bot) -> None:
    locked = say(bot, LEAD, "lock staging --reason 'db migration' --for 2h")
    assert locked["response_type"] == "in_channel"
    assert f"<@{LEAD}> locked *staging* until 2026-02-01 14:00 UTC: db migration" in locked["text"]
    assert "Rollbacks are not blocked." in locked["text"]

    bot.clock.advance(timedelta(minutes=30))
    refused = say(bot, OPERATOR, "advance")["text"]
    assert "Cannot move to staging-baseline" in refused
    assert f"*staging* is locked by <@{LEAD}> since 2026-02-01 12:00 UTC (30m ago)" in refused
    assert "db migration; until 2026-02-01 14:00 UTC" in refused
    assert "`/stagger unlock staging`" in refused and "Rollbacks are not blocked." in refused
    assert bot.store.open_requests() == []
    assert bot.env_file() == ENV_FILE
    assert ("transition.refused", f"locked by {LEAD}: db migration") in audit_actions(
        bot, "staging"
    )
    assert ("lock.acquired", "db migration") in audit_actions(bot, "staging")

    status = say(bot, STRANGER, "status")["text"]
    assert f":lock: *staging* is locked by <@{LEAD}> since 2026-02-01 12:00 UTC" in status
    assert "Rollbacks are not blocked." in status


def test_an_approve_click_is_held_by_a_lock_and_counts_once_the_env_is_unlocked(bot: Bot) -> None:
    request_id, posted = requested_transition(bot, "staging-baseline")
    locked = say(bot, LEAD_2, "lock staging --reason 'incident on the db'")["text"]
    assert f"Held now: `{request_id}`." in locked

    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    held = bot.slack.wait_for(lambda call: "Not approved" in call.text, method="chat.postEphemeral")
    assert f"locked by <@{LEAD_2}>" in held.text and "incident on the db" in held.text
    assert f"`{request_id}` stays pending" in held.text
    assert bot.request(request_id).status is Status.PENDING
    assert bot.request(request_id).approved_by == ()
    assert bot.env_file() == ENV_FILE
    assert ("approve.refused", f"locked by {LEAD_2}: incident on the db") in audit_actions(
        bot, "staging"
    )

    unlocked = say(bot, LEAD_2, "unlock staging")
    assert unlocked["response_type"] == "in_channel"
    assert f"<@{LEAD_2}> unlocked *staging*" in unlocked["text"]
    assert f"Pending transitions may be approved now: `{request_id}`" in unlocked["text"]

    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(
        lambda call: "*staging-baseline* started" in call.text and "verified on all" in call.text,
        method="chat.postMessage",
    )
    assert bot.env_file() == FLAG_OFF


def test_a_rollback_of_a_locked_env_is_approved_and_verified_on_the_host(bot: Bot) -> None:
    say(bot, LEAD, "lock prod --reason 'quarter close'")
    request_id = request_rollback(bot)
    bot.click(LEAD_2, APPROVE_ACTION, request_id)
    bot.slack.wait_for(
        lambda call: "verified on all 1 host(s)" in call.text, method="chat.postMessage"
    )
    assert bot.env_file() == FLAG_OFF
    assert bot.request(request_id).status is Status.SUCCEEDED
    # The lock still holds the env's transitions.
    assert "locked by" in say(bot, OPERATOR, "status prod")["text"]


def test_the_bots_own_auto_rollback_runs_on_a_locked_env(bot: Bot) -> None:
    say(bot, LEAD, "lock prod --reason 'quarter close'")
    reply = Actions(bot.context).propose_rollback("prod", "error_rate above 5%", auto=True)
    for followup in reply.followups:
        followup()
    bot.slack.wait_for(
        lambda call: "verified on all 1 host(s)" in call.text, method="chat.postMessage"
    )
    assert bot.env_file() == FLAG_OFF


def test_unlock_by_a_stranger_is_refused_naming_who_may_and_an_approver_may(bot: Bot) -> None:
    say(bot, OPERATOR, "lock staging --reason 'load test'")
    for user in (STRANGER, OPERATOR_2):
        refused = say(bot, user, "unlock staging")["text"]
        assert f"<@{user}> may not unlock *staging*" in refused
        assert f"the lock's holder <@{OPERATOR}> may" in refused
        assert f"staging's approvers <@{LEAD}>, <@{LEAD_2}>" in refused
    assert "locked by" in say(bot, OPERATOR, "status staging")["text"]
    assert ("unlock.refused", "neither the holder (from Slack) nor an approver of the env") in (
        audit_actions(bot, "staging")
    )

    unlocked = say(bot, LEAD, "unlock staging")["text"]
    assert f"<@{LEAD}> unlocked *staging* (held by <@{OPERATOR}>) after 0m: load test" in unlocked
    rows = bot.context.audit.latest("staging", 100)
    released = next(row for row in rows if row["action"] == "lock.released")
    assert (released["actor"], released["detail"]) == (LEAD, "by an approver")
    assert "Checking the gates" in say(bot, OPERATOR, "advance")["text"]


def test_the_holder_may_unlock_and_an_unlocked_env_says_so(bot: Bot) -> None:
    say(bot, OPERATOR, "lock staging --reason 'load test'")
    assert f"<@{OPERATOR}> unlocked *staging* after" in say(bot, OPERATOR, "unlock staging")["text"]
    assert say(bot, OPERATOR, "unlock staging")["text"] == "*staging* is not locked."


def test_locking_a_locked_env_names_the_holder_and_the_holder_may_change_the_reason(
    bot: Bot,
) -> None:
    say(bot, LEAD, "lock prod --reason 'quarter close'")
    bot.clock.advance(timedelta(hours=1))
    refused = say(bot, OPERATOR, "lock prod --reason 'mine'")["text"]
    assert "Not locked again" in refused
    assert f"locked by <@{LEAD}> since 2026-02-01 12:00 UTC (1h ago): quarter close" in refused
    assert ("lock.refused", "already locked") in audit_actions(bot, "prod")

    updated = say(bot, LEAD, "lock prod --reason 'quarter close, day 2' --for 1d")["text"]
    assert "updated the lock of *prod* until 2026-02-02 13:00 UTC: quarter close, day 2" in updated
    status = say(bot, OPERATOR, "status prod")["text"]
    assert "since 2026-02-01 12:00 UTC (1h ago): quarter close, day 2" in status


def test_a_lock_needs_a_reason_a_known_env_a_duration_and_an_operator(bot: Bot) -> None:
    assert "Say why with `--reason TEXT`" in say(bot, OPERATOR, "lock prod")["text"]
    assert (
        "Unknown environment `production`"
        in say(bot, OPERATOR, "lock production --reason x")["text"]
    )
    assert (
        "`ever` is not a window like 30m, 6h or 2d"
        in say(bot, OPERATOR, "lock prod --reason x --for ever")["text"]
    )
    refused = say(bot, STRANGER, "lock prod --reason 'why not'")["text"]
    assert f"<@{STRANGER}> may not run `lock` on prod" in refused
    assert bot.context.store.select("env_locks") == []


def test_a_transition_needing_no_approval_is_refused_at_request_time_on_a_locked_env(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(required=0)
    say(bot, LEAD, "lock staging --reason 'db migration'")
    refused = say(bot, OPERATOR, "advance")["text"]
    assert "Cannot move to staging-baseline" in refused and f"<@{LEAD}>" in refused
    assert bot.store.open_requests() == []
    assert bot.env_file() == ENV_FILE


def test_a_freeze_window_blocks_an_advance_and_says_until_when(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(
        timezone="Europe/Berlin",
        freeze=[
            # START is 2026-02-01 12:00 UTC, 13:00 in Berlin.
            {"start": "2026-02-01T09:00", "end": "2026-02-01T18:00", "envs": ["staging"],
             "reason": "quarter close"},
            {"cron": "0 9 * * *", "duration": "1h", "envs": ["prod"], "reason": "daily backup"},
        ],
    )  # fmt: skip
    refused = say(bot, OPERATOR, "advance")["text"]
    assert (
        "*staging* is in a freeze window until 2026-02-01 18:00 Europe/Berlin: quarter close."
        in refused
    )
    assert "Rollbacks are not blocked." in refused
    assert bot.store.open_requests() == []
    rows = bot.context.audit.latest("staging", 10)
    assert any(
        row["action"] == "transition.refused" and "freeze until" in row["detail"] for row in rows
    )

    status = say(bot, OPERATOR, "status")["text"]
    assert ":snowflake: *staging* is in a freeze window until 2026-02-01 18:00" in status
    assert (
        ":snowflake: *prod* freezes from 2026-02-02 09:00 Europe/Berlin until "
        "2026-02-02 10:00 Europe/Berlin: daily backup." in status
    )

    bot.clock.advance(timedelta(hours=5))  # 18:00 in Berlin: the window has ended
    assert "Checking the gates" in say(bot, OPERATOR, "advance")["text"]
    bot.slack.wait_for(lambda call: "Approval needed" in call.text, method="chat.postMessage")


def test_the_cli_refuses_lock_and_unlock_since_anyone_can_type_an_approvers_id(
    bot: Bot,
) -> None:
    say(bot, OPERATOR, "lock staging --reason 'load test'")  # from Slack: OPERATOR's lock

    def typed_at_the_shell(user: str, text: str) -> str:
        return dispatch(bot.context, Invocation(user=user, text=text, source="cli")).text

    # An approver's id typed at the shell is nobody's word: it does not unlock.
    unlock = typed_at_the_shell(LEAD, "unlock staging")
    assert "`unlock` works only from Slack" in unlock and "/stagger unlock <env>" in unlock
    assert "works only from Slack" in typed_at_the_shell(OPERATOR, "unlock staging")
    # Nor does a typed id become the holder of a new lock.
    lock = typed_at_the_shell(LEAD, "lock prod --reason 'mine now' --for 1m")
    assert "`lock` works only from Slack" in lock
    status = say(bot, OPERATOR, "status")["text"]
    assert "load test" in status and "mine now" not in status
    assert f"locked by <@{LEAD}>" not in status
    assert ("unlock.refused", "only from Slack, not from the cli") in audit_actions(bot, "staging")
    assert ("lock.refused", "only from Slack, not from the cli") in audit_actions(bot, "prod")
    # From Slack the holder's id is vouched for: the same person unlocks.
    assert f"<@{OPERATOR}> unlocked *staging*" in say(bot, OPERATOR, "unlock staging")["text"]
