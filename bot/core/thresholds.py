"""Judging KPI values against the runbook's thresholds: pure functions, no I/O.

A condition reads `< 40` (absolute) or `change <= -30%` (relative to the baseline:
(value - baseline) / baseline, in percent). A relative condition with no baseline, or
a KPI with no value, is `unavailable` with the reason — never met, never 0.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

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


@dataclass(frozen=True)
class Judgement:
    kpi: str
    verdict: Verdict
    value: float | None
    baseline: float | None
    change_pct: float | None
    reason: str = ""


def change_pct(value: float, baseline: float) -> float:
    """Percent change from the baseline; from a zero baseline any rise is +infinity."""
    if baseline == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - baseline) / abs(baseline) * 100.0


def holds(condition: Condition, measurement: Measurement) -> bool | str:
    """True or False, or the reason the condition cannot be decided."""
    if measurement.value is None:
        return measurement.reason or "no value"
    subject = measurement.value
    if condition.relative:
        if measurement.baseline is None:
            return "no baseline captured"
        subject = change_pct(measurement.value, measurement.baseline)
    return _OPERATORS[condition.comparison](subject, condition.threshold)


def judge(name: str, kpi: KpiSpec, measurement: Measurement) -> Judgement:
    """Alert wins over the target: a value in alert is reported as alert."""
    change = (
        change_pct(measurement.value, measurement.baseline)
        if measurement.value is not None and measurement.baseline is not None
        else None
    )
    alert = holds(Condition.parse(kpi.alert), measurement)
    target = holds(Condition.parse(kpi.target), measurement)
    for decided in (alert, target):
        if isinstance(decided, str):
            return Judgement(
                name, Verdict.UNAVAILABLE, measurement.value, measurement.baseline, change, decided
            )
    verdict = Verdict.ALERT if alert else Verdict.MET if target else Verdict.NOT_MET
    return Judgement(name, verdict, measurement.value, measurement.baseline, change)


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
    triggers: list[TriggerSpec], measurements: Mapping[str, Measurement]
) -> list[FiredTrigger]:
    """The runbook's ROLLBACK TRIGGERS that hold now; undecidable ones do not fire."""
    fired = []
    for trigger in triggers:
        measurement = measurements.get(trigger.kpi, Measurement(None))
        if holds(Condition.parse(trigger.condition), measurement) is True:
            assert measurement.value is not None
            fired.append(
                FiredTrigger(trigger.name, trigger.kpi, measurement.value, trigger.condition)
            )
    return fired
