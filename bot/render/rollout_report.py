"""The success report: per KPI its baseline, its value now, the change and the target —
posted when the rollout succeeds, and on demand as far as the rollout has come. A count
is shown per hour of each window (a week against a 6.5 h baseline), and both windows are
named. A dry-run KPI's row is marked so, and holds no target back."""

from __future__ import annotations

from bot.core.kpi_report import KpiReport, format_rate, format_value, window_text
from bot.core.spec import Spec
from bot.core.thresholds import Judgement, Measurement, Verdict, gating, judged_well
from bot.render.comparisons import percent

_MARK = {
    Verdict.MET: "met",
    Verdict.NOT_MET: "NOT MET",
    Verdict.ALERT: "ALERT",
    Verdict.UNAVAILABLE: "unavailable",
    Verdict.TOO_FEW: "too few events to compare",
}


def _shown(judgement: Judgement, measurement: Measurement | None, unit: str) -> tuple[str, str]:
    """Baseline and now: per hour of each window for a count compared with its baseline;
    the count itself where an absolute target (`<= 0`) judges it."""
    hours = measurement.hours if measurement else None
    if measurement is None or not hours or not judgement.relative:
        return format_value(judgement.baseline, unit), format_value(judgement.value, unit)
    base_hours = measurement.baseline_hours
    before = (
        judgement.baseline / base_hours if judgement.baseline is not None and base_hours else None
    )
    now = judgement.value / hours if judgement.value is not None else None
    return format_rate(before), format_rate(now)


def report_table(spec: Spec, report: KpiReport) -> str:
    zone = spec.timezone
    windows = f"Now: {window_text(report.start, report.end, zone)}; baseline: " + (
        window_text(*report.baseline_window, zone) if report.baseline_window else "none captured"
    )
    rows = [f"{'KPI':<24}{'baseline':>10}{'now':>10}{'change':>9}  {'target':<16}verdict"]
    for judgement in report.judgements:
        kpi = spec.kpis[judgement.kpi]
        measurement = report.measurements.get(judgement.kpi)
        before, now = _shown(judgement, measurement, kpi.unit)
        notes = [judgement.reason] if judgement.reason else []
        notes += ["from the log"] if judgement.source == "log" else []
        rows.append(
            f"{kpi.label[:23]:<24}{before:>10}{now:>10}{percent(judgement.change_pct, 1):>9}  "
            f"{kpi.target:<16}{_MARK[judgement.verdict]}"
            + (" (dry run)" if judgement.dry_run else "")
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    per_hour = " (counts compared with the baseline per hour of each window)"
    return windows + per_hour + "\n```\n" + "\n".join(rows) + "\n```"


def targets_met(report: KpiReport) -> bool:
    return all(judged_well(judgement.verdict) for judgement in gating(report.judgements))
