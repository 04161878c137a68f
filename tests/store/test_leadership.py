"""Scheduler leadership by a PostgreSQL advisory lock, on the machine's real server."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.core.errors import StoreError
from bot.store.health import store_problem
from bot.store.leadership import AdvisoryLockLeadership, lock_key
from bot.store.store import Store
from tests.support.job_table import DSN
from tests.support.leader_fixtures import schema_dsn, terminate_backends
from tests.support.spec_data import START
from tests.support.ssh_fixtures import free_port


@pytest.fixture
def contenders(leader_dsn: str) -> Iterator[list[AdvisoryLockLeadership]]:
    made = [AdvisoryLockLeadership(leader_dsn, name) for name in ("web:1", "worker:2")]
    yield made
    for leadership in made:
        leadership.close()


def test_of_two_contenders_one_leads_and_both_name_it(
    contenders: list[AdvisoryLockLeadership],
) -> None:
    first, second = contenders
    assert second.current_holder(START) is None
    assert first.hold(START) and not second.hold(START)
    assert first.hold(START) and not second.hold(START)  # kept, not taken
    assert first.current_holder(START) == second.current_holder(START) == "web:1"


def test_the_lock_passes_to_the_other_contender_when_the_leader_closes(
    contenders: list[AdvisoryLockLeadership],
) -> None:
    first, second = contenders
    assert first.hold(START) and not second.hold(START)
    first.close()
    assert second.hold(START)
    assert second.current_holder(START) == "worker:2"
    assert not first.hold(START)


def test_a_leader_whose_session_the_server_ends_stops_leading_then_tries_again(
    contenders: list[AdvisoryLockLeadership], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = contenders
    assert first.hold(START)
    assert terminate_backends("stagger-bot scheduler web:1") == 1
    assert not first.hold(START)  # the job that found the session gone does not run
    assert "the scheduler's lock connection failed" in caplog.text
    assert first.hold(START)  # reconnected: the lock was free, so it leads again
    assert not second.hold(START)


def test_stores_on_other_schemas_have_leaders_of_their_own(leader_dsn: str) -> None:
    with schema_dsn() as other_dsn:
        here = AdvisoryLockLeadership(leader_dsn, "a:1")
        there = AdvisoryLockLeadership(other_dsn, "b:2")
        try:
            assert here.hold(START) and there.hold(START)
            assert here.current_holder(START) == "a:1" and there.current_holder(START) == "b:2"
        finally:
            here.close()
            there.close()


def test_the_lock_key_is_stable_and_differs_by_database_and_schema() -> None:
    assert lock_key("stagger", "public") == lock_key("stagger", "public")
    keys = {lock_key("stagger", "public"), lock_key("stagger", "bot2"), lock_key("other", "public")}
    assert len(keys) == 3
    assert all(-(2**63) <= key < 2**63 for key in keys)


def test_a_leader_that_cannot_reach_the_server_reports_not_leading_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    dead = AdvisoryLockLeadership(
        f"postgresql://bot:hunter2-secret@127.0.0.1:{free_port()}/stagger", "a:1",
        connect_timeout_s=2,
    )  # fmt: skip
    assert not dead.hold(START)
    assert dead.current_holder(START) is None
    assert "not leading until it is back" in caplog.text
    assert "hunter2-secret" not in caplog.text


def test_a_store_dsn_naming_its_schema_gets_a_leader_and_a_healthy_probe() -> None:
    """The README's DSN form, `?schema=NAME`: libpq knows no such parameter, so the lock's
    and the health probe's connections must read the DSN as the store does."""
    schema = f"leader_{uuid.uuid4().hex[:12]}"
    dsn = f"{DSN}?schema={schema}"
    store = Store(dsn)  # makes the schema
    leader = AdvisoryLockLeadership(dsn, "web:1")
    try:
        assert leader.hold(START)
        assert leader.current_holder(START) == "web:1"
        assert store_problem(Path("unused.db"), dsn) is None
    finally:
        leader.close()
        store.close()
        with psycopg.connect(DSN, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.mark.parametrize("schema", ["a,public", "Stagger", "my%20schema"])
def test_a_schema_name_that_would_mean_something_else_is_refused_naming_it(schema: str) -> None:
    with pytest.raises(StoreError, match="STAGGER_DB names the schema") as refused:
        Store(f"postgresql://stagger:pw-s3cret@127.0.0.1:5432/test?schema={schema}")
    assert "pw-s3cret" not in str(refused.value)


@pytest.mark.parametrize("password", ["p@ss-s3cret", "p/ss-s3cret"])
def test_a_password_with_a_raw_at_or_slash_is_refused_without_showing_it(password: str) -> None:
    with pytest.raises(StoreError, match="percent-encode") as refused:
        Store(f"postgresql://stagger:{password}@127.0.0.1:5432/test")
    assert "s3cret" not in str(refused.value)
