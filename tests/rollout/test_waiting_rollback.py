"""A rollback that needs no approval (a break-glass, `auto_rollback`) and waits for a
change executing on its env in another process is never closed meanwhile: a spec reload
re-pins it to the new spec's hosts, the expiry sweep and a Deny click leave it pending,
and it runs as soon as that change ends. Signed Slack requests, a real sshd."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.core.approvals import ApprovalRequest, Status
from bot.render.blocks import DENY_ACTION
from bot.rollout.actions import Actions
from jobs import expire_requests
from tests.rollout.test_break_glass import ONCALL, ROLLED_BACK_FILE, on_call
from tests.rollout.test_plan_pinning import EXTRA_HOST, reload_with
from tests.support.bot_process import wait_until
from tests.support.executions import claim_elsewhere, finish_elsewhere
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, LEAD, OPERATOR, START
from tests.support.ssh_fixtures import SshdServer

BUSY = "RBUSY3"


def busy_elsewhere(bot: Bot) -> None:
    """A job's rollback on prod, executing in another process for a while yet."""
    busy = ApprovalRequest(
        BUSY, "rollback", "prod", {"job": "LIVE_STATS_SYNC"}, OPERATOR, "sync lag",
        START, START + timedelta(minutes=30), 0,
    )  # fmt: skip
    bot.store.add_request(busy)
    claim_elsewhere(bot.store, BUSY, lease_left_s=120)


def break_glass_waiting(bot: Bot) -> str:
    text = bot.command(ONCALL, "rollback prod --now --reason 'pool at 95%'").json()["text"]
    assert f"Waiting first for `{BUSY}`" in text
    request_id = bot.request_id_from(text.replace(BUSY, ""))
    bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod" in call.text, method="chat.postMessage"
    )
    return request_id


def runs_once_the_change_ends(bot: Bot, request_id: str) -> None:
    assert bot.request(request_id).status is Status.PENDING and bot.env_file() == ENV_FILE
    finish_elsewhere(bot.store, BUSY)
    bot.slack.wait_for(
        lambda call: "Break-glass rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert bot.env_file() == ROLLED_BACK_FILE
    assert bot.request(request_id).status is Status.SUCCEEDED
    posts = [call.text for call in bot.slack.of("chat.postMessage")]
    assert not [text for text in posts if "taken by another" in text or "lapsed" in text]


def test_a_reload_dropping_a_dead_host_re_pins_a_waiting_break_glass_which_still_runs(
    bot: Bot, sshd: SshdServer, tmp_path: Path
) -> None:
    on_call(bot)
    prod = bot.context.spec.environments["prod"]
    prod_with_dead_host = prod.model_copy(update={"hosts": [*prod.hosts, EXTRA_HOST]})
    environments = {**bot.context.spec.environments, "prod": prod_with_dead_host}
    bot.context.spec = bot.context.spec.model_copy(update={"environments": environments})
    busy_elsewhere(bot)
    request_id = break_glass_waiting(bot)
    plan = bot.request(request_id).plan
    assert plan is not None and EXTRA_HOST in plan.hosts

    def without_the_dead_host(data: dict[str, Any]) -> None:
        data["break_glass"] = [ONCALL]

    reload_with(bot, sshd, tmp_path, without_the_dead_host)

    told = bot.slack.wait_for(
        lambda call: "The spec was reloaded while" in call.text, method="chat.postMessage"
    )
    assert request_id in told.text and f"hosts: removed {EXTRA_HOST}" in told.text
    assert f"every host now in prod: `{sshd.host_address}`" in told.text
    repinned = bot.request(request_id)
    assert repinned.plan is not None and repinned.plan.hosts == (str(sshd.host_address),)
    assert repinned.required == 0
    runs_once_the_change_ends(bot, request_id)


def test_the_expiry_sweep_leaves_a_break_glass_waiting_for_a_busy_env(bot: Bot) -> None:
    on_call(bot)
    busy_elsewhere(bot)
    request_id = break_glass_waiting(bot)
    bot.clock.advance(timedelta(minutes=31))

    assert expire_requests.run(bot.context, bot.clock.now()) == []

    assert not [call for call in bot.slack.of("chat.update") if "EXPIRED" in call.all_text()]
    runs_once_the_change_ends(bot, request_id)


def test_a_break_glass_that_took_over_a_request_cant_be_denied_while_it_waits(
    bot: Bot,
) -> None:
    on_call(bot)
    pending = request_rollback(bot)
    busy_elsewhere(bot)
    text = bot.command(ONCALL, "rollback prod --now --reason 'cannot wait'").json()["text"]
    assert pending in text and f"Waiting first for `{BUSY}`" in text
    assert bot.request(pending).required == 0

    bot.click(LEAD, DENY_ACTION, pending)

    refused = bot.slack.wait_for(
        lambda call: "can't be denied" in call.text, method="chat.postEphemeral"
    )
    assert "it needs no approval; it runs as soon as the change on the env ends" in refused.text
    (audited,) = [
        row for row in bot.context.audit.latest("prod", 100) if row["action"] == "deny.refused"
    ]
    assert audited["actor"] == LEAD
    runs_once_the_change_ends(bot, pending)


def test_an_approvers_deny_click_leaves_a_waiting_break_glass_to_run(bot: Bot) -> None:
    on_call(bot)
    busy_elsewhere(bot)
    request_id = break_glass_waiting(bot)

    bot.click(LEAD, DENY_ACTION, request_id)

    bot.slack.wait_for(lambda call: "can't be denied" in call.text, method="chat.postEphemeral")
    runs_once_the_change_ends(bot, request_id)


def test_an_auto_rollback_waiting_for_a_busy_env_survives_a_reload_the_sweep_and_a_deny(
    bot: Bot, sshd: SshdServer, tmp_path: Path
) -> None:
    prod = bot.context.spec.environments["prod"]
    prod_with_dead_host = prod.model_copy(update={"hosts": [*prod.hosts, EXTRA_HOST]})
    environments = {**bot.context.spec.environments, "prod": prod_with_dead_host}
    bot.context.spec = bot.context.spec.model_copy(update={"environments": environments})
    busy_elsewhere(bot)
    failures: list[BaseException] = []

    def trigger_fires() -> None:  # as the alert watch does, under auto_rollback
        try:
            reply = Actions(bot.context).propose_rollback("prod", "trigger: pool", auto=True)
            for followup in reply.followups:
                followup()
        except BaseException as error:  # the test reports it below
            failures.append(error)

    scheduler_job = threading.Thread(target=trigger_fires)
    scheduler_job.start()
    wait_until(lambda: waiting_rollbacks(bot) != [], what="the auto rollback to wait")
    (request_id,) = waiting_rollbacks(bot)

    reload_with(bot, sshd, tmp_path, lambda data: None)
    bot.clock.advance(timedelta(minutes=31))
    assert expire_requests.run(bot.context, bot.clock.now()) == []
    bot.click(LEAD, DENY_ACTION, request_id)
    bot.slack.wait_for(lambda call: "can't be denied" in call.text, method="chat.postEphemeral")

    assert bot.request(request_id).status is Status.PENDING and bot.env_file() == ENV_FILE
    finish_elsewhere(bot.store, BUSY)
    scheduler_job.join()
    assert failures == []
    bot.slack.wait_for(
        lambda call: "Rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert bot.request(request_id).status is Status.SUCCEEDED
    assert bot.env_file() == ROLLED_BACK_FILE


def waiting_rollbacks(bot: Bot) -> list[str]:
    return [
        request.id
        for request in bot.store.open_requests("prod")
        if request.id != BUSY and request.status is Status.PENDING
    ]


def test_an_auto_rollback_running_a_persons_pending_request_cant_be_denied_while_it_waits(
    bot: Bot,
) -> None:
    pending = request_rollback(bot)
    busy_elsewhere(bot)
    scheduler_job = threading.Thread(
        target=lambda: [
            followup()
            for followup in Actions(bot.context)
            .propose_rollback("prod", "trigger: pool", auto=True)
            .followups
        ]
    )
    scheduler_job.start()
    wait_until(lambda: bot.request(pending).required == 0, what="auto_rollback to take it")

    bot.click(LEAD, DENY_ACTION, pending)

    bot.slack.wait_for(lambda call: "can't be denied" in call.text, method="chat.postEphemeral")
    assert bot.request(pending).status is Status.PENDING
    finish_elsewhere(bot.store, BUSY)
    scheduler_job.join()
    bot.slack.wait_for(
        lambda call: "Rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert bot.request(pending).status is Status.SUCCEEDED
    assert bot.env_file() == ROLLED_BACK_FILE
