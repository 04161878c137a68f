"""The judge at a real look: `advance` over a real sshd, the gates as the requester reads
them in the channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.support.app_logs import Traffic, append_log
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR, START

UNREACHABLE = "root@127.0.0.1:1"


def _staging_without_database(bot: Bot) -> None:
    """staging's durations from its log; its stagger phase shortened to 6 h."""
    spec = bot.context.spec
    staging = spec.environments["staging"].model_copy(update={"database_url_env": None})
    phases = [
        phase.model_copy(update={"min_duration_h": 6.0}) if phase.env == "staging" else phase
        for phase in spec.phases
    ]
    bot.context.spec = spec.model_copy(
        update={"environments": {**spec.environments, "staging": staging}, "phases": phases}
    )


def _a_baseline_then_runs_twice_as_fast(bot: Bot) -> None:
    """A 24 h baseline of 1 s runs, then 6 h of staging-stagger at 0.5 s."""
    log = bot.app_dir / "logs" / "combined.log"
    baseline_start, stagger_start = START - timedelta(hours=24), START
    append_log(log, bot.context.spec, baseline_start, 24 * 60, Traffic(False, 88.0, run_s=1.0))
    append_log(log, bot.context.spec, stagger_start, 6 * 60, Traffic(True, 30.0, run_s=0.5))
    save_baseline(bot, "staging", stagger_start)
    start_phase(bot, "staging-stagger", stagger_start)
    bot.clock.set(stagger_start + timedelta(hours=6, minutes=1))


def test_a_criterion_met_on_every_host_read_is_not_decided_while_a_host_is_unread(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(extra_hosts=(UNREACHABLE,))
    _staging_without_database(bot)
    _a_baseline_then_runs_twice_as_fast(bot)
    bot.command(OPERATOR, "advance")
    refused = bot.slack.wait_for(lambda call: "is refused" in call.text, method="chat.postMessage")
    line = next(
        line for line in refused.text.splitlines() if "job_duration_avg change <= -20%" in line
    )
    assert line.startswith(":hourglass_flowing_sand:"), line
    assert "): inconclusive" in line and "job duration −50 %" in line
    assert f"not decided on part of the fleet: {UNREACHABLE} could not be read" in line


def test_the_same_criterion_on_a_fleet_read_whole_is_met_with_each_job_beside_it(
    bot: Bot,
) -> None:
    _staging_without_database(bot)
    _a_baseline_then_runs_twice_as_fast(bot)
    bot.command(OPERATOR, "advance")
    posted = bot.slack.wait_for(
        lambda call: "Approval needed" in call.text or "is refused" in call.text,
        method="chat.postMessage",
    )
    text = posted.all_text()
    assert ":white_check_mark: job_duration_avg change <= -20%: job duration −50 % (95 % CI" in text
    assert "      • Live Stats Sync −50 %" in text
