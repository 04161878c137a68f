"""Each completed run's duration, kept per environment as the app's job table gave it: the
judge's samples for a window, even one the app's table has since lost (pruned, restored
from a backup, unreachable). One row per run: a run is its env, job, start and, for runs
of one job that started at the same moment (hosts at the same offset, a table that keeps
whole seconds), its ordinal among them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.core.run_samples import RunDuration
from bot.store.store import Store


def _stamp(moment: datetime) -> str:
    """`2026-02-01T12:00:15.123456Z`: UTC to the microsecond (the database's precision),
    one length, so the text sorts and compares as the moment does and two runs of a job
    in the same second stay two rows."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class RunDurations:
    def __init__(self, store: Store) -> None:
        self._store = store

    def save(self, env: str, source: str, rows: Sequence[RunDuration]) -> int:
        """Keep `rows`, one per run however often a window is saved; how many rows were
        new or changed (0: the store had them all)."""
        values = [
            (env, row.job, _stamp(row.started_at), row.ordinal, row.duration_ms, source)
            for row in rows
        ]
        with self._store.transaction() as db:
            cursor = db.conn.executemany(
                "INSERT INTO run_durations (env, job, started_at, ordinal, duration_ms, source) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (env, job, started_at, ordinal) "
                "DO UPDATE SET duration_ms = excluded.duration_ms, source = excluded.source "
                "WHERE run_durations.duration_ms IS NOT excluded.duration_ms "
                "OR run_durations.source IS NOT excluded.source",
                values,
            )
            return max(int(cursor.rowcount), 0)

    def between(self, env: str, start: datetime, end: datetime) -> dict[str, list[float]]:
        """Each job's durations of the runs started in [start, end), in the order they
        started."""
        rows = self._store.read().execute(
            "SELECT job, duration_ms FROM run_durations "
            "WHERE env = ? AND started_at >= ? AND started_at < ? ORDER BY started_at, job",
            [env, _stamp(start), _stamp(end)],
        )
        by_job: dict[str, list[float]] = {}
        for job, duration in rows:
            by_job.setdefault(job, []).append(float(duration))
        return by_job

    def prune(self, before: datetime) -> int:
        """Forget the runs started before `before`; how many went."""
        with self._store.transaction() as db:
            cursor = db.execute("DELETE FROM run_durations WHERE started_at < ?", [_stamp(before)])
            return int(cursor.rowcount)
