"""Window labels: the exact length a rate was divided by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.clock import describe_duration
from bot.core.kpi_report import window_text

START = datetime(2026, 2, 1, 0, 5, tzinfo=UTC)


def test_a_window_label_shows_its_exact_length_with_days() -> None:
    label = window_text(START, START + timedelta(hours=24, minutes=30), "UTC")
    assert label == "2026-02-01 00:05–2026-02-02 00:35 UTC (1d 0h 30m)"
    assert window_text(START, START + timedelta(days=1), "UTC").endswith("(1d)")
    assert window_text(START, START + timedelta(hours=6, minutes=30), "UTC").endswith("(6h 30m)")


def test_durations_said_in_a_channel_stay_rounded() -> None:
    assert describe_duration(timedelta(hours=24, minutes=30)) == "1d"
