"""Forget scanned log events older than the spec's `[logs] keep_events_days`: the store
stays the size of the rollout, not of the logs' whole history."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.event_log import EventLog


def run(context: BotContext, now: datetime) -> int:
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
