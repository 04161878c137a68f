"""The repositories without a test file of their own here, each run on SQLite and on
PostgreSQL (`store_factory`): the same answers from the same calls on either engine —
the log's events and cursors, alerts, phases, the outbox, checks, checkpoints,
baselines, KPI hours and silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.baseline import Baseline
from bot.core.errors import UserError
from bot.core.log_cursor import LogCursor
from bot.core.log_lines import EventKind, LogEvent
from bot.core.phase_record import Entry
from bot.store.baselines import Baselines
from bot.store.breaches import Breaches
from bot.store.check_schedule import CheckSchedule
from bot.store.checkpoints import Checkpoints
from bot.store.event_log import EventLog
from bot.store.kpi_history import KpiHistory
from bot.store.outbox import Outbox
from bot.store.silences import Silences
from bot.store.timeline import Timeline
from tests.support.store_backends import StoreFactory

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def completed(minutes: float, job: str, duration_ms: float) -> LogEvent:
    return LogEvent(NOW + minutes * MINUTE, EventKind.JOB_COMPLETED, job, duration_ms)


def test_log_events_are_stored_once_per_cursor_read_back_by_window_and_pruned(
    store_factory: StoreFactory,
) -> None:
    log = EventLog(store_factory())
    first = [completed(1, "Sync", 100.0), completed(2.5, "Sync", 300.0)]
    assert log.append("prod", "h1", "/log", first, LogCursor(1, 200, 7), after=None)
    # A second scan read from the same (old) cursor stores nothing.
    assert not log.append("prod", "h1", "/log", first, LogCursor(1, 200), after=None)
    other = [completed(2, "Badge", 50.0), LogEvent(NOW + 3 * MINUTE, EventKind.POOL, None, 0.5)]
    assert log.append("prod", "h2", "/log", other, LogCursor(9, 80), after=None)

    assert log.cursor("prod", "h1", "/log") == LogCursor(1, 200)
    assert log.cursor("prod", "h1", "/log").head == 7  # type: ignore[union-attr]
    assert log.events("prod", "h1", NOW, NOW + 10 * MINUTE) == first
    assert log.durations("prod", NOW, NOW + 10 * MINUTE) == {
        "Sync": [100.0, 300.0],
        "Badge": [50.0],
    }
    assert log.latest("prod", "h2") == NOW + 3 * MINUTE
    assert log.earliest("prod", "h1") == NOW + MINUTE
    assert log.prune(NOW + 2.2 * MINUTE, batch=1) == 2
    assert log.events("prod", "h1", NOW, NOW + 10 * MINUTE) == first[1:]


def test_an_alert_opens_once_is_acknowledged_once_and_closes(store_factory: StoreFactory) -> None:
    breaches = Breaches(store_factory())
    opened = breaches.open("prod", "pool", NOW, "pool at 91%")
    assert opened is not None and breaches.open("prod", "pool", NOW, "again") is None
    breaches.set_message(opened.id, "1700000000.000100", "the alert")
    acknowledged = breaches.acknowledge(opened, "U0OPS1", NOW + MINUTE)
    assert acknowledged is not None and acknowledged.acknowledged_by == "U0OPS1"
    assert breaches.acknowledge(opened, "U0LEAD1", NOW + 2 * MINUTE) is None
    closed = breaches.close("prod", "pool", NOW + 5 * MINUTE)
    assert closed is not None and closed.closed_at == NOW + 5 * MINUTE
    assert breaches.open_breaches("prod") == []


def test_phases_follow_one_another_and_a_stale_move_is_refused(store_factory: StoreFactory) -> None:
    timeline = Timeline(store_factory())
    first = timeline.enter(Entry("prod-baseline", "prod", NOW, "started"), None)
    second = timeline.enter(Entry("prod-stagger", "prod", NOW + MINUTE, "advanced"), first.id)
    with pytest.raises(UserError, match="moved on"):
        timeline.enter(Entry("rolled back", "prod", NOW + 2 * MINUTE, "x", forced=True), first.id)
    assert [record.phase for record in timeline.history("prod")] == [
        "prod-baseline",
        "prod-stagger",
    ]
    assert timeline.current() is not None and timeline.current().id == second.id  # type: ignore[union-attr]


def test_a_post_slack_refused_waits_in_the_outbox_until_delivered(
    store_factory: StoreFactory,
) -> None:
    outbox = Outbox(store_factory())
    outbox.enqueue("chat.postMessage", {"channel": "C1", "text": "hi"}, NOW, "timeout", "RABC")
    [queued] = outbox.pending()
    assert (queued.method, queued.arguments["text"], queued.attempts) == (
        "chat.postMessage",
        "hi",
        1,
    )
    outbox.failed_again(queued.id, "timeout again")
    assert outbox.pending()[0].attempts == 2
    outbox.delivered(outbox.pending()[0], NOW + MINUTE, "1700000000.000200")
    assert outbox.pending() == []


def test_a_due_check_is_claimed_once_and_released_when_its_lease_lapses(
    store_factory: StoreFactory,
) -> None:
    checks = CheckSchedule(store_factory())
    checks.schedule("prod", 1, None, [("+1h", NOW + 60 * MINUTE), ("+2h", NOW + 120 * MINUTE)])
    [due] = checks.due(NOW + 61 * MINUTE)
    assert checks.claim(due.id, NOW + 62 * MINUTE)
    assert not checks.claim(due.id, NOW + 62 * MINUTE)
    assert checks.release_lapsed(NOW + 63 * MINUTE) == 1
    assert [check.id for check in checks.due(NOW + 61 * MINUTE)] == [due.id]


def test_a_checkpoint_slot_is_claimed_once_and_the_latest_checkpoint_read_back(
    store_factory: StoreFactory,
) -> None:
    checkpoints = Checkpoints(store_factory())
    assert checkpoints.claim_slot(None, NOW)
    assert not checkpoints.claim_slot(None, NOW)
    assert checkpoints.claim_slot(NOW, NOW + 60 * MINUTE)
    assert checkpoints.last_slot() == NOW + 60 * MINUTE
    window = (NOW - 60 * MINUTE, NOW)
    checkpoints.add("prod", 1, NOW, {"pool_avg": 0.41}, {"pool_avg": "met"}, "1.2", window)
    latest = checkpoints.latest("prod")
    assert latest is not None
    assert (latest.values, latest.all_met, latest.window) == ({"pool_avg": 0.41}, True, window)


def test_baselines_kpi_hours_and_silences_read_back_as_written(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    baseline = Baseline("prod", NOW, NOW - 60 * MINUTE, NOW, "U0OPS1", {"pool_avg": 0.5})
    Baselines(store).save(baseline)
    assert Baselines(store).latest("prod") == baseline

    pool = [[LogEvent(NOW + n * MINUTE, EventKind.POOL, None, 0.25) for n in range(0, 120, 10)]]
    history = KpiHistory(store)
    points = history.extend(7, NOW, NOW + 120 * MINUTE, lambda start, end: pool)
    assert [point.index for point in points] == [0, 1]
    assert history.points(7) == points

    silences = Silences(store)
    silences.add("pool_avg", NOW + 60 * MINUTE, "U0OPS1", "maintenance", NOW)
    assert [s.kpi for s in silences.active(NOW + MINUTE)] == ["pool_avg"]
    assert silences.lift("pool_avg", NOW + 2 * MINUTE) == 1
    assert silences.active(NOW + 3 * MINUTE) == []
