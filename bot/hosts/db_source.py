"""The database KPIs: the app's job-execution table, read in a read-only transaction.

Per job and window: runs, failures, average and p95 duration; over all jobs the p95 and
the most executions running at once — all computed in SQL; and each completed run's
duration, the judge's samples. A database that can't be reached, or answers too slowly,
raises `DatabaseUnavailable` with a reason (never the DSN); the caller reports the KPIs
as unavailable, never 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from bot.core.errors import StaggerError
from bot.core.job_stats import DbKpis, JobStats
from bot.core.redaction import redact
from bot.core.run_samples import RunDuration
from bot.core.spec_fleet import DatabaseSpec

T = TypeVar("T")


class DatabaseUnavailable(StaggerError):
    """The job table could not be read; the message says why, without secrets."""


_DURATION = "extract(epoch FROM ({completed} - {started})) * 1000"
_WINDOW = "{started} >= %(start)s AND {started} < %(end)s"


def _names(spec: DatabaseSpec) -> dict[str, sql.Identifier]:
    """The spec's table and columns, each quoted as an identifier."""
    return {
        "job": sql.Identifier(spec.job_name),
        "started": sql.Identifier(spec.started_at),
        "completed": sql.Identifier(spec.completed_at),
        "status": sql.Identifier(spec.status),
        "error": sql.Identifier(spec.error_message),
        "table": sql.Identifier(*spec.table.split(".")),
    }


def _queries(
    spec: DatabaseSpec,
) -> tuple[sql.Composed, sql.Composed, sql.Composed, sql.Composed]:
    names = _names(spec)
    duration, window = _DURATION, _WINDOW
    # Only constant fragments are joined here; every name goes through sql.Identifier.
    per_job = sql.SQL(
        "SELECT {job}, count(*), count(*) FILTER (WHERE {status} = %(failed)s), "
        f"avg({duration}), percentile_cont(0.95) WITHIN GROUP (ORDER BY {duration}), "
        f"sum({duration}), count({{completed}}) FROM {{table}} WHERE {window} "
        "GROUP BY {job} ORDER BY {job}"
    ).format(**names)
    # +1 at each start, -1 at each end; a run still going ends at the window's end.
    overlap = sql.SQL(
        "SELECT coalesce(max(running), 0) FROM (SELECT sum(delta) OVER (ORDER BY at, delta "
        "ROWS UNBOUNDED PRECEDING) AS running FROM (SELECT {started} AS at, 1 AS delta "
        f"FROM {{table}} WHERE {window} UNION ALL SELECT least(coalesce({{completed}}, %(end)s), "
        f"%(end)s), -1 FROM {{table}} WHERE {window}) AS changes) AS sweep"
    ).format(**names)
    metadata = sql.SQL(
        f"SELECT count(*) FROM {{table}} WHERE {window} AND {{status}} = %(failed)s "
        "AND {error} ILIKE '%%metadata%%'"
    ).format(**names)
    p95 = sql.SQL(
        f"SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY {duration}) "
        f"FROM {{table}} WHERE {window}"
    ).format(**names)
    return per_job, overlap, metadata, p95


def _dsn_secrets(dsn: str) -> tuple[str, ...]:
    """The DSN and its password, as libpq and a URL spell it: what an error must not show."""
    found = [dsn]
    with contextlib.suppress(psycopg.Error):
        found.append(str(conninfo_to_dict(dsn).get("password") or ""))
    try:
        encoded = urlsplit(dsn).password or ""
    except ValueError:
        encoded = ""
    found += [encoded, unquote(encoded)]
    return tuple(secret for secret in found if secret)


def _read(dsn: str, spec: DatabaseSpec, read: Callable[[psycopg.Cursor[Any]], T]) -> T:
    """`read` run in one read-only transaction under the spec's timeouts, then rolled
    back. Any failure raises `DatabaseUnavailable` with a reason free of the DSN."""
    try:
        conninfo_to_dict(dsn)
    except psycopg.Error:
        # libpq's parse errors quote the DSN's text, password included.
        raise DatabaseUnavailable(
            "the database URL could not be read (check its quoting and escapes); "
            "it is not shown here"
        ) from None
    try:
        # statement_timeout is set in the transaction, not through `options`, which would
        # replace any options the DSN carries (a search_path, for one).
        with psycopg.connect(
            dsn, connect_timeout=spec.connect_timeout_s, autocommit=False
        ) as connection:
            connection.read_only = True
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {int(spec.statement_timeout_ms)}")
                result = read(cursor)
            connection.rollback()
            return result
    except psycopg.errors.QueryCanceled:
        raise DatabaseUnavailable(
            f"the query took longer than {spec.statement_timeout_ms} ms (statement_timeout)"
        ) from None
    except psycopg.Error as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise DatabaseUnavailable(redact(first_line, _dsn_secrets(dsn))) from None


def db_kpis(dsn: str, spec: DatabaseSpec, start: datetime, end: datetime) -> DbKpis:
    per_job, overlap, metadata, p95 = _queries(spec)
    parameters = {"start": start, "end": end, "failed": spec.failed_status}

    def read(cursor: psycopg.Cursor[Any]) -> tuple[list[Any], Any, Any, Any]:
        return (
            cursor.execute(per_job, parameters).fetchall(),
            cursor.execute(overlap, parameters).fetchone(),
            cursor.execute(metadata, parameters).fetchone(),
            cursor.execute(p95, parameters).fetchone(),
        )

    rows, overlap_row, metadata_row, p95_row = _read(dsn, spec, read)
    jobs = tuple(
        JobStats(str(job), int(runs), int(failures),
                 None if average is None else float(average), None if p95 is None else float(p95))
        for job, runs, failures, average, p95, _, _ in rows
    )  # fmt: skip
    total_ms = sum(float(row[5] or 0) for row in rows)
    finished = sum(int(row[6]) for row in rows)
    return DbKpis(
        jobs=jobs,
        runs=sum(job.runs for job in jobs),
        avg_duration_ms=total_ms / finished if finished else None,
        max_overlap=int(overlap_row[0]) if overlap_row else 0,
        metadata_errors=int(metadata_row[0]) if metadata_row else 0,
        p95_duration_ms=float(p95_row[0]) if p95_row and p95_row[0] is not None else None,
    )


def db_durations(dsn: str, spec: DatabaseSpec, start: datetime, end: datetime) -> list[RunDuration]:
    """Every completed run started in [start, end), with its duration, in the order the
    runs started. A run still going (no completed_at) has no duration yet: left out."""
    # The start is read as timestamptz: the window compares it as one, so a column without
    # a zone is read in the same zone it is compared in, and comes back aware.
    # Hosts run a job at the same offset: runs that started at one moment are numbered
    # (shortest first), so each is kept, and the same one again on the next read.
    query = sql.SQL(
        f"SELECT {{job}}, {{started}}::timestamptz, {_DURATION}, row_number() OVER "
        f"(PARTITION BY {{job}}, {{started}} ORDER BY {_DURATION}) - 1 FROM {{table}} "
        f"WHERE {_WINDOW} AND {{completed}} IS NOT NULL AND {{job}} IS NOT NULL "
        "ORDER BY {started}, {job}"
    ).format(**_names(spec))
    rows = _read(
        dsn, spec, lambda cursor: cursor.execute(query, {"start": start, "end": end}).fetchall()
    )
    return [
        RunDuration(str(job), started.astimezone(UTC), float(duration), int(ordinal))
        for job, started, duration, ordinal in rows
    ]
