"""The success declaration with a dry-run KPI short of its target: neither the KPI's
checkpoints nor its verdict now hold the declaration back, and the report shows its row
marked "(dry run)"; the same spec without `dry_run` is held."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.rollout.checkpoint_post import post_checkpoint
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
    "lock_skips": 50.0,
    "max_concurrent_jobs": 8.0,
}


@pytest.fixture
def rollout(bot: Bot, job_table: JobTable) -> Bot:
    """prod-stagger with a 1 h minimum, its absolute criterion alone (the relative ones are
    the judge's, not what this is about), and a good hour but for one collision warning
    (`collision_warnings` in alert: `> 0`), which no success criterion names."""
    spec = bot.context.spec
    last = spec.phases[-1]
    success = {"pool_util_max": last.success["pool_util_max"]}
    phases = [
        *spec.phases[:-1],
        last.model_copy(update={"min_duration_h": 1.0, "success": success}),
    ]
    # The table's relative targets the judge decides over the phase are left out too.
    kpis = {
        name: row
        for name, row in spec.kpis.items()
        if name not in ("job_duration_avg", "error_rate", "lock_skips")
    }
    bot.context.spec = spec.model_copy(
        update={"phases": phases, "database": job_table.spec, "kpis": kpis}
    )
    bot.context.database_urls = {"PROD_DATABASE_URL": SecretStr(DSN)}
    save_baseline(bot, "prod", START, **BASELINE)
    start_phase(bot, "prod-stagger", START)
    traffic = Traffic(staggered=True, pool_util=30.0, run_s=0.5, collisions_per_hour=1)
    append_log(bot.app_dir / "logs" / "combined.log", bot.context.spec, START, 60, traffic)
    for minute in range(60):
        job_table.add(
            "Live Stats Sync", START + timedelta(minutes=minute, seconds=45), 500, "completed", None
        )
    return bot


def at(bot: Bot, minutes: int) -> datetime:
    bot.clock.set(START + timedelta(minutes=minutes))
    return bot.clock.now()


def dry_run(bot: Bot, *names: str) -> None:
    spec = bot.context.spec
    kpis = {
        name: kpi.model_copy(update={"dry_run": True}) if name in names else kpi
        for name, kpi in spec.kpis.items()
    }
    bot.context.spec = spec.model_copy(update={"kpis": kpis})


@pytest.mark.parametrize(("names", "declared"), [((), False), (("collision_warnings",), True)])
def test_a_dry_run_kpi_short_of_its_target_holds_no_success_back(
    rollout: Bot, names: tuple[str, ...], declared: bool
) -> None:
    dry_run(rollout, *names)
    current = Timeline(rollout.store).current()
    assert current is not None
    post_checkpoint(rollout.context, "prod", current, at(rollout, 30), timedelta(hours=6))
    checkpoint = rollout.slack.wait_for(lambda call: "KPI checkpoint — prod" in call.text).text
    collisions = next(line for line in checkpoint.splitlines() if line.startswith("Collision"))
    assert "🔴 ALERT" in collisions
    assert collisions.endswith("(dry run)") is declared
    assert [c.all_met for c in Checkpoints(rollout.store).of_phase(current.id)] == [declared]

    assert success_watch.run(rollout.context, at(rollout, 61)) is declared
    if not declared:
        held = rollout.slack.wait_for(lambda call: "cannot be declared yet" in call.text).text
        assert ":x: every KPI target met: collision_warnings" in held
        assert ":x: every checkpoint met the targets: 1 of 1 did not" in held
        return
    report = rollout.slack.wait_for(lambda call: "Rollout succeeded" in call.text).text
    assert (
        ":white_check_mark: every KPI target met: all met; dry run: collision_warnings not met"
        in report
    )
    row = next(line for line in report.splitlines() if line.startswith("Collision Warnings"))
    assert "ALERT (dry run)" in row
