"""Forget scanned log events and kept run durations older than the spec's `[logs]
keep_events_days` (but nothing of a rollout that runs, or ended within those days), and
the Slack deliveries seen over a day ago (kept to drop Slack's retries, which come within
minutes): the store stays the size of the rollout, not of the logs' whole history or of
every request Slack ever sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.event_log import EventLog
from bot.store.run_durations import RunDurations
from bot.store.store import Store
from bot.store.timeline import Timeline

DELIVERIES_KEPT = timedelta(days=1)


def cutoff(context: BotContext, now: datetime) -> datetime:
    """What is older goes: `keep_events_days` back, but never a moment of the rollout
    while it runs or in the kept days after it ended, so its baseline phases can still
    be judged however long ago they ran."""
    kept = now - timedelta(days=context.spec.logs.keep_events_days)
    timeline = Timeline(context.store)
    current = timeline.current()
    if current is None:
        return kept
    # A terminal record starts when the rollout ended.
    if current.is_terminal and current.started_at <= kept:
        return kept
    return min(kept, timeline.history()[0].started_at)


def run(context: BotContext, now: datetime) -> int:
    """Prune; how many log events went."""
    context.store.forget_seen(Store.DELIVERY_KEY_PREFIX, now - DELIVERIES_KEPT)
    before = cutoff(context, now)
    pruned = EventLog(context.store).prune(before)
    durations = RunDurations(context.store).prune(before)
    if pruned or durations:
        context.record(
            AuditEntry(
                "bot", "scheduler", "events.pruned", None,
                {"before": before.isoformat(), "rows": pruned, "run_durations": durations},
                "ok",
            )
        )  # fmt: skip
    return pruned
