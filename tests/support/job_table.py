"""A job_execution_logs table, as the app writes it, in the machine's PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from bot.core.spec_fleet import DatabaseSpec

DSN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class JobTable:
    """An empty job_execution_logs table in its own schema of the machine's PostgreSQL."""

    spec: DatabaseSpec

    def add(
        self, job: str, started: datetime, duration_ms: float | None, status: str, error: str | None
    ) -> None:
        completed = None if duration_ms is None else started + timedelta(milliseconds=duration_ms)
        with psycopg.connect(DSN, autocommit=True) as connection:
            connection.execute(
                f"INSERT INTO {self.spec.table} (job_name, started_at, completed_at, "
                "status, error_message) VALUES (%s, %s, %s, %s, %s)",
                (job, started, completed, status, error),
            )
