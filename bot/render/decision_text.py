"""What the judge decided, as people read it in a gate or a checkpoint:

    job duration −27 % (95 % CI −33 % … −21 %, n = 812 vs 790): met
    ≈ 140 more runs (~9 h) to settle job duration −20 %

`n = now vs baseline`. A change is a ratio of medians for job durations (so a −20 %
criterion reads as such), a rate ratio for counts per hour, a risk ratio for the error
rate (or a difference in percentage points, with `margin_points`). Pure."""

from __future__ import annotations

import math

from bot.core.decision import Decision, Interval, JobResult, Outcome
from bot.core.time_to_decision import ToDecide

_SHORT = {
    "job_duration_avg": "job duration",
    "error_rate": "error rate",
}
_METHOD = {
    "job_duration_avg": "ratio of medians, Hodges-Lehmann on log durations",
    "error_rate": "risk ratio",
}
MARK = {
    Outcome.MET: ":white_check_mark:",
    Outcome.NOT_MET: ":x:",
    Outcome.INCONCLUSIVE: ":hourglass_flowing_sand:",
}


def signed(value: float, unit: str = "%") -> str:
    """`−27 %`, `+4.5 %`, `−∞`: a typographic minus, one decimal below 10."""
    suffix = " pp" if unit == "pp" else " %"
    if math.isinf(value):
        return "−∞" if value < 0 else "+∞"
    if math.isnan(value):
        return "—"
    digits = 0 if round(abs(value), 1) >= 10 else 1
    text = f"{abs(value):.{digits}f}"
    sign = "−" if value < 0 and float(text) != 0 else "+" if value > 0 and float(text) != 0 else ""
    return f"{sign}{text}{suffix}"


def short_name(kpi: str, noun: str) -> str:
    return _SHORT.get(kpi, noun if noun != "runs" else kpi)


def method_name(decision: Decision) -> str:
    if decision.unit == "pp":
        return "difference of proportions"
    return _METHOD.get(decision.kpi, "rate ratio per hour")


def _interval(interval: Interval, unit: str, level: float) -> str:
    return f"{level * 100:g} % CI {signed(interval.low, unit)} … {signed(interval.high, unit)}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def decision_line(decision: Decision) -> str:
    """`job duration −27 % (95 % CI −33 % … −21 %, n = 812 vs 790): met`."""
    name = short_name(decision.kpi, decision.noun)
    sizes = f"n = {_count(decision.runs)} vs {_count(decision.baseline_runs)}"
    if decision.interval is None:
        return f"{name} ({sizes}): {decision.outcome.value}"
    estimate = signed(decision.interval.estimate, decision.unit)
    return (
        f"{name} {estimate} ({_interval(decision.interval, decision.unit, decision.level)}, "
        f"{sizes}): {decision.outcome.value}"
    )


def threshold_text(decision: Decision) -> str:
    """The threshold the interval is held against, margin included: `−20 %`, `+2.5 %`."""
    return signed(decision.threshold, decision.unit)


def wait_line(decision: Decision, wait: ToDecide) -> str:
    """`≈ 140 more runs (~9 h) to settle job duration −20 %`, or why not."""
    name = short_name(decision.kpi, decision.noun)
    target = f"{name} {threshold_text(decision)}"
    if wait.more is None:
        return f"{target}: {wait.reason}"
    if wait.noun == "hours":
        return f"≈ {_hours(wait.more)} more to settle {target}"
    hours = f" (~{_hours(wait.hours)})" if wait.hours is not None else ""
    return f"≈ {_count(wait.more)} more {wait.noun}{hours} to settle {target}"


def _hours(hours: float | None) -> str:
    if hours is None:
        return "?"
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} days"


def job_line(job: JobResult, unit: str, level: float) -> str:
    if job.interval is None:
        return f"{job.job}: too few runs to judge alone (n = {job.runs} vs {job.baseline_runs})"
    flag = " :warning: slower than its baseline" if job.regressed else ""
    return (
        f"{job.job} {signed(job.interval.estimate, unit)} "
        f"({_interval(job.interval, unit, level)}, n = {_count(job.runs)} vs "
        f"{_count(job.baseline_runs)}){flag}"
    )


def decision_detail(decision: Decision, wait: ToDecide | None, plain: str = "") -> str:
    """A gate's detail: the line, the method, the plain average beside it (`plain`), why it
    is inconclusive and how long it may take."""
    parts = [f"{decision_line(decision)} ({method_name(decision)})"]
    margin = decision.margin
    if margin is not None and margin.value > 0:
        parts.append(f"held against {threshold_text(decision)} ({margin.source})")
    if plain:
        parts.append(plain)
    if decision.outcome is Outcome.INCONCLUSIVE and decision.reason:
        parts.append(decision.reason)
    if wait is not None:
        parts.append(wait_line(decision, wait))
    return "; ".join(parts)
