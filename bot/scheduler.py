"""The one scheduler, in the process that runs the scheduled jobs (`bot.serving`).

Each job is a plain function of (context, now) in `jobs/`; here they get their cadence.
No job runs concurrently with itself (max_instances=1), a run missed while the process
was busy is coalesced into one, and where two processes share a store only the holder
of the leadership (`bot.store.leadership`: the lease on SQLite, an advisory lock on
PostgreSQL) runs the jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.rollout.context import BotContext
from bot.store.leadership import AdvisoryLockLeadership, Leadership, ObservedLeadership
from bot.store.lease import Lease, process_name
from jobs import (
    alert_watch,
    audit_head,
    canary_soak,
    checkpoints,
    daily_analysis,
    deliver_outbox,
    env_locks,
    expire_requests,
    prune_events,
    recover_orphans,
    success_watch,
    validation_checks,
)

logger = logging.getLogger(__name__)


def build_scheduler(
    context: BotContext, leadership: Leadership | None = None, checkpoints_every_s: int = 60
) -> BackgroundScheduler:
    """Every job first takes or keeps the leadership: one process of many runs them.
    `checkpoints_every_s`: Settings' testing knob (a slot is due at most once a minute)."""
    scheduler = BackgroundScheduler(timezone=context.spec.timezone)
    leader = (
        leadership
        if isinstance(leadership, ObservedLeadership)
        else ObservedLeadership(leadership or Lease(context.store, process_name()), process_name())
    )

    def add(
        job_id: str,
        job: Callable[[BotContext, datetime], Any],
        seconds: int,
        *,
        leased: bool = True,
    ) -> None:
        def run() -> None:
            try:
                now = context.clock.now()
                if not leased or leader.hold(now):
                    job(context, now)
                else:
                    logger.debug("%s skipped: another process holds the scheduler lease", job_id)
            except Exception:
                logger.exception("scheduled job %s failed", job_id)

        # Each job runs once at start too: what fell due while no process ran (an outbox
        # post, a missed checkpoint, an expired request) is done now, not a cycle later.
        scheduler.add_job(
            run, "interval", seconds=seconds, id=job_id, name=job_id, max_instances=1,
            coalesce=True, next_run_time=datetime.now(UTC),
        )  # fmt: skip

    add("expire_requests", expire_requests.run, 30)
    add("deliver_outbox", deliver_outbox.run, 60)
    add("validation_checks", validation_checks.run, 30)
    add("canary_soak", canary_soak.run, 30)
    add("alert_watch", alert_watch.run, context.spec.alerts.every_min * 60)
    add("checkpoints", checkpoints.run, checkpoints_every_s)
    add("daily_analysis", daily_analysis.run, 600)
    add("success_watch", success_watch.run, 600)
    add("prune_events", prune_events.run, 6 * 3600)
    # Every process sweeps, lease or not (each interruption is one conditional update, so
    # two sweeps never report one twice), every half lease: work whose owner went away is
    # reported within 1.5 leases of its last renewal; a claim on its env frees it at once.
    sweep = max(1, min(60, int(context.spec.execution.lease_s / 2)))
    add("recover_orphans", recover_orphans.run, sweep, leased=False)
    add("audit_head", audit_head.run, 3600)  # posts once a day; hourly finds the new day
    add("env_locks", env_locks.run, 60)
    if isinstance(leader.leadership, AdvisoryLockLeadership):
        # Only tries the lock: a replica takes over within seconds of the leader's death,
        # not at its next 30-second job. (The SQLite lease lapses after 90 s anyway.)
        add("leadership", lambda context, now: None, 5)
    return scheduler
