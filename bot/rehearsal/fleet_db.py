"""The simulated app's job-execution table: each run a row, copied in batches.

The columns are the ones the bot reads (the spec's [database] names) plus `metadata`.
One connection for the fleet's life and one COPY per advance keep 12 simulated days fast.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import psycopg
from psycopg import sql

from bot.core.spec_fleet import DatabaseSpec
from bot.rehearsal.job_model import JobExecution, Stamper

COMPLETED_STATUS = "completed"


def _table(spec: DatabaseSpec) -> sql.Identifier:
    return sql.Identifier(*spec.table.split("."))


def create_job_table(dsn: str, spec: DatabaseSpec) -> None:
    """Create the table (not its schema) if it is missing, as the app's migration would."""
    statement = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} (id bigserial PRIMARY KEY, {job} text NOT NULL, "
        "{started} timestamptz NOT NULL, {completed} timestamptz, {status} text NOT NULL, "
        "{error} text, metadata jsonb)"
    ).format(
        table=_table(spec),
        job=sql.Identifier(spec.job_name),
        started=sql.Identifier(spec.started_at),
        completed=sql.Identifier(spec.completed_at),
        status=sql.Identifier(spec.status),
        error=sql.Identifier(spec.error_message),
    )
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(statement)


class JobRowWriter:
    def __init__(self, dsn: str, spec: DatabaseSpec) -> None:
        self._failed = _copy_field(spec.failed_status)
        self._stamp = Stamper()
        self._connection = psycopg.connect(dsn, autocommit=True)
        # A simulator's rows need not survive a crash of PostgreSQL: don't wait for the WAL.
        self._connection.execute("SET synchronous_commit TO off")
        columns = (spec.job_name, spec.started_at, spec.completed_at, spec.status)
        self._copy = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
            table=_table(spec),
            columns=sql.SQL(", ").join(
                sql.Identifier(name) for name in (*columns, spec.error_message, "metadata")
            ),
        )

    def write(self, runs_by_host: Mapping[str, Sequence[JobExecution]]) -> None:
        """Copy every host's runs in one COPY (one transaction), as COPY text built here:
        adapting each value through psycopg costs more than simulating the run."""
        if not any(runs_by_host.values()):
            return
        lines: list[str] = []
        stamp = self._stamp
        for host, runs in runs_by_host.items():
            metadata = _copy_field(json.dumps({"host": host})[:-1])
            for run in runs:
                ending = (
                    f"{self._failed}\t{_copy_field(run.error)}"
                    if run.error
                    else f"{COMPLETED_STATUS}\t\\N"
                )
                lines.append(
                    f"{_copy_field(run.job)}\t{stamp(run.started_ms)}+00\t"
                    f"{stamp(run.completed_ms)}+00\t{ending}\t{metadata}, "
                    f'"staggered": {"true" if run.staggered else "false"}, '
                    f'"connections": {run.connections}}}\n'
                )
        with self._connection.cursor() as cursor, cursor.copy(self._copy) as copy:
            copy.write("".join(lines))

    def close(self) -> None:
        self._connection.close()


def _copy_field(text: str) -> str:
    """A value in COPY's text format: backslash, tab and line breaks escaped."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
