"""A store's own place in the machine's PostgreSQL for the scheduler's advisory lock.

Fixture `leader_dsn`: a DSN of database `test` whose search_path is a fresh schema, so
the lock key (derived from database and schema) is this test's alone: tests on other
workers, and other checkouts' tests on this machine, never contend for it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

from tests.support.job_table import DSN


def terminate_backends(application_name: str) -> int:
    """Ends, from the server's side, the sessions of that name; how many."""
    with psycopg.connect(DSN, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        ).fetchall()
    return len(rows)


@pytest.fixture
def leader_dsn() -> Iterator[str]:
    with schema_dsn() as dsn:
        yield dsn


@contextlib.contextmanager
def schema_dsn() -> Iterator[str]:
    schema = f"leader_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{DSN}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(DSN, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
