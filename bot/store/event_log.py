"""Log events and scan cursors, kept in the store so each scan reads only new bytes and
any window can be measured later."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.core.log_cursor import LogCursor
from bot.core.log_lines import EventKind, LogEvent
from bot.store.store import Store


def _stamp(moment: datetime) -> str:
    """`2026-02-01T12:00:15.123000Z` for a UTC moment. Sub-second precision: job start
    seconds are judged against their offsets. (isoformat: strftime is slower per event.)"""
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class EventLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    def cursor(self, env: str, host: str, path: str) -> LogCursor | None:
        rows = list(
            self._store.select(
                "log_cursors", "env = ? AND host = ? AND path = ?", [env, host, path]
            )
        )
        if not rows:
            return None
        return LogCursor(rows[0]["inode"], rows[0]["offset"], rows[0].get("head"))

    def append(
        self,
        env: str,
        host: str,
        path: str,
        events: Iterable[LogEvent],
        cursor: LogCursor,
        *,
        after: LogCursor | None,
    ) -> bool:
        """Events and the cursor after them, in one transaction: none twice, none lost.

        `after` is the cursor the events were read from. If the stored cursor is no
        longer that one, another scan of this file (a checkpoint beside `/stagger kpi`,
        the scheduler beside the web process) stored them already: nothing is written
        and False is returned, so no event is counted twice and the cursor never goes
        back. The rows are built first, so the write lock is held only for the insert."""
        # Plain tuples and one executemany: a scan stores thousands of rows per host, and
        # sqlite_utils' insert_all (a dict and a type check per value) was most of its CPU.
        rows = [
            (env, host, _stamp(event.at), event.kind.value, event.job, event.value)
            for event in events
        ]
        with self._store.transaction() as db:
            stored = db.execute(
                'SELECT inode, "offset" FROM log_cursors WHERE env = ? AND host = ? AND path = ?',
                [env, host, path],
            ).fetchone()
            if (LogCursor(*stored) if stored else None) != after:
                return False
            db.conn.executemany(
                "INSERT INTO log_events (env, host, at, kind, job, value) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute(
                'INSERT INTO log_cursors (env, host, path, inode, "offset", head) '
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (env, host, path) DO UPDATE SET "
                'inode = excluded.inode, "offset" = excluded."offset", head = excluded.head',
                [env, host, path, cursor.inode, cursor.offset, cursor.head],
            )
            return True

    def prune(self, before: datetime, batch: int = 5000) -> int:
        """Forget events older than `before`; how many went. In batches, each its own
        transaction: the writer lock is never held for long, so no command's answer waits
        behind a large prune."""
        pruned = 0
        while True:
            with self._store.transaction() as db:
                cursor = db.execute(
                    "DELETE FROM log_events WHERE rowid IN "
                    "(SELECT rowid FROM log_events WHERE at < ? LIMIT ?)",
                    [_stamp(before), batch],
                )
                pruned += cursor.rowcount
            if cursor.rowcount < batch:
                return pruned

    def latest(self, env: str, host: str) -> datetime | None:
        """When the host's last stored event happened: where its next scan goes on."""
        return self._moment("SELECT MAX(at) FROM log_events WHERE env = ? AND host = ?", env, host)

    def earliest(self, env: str, host: str) -> datetime | None:
        """When the host's first stored event happened: about where its log begins."""
        return self._moment("SELECT MIN(at) FROM log_events WHERE env = ? AND host = ?", env, host)

    def _moment(self, query: str, env: str, host: str) -> datetime | None:
        # MIN/MAX on the (env, host, at) index: one index lookup, not a walk of the rows.
        row = self._store.read().execute(query, [env, host]).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def events(self, env: str, host: str, start: datetime, end: datetime) -> list[LogEvent]:
        rows = self._store.read().execute(
            "SELECT at, kind, job, value FROM log_events "
            "WHERE env = ? AND host = ? AND at >= ? AND at < ? ORDER BY at",
            [env, host, _stamp(start), _stamp(end)],
        )
        # A checkpoint reads back every host's events: hundreds of thousands of rows, so
        # no per-row conversion beyond what is needed (`_stamp` always writes UTC with Z).
        kinds, parse = _KINDS, datetime.fromisoformat
        return [
            LogEvent(parse(at), kinds[kind], job=job, value=value) for at, kind, job, value in rows
        ]

    def durations(self, env: str, start: datetime, end: datetime) -> dict[str, list[float]]:
        """Each job's run durations the log gave (its completed lines with a duration) in
        [start, end), over every host of `env`, in the order they completed."""
        rows = self._store.read().execute(
            # The hosts are found by skipping along the (env, host, at) index, one seek per
            # host: each host's window is then read by that index too, not the env's rows.
            "WITH RECURSIVE hosts (host) AS ("
            " SELECT MIN(host) FROM log_events WHERE env = ?1"
            " UNION ALL SELECT (SELECT MIN(host) FROM log_events"
            " WHERE env = ?1 AND host > hosts.host) FROM hosts WHERE hosts.host IS NOT NULL) "
            "SELECT job, value FROM log_events WHERE env = ?1"
            " AND host IN (SELECT host FROM hosts WHERE host IS NOT NULL)"
            " AND at >= ?2 AND at < ?3 AND kind = ?4 AND value IS NOT NULL AND job IS NOT NULL"
            " ORDER BY at",
            [env, _stamp(start), _stamp(end), EventKind.JOB_COMPLETED.value],
        )
        by_job: dict[str, list[float]] = {}
        for job, value in rows:
            by_job.setdefault(job, []).append(float(value))
        return by_job


_KINDS = {kind.value: kind for kind in EventKind}
