from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.kpis import in_window, log_kpis, max_concurrency, offset_miss
from bot.core.log_lines import EventKind, LogEvent

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
OFFSETS = {"Live Stats Sync": 45, "Referral Tier 2 Processor": 0}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def start(seconds: float, job: str) -> LogEvent:
    return LogEvent(at(seconds), EventKind.JOB_STARTED, job=job)


def done(seconds: float, job: str, kind: EventKind = EventKind.JOB_COMPLETED) -> LogEvent:
    return LogEvent(at(seconds), kind, job=job)


def test_eight_jobs_at_second_zero_overlap_eight_ways() -> None:
    events = [start(0, f"job{n}") for n in range(8)] + [done(3, f"job{n}") for n in range(8)]
    assert max_concurrency(events) == 8


def test_staggered_jobs_do_not_overlap_and_back_to_back_runs_count_once() -> None:
    events = [
        start(0, "a"),
        done(5, "a"),
        start(5, "b"),
        done(9, "b"),
        start(15, "c"),
        done(16, "c"),
    ]
    assert max_concurrency(events) == 1


def test_a_job_that_never_completes_runs_until_its_next_start() -> None:
    events = [start(0, "a"), start(1, "b"), done(2, "b"), start(60, "a"), start(61, "c")]
    # a (never completed) overlaps b; then a's next run overlaps c.
    assert max_concurrency(events) == 2


def test_log_kpis_are_exact() -> None:
    events = [
        LogEvent(at(1), EventKind.POOL, value=80.0),
        LogEvent(at(2), EventKind.POOL, value=95.5),
        LogEvent(at(3), EventKind.POOL, value=20.0),
        start(45.4, "Live Stats Sync"),  # on its offset
        start(61.0, "Live Stats Sync"),  # 16 s off: a miss
        start(119.5, "Referral Tier 2 Processor"),  # 0.5 s before :00 — within tolerance
        done(50, "Live Stats Sync"),
        done(62, "Live Stats Sync", EventKind.JOB_FAILED),
        LogEvent(at(4), EventKind.LOCK_SKIP),
        LogEvent(at(5), EventKind.SLOW_QUERY),
        LogEvent(at(6), EventKind.COLLISION),
    ]
    kpis = log_kpis(in_window(events, T0, at(3600)), OFFSETS)
    values = {name: measurement.value for name, measurement in kpis.items()}
    assert values == {
        "job_starts": 3.0,
        "job_completions": 1.0,
        "job_failures": 1.0,
        "lock_skips": 1.0,
        "slow_queries": 1.0,
        "collision_warnings": 1.0,
        "pool_util_avg": pytest.approx((80.0 + 95.5 + 20.0) / 3),
        "pool_util_max": 95.5,
        "error_rate": pytest.approx(100 / 3),
        "max_concurrent_jobs": 1.0,
        "offset_misses": 1.0,
        "job_duration_avg": None,  # the completed line gave no duration
        "job_duration_p95": None,
    }


def test_an_empty_window_is_unavailable_not_zero_where_zero_would_lie() -> None:
    kpis = log_kpis([], OFFSETS)
    assert (
        kpis["pool_util_avg"].value is None
        and "no PoolMonitor samples" in kpis["pool_util_avg"].reason
    )
    assert kpis["error_rate"].value is None and "no job starts" in kpis["error_rate"].reason
    assert kpis["job_starts"].value == 0.0  # a count of nothing is a true zero


def test_the_window_is_half_open() -> None:
    events = [start(0, "a"), start(60, "b")]
    assert [event.job for event in in_window(events, T0, at(60))] == ["a"]


@pytest.mark.parametrize(
    ("second", "expected", "miss"),
    [
        (45.0, 45, False),
        (47.0, 45, False),
        (47.1, 45, True),
        (59.5, 0, False),
        (1.9, 0, False),
        (30.0, 0, True),
    ],
)
def test_offsets_are_compared_around_the_minute(second: float, expected: int, miss: bool) -> None:
    assert offset_miss(second, expected, 2.0) is miss


def test_job_durations_come_from_the_completed_lines_that_carry_one() -> None:
    durations = [900.0, 1093.0, 1250.5, 2000.0, 640.0, 3100.0, 870.0]
    events = [
        LogEvent(at(n), EventKind.JOB_COMPLETED, "Live Stats Sync", ms)
        for n, ms in enumerate(durations)
    ]
    events.append(done(30, "Live Stats Sync"))  # a completed line without a duration
    kpis = log_kpis(events, OFFSETS)
    average, p95 = kpis["job_duration_avg"], kpis["job_duration_p95"]
    # PostgreSQL's percentile_cont(0.95), as the database KPIs compute it.
    expected_p95 = statistics.quantiles(durations, n=20, method="inclusive")[18]
    assert average.value == pytest.approx(statistics.fmean(durations))
    assert p95.value == pytest.approx(expected_p95)
    assert average.source == p95.source == "log"


def test_without_durations_in_the_log_the_duration_kpis_say_so() -> None:
    kpis = log_kpis([done(5, "Live Stats Sync")], OFFSETS)
    assert kpis["job_duration_avg"].value is None
    assert kpis["job_duration_avg"].reason == "no completed line in the window gave a duration"
