"""A baseline: the KPIs of an env over a window, kept so that relative targets and
triggers (`change <= -30%`) are judged against them, each measurement carrying its
baseline value and the baseline window's length."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.core.kpi_report import window_hours
from bot.core.thresholds import Measurement


@dataclass(frozen=True)
class Baseline:
    env: str
    captured_at: datetime
    window_start: datetime
    window_end: datetime
    captured_by: str
    values: dict[str, float]

    @property
    def window(self) -> tuple[datetime, datetime]:
        return (self.window_start, self.window_end)


def with_baseline(
    measurements: dict[str, Measurement], baseline: Baseline | None
) -> dict[str, Measurement]:
    if baseline is None:
        return measurements
    hours = window_hours(baseline.window_start, baseline.window_end)
    return {
        name: replace(measurement, baseline=baseline.values.get(name), baseline_hours=hours)
        for name, measurement in measurements.items()
    }
