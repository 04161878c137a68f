"""Two replicas' schedulers leading by the PostgreSQL advisory lock: one runs the jobs,
and a checkpoint is posted once across a handover (the slot is claimed in the store
before it is posted)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.runtime import build_context, secrets_of
from bot.scheduler import build_scheduler
from bot.serving import leadership
from bot.settings import Settings
from bot.store.leadership import AdvisoryLockLeadership
from bot.store.lease import Lease
from tests.support.leader_fixtures import terminate_backends
from tests.support.rollout_state import start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import AUDIT_KEY, START


@pytest.fixture
def replicas(bot: Bot, leader_dsn: str) -> Iterator[list[BackgroundScheduler]]:
    """Two schedulers on the bot's store, `web:1` and `worker:2`, not started: a test runs
    their jobs by hand at the clock's time."""
    other = build_context(
        Settings.from_environ({"STAGGER_DB": str(bot.store.path), "STAGGER_AUDIT_KEY": AUDIT_KEY}),
        bot.context.spec, transport=bot.context.transport, poster=bot.context.poster,
        clock=bot.clock,
    )  # fmt: skip
    locks = [
        AdvisoryLockLeadership(leader_dsn, "web:1"),
        AdvisoryLockLeadership(leader_dsn, "worker:2"),
    ]
    yield [build_scheduler(bot.context, locks[0]), build_scheduler(other, locks[1])]
    for lock in locks:
        lock.close()


def checkpoint_posts(bot: Bot) -> list[str]:
    return [c.text for c in bot.slack.of("chat.postMessage") if "KPI checkpoint" in c.text]


def run_checkpoints(scheduler: BackgroundScheduler) -> None:
    scheduler.get_job("checkpoints").func()


def test_a_leader_whose_lock_session_is_ended_skips_its_next_job_and_the_other_runs_it(
    bot: Bot, replicas: list[BackgroundScheduler], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.store.leadership")
    web, worker = replicas
    start_phase(bot, "prod-stagger", START - timedelta(hours=1))
    bot.clock.set(START)
    run_checkpoints(web)
    run_checkpoints(worker)
    assert len(checkpoint_posts(bot)) == 1
    assert "is now the scheduler leader" in caplog.text

    assert terminate_backends("stagger-bot scheduler web:1") == 1
    bot.clock.set(START + timedelta(hours=6, minutes=5))
    run_checkpoints(web)
    assert len(checkpoint_posts(bot)) == 1  # the old leader did not post the new slot
    assert "is no longer the scheduler leader" in caplog.text
    run_checkpoints(worker)
    run_checkpoints(web)  # back on the server, but the worker leads now
    posts = checkpoint_posts(bot)
    assert len(posts) == 2 and posts[0] != posts[1]


def test_a_slot_posted_before_a_handover_is_not_posted_again_and_the_next_is_posted_once(
    bot: Bot, replicas: list[BackgroundScheduler]
) -> None:
    web, worker = replicas
    start_phase(bot, "prod-stagger", START - timedelta(hours=1))
    bot.clock.set(START + timedelta(minutes=2))
    run_checkpoints(web)
    assert len(checkpoint_posts(bot)) == 1
    terminate_backends("stagger-bot scheduler web:1")  # the leader's process died

    bot.clock.set(START + timedelta(minutes=10))  # still within grace of the posted slot
    run_checkpoints(worker)
    assert len(checkpoint_posts(bot)) == 1
    bot.clock.set(START + timedelta(hours=6, minutes=20))  # missed by 20 of 30 minutes' grace
    run_checkpoints(worker)
    run_checkpoints(worker)
    run_checkpoints(web)
    assert len(checkpoint_posts(bot)) == 2


def test_the_advisory_lock_is_tried_every_few_seconds_beside_the_jobs(
    replicas: list[BackgroundScheduler],
) -> None:
    job = replicas[0].get_job("leadership")
    assert job is not None and job.trigger.interval == timedelta(seconds=5)


def test_a_postgresql_dsn_in_stagger_db_selects_the_advisory_lock_and_stays_secret(
    bot: Bot,
) -> None:
    dsn = "postgresql://stagger:s3cret-store-pw@127.0.0.1:5432/test"
    settings = Settings.from_environ({"STAGGER_DB": dsn, "STAGGER_AUDIT_KEY": AUDIT_KEY})
    assert isinstance(leadership(bot.context, settings), AdvisoryLockLeadership)
    assert dsn in secrets_of(settings)
    on_file = Settings.from_environ({"STAGGER_DB": str(bot.store.path)})
    assert on_file.db_url is None
    assert isinstance(leadership(bot.context, on_file), Lease)
