"""The first-30-minute validation: posted in the transition's thread, a failure proposes
(or under auto_rollback runs) a rollback, and a restart neither skips nor repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.checks import CheckState
from bot.store.check_schedule import CheckSchedule
from jobs import validation_checks
from tests.support.app_logs import Traffic, append_log
from tests.support.bot_process import wait_until
from tests.support.other_process import CLAIM_CHECK, another_process
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, START


def at(bot: Bot, minutes: int) -> datetime:
    """Moves the bot's clock: the jobs measure up to the clock's now."""
    bot.clock.set(START + timedelta(minutes=minutes))
    return bot.clock.now()


def log(bot: Bot, minutes: int, traffic: Traffic) -> None:
    append_log(bot.app_dir / "logs" / "combined.log", bot.context.spec, START, minutes, traffic)


def test_checks_run_when_due_and_pass_for_jobs_at_their_offsets(bot: Bot) -> None:
    save_baseline(bot, "prod", START, error_rate=1.0)
    start_phase(bot, "prod-stagger", START, thread_ts="1700000000.000001")
    log(bot, 30, Traffic(staggered=True))
    assert validation_checks.run(bot.context, at(bot, 4)) == []
    done = validation_checks.run(bot.context, at(bot, 5))
    assert [(check.label, outcome) for check, outcome in done] == [("+5 min", CheckState.MET)]
    posted = bot.slack.wait_for(
        lambda call: "Validation +5 min passed" in call.text, method="chat.postMessage"
    )
    assert posted.params["thread_ts"] == "1700000000.000001"
    assert ":white_check_mark: at most 2 concurrent jobs: 1 at once" in posted.text
    assert ":white_check_mark: no new failures: error rate 0% (baseline 1%)" in posted.text
    assert not bot.store.open_requests()


def test_a_collision_fails_the_check_and_proposes_a_rollback_to_the_approvers(bot: Bot) -> None:
    save_baseline(bot, "prod", START, error_rate=0.0)
    start_phase(bot, "prod-stagger", START)
    log(bot, 15, Traffic(staggered=False, collisions_per_hour=2))  # still at :00
    done = validation_checks.run(bot.context, at(bot, 5))
    assert [outcome for _, outcome in done] == [CheckState.NOT_MET]
    failed = bot.slack.wait_for(lambda call: "FAILED" in call.text, method="chat.postMessage")
    assert ":x: no collision warnings: 2 warning(s) (at most 0)" in failed.text
    assert ":x: jobs at their offsets:" in failed.text
    assert ":x: at most 2 concurrent jobs: 8 at once" in failed.text
    proposal = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text and "rollback prod" in call.text,
        method="chat.postMessage",
    )
    assert "validation +5 min after prod-stagger: failed" in proposal.all_text()
    [request] = bot.store.open_requests("prod")
    assert request.requester == "stagger-bot" and request.required == 1
    assert bot.env_file() == ENV_FILE  # proposed, not run


def test_under_auto_rollback_a_failed_check_rolls_back_at_once(bot: Bot) -> None:
    spec = bot.context.spec
    prod = spec.environments["prod"].model_copy(update={"auto_rollback": True})
    bot.context.spec = spec.model_copy(update={"environments": {**spec.environments, "prod": prod}})
    save_baseline(bot, "prod", START, error_rate=0.0)
    start_phase(bot, "prod-stagger", START)
    log(bot, 15, Traffic(staggered=False))
    validation_checks.run(bot.context, at(bot, 5))
    bot.slack.wait_for(
        lambda call: "Rollback of prod verified on all 1 host(s)" in call.text,
        method="chat.postMessage",
    )
    assert b"JOB_STAGGER_ENABLED=false" in bot.env_file()
    assert bot.store.env_state("prod").phase == "rolled back"


def test_missing_data_is_reported_as_unverified_and_only_proposed(bot: Bot) -> None:
    spec = bot.context.spec
    prod = spec.environments["prod"].model_copy(update={"auto_rollback": True})
    bot.context.spec = spec.model_copy(update={"environments": {**spec.environments, "prod": prod}})
    start_phase(bot, "prod-stagger", START)  # no baseline, no jobs logged
    done = validation_checks.run(bot.context, at(bot, 5))
    assert [outcome for _, outcome in done] == [CheckState.UNKNOWN]
    unverified = bot.slack.wait_for(
        lambda call: "could not be verified" in call.text, method="chat.postMessage"
    )
    assert ":grey_question: jobs at their offsets: no job started yet" in unverified.text
    [request] = bot.store.open_requests("prod")
    assert request.status.value == "pending" and bot.env_file() == ENV_FILE


def test_after_a_restart_missed_checks_run_once_late_and_none_twice(bot: Bot) -> None:
    save_baseline(bot, "prod", START, error_rate=1.0)
    record = start_phase(bot, "prod-stagger", START)
    log(bot, 40, Traffic(staggered=True))
    # The bot was down from +1 min to +40 min: all three checks are due at once.
    done = validation_checks.run(bot.context, at(bot, 40))
    assert [check.label for check, _ in done] == ["+5 min", "+15 min", "+30 min"]
    bot.slack.wait_for(lambda call: "ran 10m late" in call.text, method="chat.postMessage")
    assert validation_checks.run(bot.context, at(bot, 41)) == []
    statuses = [check.status for check in CheckSchedule(bot.store).of_phase(record.id)]
    assert statuses == ["done", "done", "done"]


def test_a_check_a_crash_left_running_runs_again_once(bot: Bot) -> None:
    save_baseline(bot, "prod", START, error_rate=1.0)
    record = start_phase(bot, "prod-stagger", START)
    log(bot, 10, Traffic(staggered=True))
    schedule = CheckSchedule(bot.store)
    first = schedule.of_phase(record.id)[0]
    # The crashed process had claimed it; its lease has lapsed.
    assert schedule.claim(first.id, datetime.now(UTC) - timedelta(seconds=1))
    assert validation_checks.run(bot.context, at(bot, 6)) == []
    assert schedule.release_lapsed(datetime.now(UTC)) == 1
    done = validation_checks.run(bot.context, at(bot, 6))
    assert [check.label for check, _ in done] == ["+5 min"]


def test_a_check_another_live_process_runs_is_not_released_at_start(bot: Bot) -> None:
    record = start_phase(bot, "prod-stagger", START)
    schedule = CheckSchedule(bot.store)
    first = schedule.of_phase(record.id)[0]
    with another_process(CLAIM_CHECK, bot.store.path, str(first.id)):
        assert schedule.release_lapsed(datetime.now(UTC)) == 0
        assert validation_checks.run(bot.context, at(bot, 6)) == []
    # The other process has died before finishing the check: its lease lapses (5 s).
    wait_until(lambda: schedule.release_lapsed(datetime.now(UTC)) == 1)
    done = validation_checks.run(bot.context, at(bot, 6))
    assert [check.label for check, _ in done] == ["+5 min"]


def test_checks_of_a_phase_that_ended_are_skipped(bot: Bot) -> None:
    record = start_phase(bot, "prod-stagger", START)
    start_phase(bot, "prod-baseline", START + timedelta(minutes=2))
    assert validation_checks.run(bot.context, at(bot, 31)) == []
    assert {c.status for c in CheckSchedule(bot.store).of_phase(record.id)} == {"skipped"}
