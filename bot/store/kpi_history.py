"""The chart's hour-by-hour KPIs, kept per phase as checkpoints go: each checkpoint reads
only the hours since the last one, however long the phase has run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bot.core.kpi_series import HOUR, HourPoint, hourly_points
from bot.core.log_lines import LogEvent
from bot.store.store import Store

EventsOf = Callable[[datetime, datetime], Sequence[Sequence[LogEvent]]]


class KpiHistory:
    def __init__(self, store: Store) -> None:
        self._store = store

    def points(self, phase_id: int) -> list[HourPoint]:
        rows = self._store.read().execute(
            "SELECT hour, pool_avg, busiest FROM kpi_hours WHERE phase_id = ? ORDER BY hour",
            [phase_id],
        )
        return [HourPoint(hour, pool, busiest) for hour, pool, busiest in rows]

    def extend(
        self, phase_id: int, start: datetime, until: datetime, events_of: EventsOf
    ) -> list[HourPoint]:
        """Add the hours completed by `until` that are not kept yet; every point so far."""
        kept = self.points(phase_id)
        first = kept[-1].index + 1 if kept else 0
        last = int((until - start) / HOUR) - 1
        if last >= first:
            hosts = events_of(start + first * HOUR, start + (last + 1) * HOUR)
            new = hourly_points(hosts, start, first, last)
            with self._store.transaction() as db:
                db.table("kpi_hours").insert_all(
                    (
                        {"phase_id": phase_id, "hour": p.index, "pool_avg": p.pool_avg,
                         "busiest": p.busiest}
                        for p in new
                    ),
                    replace=True,
                )  # fmt: skip
            kept.extend(new)
        return kept
