from __future__ import annotations

from pathlib import Path

from bot.core.offsets import cycle_seconds, distribution_text, predicted_overlap
from bot.core.spec import load_spec
from bot.core.spec_fleet import JobSpec

JOBS = load_spec(Path("stagger.example.toml")).jobs


def test_the_runbooks_distribution_passes_the_collision_check() -> None:
    text = distribution_text(JOBS)
    assert cycle_seconds(JOBS) == 600
    assert "*Every-Minute Jobs:*\n• `:00s` — Referral Tier 2 Processor" in text
    assert "• `:40s` — Telegram Settlement (`TELEGRAM_SETTLEMENT`)" in text
    assert ":white_check_mark: PASSED" in text


def test_colliding_offsets_are_listed_by_second() -> None:
    jobs = [
        JobSpec(key="A", name="A", interval_s=60, offset_s=0),
        JobSpec(key="B", name="B", interval_s=300, offset_s=0),
    ]
    text = distribution_text(jobs)
    assert "1 second(s) of the 300 s cycle" in text and "• second 0: A, B" in text


def test_all_jobs_at_second_zero_overlap_eight_ways_and_staggered_ones_do_not() -> None:
    at_zero = [job.model_copy(update={"offset_s": 0}) for job in JOBS]
    two_seconds = {job.name: 2000.0 for job in JOBS}
    assert predicted_overlap(at_zero, two_seconds) == 8
    assert predicted_overlap(JOBS, two_seconds) == 1
    # 6 s runs: the :00 and :05 jobs overlap on the minutes where both run.
    assert predicted_overlap(JOBS, {job.name: 6000.0 for job in JOBS}) == 2


def test_a_run_longer_than_the_cycle_gap_wraps_into_the_next_cycle() -> None:
    jobs = [
        JobSpec(key="A", name="A", interval_s=60, offset_s=50),
        JobSpec(key="B", name="B", interval_s=60, offset_s=5),
    ]
    assert predicted_overlap(jobs, {"A": 20000.0, "B": 1000.0}) == 2
    assert predicted_overlap(jobs, {"A": 1000.0}) == 1
