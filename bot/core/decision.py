"""What the judge decides of a success criterion, and the arithmetic its judges share:
the outcome (met, not met, inconclusive), the change with its interval, each job's, what
time to decision extrapolates from, and the margin a "no worse" criterion allows. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from bot.core.confidence_sequence import effective_size, rho_for
from bot.core.spec_rollout import JudgeSpec
from bot.core.thresholds import Condition


class Outcome(StrEnum):
    MET = "met"
    NOT_MET = "not met"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Interval:
    """A change with its interval, in the criterion's unit (% of the baseline, or
    percentage points); -inf/inf where the data can't bound a side."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class JobResult:
    job: str
    runs: int
    baseline_runs: int
    interval: Interval | None
    # Slower than its baseline beyond the criterion's margin, with the interval's
    # confidence: shown beside a pooled result that may still be met.
    regressed: bool


@dataclass(frozen=True)
class Growth:
    """What time to decision extrapolates from: `units` of `noun` so far (runs, lock
    skips) at `per_hour`; the estimate's `distance` from the threshold and its variance,
    split into the part that shrinks as the phase gathers more (`now_variance`, as
    1/units) and the baseline's, which stays; the boundary's information now."""

    units: float
    per_hour: float
    noun: str
    distance: float
    now_variance: float
    baseline_variance: float
    information: float
    alpha: float
    rho: float
    # For a rate: (events, exposure, baseline events, baseline exposure) and the log
    # threshold, so the extrapolation asks the score interval itself at the counts to come.
    counts: tuple[float, float, float, float] | None = None
    threshold: float = 0.0
    events_noun: str = "events"  # what `counts` counts: "failures", "lock skips"
    # The baseline's runs and their rate: how much longer a baseline would have to be.
    baseline_units: float = 0.0
    baseline_per_hour: float = 0.0


@dataclass(frozen=True)
class Margin:
    """How far past the threshold a criterion still counts as met, and where that came
    from (the spec, a trigger, the KPI's alert)."""

    value: float
    points: bool  # percentage points of the rate, not % of the baseline
    source: str


@dataclass(frozen=True)
class Decision:
    kpi: str
    condition: str
    outcome: Outcome
    # What is estimated: "job duration (ratio of medians)", "error rate (risk ratio)".
    label: str
    unit: str  # "%" (of the baseline) or "pp" (percentage points)
    threshold: float  # in `unit`, the margin included
    interval: Interval | None
    runs: int  # or events: the current side's
    baseline_runs: int
    noun: str  # what `runs` counts
    reason: str = ""  # why inconclusive
    level: float = 0.95
    jobs: tuple[JobResult, ...] = ()
    growth: Growth | None = None
    # The fixed-sample Mann-Whitney test of the pooled runs, for reference (it equals
    # scipy's); the decision is the confidence sequence's.
    u_statistic: float | None = None
    p_value: float | None = None
    dry_run: bool = False
    margin: Margin | None = None


def threshold_log(condition: Condition, margin: Margin) -> float:
    widened = condition.threshold + (
        margin.value if condition.comparison in ("<", "<=") else -margin.value
    )
    return math.log1p(max(widened, -99.999) / 100)


def outcome_between(low: float, high: float, threshold: float, comparison: str) -> Outcome:
    """Met when the whole interval lies on the criterion's side of the threshold; not met
    when the whole of it lies on the other."""
    if comparison in ("<", "<="):
        if high <= threshold:
            return Outcome.MET
        return Outcome.NOT_MET if low > threshold else Outcome.INCONCLUSIVE
    if low >= threshold:
        return Outcome.MET
    return Outcome.NOT_MET if high < threshold else Outcome.INCONCLUSIVE


def as_pct(log_change: float) -> float:
    """A log ratio as a change in %: -inf is −100 % (none at all), +inf unbounded."""
    return math.inf if log_change == math.inf else math.expm1(log_change) * 100


def alpha_of(spec: JudgeSpec) -> float:
    return 1 - spec.level


def run_rho(spec: JudgeSpec) -> float:
    return rho_for(effective_size(spec.planned_runs, spec.planned_runs))


def event_rho(spec: JudgeSpec) -> float:
    return rho_for(effective_size(spec.min_runs, spec.min_runs))


def straddles(outcome: Outcome) -> str:
    return "the interval still straddles the threshold" if outcome is Outcome.INCONCLUSIVE else ""


def too_few(now: float, before: float, spec: JudgeSpec, noun: str) -> str:
    return (
        f"too few {noun}: {now:g} in the phase, {before:g} in the baseline; "
        f"at least {spec.min_runs} each"
    )


def reason_for(
    enough: bool, now: float, before: float, spec: JudgeSpec, outcome: Outcome, noun: str
) -> str:
    return straddles(outcome) if enough else too_few(now, before, spec, noun)
