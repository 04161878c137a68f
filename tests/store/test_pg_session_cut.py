"""A PostgreSQL session the server ended (a restart, a failover, pg_terminate_backend):
the store's next write begins on a new session instead of failing, and a store that
does not answer is `StoreUnreachable` (commands answer that the store is down)."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest

from bot.core.clock import SystemClock
from bot.core.errors import StoreUnreachable
from bot.store.store import Store
from tests.support.job_table import DSN
from tests.support.ssh_fixtures import free_port
from tests.support.store_backends import StoreFactory


def test_a_write_after_the_server_ended_the_session_goes_through_on_a_new_one(
    pg_store: StoreFactory,
) -> None:
    store = pg_store()
    assert store.first_time("delivery:1", _now())
    [(pid,)] = store.read().execute("SELECT pg_backend_pid()").fetchall()
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", [pid])

    assert store.first_time("delivery:2", _now())
    assert not store.first_time("delivery:1", _now())


def test_a_store_whose_server_does_not_answer_is_unreachable_and_names_no_password() -> None:
    dsn = f"postgresql://bot:hunter2-secret@127.0.0.1:{free_port()}/stagger"
    with pytest.raises(StoreUnreachable) as raised:
        Store(dsn)
    assert "refused" in str(raised.value) and "hunter2-secret" not in str(raised.value)


def _now() -> datetime:
    return SystemClock().now()
