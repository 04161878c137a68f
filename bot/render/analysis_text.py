"""The before/after analysis as text: per KPI its baseline, now and change (counts per
hour of each window), and per job its runs per hour, failures and average duration."""

from __future__ import annotations

from datetime import datetime

from bot.core.job_stats import JobStats
from bot.core.kpi_report import KpiReport, format_rate, format_value, window_hours
from bot.core.thresholds import Measurement, change_pct


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    change = change_pct(now, before)
    return f"{change:+.1f}%" if abs(change) != float("inf") else "new"


def _compared(m: Measurement) -> tuple[str, str, str]:
    """Baseline, now and change: per hour of each window for a count."""
    if m.hours is None or not m.baseline_hours:
        return format_value(m.baseline), format_value(m.value), _change(m.value, m.baseline)
    now = m.value / m.hours if m.value is not None and m.hours else None
    before = m.baseline / m.baseline_hours if m.baseline is not None else None
    return format_rate(before), format_rate(now), _change(now, before)


def kpi_rows(report: KpiReport) -> list[str]:
    labels = {
        name: f"{name} (log)" if m.source == "log" else name
        for name, m in report.measurements.items()
    }
    width = max([22, *(len(label) + 1 for label in labels.values())])  # no name cut short
    rows = [f"{'KPI':<{width}}{'baseline':>10}{'now':>10}{'change':>10}"]
    for name, m in report.measurements.items():
        before, now, change = _compared(m)
        rows.append(f"{labels[name]:<{width}}{before:>10}{now:>10}{change:>10}")
    return rows


def _arrow(before: str, after: str) -> str:
    return f"{before}→{after}"


def _per_hour(runs: int | None, hours: float) -> str:
    return format_rate(runs / hours) if runs is not None and hours else "—"


def _failed(job: JobStats | None) -> str:
    return format_value(job.failures / job.runs * 100, "%") if job and job.runs else "—"


def job_rows(
    before: tuple[JobStats, ...],
    after: tuple[JobStats, ...],
    windows: tuple[tuple[datetime, datetime], tuple[datetime, datetime]] | None = None,
) -> list[str]:
    """Per job: runs per hour of each window (`windows`: the baseline's and now's), the
    share of runs that failed, and the average duration."""
    base_hours, now_hours = (window_hours(*w) for w in windows) if windows else (0.0, 0.0)
    rows = [f"{'job':<26}{'runs':>15}{'failed':>13}{'avg ms':>18}{'change':>9}"]
    earlier = {job.job: job for job in before}
    for job in after:
        old = earlier.get(job.job)
        if windows:
            runs = _arrow(
                _per_hour(old.runs if old else None, base_hours), _per_hour(job.runs, now_hours)
            )
        else:
            runs = _arrow(format_value(old.runs if old else None), format_value(job.runs))
        failures = _arrow(_failed(old), _failed(job))
        old_ms = old.avg_duration_ms if old else None
        duration = _arrow(format_value(old_ms), format_value(job.avg_duration_ms))
        change = _change(job.avg_duration_ms, old_ms)
        rows.append(f"{job.job[:25]:<26}{runs:>15}{failures:>13}{duration:>18}{change:>9}")
    return rows
