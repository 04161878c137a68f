"""Approvals pinned to the plan: the request shows what an approval covers (hosts, the
change, the phase's terms); a spec reload that changes any of it lapses the request,
saying what changed, and its Approve button is refused; a reload of anything else leaves
it approvable. Signed Slack requests in, a real sshd, the Web API stand-in out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import tomli_w

from bot.core.approvals import ApprovalRequest, Status
from bot.render.blocks import APPROVE_ACTION
from bot.runtime import reload_spec
from tests.support.bot_process import wait_until
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, LEAD, LEAD_2, OPERATOR, START, spec_data
from tests.support.ssh_fixtures import SshdServer

EXTRA_HOST = "root@127.0.0.1:1"


def reload_with(
    bot: Bot, sshd: SshdServer, tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    """Write the bot's spec with `change` made to it, and reload it as SIGHUP does."""
    data = spec_data(
        [str(sshd.host_address)], bot.app_dir, known_hosts=sshd.known_hosts,
        key_file=sshd.client_key,
    )  # fmt: skip
    change(data)
    path = tmp_path / "reloaded.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    assert reload_spec(bot.context, path)


def add_prod_host(data: dict[str, Any]) -> None:
    prod = data["environments"]["prod"]
    prod["hosts"] = [*prod["hosts"], EXTRA_HOST]


def test_the_approval_message_lists_the_hosts_and_the_change_it_covers(
    bot: Bot, sshd: SshdServer
) -> None:
    request_id = request_rollback(bot)

    posted = bot.slack.of("chat.postMessage")[0].all_text()

    plan = bot.request(request_id).plan
    assert plan is not None
    assert f"`{sshd.host_address}`" in posted and "`JOB_STAGGER_ENABLED=false`" in posted
    assert f"*Plan* `{plan.short_digest}`" in posted
    requested = bot.context.audit.latest("prod", 5)[-1]
    assert requested["action"] == "rollback.requested" and plan.short_digest in str(
        requested["args"]
    )


def test_a_host_added_by_a_reload_lapses_the_pending_request_saying_so(
    bot: Bot, sshd: SshdServer, tmp_path: Path
) -> None:
    request_id = request_rollback(bot)

    reload_with(bot, sshd, tmp_path, add_prod_host)

    request = bot.request(request_id)
    assert request.status is Status.CANCELLED
    assert request.outcome == f"lapsed: the plan changed: hosts: added {EXTRA_HOST}"
    closed = bot.slack.wait_for(lambda call: "CANCELLED" in call.all_text(), method="chat.update")
    assert not [block for block in closed.blocks if block["type"] == "actions"]
    assert f"hosts: added {EXTRA_HOST}" in closed.all_text()
    told = bot.slack.wait_for(lambda call: "lapsed" in call.text, method="chat.postMessage")
    assert told.params["thread_ts"] == request.message_ts
    assert f"hosts: added {EXTRA_HOST}" in told.text and "Request it again" in told.text
    lapsed = [
        row for row in bot.context.audit.latest("prod", 20) if row["action"] == "request.lapsed"
    ]
    assert len(lapsed) == 1 and EXTRA_HOST in str(lapsed[0]["detail"])

    bot.click(LEAD, APPROVE_ACTION, request_id)

    refused = bot.slack.wait_for(lambda call: "lapsed" in call.text, method="chat.postEphemeral")
    assert f"hosts: added {EXTRA_HOST}" in refused.text and "request it again" in refused.text
    assert bot.env_file() == ENV_FILE
    assert bot.request(request_id).status is Status.CANCELLED


def test_a_transition_whose_phase_terms_change_lapses_naming_the_term(
    bot: Bot, sshd: SshdServer, tmp_path: Path
) -> None:
    bot.command(OPERATOR, "phase staging-baseline")
    posted = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text, method="chat.postMessage"
    )
    assert "*Phase:* staging-baseline (min_hours 24" in posted.all_text()
    request_id = bot.request_id_from(posted.text.replace("(", " ").replace(")", " "))
    wait_until(lambda: bot.request(request_id).message_ts is not None)

    def shorter(data: dict[str, Any]) -> None:
        data["phases"][0]["min_duration_h"] = 12

    reload_with(bot, sshd, tmp_path, shorter)

    assert bot.request(request_id).outcome == (
        "lapsed: the plan changed: phase staging-baseline: criteria changed (min_hours 24 -> 12)"
    )
    bot.click(LEAD, APPROVE_ACTION, request_id)
    refused = bot.slack.wait_for(lambda call: "lapsed" in call.text, method="chat.postEphemeral")
    assert "min_hours 24 -> 12" in refused.text
    assert bot.env_file() == ENV_FILE


def test_a_reload_of_what_the_plan_does_not_hold_leaves_the_request_approvable(
    bot: Bot, sshd: SshdServer, tmp_path: Path
) -> None:
    request_id = request_rollback(bot)

    def unrelated(data: dict[str, Any]) -> None:
        data["kpis"]["pool_util_max"]["alert"] = "> 90"
        data["phases"][3]["min_duration_h"] = 24
        data["environments"]["prod"]["approvals"]["approvers"] = [LEAD, LEAD_2, "U0LEAD3"]
        staging = data["environments"]["staging"]
        staging["hosts"] = [*staging["hosts"], EXTRA_HOST]

    reload_with(bot, sshd, tmp_path, unrelated)

    assert bot.request(request_id).status is Status.PENDING
    bot.click(LEAD, APPROVE_ACTION, request_id)
    bot.slack.wait_for(
        lambda call: "verified on all 1 host(s)" in call.text, method="chat.postMessage"
    )
    assert bot.request(request_id).status is Status.SUCCEEDED
    assert not [c for c in bot.slack.of("chat.postMessage") if "lapsed" in c.text]


def test_a_spec_changed_in_memory_lapses_the_request_at_the_click(bot: Bot) -> None:
    request_id = request_rollback(bot)
    environments = dict(bot.context.spec.environments)
    prod = environments["prod"]
    environments["prod"] = prod.model_copy(update={"hosts": [*prod.hosts, EXTRA_HOST]})
    bot.context.spec = bot.context.spec.model_copy(update={"environments": environments})

    bot.click(LEAD, APPROVE_ACTION, request_id)

    refused = bot.slack.wait_for(lambda call: "lapsed" in call.text, method="chat.postEphemeral")
    assert f"hosts: added {EXTRA_HOST}" in refused.text
    assert bot.request(request_id).status is Status.CANCELLED
    assert bot.env_file() == ENV_FILE
    refusal = [r for r in bot.context.audit.latest("prod", 20) if r["action"] == "approve.refused"]
    assert refusal and str(refusal[0]["detail"]).startswith("lapsed: the plan changed")


def unpinned_request(bot: Bot) -> ApprovalRequest:
    """A pending rollback as a store from before plans were kept holds it."""
    request = ApprovalRequest(
        "ROLD22", "rollback", "prod", {}, OPERATOR, "pool at 90%",
        START, START + timedelta(minutes=30), 1,
    )  # fmt: skip
    bot.store.add_request(request)
    return request


def test_a_request_from_before_plans_is_pinned_at_its_first_click_and_runs(bot: Bot) -> None:
    request = unpinned_request(bot)

    bot.click(LEAD, APPROVE_ACTION, request.id)

    bot.slack.wait_for(
        lambda call: "verified on all 1 host(s)" in call.text, method="chat.postMessage"
    )
    done = bot.request(request.id)
    assert done.status is Status.SUCCEEDED and done.plan is not None
    assert done.plan.hosts == tuple(bot.context.spec.environments["prod"].hosts)


def test_a_request_from_before_plans_lapses_on_a_reload(
    bot: Bot, sshd: SshdServer, tmp_path: Path
) -> None:
    request = unpinned_request(bot)

    reload_with(bot, sshd, tmp_path, lambda data: None)

    lapsed = bot.request(request.id)
    assert (
        lapsed.status is Status.CANCELLED and "made before approvals were pinned" in lapsed.outcome
    )
