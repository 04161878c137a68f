"""A tiered change under the env's controls, end to end (three hosts on a real sshd, signed
Slack requests): a lock keeps a soak's other hosts waiting (not cancelled) until it ends, a
transition's retry is held by the lock while a rollback's is not, a rollback only asked for
(then denied) or a per-job one leaves the soak alone, and a phase its canary entered is
not left, nor declared a success, while some of its hosts do not run it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.approvals import Status
from bot.core.freeze import FreezeSpec
from bot.render.blocks import APPROVE_ACTION, DENY_ACTION, RETRY_ACTION
from bot.store.check_schedule import CheckSchedule
from bot.store.soaks import Soaks
from jobs import canary_soak, success_watch
from tests.rollout.test_canary_tiers import OFF, ON, approve_to_soak, audited, ssh_hosts
from tests.rollout.test_transitions import REQUEST_ID, request_for
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, LEAD_2, OPERATOR, RELOAD_SCRIPT
from tests.support.tiered_fleet import TieredFleet


def fail_batch_2(fleet: TieredFleet, bot: Bot) -> str:
    """staging-baseline entered at its canary, batch 2 failed, batch 3 not started; the
    failed host fixed since. The transition's id."""
    fleet.break_reload(fleet.hosts[1])
    request_id, _posted = approve_to_soak(bot)
    bot.clock.advance(timedelta(minutes=5))
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "stopped: batch 2 failed on" in call.text, method="chat.postMessage"
    )
    fleet.fix_reload(fleet.hosts[1], RELOAD_SCRIPT)
    return request_id


def rollback_requested(bot: Bot, words: str) -> tuple[str, str]:
    """The id of the rollback `words` asked for, and its approval message's ts."""
    bot.command(OPERATOR, f"rollback {words}")
    asked = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "rollback staging" in call.text,
        method="chat.postMessage",
    )
    found = REQUEST_ID.search(asked.text)
    assert found is not None
    return found[0], asked.params["_ts"]


def test_a_lock_keeps_the_soaks_other_hosts_waiting_until_it_is_unlocked(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    _canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    request_id, posted = approve_to_soak(bot)
    locked = bot.command(LEAD, "lock staging --reason 'incident review'").json()["text"]
    assert f"Held now: `{request_id}`." in locked

    bot.clock.advance(timedelta(minutes=6))
    assert canary_soak.run(bot.context, bot.clock.now()) == []
    assert ON in fleet.env_file(second) and ON in fleet.env_file(third)
    assert bot.request(request_id).status is Status.SOAKING  # waiting, not cancelled
    told = bot.slack.wait_for(
        lambda call: "the soak is over" in call.text, method="chat.postMessage"
    )
    assert (
        f"the soak is over but staging is locked by <@{LEAD}>: the other hosts wait until "
        "it is unlocked" in told.text
    )
    assert told.params["thread_ts"] == posted.params["_ts"]
    status = bot.command(OPERATOR, "status staging").json()["text"]
    assert f"`{request_id}`: the soak is over but staging is locked by <@{LEAD}>" in status

    bot.clock.advance(timedelta(minutes=1))
    assert canary_soak.run(bot.context, bot.clock.now()) == []
    said = [c for c in bot.slack.of("chat.postMessage") if "the soak is over but" in c.text]
    assert len(said) == 1  # once per hold, however many runs it waits

    unlocked = bot.command(LEAD, "unlock staging").json()["text"]
    assert "may be approved now" not in unlocked  # a soaking change is not pending
    assert f"its other hosts go on when the soak is over: `{request_id}`" in unlocked
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)
    assert bot.request(request_id).status is Status.SUCCEEDED


def test_a_freeze_window_keeps_the_soaks_other_hosts_waiting_until_it_ends(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    bot = fleet.make_bot()
    request_id, posted = approve_to_soak(bot)  # at START, 12:00 UTC
    window = FreezeSpec(
        start=datetime(2026, 2, 1, 12, 3), end=datetime(2026, 2, 1, 13, 0),
        envs=["staging"], reason="quarter close",
    )  # fmt: skip
    bot.context.spec = bot.context.spec.model_copy(update={"freeze": [window]})

    bot.clock.advance(timedelta(minutes=6))
    assert canary_soak.run(bot.context, bot.clock.now()) == []
    told = bot.slack.wait_for(
        lambda call: "the soak is over" in call.text, method="chat.postMessage"
    )
    assert "staging is in a freeze window: the other hosts wait until the hold ends" in told.text
    assert "until 2026-02-01 13:00" in told.text and "quarter close" in told.text
    assert told.params["thread_ts"] == posted.params["_ts"]
    assert ON in fleet.env_file(fleet.hosts[2])

    bot.clock.advance(timedelta(minutes=55))  # 13:01: the freeze is over
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)


def test_a_soak_whose_check_failed_stops_even_while_the_env_is_locked(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = fleet.make_bot(canary_soak_min=30)  # its +5 min check is due within the soak
    baseline_id, _posted = approve_to_soak(bot)
    bot.clock.advance(timedelta(minutes=30))
    assert canary_soak.run(bot.context, bot.clock.now()) == [baseline_id]
    request_id, posted = request_for(
        bot, "staging-stagger", "phase staging-stagger --force --reason 'validated elsewhere'"
    )
    for approver in (LEAD, LEAD_2):
        bot.click(approver, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(
        lambda call: "*Canary verified*: staging-stagger" in call.text, method="chat.postMessage"
    )
    bot.command(LEAD, "lock staging --reason 'incident review'")
    schedule = CheckSchedule(bot.store)
    soak = Soaks(bot.store).of(request_id)
    assert soak is not None
    for check in schedule.of_phase(soak.phase_id):
        assert schedule.claim(check.id, datetime.now(UTC) + timedelta(minutes=1))
        schedule.finish(check.id, "done", "failed")  # the canary's checks failed
    bot.clock.advance(timedelta(minutes=31))
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "staging-stagger stopped after the canary" in call.text,
        method="chat.postMessage",
    )
    assert ON in fleet.env_file(canary) and OFF in fleet.env_file(second)
    assert OFF in fleet.env_file(third)
    assert bot.store.env_state("staging").stagger_enabled is None  # the hosts differ


def test_the_retry_of_a_transition_is_refused_while_the_env_is_locked_naming_the_holder(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    _canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    request_id = fail_batch_2(fleet, bot)
    bot.command(LEAD, "lock staging --reason 'incident review'")

    refused = bot.command(OPERATOR, f"retry {request_id}").json()["text"]
    assert f"`{request_id}` is not retried" in refused
    assert f"*staging* is locked by <@{LEAD}>" in refused and "incident review" in refused
    assert not audited(bot, "transition.retry")
    (entry,) = audited(bot, "transition.retry_refused")
    assert f"locked by {LEAD}: incident review" in entry["detail"]
    assert ON in fleet.env_file(third)  # batch 3 stays unchanged

    bot.command(LEAD, "unlock staging")
    bot.command(OPERATOR, f"retry {request_id}")
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    assert OFF in fleet.env_file(second) and OFF in fleet.env_file(third)


def test_the_retry_of_a_rollback_runs_while_the_env_is_locked(tiered_fleet: TieredFleet) -> None:
    fleet = tiered_fleet
    second = fleet.hosts[1]
    bot = fleet.make_bot(rollback_in_tiers=True)
    fleet.break_reload(second)
    rollback_id, asked_ts = rollback_requested(bot, "staging --reason 'pool at 90%'")
    bot.click(LEAD, APPROVE_ACTION, rollback_id, message_ts=asked_ts)
    failed = bot.slack.wait_for(
        lambda call: "Rollback of staging FAILED" in call.text, method="chat.postMessage"
    )
    fleet.fix_reload(second, RELOAD_SCRIPT)
    bot.command(LEAD, "lock staging --reason 'incident review'")
    bot.click(OPERATOR, RETRY_ACTION, rollback_id, message_ts=failed.params["_ts"])
    bot.slack.wait_for(
        lambda call: "Rollback of staging verified on all 2 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)


def test_a_rollback_asked_for_during_the_soak_then_denied_leaves_the_soak_to_go_on(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    bot = fleet.make_bot()
    request_id, _posted = approve_to_soak(bot)
    rollback_id, asked_ts = rollback_requested(bot, "staging --reason 'maybe'")
    assert bot.request(request_id).status is Status.SOAKING
    bot.click(LEAD, DENY_ACTION, rollback_id, message_ts=asked_ts)
    bot.slack.wait_for(lambda call: "rollback staging: denied" in call.text, method="chat.update")
    assert bot.request(rollback_id).status is Status.DENIED
    assert bot.request(request_id).status is Status.SOAKING
    assert not [c for c in bot.slack.of("chat.postMessage") if "is cancelled" in c.text]

    bot.clock.advance(timedelta(minutes=5))
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)
    status = bot.command(OPERATOR, "status staging").json()["text"]
    assert "stagger OFF" in status and "after the soak" not in status


def test_a_per_job_rollback_during_the_soak_leaves_the_soak_alone(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    bot = fleet.make_bot()
    request_id, _posted = approve_to_soak(bot)
    rollback_id, asked_ts = rollback_requested(
        bot, "staging LIVE_STATS_SYNC --reason 'one job misbehaves'"
    )
    bot.click(LEAD, APPROVE_ACTION, rollback_id, message_ts=asked_ts)
    bot.slack.wait_for(
        lambda call: "Rollback of staging (job LIVE_STATS_SYNC) verified on all 3" in call.text,
        method="chat.postMessage",
    )
    assert ssh_hosts(bot, rollback_id) == set(fleet.hosts)
    assert bot.request(request_id).status is Status.SOAKING
    assert not audited(bot, "transition.cancelled")

    bot.clock.advance(timedelta(minutes=5))
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)
    state = bot.store.env_state("staging")
    assert (state.stagger_enabled, state.disabled_jobs) == (False, ("LIVE_STATS_SYNC",))


def test_a_phase_its_canary_entered_is_not_left_while_a_batch_of_it_failed(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    bot = fleet.make_bot()
    request_id = fail_batch_2(fleet, bot)
    bot.command(OPERATOR, "advance")
    refused = bot.slack.wait_for(
        lambda call: "moving to *staging-stagger* is refused" in call.text,
        method="chat.postMessage",
    )
    assert (
        f":x: every host runs staging-baseline: 2 of 3 hosts not verified (retry `{request_id}`)"
        in refused.text
    )


def test_success_is_not_declared_while_a_batch_of_the_last_phase_failed(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    bot = fleet.make_bot()
    spec = bot.context.spec
    only = spec.phases[0].model_copy(update={"min_duration_h": 1.0})
    bot.context.spec = spec.model_copy(update={"phases": [only]})  # its last phase
    request_id = fail_batch_2(fleet, bot)
    bot.clock.advance(timedelta(hours=2))

    assert not success_watch.run(bot.context, bot.clock.now())
    held = bot.slack.wait_for(
        lambda call: "success cannot be declared yet" in call.text, method="chat.postMessage"
    )
    assert (
        f":x: every host runs staging-baseline: 2 of 3 hosts not verified (retry `{request_id}`)"
        in held.text
    )
    bot.command(OPERATOR, "report staging")
    report = bot.slack.wait_for(
        lambda call: "*Report for staging*" in call.text, method="chat.postMessage"
    )
    assert "The fleet is mixed: 2 of 3 hosts not verified" in report.text


def test_a_rollback_pending_approval_keeps_the_soaks_other_hosts_waiting_said_once(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    _canary, second, third = fleet.hosts
    bot = fleet.make_bot()
    request_id, posted = approve_to_soak(bot)
    rollback_id, asked_ts = rollback_requested(bot, "staging --reason 'maybe'")

    bot.clock.advance(timedelta(minutes=6))
    assert canary_soak.run(bot.context, bot.clock.now()) == []
    assert ON in fleet.env_file(second) and ON in fleet.env_file(third)
    told = bot.slack.wait_for(
        lambda call: "waits for approval: the other hosts wait" in call.text,
        method="chat.postMessage",
    )
    assert f"a rollback of staging (`{rollback_id}`)" in told.text
    assert told.params["thread_ts"] == posted.params["_ts"]
    bot.clock.advance(timedelta(minutes=1))
    assert canary_soak.run(bot.context, bot.clock.now()) == []
    said = [c for c in bot.slack.of("chat.postMessage") if "waits for approval: the" in c.text]
    assert len(said) == 1

    bot.click(LEAD, DENY_ACTION, rollback_id, message_ts=asked_ts)
    bot.slack.wait_for(lambda call: "rollback staging: denied" in call.text, method="chat.update")
    assert canary_soak.run(bot.context, bot.clock.now()) == [request_id]
    bot.slack.wait_for(
        lambda call: "*staging-baseline* now runs on every host of staging" in call.text,
        method="chat.postMessage",
    )
    assert all(OFF in fleet.env_file(host) for host in fleet.hosts)
