"""KPIs hour by hour for the checkpoint chart: pool utilization (average) and concurrent
jobs (the busiest host's maximum) in each hour since a phase began. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.kpis import max_concurrency
from bot.core.log_lines import EventKind, LogEvent

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class HourPoint:
    index: int  # hours since the phase began
    pool_avg: float | None
    busiest: float | None


@dataclass(frozen=True)
class Series:
    label: str
    hours: tuple[float, ...]
    values: tuple[float, ...]


def _by_hour(
    events: Sequence[LogEvent], start: datetime, first: int, last: int
) -> dict[int, list[LogEvent]]:
    """One pass: each event of hours first..last (inclusive) under its hour's index."""
    hours: dict[int, list[LogEvent]] = {}
    for event in events:
        index = int((event.at - start) / HOUR)
        if first <= index <= last:
            hours.setdefault(index, []).append(event)
    return hours


def hourly_points(
    hosts: Sequence[Sequence[LogEvent]], start: datetime, first: int, last: int
) -> list[HourPoint]:
    pools: dict[int, list[float]] = {}
    busiest: dict[int, int] = {}
    for events in hosts:
        for index, bucket in _by_hour(events, start, first, last).items():
            pools.setdefault(index, []).extend(
                e.value for e in bucket if e.kind is EventKind.POOL and e.value is not None
            )
            if any(e.kind is EventKind.JOB_STARTED for e in bucket):
                ordered = sorted(bucket, key=lambda e: e.at)
                busiest[index] = max(busiest.get(index, 0), max_concurrency(ordered))
    return [
        HourPoint(
            index,
            sum(pools[index]) / len(pools[index]) if pools.get(index) else None,
            float(busiest[index]) if index in busiest else None,
        )
        for index in range(first, last + 1)
    ]


def series(label: str, points: Sequence[HourPoint], field: str) -> Series:
    """The points that have a value for `field` (`pool_avg` or `busiest`)."""
    present = [(p.index, getattr(p, field)) for p in points if getattr(p, field) is not None]
    return Series(label, tuple(float(i) for i, _ in present), tuple(v for _, v in present))
