"""The success declaration: after the last phase's minimum duration, with no rollback and
every target met, the report is posted once and the rollout marked succeeded."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.core.phase_record import ROLLED_BACK, SUCCEEDED, Entry
from bot.store.checkpoints import Checkpoints
from bot.store.timeline import Timeline
from jobs import success_watch
from tests.support.app_logs import Traffic, append_log
from tests.support.job_table import DSN, JobTable
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import START

BASELINE = {
    "pool_util_avg": 85.0,
    "pool_util_max": 95.0,
    "job_duration_avg": 1000.0,
    "error_rate": 2.0,
    # ~208 an hour: an hour with none is a fall the judge can tell from noise.
    "lock_skips": 5000.0,
    "max_concurrent_jobs": 8.0,
}


def a_good_hour(bot: Bot, job_table: JobTable, baseline_runs: int) -> Bot:
    """prod-stagger with a 1 h minimum, the logs and job rows of a good hour (500 ms runs),
    and `baseline_runs` runs of 1 s spread over the baseline day."""
    spec = bot.context.spec
    phases = [*spec.phases[:-1], spec.phases[-1].model_copy(update={"min_duration_h": 1.0})]
    bot.context.spec = spec.model_copy(update={"phases": phases, "database": job_table.spec})
    bot.context.database_urls = {"PROD_DATABASE_URL": SecretStr(DSN)}
    save_baseline(bot, "prod", START, **BASELINE)
    start_phase(bot, "prod-stagger", START)
    append_log(
        bot.app_dir / "logs" / "combined.log", bot.context.spec, START, 60,
        Traffic(staggered=True, pool_util=30.0, run_s=0.5),
    )  # fmt: skip
    for minute in range(60):
        started = START + timedelta(minutes=minute, seconds=45)
        job_table.add("Live Stats Sync", started, 500, "completed", None)
    # The baseline day's runs, twice as long: what the judge compares the phase's with.
    step = timedelta(hours=24) / baseline_runs
    for run in range(baseline_runs):
        started = START - timedelta(hours=24) + run * step + timedelta(seconds=45)
        job_table.add("Live Stats Sync", started, 1000 + run % 7, "completed", None)
    return bot


@pytest.fixture
def rollout(bot: Bot, job_table: JobTable) -> Bot:
    return a_good_hour(bot, job_table, baseline_runs=144)


def at(bot: Bot, minutes: int) -> datetime:
    bot.clock.set(START + timedelta(minutes=minutes))
    return bot.clock.now()


def test_success_is_declared_once_with_the_report(rollout: Bot) -> None:
    assert not success_watch.run(rollout.context, at(rollout, 59))
    assert success_watch.run(rollout.context, at(rollout, 61))
    posted = rollout.slack.wait_for(
        lambda call: "Rollout succeeded" in call.text, method="chat.postMessage"
    )
    assert "Job Duration" in posted.text and "1000ms" in posted.text and "500ms" in posted.text
    assert "-50.0%" in posted.text and "change <= -30%" in posted.text
    current = Timeline(rollout.store).current()
    assert current is not None and current.phase == SUCCEEDED
    assert not success_watch.run(rollout.context, at(rollout, 70))
    assert len([c for c in rollout.slack.of("chat.postMessage") if "succeeded" in c.text]) == 1
    assert "Rollout: *succeeded*" in rollout.command("U0OPS1", "status").json()["text"]


def test_a_rollout_that_was_rolled_back_is_not_declared_a_success(rollout: Bot) -> None:
    timeline = Timeline(rollout.store)
    current = timeline.current()
    assert current is not None
    # An earlier rollback, then a forced resume of prod-stagger.
    rolled = timeline.enter(Entry(ROLLED_BACK, "prod", START, "rolled back"), current.id)
    timeline.enter(Entry("prod-stagger", "prod", START, "forced", forced=True), rolled.id)
    assert not success_watch.run(rollout.context, at(rollout, 61))
    held = rollout.slack.wait_for(
        lambda call: "success cannot be declared yet" in call.text, method="chat.postMessage"
    )
    assert ":x: all phases without rollback: rolled back 1 time(s)" in held.text
    assert not success_watch.run(rollout.context, at(rollout, 71))
    assert (
        len([c for c in rollout.slack.of("chat.postMessage") if "cannot be declared" in c.text])
        == 1
    )


def test_without_the_database_the_duration_target_is_unknown_and_nothing_is_declared(
    rollout: Bot,
) -> None:
    rollout.context.database_urls = {}
    assert not success_watch.run(rollout.context, at(rollout, 61))
    held = rollout.slack.wait_for(
        lambda call: "cannot be declared yet" in call.text, method="chat.postMessage"
    )
    assert (
        ":grey_question: job_duration_avg change <= -20%: PROD_DATABASE_URL is not set" in held.text
    )


def test_a_checkpoint_that_missed_its_targets_holds_the_declaration(rollout: Bot) -> None:
    current = Timeline(rollout.store).current()
    assert current is not None
    Checkpoints(rollout.store).add(
        "prod", current.id, START + timedelta(minutes=30), {}, {"pool_util_avg": "alert"}, None
    )
    assert not success_watch.run(rollout.context, at(rollout, 61))
    held = rollout.slack.wait_for(lambda call: "cannot be declared yet" in call.text)
    assert ":x: every checkpoint met the targets: 1 of 1 did not: 2026-02-01 12:30 UTC" in held.text


def test_the_missed_checkpoints_are_listed_or_counted_never_just_claimed(rollout: Bot) -> None:
    current = Timeline(rollout.store).current()
    assert current is not None
    for minute in range(5, 45, 5):  # eight checkpoints, every one in alert
        Checkpoints(rollout.store).add(
            "prod", current.id, START + timedelta(minutes=minute), {}, {"pool_util_avg": "alert"},
            None,
        )  # fmt: skip
    assert not success_watch.run(rollout.context, at(rollout, 61))
    held = rollout.slack.wait_for(lambda call: "cannot be declared yet" in call.text)
    listed = ", ".join(f"2026-02-01 12:{minute:02d} UTC" for minute in range(5, 35, 5))
    assert f"8 of 8 did not: {listed} and 2 more" in held.text


def test_success_waits_while_the_judge_cannot_tell_saying_what_is_missing(
    bot: Bot, job_table: JobTable
) -> None:
    # The phase's runs are shorter, but the baseline day left only 20 runs to compare with.
    a_good_hour(bot, job_table, baseline_runs=20)
    assert not success_watch.run(bot.context, at(bot, 61))
    held = bot.slack.wait_for(lambda call: "cannot be declared yet" in call.text)
    assert (
        ":hourglass_flowing_sand: job_duration_avg change <= -20%: job duration (n = 60 vs 20): "
        "inconclusive (ratio of medians"
    ) in held.text
    assert "too few runs: 60 in the phase, 20 in the baseline; at least 50 each" in held.text
    assert "the baseline holds 20 runs (50 needed): more runs in this phase can't settle it" in (
        held.text
    )
    current = Timeline(bot.store).current()
    assert current is not None and current.phase == "prod-stagger"


def test_one_noisy_checkpoint_short_of_a_relative_target_does_not_hold_a_judged_success(
    rollout: Bot,
) -> None:
    # 6 h windows are noisy: one checkpoint read job durations short of −30 % raw. The
    # judge decides that target over the whole phase instead, where it is met.
    current = Timeline(rollout.store).current()
    assert current is not None
    Checkpoints(rollout.store).add(
        "prod", current.id, START + timedelta(minutes=30), {},
        {"job_duration_avg": "not met", "pool_util_avg": "met"}, None,
    )  # fmt: skip
    assert success_watch.run(rollout.context, at(rollout, 61))
    posted = rollout.slack.wait_for(lambda call: "Rollout succeeded" in call.text)
    assert ":white_check_mark: every checkpoint met the targets: 1 of 1" in posted.text
    assert ":white_check_mark: target job_duration_avg change <= -30%: job duration −50 %" in (
        posted.text
    )
