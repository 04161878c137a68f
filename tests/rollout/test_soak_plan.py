"""A tiered change keeps to the plan it was approved for, end to end (three hosts on a
real sshd, signed Slack requests): after the soak its batches set the approved flag, not
one the spec renamed since; a host that joined the spec meanwhile is left alone and said
so; a retry of a change whose criteria changed since needs a new approval."""

from __future__ import annotations

from datetime import timedelta

from bot.core.approvals import Status
from jobs import canary_soak
from tests.rollout.test_canary_tiers import OFF, ON, approve_to_soak, audited, ssh_hosts
from tests.rollout.test_soak_control import fail_batch_2
from tests.support.spec_data import LEAD, OPERATOR
from tests.support.tiered_fleet import TieredFleet


def test_after_the_soak_the_batches_set_the_approved_flag_not_the_one_the_spec_renamed(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    _canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    request_id, _posted = approve_to_soak(bot)
    spec = bot.context.spec
    renamed = spec.flag.model_copy(update={"name": "JOB_STAGGER_V2"})
    bot.context.spec = spec.model_copy(update={"flag": renamed})  # a reload meanwhile

    bot.clock.advance(timedelta(minutes=5))
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    for host in (second, third):
        assert OFF in fleet.env_file(host) and b"JOB_STAGGER_V2" not in fleet.env_file(host)
    assert bot.request(request_id).status is Status.SUCCEEDED


def test_a_host_that_joined_the_spec_during_the_soak_is_left_alone_and_said_so(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    request_id, _posted = approve_to_soak(bot)
    joined = canary.replace("127.0.0.1", "127.0.0.4")  # never reached: the plan skips it
    grown = fleet.make_bot(hosts=[canary, second, third, joined])  # the spec reloaded

    grown.clock.advance(timedelta(minutes=5))
    assert canary_soak.run(grown.context, grown.clock.now()) == [request_id]
    done = grown.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of its plan" in call.text,
        method="chat.postMessage",
    )
    assert (
        f"now runs on every host of its plan (3); {joined} joined the spec since and was "
        "not changed" in done.text
    )
    assert "every host of staging" not in done.text
    assert ssh_hosts(grown, request_id) == {canary, second, third}
    state = grown.store.env_state("staging")
    assert state.stagger_enabled is None and joined in state.note
    status = grown.command(OPERATOR, "status staging").json()["text"]
    assert "stagger UNKNOWN" in status and f"not changed: {joined}" in status


def test_a_phase_is_not_left_while_a_host_that_joined_the_spec_during_its_soak_was_not_changed(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    request_id, _posted = approve_to_soak(bot)
    joined = canary.replace("127.0.0.1", "127.0.0.4")
    grown = fleet.make_bot(hosts=[canary, second, third, joined])  # the spec reloaded
    grown.clock.advance(timedelta(minutes=5))
    assert canary_soak.run(grown.context, grown.clock.now()) == [request_id]
    grown.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of its plan" in call.text,
        method="chat.postMessage",
    )

    grown.command(OPERATOR, "advance")
    refused = grown.slack.wait_for(
        lambda call: "moving to *staging-stagger* is refused" in call.text,
        method="chat.postMessage",
    )
    assert (
        f":x: every host runs staging-baseline: 1 of 4 hosts not verified: {joined} joined "
        "the spec since and was not changed" in refused.text
    )
    assert "all 4 host(s)" not in refused.text


def test_a_retry_after_the_phases_criteria_changed_needs_a_new_approval_saying_why(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    third = fleet.hosts[2]
    bot = fleet.make_bot()
    request_id = fail_batch_2(fleet, bot)
    spec = bot.context.spec
    longer = spec.phases[0].model_copy(update={"min_duration_h": 48.0})
    bot.context.spec = spec.model_copy(update={"phases": [longer, *spec.phases[1:]]})

    said = bot.command(OPERATOR, f"retry {request_id}").json()["text"]
    assert f"`{request_id}`'s plan changed since it was approved" in said
    assert "min_hours 24 -> 48" in said and "it needs a new approval" in said
    bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and request_id not in call.text
        and "to staging-baseline" in call.text,
        method="chat.postMessage",
    )  # fmt: skip
    (entry,) = audited(bot, "transition.retry")
    retried = bot.request(entry["args"]["request"])
    assert retried.status is Status.PENDING and retried.approved_by == ()
    assert not ssh_hosts(bot, retried.id)
    assert ON in fleet.env_file(third)  # nothing runs before the new approval


def test_a_retry_under_the_original_approval_is_audited_as_approved_by_it(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    bot = fleet.make_bot()
    request_id = fail_batch_2(fleet, bot)
    said = bot.command(OPERATOR, f"retry {request_id}").json()["text"]
    assert "no approval required" not in said
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    (retry,) = audited(bot, "transition.retry")
    approved = [
        row for row in audited(bot, "transition.approved")
        if row["args"]["request"] == retry["args"]["request"]
    ]  # fmt: skip
    assert [row["detail"] for row in approved] == [f"under the approval of {request_id} ({LEAD})"]
