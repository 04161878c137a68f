"""Judging KPI values against the runbook's thresholds: pure functions, no I/O.

A condition reads `< 40` (absolute) or `change <= -30%` (relative to the baseline:
(value - baseline) / baseline, in percent). A relative condition with no baseline, or
a KPI with no value, is `unavailable` with the reason — never met, never 0.

A count (job starts, lock skips, ...) is measured over a window, and its baseline over
another of a different length: a relative condition compares events per hour of each,
and only when either window held `min_events` of them — in neither, the KPI has too few
events to compare, which neither fires nor fails anything. A count new in the window
(0 in the baseline, 500 now) is +infinity: it fires.

A dry-run KPI (`dry_run = true` in its row) is judged as any other, and its judgement
says so; it never fires a trigger (`dry_run_triggers` are those that would have), and
what gates, alerts or declares success looks only at the `gating` judgements.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.core.clock import describe_duration
from bot.core.spec_fields import CONDITION
from bot.core.spec_rollout import KpiSpec, TriggerSpec

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Verdict(StrEnum):
    MET = "met"
    NOT_MET = "not met"
    ALERT = "alert"
    UNAVAILABLE = "unavailable"
    TOO_FEW = "too few events to compare"


@dataclass(frozen=True)
class Condition:
    relative: bool
    comparison: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = CONDITION.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a condition like '< 40' or 'change <= -30%'")
        return cls(bool(match.group(1)), match.group(2), float(match.group(3)))

    def __str__(self) -> str:
        number = f"{self.threshold:g}"
        return (
            f"change {self.comparison} {number}%"
            if self.relative
            else f"{self.comparison} {number}"
        )


@dataclass(frozen=True)
class Measurement:
    """A KPI's value now, or why there is none, and its baseline if one was captured."""

    value: float | None
    baseline: float | None = None
    reason: str = ""
    # For a count: the hours its window spans (None for a level or a ratio, compared as is).
    hours: float | None = None
    # The hours the baseline's window spans.
    baseline_hours: float | None = None
    # A count's relative change is judged only with this many events in either window.
    min_events: int = 0
    # Where the value came from, for a KPI with more than one source: "log", "database".
    source: str = ""


@dataclass(frozen=True)
class Comparison:
    """What a relative condition compares: now against the baseline, per hour of each
    window for a count."""

    now: float
    baseline: float
    per_hour: bool
    change_pct: float


@dataclass(frozen=True)
class Undecided:
    """Why a condition cannot be decided; `too_few` when neither window held enough events."""

    reason: str
    too_few: bool = False


@dataclass(frozen=True)
class Judgement:
    kpi: str
    verdict: Verdict
    value: float | None
    baseline: float | None
    change_pct: float | None
    reason: str = ""
    compared: Comparison | None = None
    source: str = ""
    # Is the KPI's target or alert relative to the baseline?
    relative: bool = False
    # A dry-run KPI's: shown, never alerting, gating or holding success back.
    dry_run: bool = False


def change_pct(value: float, baseline: float) -> float:
    """Percent change from the baseline; from a zero baseline any rise is +infinity."""
    if baseline == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - baseline) / abs(baseline) * 100.0


def compare(measurement: Measurement) -> Comparison | Undecided:
    """The measurement against its baseline: as it is, or per hour for a count."""
    value, baseline = measurement.value, measurement.baseline
    if value is None:
        return Undecided(measurement.reason or "no value")
    if baseline is None:
        return Undecided("no baseline captured")
    hours, baseline_hours = measurement.hours, measurement.baseline_hours
    if hours is None:
        return Comparison(value, baseline, False, change_pct(value, baseline))
    if not hours or not baseline_hours:
        return Undecided("the baseline's window is not known")
    if max(baseline, value) < measurement.min_events:
        span = describe_duration(timedelta(hours=baseline_hours))
        return Undecided(
            f"{baseline:g} in the baseline window ({span}), at least "
            f"{measurement.min_events} needed",
            too_few=True,
        )
    now, before = value / hours, baseline / baseline_hours
    return Comparison(now, before, True, change_pct(now, before))


def holds(condition: Condition, measurement: Measurement) -> bool | Undecided:
    """True or False, or why the condition cannot be decided."""
    if measurement.value is None:
        return Undecided(measurement.reason or "no value")
    subject = measurement.value
    if condition.relative:
        comparison = compare(measurement)
        if isinstance(comparison, Undecided):
            return comparison
        subject = comparison.change_pct
    return _OPERATORS[condition.comparison](subject, condition.threshold)


def judge(name: str, kpi: KpiSpec, measurement: Measurement) -> Judgement:
    """Alert wins over the target: a value in alert is reported as alert."""
    compared = compare(measurement)
    comparison = compared if isinstance(compared, Comparison) else None
    change = comparison.change_pct if comparison else None
    value, baseline, source = measurement.value, measurement.baseline, measurement.source
    alert_condition, target_condition = Condition.parse(kpi.alert), Condition.parse(kpi.target)
    relative = alert_condition.relative or target_condition.relative
    alert = holds(alert_condition, measurement)
    target = holds(target_condition, measurement)
    for decided in (alert, target) if alert is not True else ():
        if isinstance(decided, Undecided):
            verdict = Verdict.TOO_FEW if decided.too_few else Verdict.UNAVAILABLE
            return Judgement(
                name, verdict, value, baseline, change, decided.reason,
                comparison if relative else None, source, relative, kpi.dry_run,
            )  # fmt: skip
    verdict = Verdict.ALERT if alert else Verdict.MET if target else Verdict.NOT_MET
    return Judgement(
        name, verdict, value, baseline, change, "",
        comparison if relative else None, source, relative, kpi.dry_run,
    )  # fmt: skip


def judged_well(verdict: Verdict) -> bool:
    """Does this verdict let a target count as reached? Met, or too few events to judge
    (a problem the baseline barely had cannot be shown to shrink, nor hold anything back)."""
    return verdict in (Verdict.MET, Verdict.TOO_FEW)


def gating(judgements: Iterable[Judgement]) -> list[Judgement]:
    """The judgements that may alert, hold a gate or the success back: no dry-run KPI's."""
    return [judgement for judgement in judgements if not judgement.dry_run]


def judge_all(
    kpis: Mapping[str, KpiSpec], measurements: Mapping[str, Measurement]
) -> list[Judgement]:
    return [
        judge(name, kpi, measurements.get(name, Measurement(None, reason="not measured")))
        for name, kpi in kpis.items()
    ]


@dataclass(frozen=True)
class FiredTrigger:
    name: str
    kpi: str
    value: float
    condition: str


def fired_triggers(
    triggers: list[TriggerSpec],
    measurements: Mapping[str, Measurement],
    kpis: Mapping[str, KpiSpec],
) -> list[FiredTrigger]:
    """The runbook's ROLLBACK TRIGGERS that hold now; undecidable ones do not fire, nor
    does one on a dry-run KPI."""
    return [t for t in _holding(triggers, measurements) if not _dry_run(kpis, t.kpi)]


def dry_run_triggers(
    triggers: list[TriggerSpec],
    measurements: Mapping[str, Measurement],
    kpis: Mapping[str, KpiSpec],
) -> list[FiredTrigger]:
    """The triggers on dry-run KPIs that hold now: those that would have fired."""
    return [t for t in _holding(triggers, measurements) if _dry_run(kpis, t.kpi)]


def _dry_run(kpis: Mapping[str, KpiSpec], name: str) -> bool:
    kpi = kpis.get(name)
    return kpi is not None and kpi.dry_run


def _holding(
    triggers: list[TriggerSpec], measurements: Mapping[str, Measurement]
) -> list[FiredTrigger]:
    holding = []
    for trigger in triggers:
        measurement = measurements.get(trigger.kpi, Measurement(None))
        if holds(Condition.parse(trigger.condition), measurement) is True:
            assert measurement.value is not None
            holding.append(
                FiredTrigger(trigger.name, trigger.kpi, measurement.value, trigger.condition)
            )
    return holding
