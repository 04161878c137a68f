"""How a KPI's comparison with its baseline reads: a count per hour of each window
(`2.00/h against 1.00/h: +100% per hour`), a level as it is (`-30.0% against 1000ms`),
and which two windows were compared. Pure."""

from __future__ import annotations

import math
from datetime import datetime

from bot.core.kpi_report import KpiReport, format_rate, format_value, window_text
from bot.core.thresholds import Comparison, Judgement, change_pct


def percent(change: float | None, digits: int = 0) -> str:
    if change is None:
        return "—"
    return "new" if math.isinf(change) else f"{change:+.{digits}f}%"


def comparison_note(compared: Comparison, unit: str = "") -> str:
    if compared.per_hour:
        return (
            f"{format_rate(compared.now)} against {format_rate(compared.baseline)}: "
            f"{percent(compared.change_pct)} per hour"
        )
    return f"{percent(compared.change_pct, 1)} against {format_value(compared.baseline, unit)}"


def judgement_note(judgement: Judgement, unit: str = "") -> str:
    """What follows a verdict in parentheses: why it has no value, the comparison that
    decided it, where the value came from; empty when there is nothing to add."""
    parts = [judgement.reason] if judgement.reason else []
    if judgement.compared is not None:
        parts.append(comparison_note(judgement.compared, unit))
    if judgement.source == "log":
        parts.append("from the log")
    return "; ".join(parts)


def windows_line(report: KpiReport, zone: str) -> str:
    """The two windows a report's relative conditions compare."""
    if report.baseline_window is None:
        return "No baseline captured: relative targets cannot be judged."
    start, end = report.baseline_window
    return (
        f"Relative targets against the baseline of {window_text(start, end, zone)}; "
        "counts are compared per hour of each window."
    )


def change_between(
    now: float | None,
    now_hours: float | None,
    before: float | None,
    window: tuple[datetime, datetime] | None,
) -> float | None:
    """The change from an earlier measurement: per hour of each window for a count
    (`now_hours` set), as it is otherwise; None where it cannot be said."""
    if now is None or before is None:
        return None
    if now_hours is None:
        return change_pct(now, before)
    if window is None or not now_hours:
        return None
    before_hours = (window[1] - window[0]).total_seconds() / 3600
    return change_pct(now / now_hours, before / before_hours) if before_hours else None
