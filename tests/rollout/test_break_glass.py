"""Break-glass rollback, end to end: `/stagger rollback <env> --now --reason TEXT` by a
break-glass user over signed Slack requests, run at once over SSH to a real sshd, told to
the channel with who and why — and refused to everyone and everywhere else."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.core.approvals import ApprovalRequest, Status
from bot.core.phase_record import ROLLED_BACK
from bot.core.plan import plan_of
from bot.core.replies import Invocation
from bot.render.blocks import APPROVE_ACTION
from bot.store.executions import Executions
from bot.store.timeline import Timeline
from commands import dispatch
from tests.support.executions import claim_here
from tests.support.rollout_state import request_rollback, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, LEAD, OPERATOR, START
from tests.support.tiered_fleet import TieredFleet

ONCALL = "U0ONCALL"
ROLLED_BACK_FILE = ENV_FILE.replace(b"JOB_STAGGER_ENABLED=true", b"JOB_STAGGER_ENABLED=false")


def on_call(bot: Bot) -> Bot:
    """The bot with ONCALL (no operator, no approver) on the spec's break_glass list."""
    bot.context.spec = bot.context.spec.model_copy(update={"break_glass": [ONCALL]})
    return bot


def audited(bot: Bot, action: str) -> list[dict[str, object]]:
    return [row for row in bot.context.audit.latest("prod", 200) if row["action"] == action]


def test_a_break_glass_user_rolls_prod_back_at_once_and_the_channel_is_told_who_and_why(
    bot: Bot,
) -> None:
    on_call(bot)
    start_phase(bot, "prod-stagger", START)

    reply = bot.command(ONCALL, "rollback prod --now --reason 'pool at 95%, checkout down'")

    text = reply.json()["text"]
    assert "Break-glass rollback of prod" in text and "no approval" in text
    request_id = bot.request_id_from(text)
    announced = bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod" in call.text, method="chat.postMessage"
    )
    assert f"<@{ONCALL}>" in announced.text and "pool at 95%, checkout down" in announced.text
    assert announced.params["channel"] == "C0ROLLOUT" and "thread_ts" not in announced.params
    done = bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert done.params["thread_ts"] == announced.params["_ts"]
    assert bot.env_file() == ROLLED_BACK_FILE
    request = bot.request(request_id)
    assert (request.status, request.approved_by, request.decided_by) == (
        Status.SUCCEEDED,
        (),
        ONCALL,
    )
    assert not [call for call in bot.slack.of("chat.postMessage") if "Approval needed" in call.text]
    (entry,) = audited(bot, "rollback.break_glass")
    assert (entry["actor"], entry["source"], entry["detail"]) == (
        ONCALL,
        "slack",
        "pool at 95%, checkout down",
    )
    assert json.loads(str(entry["args"]))["request"] == request_id
    assert audited(bot, "rollback.started") and audited(bot, "rollback.finished")
    assert bot.context.audit.verify().ok
    current = Timeline(bot.store).current()
    assert current is not None and current.phase == ROLLED_BACK
    assert f"break-glass by <@{ONCALL}>: pool at 95%, checkout down" in current.note


def test_the_report_shows_a_break_glass_rollback_as_a_rollback_with_who_and_why(
    bot: Bot,
) -> None:
    on_call(bot)
    start_phase(bot, "prod-stagger", START)
    bot.command(ONCALL, "rollback prod --now --reason 'pool at 95%'")
    bot.slack.wait_for(lambda call: "verified on all" in call.text, method="chat.postMessage")

    bot.command(OPERATOR, "report prod")

    report = bot.slack.wait_for(
        lambda call: "Report for prod" in call.text, method="chat.postMessage", timeout=60
    )
    assert "*Rolled back*" in report.text
    assert f"break-glass by <@{ONCALL}>: pool at 95%" in report.text
    history = bot.command(OPERATOR, "history prod").json()["text"]
    assert "rolled back" in history and f"break-glass by <@{ONCALL}>" in history


def test_an_operator_not_on_the_break_glass_list_is_refused_naming_who_may(bot: Bot) -> None:
    on_call(bot)

    text = bot.command(OPERATOR, "rollback prod --now --reason 'pool at 95%'").json()["text"]

    assert f"<@{OPERATOR}> may not run `rollback --now`" in text
    assert f"<@{ONCALL}>" in text and "/stagger rollback prod --reason TEXT" in text
    assert bot.store.open_requests() == [] and bot.env_file() == ENV_FILE
    (refusal,) = audited(bot, "rollback.now.refused")
    assert (refusal["actor"], refusal["detail"]) == (OPERATOR, "not on the break_glass list")


def test_the_cli_refuses_a_break_glass_rollback_because_its_user_is_nobodys_word(
    bot: Bot,
) -> None:
    on_call(bot)

    reply = dispatch(
        bot.context,
        Invocation(user=ONCALL, text="rollback prod --now --reason 'pool at 95%'", source="cli"),
    )

    assert not reply.ok and reply.followups == ()
    assert "only from Slack" in reply.text and "nobody's word" in reply.text
    assert "`rollback prod --reason TEXT`" in reply.text
    assert bot.store.open_requests() == [] and bot.env_file() == ENV_FILE


def test_now_without_a_reason_is_refused_naming_the_reason(bot: Bot) -> None:
    on_call(bot)

    text = bot.command(ONCALL, "rollback prod --now").json()["text"]

    assert "`--now` needs `--reason TEXT`" in text and "Usage:" in text
    assert bot.store.open_requests() == [] and bot.env_file() == ENV_FILE


def test_a_pending_rollback_request_is_run_at_once_as_the_break_glass(bot: Bot) -> None:
    on_call(bot)
    pending = request_rollback(bot)
    message_ts = bot.request(pending).message_ts

    text = bot.command(ONCALL, "rollback prod --now --reason 'cannot wait'").json()["text"]

    assert pending in text
    told = bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod" in call.text and "cannot wait" in call.text,
        method="chat.postMessage",
    )
    assert told.params["thread_ts"] == message_ts and told.params["reply_broadcast"] is True
    bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
    request = bot.request(pending)
    assert (request.status, request.decided_by) == (Status.SUCCEEDED, ONCALL)
    assert request.break_glass_by == ONCALL and request.reason == "pool at 90%"
    assert [r.id for r in bot.store.requests_in(Status.SUCCEEDED)] == [pending]
    assert bot.env_file() == ROLLED_BACK_FILE
    bot.click(LEAD, APPROVE_ACTION, pending)
    bot.slack.wait_for(lambda call: "already succeeded" in call.text, method="chat.postEphemeral")


def test_a_break_glass_job_rollback_sets_only_that_jobs_switch(bot: Bot) -> None:
    on_call(bot)

    bot.command(ONCALL, "rollback prod live-stats-sync --now --reason 'sync lag'")

    bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod (job LIVE_STATS_SYNC) verified" in call.text,
        method="chat.postMessage",
    )
    assert bot.env_file() == ENV_FILE.replace(
        b"JOB_STAGGER_LIVE_STATS_SYNC=1", b"JOB_STAGGER_LIVE_STATS_SYNC=0"
    )


def test_a_break_glass_rollback_waits_for_a_change_executing_and_says_so(bot: Bot) -> None:
    on_call(bot)
    busy = ApprovalRequest(
        "RBUSY2", "rollback", "prod", {"job": "LIVE_STATS_SYNC"}, OPERATOR, "sync lag",
        START, START + timedelta(minutes=30), 0,
    )  # fmt: skip
    bot.store.add_request(busy)
    claim_here(bot.store, busy.id)

    text = bot.command(ONCALL, "rollback prod --now --reason 'pool at 95%'").json()["text"]

    assert "Waiting first for `RBUSY2`" in text
    request_id = bot.request_id_from(text.replace("RBUSY2", ""))
    bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod" in call.text, method="chat.postMessage"
    )
    assert bot.request(request_id).status is Status.PENDING and bot.env_file() == ENV_FILE
    assert Executions(bot.store).finish(busy.id, Status.SUCCEEDED, "done")
    bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert bot.env_file() == ROLLED_BACK_FILE


def test_a_pending_transition_is_pre_empted_by_a_break_glass_rollback(bot: Bot) -> None:
    on_call(bot)
    transition = ApprovalRequest(
        "RMOVE2", "transition", "prod", {"phase": "prod-stagger", "forced": "no"}, OPERATOR,
        "", START, START + timedelta(minutes=30), 1,
    )  # fmt: skip
    bot.store.add_request(transition)

    bot.command(ONCALL, "rollback prod --now --reason 'pool at 95%'")

    bot.slack.wait_for(lambda call: "verified on all" in call.text, method="chat.postMessage")
    assert bot.request("RMOVE2").status is Status.CANCELLED


def test_a_break_glass_taking_over_a_pending_retry_rolls_back_every_host_of_the_env(
    tiered_fleet: TieredFleet,
) -> None:
    bot = on_call(tiered_fleet.make_bot())
    first, *others = tiered_fleet.hosts
    retry_args = {"hosts": first, "retry_of": "RFIRST"}
    now, plan = bot.clock.now(), plan_of(bot.context.spec, "rollback", "staging", retry_args)
    retry = ApprovalRequest(
        "RRETRY", "rollback", "staging", retry_args, OPERATOR, "retry the failed host", now,
        now + timedelta(minutes=30), 1, plan=plan,
    )  # fmt: skip
    bot.store.add_request(retry)

    text = bot.command(ONCALL, "rollback staging --now --reason 'errors on every host'").json()[
        "text"
    ]

    assert "RRETRY" in text
    announced = bot.slack.wait_for(
        lambda call: "Break-glass rollback of staging" in call.text, method="chat.postMessage"
    )
    assert all(f"`{host}`" in announced.text for host in tiered_fleet.hosts)
    bot.slack.wait_for(
        lambda call: "Break-glass rollback of staging verified on all 3 host(s)" in call.text,
        method="chat.postMessage",
    )
    for host in (first, *others):
        assert b"JOB_STAGGER_ENABLED=false" in tiered_fleet.env_file(host)
    request = bot.request("RRETRY")
    assert request.status is Status.SUCCEEDED and "hosts" not in request.args
