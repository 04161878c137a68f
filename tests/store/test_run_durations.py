"""Kept run durations: one row per run however often a window is saved, read back by job
for any window, and forgotten when old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bot.core.run_samples import RunDuration
from bot.store.run_durations import RunDurations
from tests.support.store_backends import StoreFactory

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
LIVE, BADGE = "Live Stats Sync", "Badge Auto-Unlock"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


RUNS = [
    RunDuration(BADGE, at(0), 500.0),
    RunDuration(LIVE, at(0.25), 1000.0),
    RunDuration(LIVE, at(0.75), 3000.0),  # the same job again within the second
    RunDuration(LIVE, at(60), 2000.0),
]


def test_saving_the_same_window_twice_keeps_one_row_per_run(store_factory: StoreFactory) -> None:
    durations = RunDurations(store_factory())

    assert durations.save("prod", "database", RUNS) == 4
    assert durations.save("prod", "database", RUNS) == 0

    assert durations.between("prod", T0, at(3600)) == {
        BADGE: [500.0],
        LIVE: [1000.0, 3000.0, 2000.0],
    }


def test_a_run_read_again_with_a_new_duration_is_changed_not_added(
    store_factory: StoreFactory,
) -> None:
    durations = RunDurations(store_factory())
    durations.save("prod", "database", RUNS)

    assert durations.save("prod", "database", [RunDuration(LIVE, at(60), 2500.0)]) == 1

    assert durations.between("prod", at(1), at(3600)) == {LIVE: [2500.0]}


def test_a_window_holds_the_runs_started_in_it_of_its_env_only(store_factory: StoreFactory) -> None:
    durations = RunDurations(store_factory())
    durations.save("prod", "database", RUNS)
    durations.save("staging", "database", [RunDuration(LIVE, at(30), 9000.0)])

    assert durations.between("prod", at(0.25), at(60)) == {LIVE: [1000.0, 3000.0]}
    assert durations.between("staging", T0, at(3600)) == {LIVE: [9000.0]}
    assert durations.between("prod", at(-3600), T0) == {}


def test_a_start_in_another_zone_is_the_same_run(store_factory: StoreFactory) -> None:
    durations = RunDurations(store_factory())
    durations.save("prod", "database", RUNS[:1])
    berlin = at(0).astimezone(timezone(timedelta(hours=1)))

    assert durations.save("prod", "database", [RunDuration(BADGE, berlin, 500.0)]) == 0
    assert durations.between("prod", berlin, at(1)) == {BADGE: [500.0]}


def test_pruning_forgets_the_runs_started_before_the_cutoff(store_factory: StoreFactory) -> None:
    durations = RunDurations(store_factory())
    durations.save("prod", "database", RUNS)

    assert durations.prune(at(0.5)) == 2

    assert durations.between("prod", T0, at(3600)) == {LIVE: [3000.0, 2000.0]}
