"""The success report: per KPI its baseline, its value now, the change and the target —
posted when the rollout succeeds, and on demand as far as the rollout has come."""

from __future__ import annotations

from bot.core.kpi_report import KpiReport, format_value
from bot.core.spec import Spec
from bot.core.thresholds import Verdict

_MARK = {
    Verdict.MET: "met",
    Verdict.NOT_MET: "NOT MET",
    Verdict.ALERT: "ALERT",
    Verdict.UNAVAILABLE: "unavailable",
}


def _change(change: float | None) -> str:
    if change is None:
        return "—"
    return "new" if abs(change) == float("inf") else f"{change:+.1f}%"


def report_table(spec: Spec, report: KpiReport) -> str:
    rows = [f"{'KPI':<24}{'baseline':>10}{'now':>10}{'change':>9}  {'target':<16}verdict"]
    for judgement in report.judgements:
        kpi = spec.kpis[judgement.kpi]
        rows.append(
            f"{kpi.label[:23]:<24}{format_value(judgement.baseline, kpi.unit):>10}"
            f"{format_value(judgement.value, kpi.unit):>10}{_change(judgement.change_pct):>9}  "
            f"{kpi.target:<16}{_MARK[judgement.verdict]}"
            + (f" ({judgement.reason})" if judgement.reason else "")
        )
    return "```\n" + "\n".join(rows) + "\n```"


def targets_met(report: KpiReport) -> bool:
    return all(judgement.verdict is Verdict.MET for judgement in report.judgements)
