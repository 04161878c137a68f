from __future__ import annotations

import gc
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.approvals import ApprovalRequest, Status
from bot.core.errors import StoreError
from bot.store.store import EnvState, Store
from tests.support.other_process import HOLD_THE_LOCK, another_process
from tests.support.store_backends import StoreFactory

START = datetime(2026, 2, 1, tzinfo=UTC)

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def pending(request_id: str = "RABCDE") -> ApprovalRequest:
    return ApprovalRequest(
        id=request_id,
        action="rollback",
        env="prod",
        args={"job": "LIVE_STATS_SYNC"},
        requester="U0OPS1",
        reason="pool at 90%",
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=30),
        required=1,
    )


def test_a_request_cannot_be_moved_into_executing_without_a_lease(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.add_request(pending())
    with pytest.raises(ValueError, match="Executions"):
        store.transition("RABCDE", (Status.PENDING,), Status.EXECUTING)
    assert store.request("RABCDE") == pending()


def test_a_request_round_trips_through_the_store(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.add_request(pending())
    assert store.request("rabcde") == pending()
    assert [request.id for request in store.open_requests("prod")] == ["RABCDE"]
    assert store.open_requests("staging") == []


def test_state_survives_reopening_the_store(store_factory: StoreFactory) -> None:
    store_factory().set_env_state(
        EnvState("prod", "rolled back", False, NOW, ("LIVE_STATS_SYNC",), "R1: pool")
    )
    assert store_factory().env_state("prod") == EnvState(
        "prod", "rolled back", False, NOW, ("LIVE_STATS_SYNC",), "R1: pool"
    )


def test_a_repeated_delivery_is_seen_once(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.first_time("trigger:1", NOW)
    assert not store.first_time("trigger:1", NOW)


def test_a_locked_store_gives_a_clear_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", busy_timeout_s=0.2)
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            store.add_request(pending("RLOCKD"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.add_request(pending("RLOCKD"))
    assert store.request("RLOCKD") is not None


def test_a_writer_on_another_connection_holding_the_store_gives_a_clear_error(
    store_factory: StoreFactory,
) -> None:
    holder, waiter = store_factory(), store_factory(busy_timeout_s=0.2)
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.transaction():
            holding.set()
            done.wait(30)

    other = threading.Thread(target=hold)
    other.start()
    try:
        assert holding.wait(30)
        with pytest.raises(StoreError, match="is locked or unwritable") as refused:
            waiter.add_request(pending("RLOCKD"))
        assert waiter.where in str(refused.value)
    finally:
        done.set()
        other.join()
    waiter.add_request(pending("RLOCKD"))
    assert holder.request("RLOCKD") is not None


def test_many_threads_writing_at_once_all_succeed_and_none_is_lost(
    store_factory: StoreFactory,
) -> None:
    store = store_factory(busy_timeout_s=10.0)
    start = threading.Barrier(16)
    failures: list[Exception] = []

    def deliver(worker: int) -> None:
        start.wait()
        for delivery in range(25):
            try:
                assert store.first_time(f"trigger:{worker}:{delivery}", NOW)
            except StoreError as error:
                failures.append(error)

    workers = [threading.Thread(target=deliver, args=(n,)) for n in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    seen = store.read().execute("SELECT count(*) FROM seen_requests").fetchone()[0]
    assert seen == 16 * 25


def test_threads_waiting_on_a_store_another_process_holds_each_wait_one_timeout_at_most(
    tmp_path: Path,
) -> None:
    # Queued behind each other on the store's own lock, each used to wait its own full
    # timeout after the one before it: the eighth answered after eight timeouts.
    store = Store(tmp_path / "s.db", busy_timeout_s=1.0)
    failed: list[float] = []
    with another_process(HOLD_THE_LOCK, tmp_path / "s.db"):
        started = time.monotonic()

        def write(number: int) -> None:
            try:
                store.first_time(f"trigger:{number}", NOW)
            except StoreError:
                failed.append(time.monotonic() - started)

        workers = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert len(failed) == 8
    # Each waits one busy timeout (1 s) at most, plus 5 s for a busy machine; queued up,
    # the last answered after 8 s.
    assert max(failed) < 1.0 + 5
    assert store.first_time("trigger:after", NOW)


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_short_lived_threads_do_not_leave_their_connections_open(
    store_factory: StoreFactory,
) -> None:
    """A measurement reads the store from a pool of threads that end with it; twelve days
    of rehearsal opened more than a thousand files this way, until select() gave out."""
    store = store_factory()
    store.first_time("warm-up", datetime(2026, 2, 1, tzinfo=UTC))
    before = open_files()
    for round_ in range(60):
        threads = [
            threading.Thread(target=store.first_time, args=(f"k{round_}-{n}", START))
            for n in range(5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    gc.collect()
    assert open_files() - before < 100, "each ended thread kept its connection open"
    assert not store.first_time("k59-4", START)  # what they wrote is there
