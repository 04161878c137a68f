"""Pruning: scanned log events and run durations older than `[logs] keep_events_days` are
forgotten, the rest and the scan cursors are kept, and the audit trail says how many went;
a rollout's own, from its first phase on, are kept while it runs and the kept days after."""

from __future__ import annotations

from datetime import timedelta

from bot.core.log_cursor import LogCursor
from bot.core.log_lines import EventKind, LogEvent
from bot.core.phase_record import SUCCEEDED, Entry
from bot.core.run_samples import RunDuration
from bot.rollout.context import BotContext
from bot.store.event_log import EventLog
from bot.store.run_durations import RunDurations
from bot.store.timeline import Timeline
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


def _rollout(context: BotContext, started_days_ago: float, ended_days_ago: float | None) -> None:
    """A rollout begun that many days before START, and if given, ended (succeeded)."""
    timeline = Timeline(context.store)
    first = timeline.enter(
        Entry("prod-baseline", "prod", START - timedelta(days=started_days_ago), "started"), None
    )
    if ended_days_ago is not None:
        at = START - timedelta(days=ended_days_ago)
        timeline.enter(Entry(SUCCEEDED, "prod", at, "succeeded"), first.id)


def _baseline_of_40_days_ago(context: BotContext) -> tuple[EventLog, RunDurations]:
    """The log events and run durations of a baseline phase 40 days back, and older ones."""
    events, durations = EventLog(context.store), RunDurations(context.store)
    events.append(
        "prod", HOST, PATH, [_started(45), _started(40), _started(1)], LogCursor(42, 10), after=None
    )
    durations.save(
        "prod",
        "database",
        [
            RunDuration("Live Stats Sync", START - timedelta(days=days), 1000.0)
            for days in (45, 40, 1)
        ],
    )
    return events, durations


def _ages(context: BotContext) -> tuple[list[float], int]:
    """The kept events' ages in days, and how many run durations are kept."""
    events = EventLog(context.store).events("prod", HOST, START - timedelta(days=365), START)
    durations = RunDurations(context.store).between("prod", START - timedelta(days=365), START)
    return [(START - event.at) / timedelta(days=1) for event in events], sum(
        len(runs) for runs in durations.values()
    )


def test_a_running_rollouts_baseline_outlives_the_kept_days(context: BotContext) -> None:
    assert context.spec.logs.keep_events_days < 40
    _baseline_of_40_days_ago(context)
    _rollout(context, started_days_ago=41, ended_days_ago=None)

    assert prune_events.run(context, START) == 1

    assert _ages(context) == ([40, 1], 2)  # only what came before the rollout went
    entry = context.audit.latest(limit=1)[0]
    assert '"run_durations": 1' in entry["args"]


def test_a_rollout_that_ended_within_the_kept_days_keeps_its_baseline(
    context: BotContext,
) -> None:
    _baseline_of_40_days_ago(context)
    _rollout(context, started_days_ago=41, ended_days_ago=context.spec.logs.keep_events_days - 1)

    prune_events.run(context, START)

    assert _ages(context) == ([40, 1], 2)


def test_a_rollout_that_ended_more_than_the_kept_days_ago_is_pruned_as_any(
    context: BotContext,
) -> None:
    _baseline_of_40_days_ago(context)
    _rollout(context, started_days_ago=41, ended_days_ago=context.spec.logs.keep_events_days + 1)

    assert prune_events.run(context, START) == 2

    assert _ages(context) == ([1], 1)
