"""The checkpoint post: per KPI its value, target, alert threshold and verdict, with the
change since the previous checkpoint and against the baseline — per hour of each window
for a count, and both windows named; a dry-run KPI's row ends "(dry run)". Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.core.clock import describe_duration
from bot.core.kpi_report import KpiReport, format_value, window_text
from bot.core.spec import Spec
from bot.core.spec_rollout import PhaseSpec
from bot.core.thresholds import Verdict
from bot.render.comparisons import change_between, percent

MARK = {
    Verdict.MET: "✅ met",
    Verdict.NOT_MET: "🟡 not met",
    Verdict.ALERT: "🔴 ALERT",
    Verdict.UNAVAILABLE: "❔ unavailable",
    Verdict.TOO_FEW: "➖ too few",
}


def phase_line(phase: PhaseSpec | None, name: str, elapsed: timedelta) -> str:
    if phase is None:
        return f"{name}, {describe_duration(elapsed)} in"
    minimum = timedelta(hours=phase.min_duration_h)
    left = minimum - elapsed
    rest = f"{describe_duration(left)} left" if left > timedelta(0) else "minimum reached"
    return f"{name}, {describe_duration(elapsed)} of {describe_duration(minimum)} ({rest})"


def _windows(report: KpiReport, previous: tuple[datetime, datetime] | None, zone: str) -> str:
    lines = [f"Window {window_text(report.start, report.end, zone)}"]
    compared = []
    if previous is not None:
        compared.append(f"vs last: {window_text(*previous, zone)}")
    if report.baseline_window is not None:
        compared.append(f"vs base: {window_text(*report.baseline_window, zone)}")
    if compared:
        lines.append(" · ".join(compared) + " (counts per hour of each window)")
    return "\n".join(lines)


def checkpoint_text(
    spec: Spec,
    report: KpiReport,
    previous: Mapping[str, float] | None,
    where: str,
    previous_window: tuple[datetime, datetime] | None = None,
) -> str:
    """`previous`: the values of the previous checkpoint of the phase, over
    `previous_window` (None where the store did not keep it: counts are then not compared)."""
    rows = [
        f"{'KPI':<23}{'value':>9}  {'target':<15}{'alert':<14}{'verdict':<15}"
        f"{'vs last':>8}{'vs base':>9}"
    ]
    for judgement in report.judgements:
        kpi = spec.kpis[judgement.kpi]
        measurement = report.measurements.get(judgement.kpi)
        hours = measurement.hours if measurement else None
        last = change_between(
            judgement.value,
            hours,
            previous.get(judgement.kpi) if previous else None,
            previous_window,
        )
        rows.append(
            f"{kpi.label[:22]:<23}{format_value(judgement.value, kpi.unit):>9}  "
            f"{kpi.target:<15}{kpi.alert:<14}{MARK[judgement.verdict]:<15}"
            f"{percent(last):>8}{percent(judgement.change_pct):>9}"
            + (" (dry run)" if judgement.dry_run else "")
        )
    reasons = [f"{spec.kpis[j.kpi].label}: {j.reason}" for j in report.judgements if j.reason]
    reasons += [
        f"{spec.kpis[j.kpi].label}: from the log's completed lines"
        for j in report.judgements
        if j.source == "log"
    ]
    return (
        f"*KPI checkpoint — {report.env}*: {where}\n"
        + _windows(report, previous_window if previous else None, spec.timezone) + "\n"
        + "```\n" + "\n".join(rows) + "\n```"
        + ("\n" + "\n".join(f"_{reason}_" for reason in reasons) if reasons else "")
    )  # fmt: skip
