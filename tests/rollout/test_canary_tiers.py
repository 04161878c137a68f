"""Host tiers end to end: three hosts of their own on a real sshd, the canary first, a
soak kept in the store, then one host per batch; signed Slack requests in, Web API calls
out. A failed batch stops the next; the retry button runs exactly what did not verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.approvals import Status
from bot.core.changes import HostOutcome
from bot.core.checks import CheckState
from bot.core.clock import isoformat_ms
from bot.core.tiers import HostState
from bot.rehearsal.slack_standin import ApiCall
from bot.render.blocks import APPROVE_ACTION, RETRY_ACTION
from bot.store.event_log import EventLog
from bot.store.execution_hosts import ExecutionHosts
from bot.store.soaks import Soaks
from bot.store.timeline import Timeline
from jobs import canary_soak, recover_orphans, validation_checks
from tests.rollout.test_transitions import REQUEST_ID, request_for
from tests.support.executions import GONE_OWNER
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, LEAD_2, OPERATOR, RELOAD_SCRIPT, START
from tests.support.tiered_fleet import TieredFleet

OFF = b"JOB_STAGGER_ENABLED=false"
ON = b"JOB_STAGGER_ENABLED=true"


def audited(bot: Bot, action: str) -> list[dict[str, Any]]:
    """The audit trail's `action` entries, their args read."""
    return [
        {**row, "args": json.loads(row["args"])}
        for row in bot.context.audit.latest("staging", 2000)
        if row["action"] == action
    ]


def ssh_hosts(bot: Bot, request_id: str) -> set[str]:
    """The hosts the audit trail shows SSH commands on for `request_id`."""
    return {
        row["args"]["host"]
        for row in audited(bot, "ssh")
        if row["args"].get("request") == request_id
    }


def approve_to_soak(bot: Bot) -> tuple[str, ApiCall]:
    request_id, posted = request_for(bot, "staging-baseline")
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(lambda call: "*Canary verified*" in call.text, method="chat.postMessage")
    return request_id, posted


def test_the_canary_soaks_then_a_failed_batch_stops_the_next_and_the_retry_runs_only_the_rest(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    fleet.break_reload(second)
    request_id, posted = approve_to_soak(bot)

    # The canary alone changed; the others wait for the soak, whose due time is stored.
    assert OFF in fleet.env_file(canary)
    assert ON in fleet.env_file(second) and ON in fleet.env_file(third)
    assert bot.request(request_id).status is Status.SOAKING
    soak = Soaks(bot.store).of(request_id)
    assert soak is not None and soak.due_at == START + timedelta(minutes=5)
    state = bot.store.env_state("staging")
    assert "on the canary hosts only" in state.note and "after the soak" in state.note
    status = bot.command(OPERATOR, "status staging").json()["text"]
    assert "canary hosts only" in status

    # Not yet due: nothing more runs.
    bot.clock.advance(timedelta(minutes=4))
    assert canary_soak.run(bot.context, bot.clock.now()) == []
    assert ON in fleet.env_file(second)

    bot.clock.advance(timedelta(minutes=1))
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    stopped = bot.slack.wait_for(
        lambda call: "stopped: batch 2 failed on" in call.text, method="chat.postMessage"
    )
    assert f"stopped: batch 2 failed on {second}; batch 3 ({third}) not started" in stopped.text
    assert stopped.params["thread_ts"] == posted.params["_ts"]
    assert ON in fleet.env_file(third)  # batch 3 never ran
    assert ssh_hosts(bot, request_id) == {canary, second}
    assert bot.request(request_id).status is Status.FAILED
    standings = {s.host: s.state for s in ExecutionHosts(bot.store).of(request_id)}
    assert standings == {
        canary: HostState.VERIFIED,
        second: HostState.FAILED,
        third: HostState.NOT_STARTED,
    }
    buttons = [
        element
        for block in stopped.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    retry = next(button for button in buttons if button["action_id"] == RETRY_ACTION)
    assert retry["text"]["text"] == "Retry the 1 failed and 1 not-started hosts"
    assert retry["value"] == request_id

    # The host fixed, the button (through the signed HTTP path) runs exactly those two.
    fleet.fix_reload(second, RELOAD_SCRIPT)
    canary_env = fleet.env_file(canary)
    bot.click(OPERATOR, RETRY_ACTION, request_id, message_ts=stopped.params["_ts"])
    done = bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    (entry,) = audited(bot, "transition.retry")
    retry_id = entry["args"]["request"]
    assert f"verified on all 2 host(s) retried from `{request_id}` as `{retry_id}`" in done.text
    assert entry["args"]["retry_of"] == request_id and "under the approval of" in entry["detail"]
    assert OFF in fleet.env_file(second) and OFF in fleet.env_file(third)
    assert fleet.env_file(canary) == canary_env
    assert ssh_hosts(bot, retry_id) == {second, third}
    retried = bot.request(retry_id)
    assert retried.args["retry_of"] == request_id
    assert retried.args["hosts"] == f"{second},{third}"
    assert retried.approved_by == (LEAD,)  # the original approval, still unexpired
    assert retried.status is Status.SUCCEEDED
    assert not [r for r in bot.slack.of("chat.postMessage") if f"({retry_id})" in r.text
                and "Approval needed" in r.text]  # fmt: skip
    state = bot.store.env_state("staging")
    assert (state.phase, state.stagger_enabled) == ("staging-baseline", False)
    phases = Timeline(bot.store).history()
    assert [p.phase for p in phases] == ["staging-baseline"]  # entered once, at the canary

    again = bot.command(OPERATOR, f"retry {retry_id}").json()["text"]
    assert f"Every host of `{retry_id}` verified: there is nothing to retry." in again


def test_a_rollback_approved_during_the_soak_runs_on_every_host_at_once_and_cancels_the_rest(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    bot = fleet.make_bot()
    request_id, posted = approve_to_soak(bot)
    bot.command(OPERATOR, "rollback staging --reason 'canary looks wrong'")
    asked = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "rollback staging" in call.text,
        method="chat.postMessage",
    )
    assert bot.request(request_id).status is Status.SOAKING  # asking for it cancels nothing
    found = REQUEST_ID.search(asked.text)
    assert found is not None
    rollback_id = found[0]
    bot.click(LEAD, APPROVE_ACTION, rollback_id, message_ts=asked.params["_ts"])
    cancelled = bot.slack.wait_for(
        lambda call: "is cancelled" in call.text and request_id in call.text,
        method="chat.postMessage",
    )
    assert cancelled.params["thread_ts"] == posted.params["_ts"]
    assert f"Not started: {fleet.hosts[1]}, {fleet.hosts[2]}" in cancelled.text
    assert bot.request(request_id).status is Status.CANCELLED
    bot.slack.wait_for(
        lambda call: "Rollback of staging verified on all 3 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert ssh_hosts(bot, rollback_id) == set(fleet.hosts)
    assert not [r for r in audited(bot, "rollback.tier") if r["args"]["request"] == rollback_id]
    (cancel,) = audited(bot, "transition.cancelled")
    assert cancel["args"]["rollback"] == rollback_id

    # The soak's time passes: the cancelled change never goes on.
    bot.clock.advance(timedelta(minutes=6))
    assert canary_soak.run(bot.context, bot.clock.now()) == []
    assert ssh_hosts(bot, request_id) == {fleet.hosts[0]}
    soak = Soaks(bot.store).of(request_id)
    assert soak is not None and soak.status == "cancelled"


def test_a_restart_during_the_soak_continues_it_from_the_store(tiered_fleet: TieredFleet) -> None:
    fleet = tiered_fleet
    first = fleet.make_bot()
    request_id, _posted = approve_to_soak(first)
    restarted = fleet.make_bot()  # a new process's bot on the same store and clock
    restarted.clock.advance(timedelta(minutes=5))
    assert canary_soak.run(restarted.context, restarted.clock.now()) == [request_id]
    restarted.slack.wait_for(
        lambda call: (
            "*staging-baseline* now runs on every host of staging: verified on all 3" in call.text
        ),
        method="chat.postMessage",
    )
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)
    assert restarted.request(request_id).status is Status.SUCCEEDED
    tiers = [row["args"]["tier"] for row in audited(restarted, "transition.tier")]
    assert sorted(tiers) == ["batch 2", "batch 3", "canary"]
    state = restarted.store.env_state("staging")
    assert (state.phase, state.stagger_enabled, state.note) == ("staging-baseline", False, "")


def test_during_the_soak_the_validation_watches_the_canary_alone_and_its_failure_stops_the_rest(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    approve_to_soak(bot)
    bot.clock.advance(timedelta(minutes=5))
    canary_soak.run(bot.context, bot.clock.now())
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)

    request_id, posted = request_for(
        bot, "staging-stagger", "phase staging-stagger --force --reason 'validated elsewhere'"
    )
    for approver in (LEAD, LEAD_2):
        bot.click(approver, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(
        lambda call: "*Canary verified*: staging-stagger" in call.text, method="chat.postMessage"
    )
    assert ON in fleet.env_file(canary) and OFF in fleet.env_file(second)

    bot.clock.advance(timedelta(minutes=5))
    assert canary_soak.run(bot.context, bot.clock.now()) == []  # its +5 min check runs first
    events = EventLog(bot.store)
    logs = {host: str(fleet.app_dir(host) / "logs/combined.log") for host in fleet.hosts}
    for host in fleet.hosts:
        with open(logs[host], "a", encoding="utf-8") as log:
            log.write("2026-02-01 12:12:00.000 info: a line written during the soak\n")
    before = {host: events.cursor("staging", host, logs[host]) for host in fleet.hosts}
    ((check, outcome),) = validation_checks.run(bot.context, bot.clock.now())
    headline = bot.slack.wait_for(
        lambda call: f"Validation {check.label}" in call.text, method="chat.postMessage"
    )
    assert f"canary hosts only ({canary}), during the soak" in headline.text
    assert outcome is not CheckState.MET  # no job ran on the canary: nothing shows it works
    after = {host: events.cursor("staging", host, logs[host]) for host in fleet.hosts}
    assert after[canary] != before[canary]  # the canary's log was read
    assert (after[second], after[third]) == (before[second], before[third])  # not theirs

    # The failed check proposed a rollback; the soak's end then stops the rest of the change.
    bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "rollback staging" in call.text,
        method="chat.postMessage",
    )
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "stopped after the canary" in call.text, method="chat.postMessage"
    )
    assert bot.request(request_id).status is Status.FAILED
    assert bot.store.env_state("staging").stagger_enabled is None  # the fleet is mixed
    assert OFF in fleet.env_file(second) and OFF in fleet.env_file(third)
    assert ssh_hosts(bot, request_id) == {canary}


def test_a_crash_mid_rollout_is_reported_host_by_host_and_the_retry_runs_only_the_rest(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    request_id, posted = approve_to_soak(bot)
    # Another process took the soak up, changed batch 2, and died before batch 3: its lease
    # lapsed, the store holds what it finished.
    with bot.store.transaction() as db:
        db.execute(
            "UPDATE approvals SET status = 'executing', executor = ?, lease_expires_at = ? "
            "WHERE id = ? AND status = 'soaking'",
            [GONE_OWNER, isoformat_ms(datetime.now(UTC) - timedelta(seconds=5)), request_id],
        )
    Soaks(bot.store).close(request_id, "continued", "checks passed")
    second_env = fleet.app_dir(second) / ".env"
    second_env.write_bytes(second_env.read_bytes().replace(ON, OFF))
    ExecutionHosts(bot.store).record(
        request_id, HostOutcome(second, True, "written, reloaded, seen"), bot.clock.now()
    )

    recover_orphans.run(bot.context, bot.clock.now())
    report = bot.slack.wait_for(
        lambda call: "was interrupted" in call.text and request_id in call.text,
        method="chat.postMessage",
    )
    assert report.params["thread_ts"] == posted.params["_ts"]
    assert "the fleet is mixed" in report.text
    lines = report.text.splitlines()
    assert any(f"`{canary}`" in line and line.startswith(":white_check_mark:") for line in lines)
    assert any(f"`{second}`" in line and line.startswith(":white_check_mark:") for line in lines)
    assert f":white_circle: `{third}` not started" in lines
    buttons = [e for b in report.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["text"]["text"] == "Retry the 0 failed and 1 not-started hosts"

    bot.click(OPERATOR, RETRY_ACTION, request_id, message_ts=report.params["_ts"])
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    (entry,) = audited(bot, "transition.retry")
    assert ssh_hosts(bot, entry["args"]["request"]) == {third}
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)


def test_a_retry_after_the_approval_expired_is_a_new_request_that_needs_approving(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    _canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    fleet.break_reload(second)
    request_id, _posted = approve_to_soak(bot)
    bot.clock.advance(timedelta(minutes=5))
    canary_soak.run(bot.context, bot.clock.now())
    stopped = bot.slack.wait_for(
        lambda call: "stopped: batch 2 failed on" in call.text, method="chat.postMessage"
    )
    fleet.fix_reload(second, RELOAD_SCRIPT)
    bot.clock.advance(timedelta(minutes=26))  # past the original's 30 min expiry

    bot.click(OPERATOR, RETRY_ACTION, request_id, message_ts=stopped.params["_ts"])
    asked = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "to staging-baseline" in call.text
        and request_id not in call.text,
        method="chat.postMessage",
    )  # fmt: skip
    (entry,) = audited(bot, "transition.retry")
    retry_id = entry["args"]["request"]
    assert f"({retry_id})" in asked.text
    assert "approval expired" in entry["detail"]
    retried = bot.request(retry_id)
    assert (retried.required, retried.args["hosts"]) == (1, f"{second},{third}")
    assert ON in fleet.env_file(third)  # nothing runs before the approval
    assert not ssh_hosts(bot, retry_id)

    bot.click(LEAD, APPROVE_ACTION, retry_id, message_ts=asked.params["_ts"])
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    assert ssh_hosts(bot, retry_id) == {second, third}
    assert bot.request(retry_id).approved_by == (LEAD,)


def test_a_rollback_in_tiers_stops_at_a_failed_batch_and_its_retry_rolls_back_the_rest(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = fleet.make_bot(rollback_in_tiers=True)
    fleet.break_reload(second)
    bot.command(OPERATOR, "rollback staging --reason 'pool at 90%'")
    asked = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "rollback staging" in call.text,
        method="chat.postMessage",
    )
    found = REQUEST_ID.search(asked.text)
    assert found is not None
    rollback_id = found[0]
    bot.click(LEAD, APPROVE_ACTION, rollback_id, message_ts=asked.params["_ts"])
    failed = bot.slack.wait_for(
        lambda call: "Rollback of staging FAILED" in call.text, method="chat.postMessage"
    )
    assert f"stopped: batch 2 failed on {second}; batch 3 ({third}) not started" in failed.text
    assert ON in fleet.env_file(third)
    assert [r["args"]["tier"] for r in audited(bot, "rollback.tier")][::-1] == [
        "canary",
        "batch 2",
    ]  # newest first in the trail

    fleet.fix_reload(second, RELOAD_SCRIPT)
    bot.click(OPERATOR, RETRY_ACTION, rollback_id, message_ts=failed.params["_ts"])
    bot.slack.wait_for(
        lambda call: "Rollback of staging verified on all 2 host(s)" in call.text,
        method="chat.postMessage",
    )
    (entry,) = audited(bot, "rollback.retry")
    assert ssh_hosts(bot, entry["args"]["request"]) == {second, third}
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)
    assert canary in ssh_hosts(bot, rollback_id)


def test_a_retry_skips_and_lists_a_host_that_left_the_spec_since(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    fleet.break_reload(second)
    request_id, _posted = approve_to_soak(bot)
    bot.clock.advance(timedelta(minutes=5))
    canary_soak.run(bot.context, bot.clock.now())
    stopped = bot.slack.wait_for(
        lambda call: "stopped: batch 2 failed on" in call.text, method="chat.postMessage"
    )
    fleet.fix_reload(second, RELOAD_SCRIPT)
    # The spec no longer lists the third host (a new bot on the same store reads it).
    shrunk = fleet.make_bot(hosts=[canary, second])

    shrunk.click(OPERATOR, RETRY_ACTION, request_id, message_ts=stopped.params["_ts"])
    said = shrunk.slack.wait_for(
        lambda call: "Retrying" in call.text and request_id in call.text,
        method="chat.postEphemeral",
    )
    assert f"Skipped, no longer in the spec: `{third}`." in said.text
    shrunk.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    (entry,) = audited(shrunk, "transition.retry")
    retry_id = entry["args"]["request"]
    assert entry["args"]["skipped"] == [third]
    assert ssh_hosts(shrunk, retry_id) == {second}
    assert ON in fleet.env_file(third)
    standings = {s.host: s.state for s in ExecutionHosts(shrunk.store).of(retry_id)}
    assert standings == {second: HostState.VERIFIED, third: HostState.SKIPPED}
