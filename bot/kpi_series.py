"""KPIs over time for the checkpoint chart: pool utilization (average) and concurrent
jobs (maximum, per host) in buckets from a phase's start. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.kpis import in_window, max_concurrency
from bot.log_lines import EventKind, LogEvent


@dataclass(frozen=True)
class Series:
    label: str
    hours: tuple[float, ...]  # bucket start, in hours since the phase began
    values: tuple[float, ...]


def bucket_size(span: timedelta) -> timedelta:
    """About 24 to 72 points whatever the span: 15 min for a day, 2 h for a week."""
    for minutes in (5, 15, 30, 60, 120, 240):
        if span / timedelta(minutes=minutes) <= 72:
            return timedelta(minutes=minutes)
    return timedelta(hours=6)


def _buckets(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    edges = []
    moment = start
    while moment < end:
        edges.append((moment, min(moment + size, end)))
        moment += size
    return edges


def pool_series(label: str, events: Sequence[LogEvent], start: datetime, end: datetime) -> Series:
    size = bucket_size(end - start)
    hours, values = [], []
    for low, high in _buckets(start, end, size):
        samples = [
            e.value
            for e in in_window(events, low, high)
            if e.kind is EventKind.POOL and e.value is not None
        ]
        if samples:
            hours.append((low - start) / timedelta(hours=1))
            values.append(sum(samples) / len(samples))
    return Series(label, tuple(hours), tuple(values))


def concurrency_series(
    label: str, hosts: Sequence[Sequence[LogEvent]], start: datetime, end: datetime
) -> Series:
    """Each host runs its own jobs: the bucket's value is the busiest host's maximum."""
    size = bucket_size(end - start)
    hours, values = [], []
    for low, high in _buckets(start, end, size):
        per_host = [in_window(events, low, high) for events in hosts]
        if any(e.kind is EventKind.JOB_STARTED for events in per_host for e in events):
            hours.append((low - start) / timedelta(hours=1))
            values.append(float(max(max_concurrency(events) for events in per_host)))
    return Series(label, tuple(hours), tuple(values))
