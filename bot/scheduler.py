"""The one scheduler, started only by the process that serves Slack."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from bot.context import BotContext
from jobs import expire_requests

logger = logging.getLogger(__name__)


def build_scheduler(context: BotContext) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=context.spec.timezone)

    def expire() -> None:
        try:
            expire_requests.run(context, context.clock.now())
        except Exception:
            logger.exception("expiring approval requests failed")

    scheduler.add_job(
        expire, "interval", seconds=30, id="expire_requests", max_instances=1, coalesce=True
    )
    return scheduler
