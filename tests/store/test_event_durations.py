"""The run durations the log gave, read back from the event store for the judge: every
host of the env, the completed lines with a duration only."""

from __future__ import annotations

from datetime import timedelta

from bot.core.log_cursor import LogCursor
from bot.core.log_lines import EventKind, LogEvent
from bot.rollout.context import BotContext
from bot.store.event_log import EventLog
from tests.support.spec_data import START

PATH = "/srv/app/logs/combined.log"
LIVE, BADGE = "Live Stats Sync", "Badge Auto-Unlock"


def line(seconds: float, kind: EventKind, job: str | None, value: float | None) -> LogEvent:
    return LogEvent(START + timedelta(seconds=seconds), kind, job, value)


def test_durations_come_from_every_host_and_only_from_completed_lines_with_one(
    context: BotContext,
) -> None:
    events = EventLog(context.store)
    first = [
        line(0, EventKind.JOB_STARTED, LIVE, None),
        line(1, EventKind.JOB_COMPLETED, LIVE, 1000.0),
        line(2, EventKind.JOB_FAILED, LIVE, 4000.0),  # a failure is no run's duration
        line(3, EventKind.JOB_COMPLETED, BADGE, None),  # completed, no duration given
        line(4, EventKind.POOL, None, 80.0),
        line(-1, EventKind.JOB_COMPLETED, LIVE, 9000.0),  # before the window
        line(3600, EventKind.JOB_COMPLETED, LIVE, 9000.0),  # at its end
    ]
    second = [
        line(0.5, EventKind.JOB_COMPLETED, LIVE, 3000.0),
        line(5, EventKind.JOB_COMPLETED, BADGE, 700.0),
    ]
    elsewhere = [line(2, EventKind.JOB_COMPLETED, LIVE, 5000.0)]
    assert events.append("prod", "app@prod-1", PATH, first, LogCursor(1, 100), after=None)
    assert events.append("prod", "app@prod-2", PATH, second, LogCursor(2, 100), after=None)
    assert events.append("staging", "app@prod-1", PATH, elsewhere, LogCursor(3, 10), after=None)

    durations = events.durations("prod", START, START + timedelta(hours=1))

    assert durations == {LIVE: [3000.0, 1000.0], BADGE: [700.0]}


def test_an_env_with_no_events_has_no_durations(context: BotContext) -> None:
    assert EventLog(context.store).durations("prod", START, START + timedelta(hours=1)) == {}
