"""Env locks in the store: one holder per env, its expiry, its release; a store of the
previous schema version gains the table."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store.locks import AlreadyLocked, EnvLocks
from bot.store.schema import SCHEMA_VERSION
from bot.store.store import Store
from tests.support.store_backends import StoreFactory

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_lock_holds_its_env_only_and_names_holder_reason_and_times(
    store_factory: StoreFactory,
) -> None:
    locks = EnvLocks(store_factory())
    acquired = locks.acquire("prod", "U0LEAD1", "db migration", NOW + 2 * HOUR, NOW)
    held = locks.held("prod", NOW + HOUR)
    assert held == acquired.lock
    assert (held.holder, held.reason, held.acquired_at, held.expires_at) == (
        "U0LEAD1", "db migration", NOW, NOW + 2 * HOUR,
    )  # fmt: skip
    assert locks.held("staging", NOW + HOUR) is None


def test_another_person_cannot_take_a_held_lock_and_is_told_whose_it_is(
    store_factory: StoreFactory,
) -> None:
    locks = EnvLocks(store_factory())
    locks.acquire("prod", "U0LEAD1", "db migration", None, NOW)
    with pytest.raises(AlreadyLocked) as refused:
        locks.acquire("prod", "U0OPS1", "mine now", None, NOW + HOUR)
    assert (refused.value.lock.holder, refused.value.lock.reason) == ("U0LEAD1", "db migration")
    assert len(locks.active(NOW + HOUR)) == 1


def test_the_holder_locking_again_updates_reason_and_expiry_and_keeps_since(
    store_factory: StoreFactory,
) -> None:
    locks = EnvLocks(store_factory())
    first = locks.acquire("prod", "U0LEAD1", "db migration", NOW + HOUR, NOW)
    later = NOW + HOUR / 2
    again = locks.acquire("prod", "U0LEAD1", "migration takes longer", NOW + 5 * HOUR, later)
    assert again.updated and again.lock.id == first.lock.id
    held = locks.held("prod", NOW + 2 * HOUR)
    assert held is not None
    assert (held.reason, held.acquired_at, held.expires_at) == (
        "migration takes longer", NOW, NOW + 5 * HOUR,
    )  # fmt: skip


def test_a_lock_past_its_expiry_holds_nothing_and_waits_to_be_released(
    store_factory: StoreFactory,
) -> None:
    locks = EnvLocks(store_factory())
    acquired = locks.acquire("prod", "U0LEAD1", "db migration", NOW + HOUR, NOW)
    assert locks.held("prod", NOW + HOUR) is None
    assert locks.expired(NOW + HOUR) == [acquired.lock]
    assert locks.release(acquired.lock, "stagger-bot", NOW + HOUR)
    assert not locks.release(acquired.lock, "U0LEAD1", NOW + HOUR)  # once only
    assert locks.expired(NOW + 2 * HOUR) == []
    # The env is free for the next person.
    next_lock = locks.acquire("prod", "U0OPS1", "load test", None, NOW + 2 * HOUR).lock
    assert next_lock.holder == "U0OPS1"


def test_two_people_locking_at_once_get_one_lock_between_them(store_factory: StoreFactory) -> None:
    store_factory()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def lock(user: str) -> None:
        locks = EnvLocks(store_factory())
        barrier.wait()
        try:
            locks.acquire("prod", user, "mine", None, NOW)
            outcomes.append("locked")
        except AlreadyLocked:
            outcomes.append("refused")

    threads = [threading.Thread(target=lock, args=(user,)) for user in ("U0LEAD1", "U0LEAD2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["locked", "refused"]


def test_a_store_of_schema_7_gains_the_locks_table(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE env_locks")
        connection.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    locks = EnvLocks(Store(path))
    locks.acquire("prod", "U0LEAD1", "db migration", None, NOW)
    assert locks.held("prod", NOW) is not None
    with sqlite3.connect(path) as connection:
        version = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        assert version.fetchone() == (str(SCHEMA_VERSION),)
