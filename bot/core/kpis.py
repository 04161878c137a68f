"""The runbook's KPIs from log events over a window: pure arithmetic, exact.

Each KPI is a `Measurement`: a value, or None with the reason (no samples, no starts),
so the threshold judgement can say `unavailable` instead of a false 0. Job durations are
those the completed lines carry (the database's, where the env has one, replace them).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from datetime import datetime

from bot.core.kpi_catalog import LOG_KPI_NAMES
from bot.core.log_lines import EventKind, LogEvent
from bot.core.thresholds import Measurement

LOG_KPIS = LOG_KPI_NAMES
_COUNTED = {
    EventKind.JOB_STARTED: "job_starts",
    EventKind.JOB_COMPLETED: "job_completions",
    EventKind.JOB_FAILED: "job_failures",
    EventKind.LOCK_SKIP: "lock_skips",
    EventKind.SLOW_QUERY: "slow_queries",
    EventKind.COLLISION: "collision_warnings",
}


def in_window(events: Iterable[LogEvent], start: datetime, end: datetime) -> list[LogEvent]:
    return sorted((event for event in events if start <= event.at < end), key=lambda e: e.at)


def offset_miss(second: float, expected: int, tolerance_s: float) -> bool:
    """Is a start `second` (0–59.999) more than `tolerance_s` from `expected`, around the minute?"""
    distance = abs(second - expected) % 60
    return min(distance, 60 - distance) > tolerance_s


def max_concurrency(events: list[LogEvent]) -> int:
    """Most jobs running at once. A start with no end runs until its job's next start
    (a job never overlaps itself: the scheduler's lock skips it)."""
    open_starts: dict[str, deque[datetime]] = defaultdict(deque)
    changes: list[tuple[datetime, int]] = []
    for event in events:
        job = event.job or "?"
        if event.kind is EventKind.JOB_STARTED:
            if open_starts[job]:
                open_starts[job].popleft()
                changes.append((event.at, -1))
            open_starts[job].append(event.at)
            changes.append((event.at, +1))
        elif event.kind in (EventKind.JOB_COMPLETED, EventKind.JOB_FAILED) and open_starts[job]:
            open_starts[job].popleft()
            changes.append((event.at, -1))
    running = highest = 0
    # Ends (-1) sort before starts (+1) at the same instant: back-to-back runs do not
    # overlap. The tuples' own order; no key function per event.
    changes.sort()
    for _, change in changes:
        running += change
        highest = max(highest, running)
    return highest


def percentile(values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear between the two nearest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _durations(durations: list[float]) -> dict[str, Measurement]:
    if not durations:
        missing = Measurement(
            None, reason="no completed line in the window gave a duration", source="log"
        )
        return {"job_duration_avg": missing, "job_duration_p95": missing}
    return {
        "job_duration_avg": Measurement(sum(durations) / len(durations), source="log"),
        "job_duration_p95": Measurement(percentile(durations, 0.95), source="log"),
    }


def log_kpis(
    events: list[LogEvent],
    expected_offsets: Mapping[str, int],
    tolerance_s: float = 2.0,
    *,
    concurrency: bool = True,
) -> dict[str, Measurement]:
    """The log KPIs of `events` (already cut to the window, in time order where
    `concurrency` is asked for; the other KPIs don't depend on the order). Without
    `concurrency`, `max_concurrent_jobs` is left out: a fleet's is its busiest host's."""
    counts = dict.fromkeys(_COUNTED.values(), 0)
    pool: list[float] = []
    durations: list[float] = []
    misses = 0
    for event in events:
        if event.kind in _COUNTED:
            counts[_COUNTED[event.kind]] += 1
        if event.kind is EventKind.POOL and event.value is not None:
            pool.append(event.value)
        elif event.kind is EventKind.JOB_COMPLETED and event.value is not None:
            durations.append(event.value)
        expected = expected_offsets.get(event.job or "")
        if event.kind is EventKind.JOB_STARTED and expected is not None:
            second = event.at.second + event.at.microsecond / 1_000_000
            misses += offset_miss(second, expected, tolerance_s)
    measurements = {name: Measurement(float(count)) for name, count in counts.items()}
    no_pool = "no PoolMonitor samples in the window"
    measurements["pool_util_avg"] = (
        Measurement(sum(pool) / len(pool)) if pool else Measurement(None, reason=no_pool)
    )
    measurements["pool_util_max"] = (
        Measurement(max(pool)) if pool else Measurement(None, reason=no_pool)
    )
    starts = counts["job_starts"]
    measurements["error_rate"] = (
        Measurement(counts["job_failures"] / starts * 100.0)
        if starts
        else Measurement(None, reason="no job starts in the window")
    )
    if concurrency:
        measurements["max_concurrent_jobs"] = Measurement(float(max_concurrency(events)))
    measurements["offset_misses"] = Measurement(float(misses))
    measurements.update(_durations(durations))
    return measurements
