"""Phase transitions end to end: signed Slack requests in, a real sshd, Web API calls out."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta

from bot.core.approvals import Status
from bot.rehearsal.slack_standin import ApiCall
from bot.render.blocks import APPROVE_ACTION, REQUEST_ROLLBACK_ACTION, RETRY_ACTION
from bot.rollout.execution_lease import recover_interrupted
from bot.rollout.transition_runner import TransitionRunner
from bot.store.baselines import Baselines
from bot.store.check_schedule import CheckSchedule
from bot.store.phase_threads import PhaseThreads
from bot.store.timeline import Timeline
from tests.support.app_logs import Traffic, append_log
from tests.support.bot_process import wait_until
from tests.support.executions import claim_elsewhere
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, LEAD, LEAD_2, OPERATOR, START

REQUEST_ID = re.compile(r"\bR[A-Z2-9]{5}\b")


def request_for(bot: Bot, phase: str, text: str = "advance") -> tuple[str, ApiCall]:
    reply = bot.command(OPERATOR, text)
    assert reply.status == 200, reply.body
    posted = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and f"to {phase}" in call.text,
        method="chat.postMessage",
    )
    match = REQUEST_ID.search(posted.text)
    assert match is not None
    return match[0], posted


def enter(bot: Bot, phase: str, text: str = "advance", approvers: tuple[str, ...] = (LEAD,)) -> str:
    request_id, posted = request_for(bot, phase, text)
    for approver in approvers:
        bot.click(approver, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(
        lambda call: f"*{phase}* started" in call.text and "verified on all" in call.text,
        method="chat.postMessage",
    )
    return request_id


def test_advance_from_the_start_is_approved_and_verified_on_the_host(bot: Bot) -> None:
    reply = bot.command(OPERATOR, "advance").json()
    assert "from not started to staging-baseline" in reply["text"]
    request_id, posted = request_for(bot, "staging-baseline")
    assert ":white_check_mark: nothing else in flight" in posted.all_text()
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    done = bot.slack.wait_for(
        lambda call: "*staging-baseline* started on staging" in call.text,
        method="chat.postMessage",
    )
    assert "thread_ts" not in done.params  # the phase's own message: its thread is the phase's
    current_phase = Timeline(bot.store).current()
    assert current_phase is not None
    threads = PhaseThreads(bot.store)
    wait_until(lambda: threads.of_phase(current_phase.id) == done.params["_ts"])
    assert bot.env_file() == ENV_FILE.replace(
        b"JOB_STAGGER_ENABLED=true", b"JOB_STAGGER_ENABLED=false"
    )
    current = Timeline(bot.store).current()
    assert current is not None and (current.phase, current.approved_by) == (
        "staging-baseline",
        (LEAD,),
    )
    state = bot.store.env_state("staging")
    assert (state.phase, state.stagger_enabled) == ("staging-baseline", False)
    history = bot.command(OPERATOR, "history").json()["text"]
    assert "*staging-baseline* (staging)" in history and f"<@{LEAD}>" in history
    assert (
        "Rollout: *staging-baseline* on staging" in bot.command(OPERATOR, "status").json()["text"]
    )


def test_unmet_gates_are_refused_with_the_list_and_force_needs_one_more_approval(
    bot: Bot,
) -> None:
    enter(bot, "staging-baseline")
    bot.command(OPERATOR, "advance")
    refused = bot.slack.wait_for(lambda call: "is refused" in call.text, method="chat.postMessage")
    assert ":x: minimum duration (1d): ran 0m, 1d to go" in refused.text
    assert ":x: job_starts > 0: now 0" in refused.text
    assert ":grey_question: pool_util_max >= 0: no PoolMonitor samples" in refused.text
    assert not [r for r in bot.store.open_requests() if r.action == "transition"]

    no_reason = bot.command(OPERATOR, "advance --force").json()["text"]
    assert "`--force` needs `--reason TEXT`" in no_reason

    request_id, posted = request_for(
        bot, "staging-stagger", "phase staging-stagger --force --reason 'validated elsewhere'"
    )
    assert bot.request(request_id).required == 2
    assert "(forced)" in posted.text
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(lambda call: "(1/2)" in call.text, method="chat.postEphemeral")
    assert bot.env_file().count(b"JOB_STAGGER_ENABLED=false") == 1
    bot.click(LEAD_2, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(
        lambda call: "*staging-stagger* started" in call.text, method="chat.postMessage"
    )
    assert b"JOB_STAGGER_ENABLED=true" in bot.env_file()
    history = bot.command(OPERATOR, "history staging").json()["text"]
    assert "*forced*" in history and "validated elsewhere" in history
    audit = bot.context.audit.latest("staging", 100)
    assert any(row["action"] == "transition.refused" for row in audit)


def test_meeting_the_gates_captures_the_baseline_and_schedules_validation(bot: Bot) -> None:
    enter(bot, "staging-baseline")
    log = bot.app_dir / "logs" / "combined.log"
    append_log(log, bot.context.spec, START + timedelta(hours=1), 60, Traffic(False, 88.0))
    starts = log.read_text(encoding="utf-8").count("Job started")  # grep -c "Job started"
    bot.clock.advance(timedelta(hours=24, minutes=1))
    request_id, posted = request_for(bot, "staging-stagger")
    assert ":white_check_mark: minimum duration (1d): ran 1d" in posted.all_text()
    assert f":white_check_mark: job_starts > 0: now {starts}" in posted.all_text()
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    started = bot.slack.wait_for(
        lambda call: "Validation checks at +5, +15, +30 min will post here" in call.text,
        method="chat.postMessage",
    )
    baseline = Baselines(bot.store).latest("staging")
    assert baseline is not None and baseline.captured_by == "phase staging-baseline"
    assert baseline.values["pool_util_avg"] == 88.0 and baseline.values["job_starts"] == starts
    assert baseline.values["max_concurrent_jobs"] == 8  # all eight at :00 every 10 min
    current = Timeline(bot.store).current()
    assert current is not None
    wait_until(lambda: PhaseThreads(bot.store).of_phase(current.id) == started.params["_ts"])
    checks = CheckSchedule(bot.store).of_phase(current.id)
    assert [(c.label, c.due_at - current.started_at) for c in checks] == [
        ("+5 min", timedelta(minutes=5)),
        ("+15 min", timedelta(minutes=15)),
        ("+30 min", timedelta(minutes=30)),
    ]
    assert {c.thread_ts for c in checks} == {started.params["_ts"]}  # the phase's thread


def test_out_of_order_and_unknown_phases_are_refused_by_name(bot: Bot) -> None:
    text = bot.command(OPERATOR, "phase prod-stagger").json()["text"]
    assert "the next phase is staging-baseline, not prod-stagger" in text
    assert "--force --reason TEXT" in text
    text = bot.command(OPERATOR, "phase prod-stagering").json()["text"]
    assert "Unknown phase `prod-stagering`" in text and "`prod-stagger`" in text
    assert not bot.store.open_requests()


def test_a_rollback_request_closes_a_pending_transition(bot: Bot) -> None:
    request_id, _ = request_for(bot, "staging-baseline")
    again = bot.command(OPERATOR, "advance").json()["text"]
    assert f"`{request_id}` transition staging to staging-baseline (pending)" in again
    bot.command(OPERATOR, "rollback staging --reason 'pool alarms'")
    bot.slack.wait_for(lambda call: "Cancelled: rollback" in call.all_text(), method="chat.update")
    assert bot.request(request_id).status is Status.CANCELLED
    blocked = bot.command(OPERATOR, "advance").json()["text"]
    assert "Cannot move to staging-baseline now" in blocked and "rollback staging" in blocked


def test_a_failed_host_keeps_the_previous_phase_and_offers_rollback(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(extra_hosts=("root@127.0.0.1:1",))
    request_id, posted = request_for(bot, "staging-baseline")
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    failed = bot.slack.wait_for(
        lambda call: "The rollout stays in *not started*" in call.text, method="chat.postMessage"
    )
    assert failed.params.get("reply_broadcast") in (True, "true", "True", "1")
    offer = [
        element
        for block in failed.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert [(b["action_id"], b["value"]) for b in offer] == [
        (RETRY_ACTION, request_id),
        (REQUEST_ROLLBACK_ACTION, "staging"),
    ]
    assert Timeline(bot.store).current() is None
    assert bot.request(request_id).status is Status.FAILED
    assert bot.store.env_state("staging").stagger_enabled is None

    bot.click(OPERATOR, REQUEST_ROLLBACK_ACTION, "staging")
    bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "rollback staging" in call.text,
        method="chat.postMessage",
    )


def test_two_approvers_clicking_at_once_move_the_rollout_once(bot: Bot) -> None:
    request_id, posted = request_for(bot, "staging-baseline")
    clicks = [
        threading.Thread(
            target=bot.click, args=(approver, APPROVE_ACTION, request_id),
            kwargs={"message_ts": posted.params["_ts"]},
        )
        for approver in (LEAD, LEAD_2)
    ]  # fmt: skip
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    bot.slack.wait_for(
        lambda call: "*staging-baseline* started" in call.text, method="chat.postMessage"
    )
    assert [r.phase for r in Timeline(bot.store).history()] == ["staging-baseline"]
    started = [c for c in bot.slack.of("chat.postMessage") if "Entering staging-baseline" in c.text]
    assert len(started) == 1


def test_approval_after_expiry_is_refused_and_nothing_moves(bot: Bot) -> None:
    request_id, posted = request_for(bot, "staging-baseline")
    bot.clock.advance(timedelta(minutes=31))
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(lambda call: "expired" in call.text, method="chat.postEphemeral")
    assert bot.request(request_id).status is Status.EXPIRED
    assert Timeline(bot.store).current() is None and bot.env_file() == ENV_FILE


def test_a_restart_between_approval_and_execution_reports_and_never_reruns(bot: Bot) -> None:
    request_id, _ = request_for(bot, "staging-baseline")
    claim_elsewhere(bot.store, request_id, lease_left_s=-1)  # its process died
    assert [r.id for r in recover_interrupted(bot.context)] == [request_id]
    bot.slack.wait_for(lambda call: "was interrupted" in call.text, method="chat.postMessage")
    assert TransitionRunner(bot.context).execute(request_id) is None
    assert Timeline(bot.store).current() is None and bot.env_file() == ENV_FILE
    actions = [row["action"] for row in bot.context.audit.latest("staging", 20)]
    assert "transition.interrupted" in actions


def _staggered_for_six_hours(bot: Bot, run_s: float) -> None:
    """staging-baseline for 6 h of 1 s runs, then staging-stagger for 6 h of `run_s` (both
    phases shortened to 6 h); staging names no database: the durations are the log's."""
    spec = bot.context.spec
    staging = spec.environments["staging"].model_copy(update={"database_url_env": None})
    environments = {**spec.environments, "staging": staging}
    phases = [
        phase.model_copy(update={"min_duration_h": 6.0}) if phase.env == "staging" else phase
        for phase in spec.phases
    ]
    bot.context.spec = spec.model_copy(update={"environments": environments, "phases": phases})
    enter(bot, "staging-baseline")
    log = bot.app_dir / "logs" / "combined.log"
    append_log(log, bot.context.spec, START, 6 * 60, Traffic(False, 88.0, run_s=1.0))
    bot.clock.advance(timedelta(hours=6, minutes=1))
    enter(bot, "staging-stagger")
    stagger_start = bot.clock.now()
    append_log(log, bot.context.spec, stagger_start, 6 * 60, Traffic(True, 30.0, run_s=run_s))
    bot.clock.advance(timedelta(hours=6, minutes=1))


def test_runs_only_10_percent_faster_do_not_pass_a_20_percent_gate_and_the_interval_says_so(
    bot: Bot,
) -> None:
    _staggered_for_six_hours(bot, run_s=0.9)
    bot.command(OPERATOR, "advance")
    refused = bot.slack.wait_for(lambda call: "is refused" in call.text, method="chat.postMessage")
    assert (
        ":x: job_duration_avg change <= -20%: job duration −10 % (95 % CI −10 % … −10 %, n = "
        in (refused.text)
    )
    assert "): not met (ratio of medians" in refused.text
    assert "plain average 900ms vs 1000ms (−10 %)" in refused.text
    assert not [r for r in bot.store.open_requests() if r.action == "transition"]


def test_a_dry_run_criterion_is_shown_with_its_outcome_and_holds_nothing_back(bot: Bot) -> None:
    spec = bot.context.spec
    phases = [
        phase.model_copy(
            update={
                "success": {
                    **phase.success,
                    "job_duration_avg": phase.success["job_duration_avg"].model_copy(
                        update={"dry_run": True}
                    ),
                }
            }
        )
        if phase.name == "staging-stagger"
        else phase
        for phase in spec.phases
    ]
    bot.context.spec = spec.model_copy(update={"phases": phases})
    _staggered_for_six_hours(bot, run_s=0.9)
    request_id, posted = request_for(bot, "prod-baseline")
    assert (
        ":test_tube: job_duration_avg change <= -20% (dry run): would be not met: "
        "job duration −10 %" in posted.all_text()
    )
    assert bot.request(request_id).status is Status.PENDING
