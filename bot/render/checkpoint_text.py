"""The checkpoint post: per KPI its value, target, alert threshold and verdict, with the
change since the previous checkpoint and against the baseline. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from bot.core.clock import describe_duration
from bot.core.kpi_report import KpiReport, format_value
from bot.core.spec import Spec
from bot.core.spec_rollout import PhaseSpec
from bot.core.thresholds import Verdict, change_pct

MARK = {
    Verdict.MET: "✅ met",
    Verdict.NOT_MET: "🟡 not met",
    Verdict.ALERT: "🔴 ALERT",
    Verdict.UNAVAILABLE: "❔ unavailable",
}


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    change = change_pct(now, before)
    return "new" if abs(change) == float("inf") else f"{change:+.0f}%"


def phase_line(phase: PhaseSpec | None, name: str, elapsed: timedelta) -> str:
    if phase is None:
        return f"{name}, {describe_duration(elapsed)} in"
    minimum = timedelta(hours=phase.min_duration_h)
    left = minimum - elapsed
    rest = f"{describe_duration(left)} left" if left > timedelta(0) else "minimum reached"
    return f"{name}, {describe_duration(elapsed)} of {describe_duration(minimum)} ({rest})"


def checkpoint_text(
    spec: Spec, report: KpiReport, previous: Mapping[str, float] | None, where: str
) -> str:
    rows = [
        f"{'KPI':<23}{'value':>9}  {'target':<15}{'alert':<14}{'verdict':<15}"
        f"{'vs last':>8}{'vs base':>9}"
    ]
    for judgement in report.judgements:
        kpi = spec.kpis[judgement.kpi]
        last = previous.get(judgement.kpi) if previous else None
        rows.append(
            f"{kpi.label[:22]:<23}{format_value(judgement.value, kpi.unit):>9}  "
            f"{kpi.target:<15}{kpi.alert:<14}{MARK[judgement.verdict]:<15}"
            f"{_change(judgement.value, last):>8}{_change(judgement.value, judgement.baseline):>9}"
        )
    reasons = [f"{spec.kpis[j.kpi].label}: {j.reason}" for j in report.judgements if j.reason]
    return (
        f"*KPI checkpoint — {report.env}*: {where}\n"
        f"Window {report.start:%Y-%m-%d %H:%M}–{report.end:%H:%M} UTC\n"
        + "```\n" + "\n".join(rows) + "\n```"
        + ("\n" + "\n".join(f"_{reason}_" for reason in reasons) if reasons else "")
    )  # fmt: skip
