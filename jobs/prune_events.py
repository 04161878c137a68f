"""Forget scanned log events older than the spec's `[logs] keep_events_days`, and the
Slack deliveries seen over a day ago (kept to drop Slack's retries, which come within
minutes): the store stays the size of the rollout, not of the logs' whole history or of
every request Slack ever sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.event_log import EventLog
from bot.store.store import Store

DELIVERIES_KEPT = timedelta(days=1)


def run(context: BotContext, now: datetime) -> int:
    context.store.forget_seen(Store.DELIVERY_KEY_PREFIX, now - DELIVERIES_KEPT)
    cutoff = now - timedelta(days=context.spec.logs.keep_events_days)
    pruned = EventLog(context.store).prune(cutoff)
    if pruned:
        context.record(
            AuditEntry(
                "bot", "scheduler", "events.pruned", None,
                {"before": cutoff.isoformat(), "rows": pruned}, "ok",
            )
        )  # fmt: skip
    return pruned
