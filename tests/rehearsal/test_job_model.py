"""The simulated job runner: the runbook's contention with the stagger off, its absence
with it on, read back through the bot's own log parser and KPI arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.kpis import log_kpis
from bot.core.log_lines import EventKind, LogEvent, parse_line
from bot.core.spec_fleet import LogSpec
from bot.core.thresholds import Measurement
from bot.rehearsal.fleet_scenario import ErrorSpike
from bot.rehearsal.job_model import Failures, HostRunner, JobExecution, Produced
from bot.rehearsal.job_model_flags import (
    FlagNames,
    RunnerFlags,
    SimJob,
    offset_collisions,
    read_flags,
    startup_messages,
)

# The runbook's OFFSET DISTRIBUTION.
RUNBOOK_JOBS = (
    SimJob("REFERRAL_TIER2", "Referral Tier 2 Processor", 60, 0),
    SimJob("REFERRAL_TIER3", "Referral Tier 3 Processor", 60, 15),
    SimJob("SCHEDULED_NOTIFICATIONS", "Scheduled Notifications", 60, 30),
    SimJob("LIVE_STATS_SYNC", "Live Stats Sync", 60, 45),
    SimJob("BADGE_AUTO_UNLOCK", "Badge Auto-Unlock", 300, 5),
    SimJob("PREDICTION_MATCHER", "Prediction Matcher", 300, 25),
    SimJob("STUCK_MATCH_FINISHER", "Stuck Match Finisher", 600, 10),
    SimJob("TELEGRAM_SETTLEMENT", "Telegram Settlement", 600, 40),
)
T0 = datetime(2026, 2, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
HOUR_MS = 3_600_000
OFF = RunnerFlags()
ON = RunnerFlags(staggered=True)
NO_FAILURES = Failures()


def runner(
    flags: RunnerFlags = OFF,
    failures: Failures = NO_FAILURES,
    jobs: tuple[SimJob, ...] = RUNBOOK_JOBS,
    seed: str = "7:staging-1",
) -> HostRunner:
    return HostRunner(jobs, seed=seed, start_ms=T0_MS, flags=flags, failures=failures)


def events(produced: Produced) -> list[LogEvent]:
    parsed = [parse_line(line.encode(), LogSpec()) for line in produced.log_text.splitlines()]
    assert all(isinstance(event, LogEvent) for event in parsed), [
        line
        for line, event in zip(produced.log_text.splitlines(), parsed, strict=True)
        if not isinstance(event, LogEvent)
    ]
    return [event for event in parsed if isinstance(event, LogEvent)]


def kpis(produced: Produced, flags: RunnerFlags) -> dict[str, float | None]:
    offsets = {job.name: flags.start_second(job) for job in RUNBOOK_JOBS}
    measured: dict[str, Measurement] = log_kpis(events(produced), offsets)
    return {name: measurement.value for name, measurement in measured.items()}


def average_duration_ms(runs: tuple[JobExecution, ...]) -> float:
    return sum(run.completed_ms - run.started_ms for run in runs) / len(runs)


def test_every_line_the_runner_writes_is_read_by_the_bot_log_parser() -> None:
    colliding = (*RUNBOOK_JOBS, SimJob("DUPLICATE", "Duplicate Sync", 60, 15))
    noisy = runner(ON, Failures(base_rate=0.05), jobs=colliding)
    produced = noisy.advance(T0_MS + HOUR_MS)
    noisy.restart(OFF)
    later = noisy.advance(T0_MS + 2 * HOUR_MS)
    startup = "".join(
        f"2026-02-01 00:00:00.000 {message}\n"
        for flags in (ON, OFF)
        for message in startup_messages(colliding, flags, FlagNames())
    )
    every = Produced(produced.log_text + later.log_text + startup, ())
    kinds = {event.kind for event in events(every)}
    assert kinds == set(EventKind)


def test_unstaggered_jobs_drive_pool_utilization_above_80_percent() -> None:
    measured = kpis(runner(OFF).advance(T0_MS + 24 * HOUR_MS), OFF)
    assert measured["pool_util_max"] is not None and measured["pool_util_max"] >= 95
    assert measured["pool_util_avg"] is not None and 75 <= measured["pool_util_avg"] <= 90
    assert measured["max_concurrent_jobs"] == 8
    assert measured["lock_skips"] is not None and measured["lock_skips"] > 100
    assert measured["slow_queries"] is not None and measured["slow_queries"] > 100


def test_staggered_jobs_keep_pool_utilization_under_40_percent_one_job_at_a_time() -> None:
    measured = kpis(runner(ON).advance(T0_MS + 24 * HOUR_MS), ON)
    assert measured["pool_util_avg"] is not None and measured["pool_util_avg"] < 40
    assert measured["pool_util_max"] is not None and measured["pool_util_max"] < 50
    assert measured["max_concurrent_jobs"] == 1
    assert measured["offset_misses"] == 0
    assert measured["lock_skips"] == measured["collision_warnings"] == measured["error_rate"] == 0


def test_staggering_cuts_the_average_job_duration_by_more_than_30_percent() -> None:
    before = average_duration_ms(runner(OFF).advance(T0_MS + 24 * HOUR_MS).executions)
    after = average_duration_ms(runner(ON).advance(T0_MS + 24 * HOUR_MS).executions)
    assert after <= before * 0.7


def test_a_staggered_duration_factor_stretches_only_the_runs_made_while_staggered() -> None:
    def durations(flags: RunnerFlags, factor: float) -> list[int]:
        ran = HostRunner(
            RUNBOOK_JOBS, seed="7:staging-1", start_ms=T0_MS, flags=flags,
            staggered_duration_factor=factor,
        ).advance(T0_MS + HOUR_MS)  # fmt: skip
        return [run.completed_ms - run.started_ms for run in ran.executions]

    plain, slower = durations(ON, 1.0), durations(ON, 1.5)
    assert len(plain) == len(slower) > 0
    assert all(abs(late - run * 1.5) <= 1 for run, late in zip(plain, slower, strict=True))
    assert durations(OFF, 1.5) == durations(OFF, 1.0)


def test_unstaggered_jobs_start_at_second_zero_and_staggered_ones_at_their_offsets() -> None:
    for flags in (OFF, ON):
        produced = events(runner(flags).advance(T0_MS + HOUR_MS))
        started = {(e.job, e.at.second) for e in produced if e.kind is EventKind.JOB_STARTED}
        assert started == {(job.name, flags.start_second(job)) for job in RUNBOOK_JOBS}


def test_a_job_held_back_by_its_switch_starts_at_zero_while_the_others_keep_their_offsets() -> None:
    env_file = b"JOB_STAGGER_ENABLED=true\nJOB_STAGGER_LIVE_STATS_SYNC=0\n"
    flags = read_flags(env_file, RUNBOOK_JOBS, FlagNames())
    assert flags == RunnerFlags(True, frozenset({"LIVE_STATS_SYNC"}))
    started = {
        e.job: e.at.second
        for e in events(runner(flags).advance(T0_MS + HOUR_MS))
        if e.kind is EventKind.JOB_STARTED
    }
    assert started["Live Stats Sync"] == 0
    assert started["Referral Tier 3 Processor"] == 15
    assert startup_messages(RUNBOOK_JOBS, flags, FlagNames()) == [
        "info: ▶️ Job stagger enabled (Live Stats Sync at :00)"
    ]


@pytest.mark.parametrize(
    ("env_file", "staggered"),
    [
        (b"JOB_STAGGER_ENABLED=true\n", True),
        (b"JOB_STAGGER_ENABLED=TRUE\n", True),
        (b"JOB_STAGGER_ENABLED=false\n", False),
        (b"JOB_STAGGER_ENABLED=1\n", False),
        (b"NODE_ENV=production\n", False),
        (b"JOB_STAGGER_ENABLED=true\nJOB_STAGGER_ENABLED=false\n", False),
    ],
)
def test_the_runner_is_staggered_only_when_its_flag_reads_true(
    env_file: bytes, staggered: bool
) -> None:
    assert read_flags(env_file, RUNBOOK_JOBS, FlagNames()).staggered is staggered


def test_the_same_seed_gives_the_same_log_however_advance_is_chunked() -> None:
    whole = runner(OFF, Failures(base_rate=0.02))
    chunked = runner(OFF, Failures(base_rate=0.02))
    in_one = whole.advance(T0_MS + 3 * HOUR_MS)
    pieces = [chunked.advance(T0_MS + step * 7_777) for step in range(1, 3 * HOUR_MS // 7_777)]
    pieces.append(chunked.advance(T0_MS + 3 * HOUR_MS))
    assert "".join(piece.log_text for piece in pieces) == in_one.log_text
    assert tuple(run for piece in pieces for run in piece.executions) == in_one.executions


def test_different_seeds_give_different_logs() -> None:
    first = runner(seed="1:staging-1").advance(T0_MS + HOUR_MS)
    second = runner(seed="2:staging-1").advance(T0_MS + HOUR_MS)
    assert first.log_text != second.log_text


def test_nothing_is_written_at_or_after_until_and_later_completions_follow_next_time() -> None:
    simulated = runner(OFF)
    cut = T0_MS + 61_000  # one second after the minute's jobs started together
    first = events(simulated.advance(cut))
    assert all(event.at < T0 + timedelta(milliseconds=61_000) for event in first)
    ending = (EventKind.JOB_COMPLETED, EventKind.JOB_FAILED)
    minute_one = [e for e in first if e.at.minute == 1]
    still_running = {e.job for e in minute_one if e.kind is EventKind.JOB_STARTED} - {
        e.job for e in minute_one if e.kind in ending
    }
    assert still_running
    second = events(simulated.advance(cut + 10_000))
    assert still_running <= {e.job for e in second if e.kind in ending}


def test_time_cannot_go_back() -> None:
    simulated = runner()
    simulated.advance(T0_MS + HOUR_MS)
    with pytest.raises(ValueError, match="cannot go back"):
        simulated.advance(T0_MS)


def test_the_first_pool_sample_after_a_restart_reports_only_the_new_process() -> None:
    simulated = runner(OFF)
    simulated.advance(T0_MS + 30_000)
    simulated.restart(ON)
    samples = [
        e.value for e in events(simulated.advance(T0_MS + 120_000)) if e.kind is EventKind.POOL
    ]
    assert samples and all(value is not None and value < 50 for value in samples)


def test_two_staggered_jobs_sharing_an_offset_log_collision_warnings() -> None:
    jobs = (*RUNBOOK_JOBS, SimJob("DUPLICATE", "Duplicate Sync", 300, 15))
    assert [(a.key, b.key) for a, b in offset_collisions(jobs, ON)] == [
        ("REFERRAL_TIER3", "DUPLICATE")
    ]
    assert offset_collisions(jobs, OFF) == []
    assert offset_collisions(RUNBOOK_JOBS, ON) == []
    warnings = startup_messages(jobs, ON, FlagNames())[1:]
    assert warnings == [
        "warn: ⚠️ Offset collision: Referral Tier 3 Processor and Duplicate Sync "
        "can start in the same second"
    ]
    measured = kpis(runner(ON, jobs=jobs).advance(T0_MS + HOUR_MS), ON)
    assert measured["collision_warnings"] == 12  # every 5 minutes for an hour
    assert measured["max_concurrent_jobs"] == 2


def test_failures_follow_the_base_rate() -> None:
    measured = kpis(runner(ON, Failures(base_rate=0.1)).advance(T0_MS + 24 * HOUR_MS), ON)
    assert measured["error_rate"] is not None and 8 <= measured["error_rate"] <= 12


def test_an_error_spike_that_follows_the_stagger_stops_when_it_is_turned_off() -> None:
    spike = ErrorSpike("prod", rate=0.5, since=T0 + timedelta(hours=1))
    simulated = runner(ON, Failures(spike=spike))
    before = kpis(simulated.advance(T0_MS + HOUR_MS), ON)
    during = kpis(simulated.advance(T0_MS + 2 * HOUR_MS), ON)
    simulated.restart(OFF)
    simulated.advance(T0_MS + 2 * HOUR_MS + 10_000)  # runs started before the rollback end
    after = kpis(simulated.advance(T0_MS + 3 * HOUR_MS), OFF)
    assert before["error_rate"] == 0
    assert during["error_rate"] is not None and 40 <= during["error_rate"] <= 60
    assert after["error_rate"] is not None and after["error_rate"] < 2


def test_an_error_spike_message_is_the_failure_logged_and_recorded() -> None:
    spike = ErrorSpike("prod", rate=1.0, message="metadata column missing")
    produced = runner(ON, Failures(spike=spike)).advance(T0_MS + 120_000)
    assert produced.executions and all(
        run.error == "metadata column missing" for run in produced.executions
    )
    assert "❌ Job failed: Live Stats Sync - metadata column missing" in produced.log_text
