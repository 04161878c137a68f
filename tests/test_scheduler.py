"""One scheduler for many processes: the lease holder runs the jobs, the others wait."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.runtime import build_context
from bot.scheduler import build_scheduler
from bot.settings import Settings
from bot.store.lease import Lease
from tests.support.rollout_state import start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import AUDIT_KEY, START


def test_the_lease_has_one_holder_until_it_lapses(bot: Bot) -> None:
    first, second = Lease(bot.store, "web:1"), Lease(bot.store, "worker:2")
    assert first.hold(START) and not second.hold(START)
    assert first.hold(START + timedelta(seconds=60))  # renewed
    assert not second.hold(START + timedelta(seconds=120))
    assert second.hold(START + timedelta(seconds=151))  # the holder stopped renewing
    assert first.current_holder(START + timedelta(seconds=152)) == "worker:2"


def test_two_processes_on_one_store_post_a_checkpoint_once(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.scheduler")
    start_phase(bot, "prod-stagger", START - timedelta(hours=1))
    bot.clock.set(START)
    other = build_context(
        Settings.from_environ({"STAGGER_DB": str(bot.store.path), "STAGGER_AUDIT_KEY": AUDIT_KEY}),
        bot.context.spec, transport=bot.context.transport, poster=bot.context.poster,
        clock=bot.clock,
    )  # fmt: skip
    schedulers = [
        build_scheduler(bot.context, Lease(bot.store, "web:1")),
        build_scheduler(other, Lease(other.store, "worker:2")),
    ]
    assert {job.id for job in schedulers[0].get_jobs()} == {
        "expire_requests", "deliver_outbox", "validation_checks", "alert_watch", "checkpoints",
        "daily_analysis", "success_watch", "prune_events", "recover_orphans", "audit_head",
        "env_locks",
        "canary_soak",
    }  # fmt: skip
    for scheduler in schedulers:
        scheduler.get_job("checkpoints").func()
    checkpoints = [c for c in bot.slack.of("chat.postMessage") if "KPI checkpoint" in c.text]
    assert len(checkpoints) == 1
    assert "checkpoints skipped: another process holds the scheduler lease" in caplog.text
