"""A window's run durations: how many runs they hold, over every job."""

from __future__ import annotations

from bot.core.run_samples import DurationSamples


def test_the_count_is_every_jobs_runs_and_no_runs_count_zero() -> None:
    samples = DurationSamples({"Live Stats Sync": (1.0, 2.0), "Badge Auto-Unlock": (3.0,)}, "log")
    assert samples.count == 3
    assert DurationSamples({}, "database", error="down").count == 0
