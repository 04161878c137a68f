"""Pruning: scanned log events older than `[logs] keep_events_days` are forgotten, the
rest and the scan cursors are kept, and the audit trail says how many went."""

from __future__ import annotations

from datetime import timedelta

from bot.core.log_cursor import LogCursor
from bot.core.log_lines import EventKind, LogEvent
from bot.rollout.context import BotContext
from bot.store.event_log import EventLog
from jobs import prune_events
from tests.support.spec_data import START

HOST, PATH = "sim@prod-1.example.com", "/srv/app/logs/combined.log"


def _started(days_ago: float) -> LogEvent:
    return LogEvent(START - timedelta(days=days_ago), EventKind.JOB_STARTED, "Live Stats Sync")


def test_events_older_than_the_kept_days_are_pruned_and_the_rest_kept(
    context: BotContext,
) -> None:
    events = EventLog(context.store)
    kept_days = context.spec.logs.keep_events_days
    old = [_started(kept_days + 2), _started(kept_days + 0.5)]
    recent = [_started(kept_days - 0.5), _started(1)]
    events.append("prod", HOST, PATH, [*old, *recent], LogCursor(inode=42, offset=4096), after=None)

    assert prune_events.run(context, START) == 2

    remaining = events.events("prod", HOST, START - timedelta(days=365), START)
    assert [event.at for event in remaining] == [event.at for event in recent]
    assert events.cursor("prod", HOST, PATH) == LogCursor(inode=42, offset=4096)
    entry = context.audit.latest(limit=1)[0]
    assert entry["action"] == "events.pruned" and '"rows": 2' in entry["args"]


def test_nothing_to_prune_leaves_no_audit_entry(context: BotContext) -> None:
    events = EventLog(context.store)
    events.append("prod", HOST, PATH, [_started(1)], LogCursor(inode=42, offset=100), after=None)
    before = len(context.audit.latest(limit=100))

    assert prune_events.run(context, START) == 0

    assert len(events.events("prod", HOST, START - timedelta(days=3), START)) == 1
    assert len(context.audit.latest(limit=100)) == before


def test_a_prune_larger_than_one_batch_takes_every_old_event(context: BotContext) -> None:
    events = EventLog(context.store)
    kept_days = context.spec.logs.keep_events_days
    old = [_started(kept_days + 1 + n / 1000) for n in range(25)]
    events.append("prod", HOST, PATH, [*old, _started(1)], LogCursor(42, 10), after=None)

    assert events.prune(START - timedelta(days=kept_days), batch=10) == 25

    assert len(events.events("prod", HOST, START - timedelta(days=365), START)) == 1


def test_slack_deliveries_seen_over_a_day_ago_are_forgotten_and_recent_ones_kept(
    context: BotContext,
) -> None:
    store = context.store
    assert store.first_time("trigger:old", START - timedelta(days=1, minutes=1))
    assert store.first_time("trigger:recent", START - timedelta(hours=1))
    assert store.first_time("analysis:R1:1", START - timedelta(days=40))

    prune_events.run(context, START)

    assert not store.first_time("trigger:recent", START), "a retry of it is still dropped"
    assert not store.first_time("analysis:R1:1", START), "a daily analysis is never posted twice"
    assert store.first_time("trigger:old", START), "forgotten"
    assert store.read().execute("SELECT count(*) FROM seen_requests").fetchone()[0] == 3
