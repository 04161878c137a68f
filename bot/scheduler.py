"""The one scheduler, started only by the process that serves Slack.

Each job is a plain function of (context, now) in `jobs/`; here they get their cadence.
No job runs concurrently with itself (max_instances=1), and a run missed while the
process was busy is coalesced into one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.context import BotContext
from jobs import expire_requests, success_watch, trigger_watch, validation_checks

logger = logging.getLogger(__name__)


def build_scheduler(context: BotContext) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=context.spec.timezone)

    def add(job_id: str, job: Callable[[BotContext, datetime], Any], seconds: int) -> None:
        def run() -> None:
            try:
                job(context, context.clock.now())
            except Exception:
                logger.exception("scheduled job %s failed", job_id)

        scheduler.add_job(
            run, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True
        )

    add("expire_requests", expire_requests.run, 30)
    add("validation_checks", validation_checks.run, 30)
    add("trigger_watch", trigger_watch.run, context.spec.alerts.every_min * 60)
    add("success_watch", success_watch.run, 600)
    return scheduler
