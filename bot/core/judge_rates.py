"""The judges of rates: a count's events per hour (Poisson rate ratio) and the error rate
(failures among starts: a risk ratio, or a difference in points), both by conditional
score intervals at the confidence sequence's boundary (README: "How the bot decides").
Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.core.confidence_sequence import boundary, effective_size
from bot.core.decision import (
    Decision,
    Growth,
    Interval,
    Margin,
    Outcome,
    alpha_of,
    as_pct,
    event_rho,
    outcome_between,
    reason_for,
    run_rho,
    threshold_log,
    too_few,
)
from bot.core.rate_compare import (
    LogRatio,
    conditional_bounds,
    poisson_ratio,
    proportion_difference,
    risk_ratio,
    score_information,
    share_at,
)
from bot.core.spec_rollout import JudgeSpec
from bot.core.thresholds import Condition


@dataclass(frozen=True)
class Counts:
    """A count over the phase so far and over the baseline window, with their hours."""

    events: float
    hours: float
    baseline_events: float
    baseline_hours: float


def judge_rate(
    kpi: str,
    condition: Condition,
    margin: Margin,
    counts: Counts,
    spec: JudgeSpec,
    *,
    noun: str,
    dry_run: bool = False,
) -> Decision:
    """A count's events per hour against the baseline's, as a Poisson rate ratio."""
    per_hour = counts.events / counts.hours if counts.hours > 0 else 0.0
    label = f"{noun} per hour (rate ratio)"
    if counts.hours <= 0 or counts.baseline_hours <= 0:
        return Decision(
            kpi, str(condition), Outcome.INCONCLUSIVE, label, "%", math.nan, None,
            int(counts.events), int(counts.baseline_events), noun,
            "a window of no length can't give a rate", spec.level, dry_run=dry_run, margin=margin,
        )  # fmt: skip
    ratio = poisson_ratio(
        counts.events, counts.hours, counts.baseline_events, counts.baseline_hours
    )
    now, before = max(counts.events, 0.5), max(counts.baseline_events, 0.5)
    return _log_ratio_decision(
        kpi, condition, margin, ratio, spec, label=label, noun=noun,
        runs=counts.events, baseline_runs=counts.baseline_events, per_hour=per_hour,
        split=(1 / now, 1 / before), dry_run=dry_run, enough=True,
        exposures=(counts.events, counts.hours, counts.baseline_events, counts.baseline_hours),
        growth_in=(counts.hours, 1.0, "hours"), events_noun=noun,
    )  # fmt: skip


def judge_proportion(
    kpi: str,
    condition: Condition,
    margin: Margin,
    failures: Counts,
    starts: Counts,
    spec: JudgeSpec,
    *,
    dry_run: bool = False,
) -> Decision:
    """The error rate (failures among starts) against the baseline's: a risk ratio, or a
    difference in percentage points when the margin is in points."""
    enough = min(starts.events, starts.baseline_events) >= spec.min_runs
    per_hour = starts.events / starts.hours if starts.hours > 0 else 0.0
    if not margin.points:
        if min(starts.events, starts.baseline_events) <= 0:
            return Decision(
                kpi, str(condition), Outcome.INCONCLUSIVE, "error rate (risk ratio)", "%",
                math.nan, None, int(starts.events), int(starts.baseline_events), "runs",
                too_few(starts.events, starts.baseline_events, spec, "runs"),
                spec.level, dry_run=dry_run, margin=margin,
            )  # fmt: skip
        ratio = risk_ratio(
            failures.events, starts.events, failures.baseline_events, starts.baseline_events
        )
        now_variance = ratio.standard_error**2 - _risk_variance(
            failures.baseline_events, starts.baseline_events, failures.events
        )
        return _log_ratio_decision(
            kpi, condition, margin, ratio, spec, label="error rate (risk ratio)", noun="runs",
            runs=starts.events, baseline_runs=starts.baseline_events, per_hour=per_hour,
            split=(now_variance, ratio.standard_error**2 - now_variance),
            dry_run=dry_run, enough=enough,
            exposures=(failures.events, starts.events, failures.baseline_events,
                       starts.baseline_events),
            growth_in=(starts.events, per_hour, "runs"), events_noun="failures",
        )  # fmt: skip
    difference = proportion_difference(
        failures.events, starts.events, failures.baseline_events, starts.baseline_events
    )
    base_rate = (
        failures.baseline_events / starts.baseline_events * 100 if starts.baseline_events else 0.0
    )
    threshold = base_rate * condition.threshold / 100 + (
        margin.value if condition.comparison in ("<", "<=") else -margin.value
    )
    information = effective_size(starts.events, starts.baseline_events)
    z = boundary(information, alpha_of(spec), run_rho(spec))
    low = difference.estimate - z * difference.standard_error
    high = difference.estimate + z * difference.standard_error
    outcome = (
        outcome_between(low, high, threshold, condition.comparison)
        if enough
        else Outcome.INCONCLUSIVE
    )
    return Decision(
        kpi, str(condition), outcome, "error rate (difference)", "pp", threshold,
        Interval(difference.estimate, low, high), int(starts.events), int(starts.baseline_events),
        "runs", reason_for(enough, starts.events, starts.baseline_events, spec, outcome, "runs"),
        spec.level,
        growth=Growth(
            starts.events, per_hour, "runs", abs(difference.estimate - threshold),
            difference.now_variance, difference.standard_error**2 - difference.now_variance,
            information, alpha_of(spec), run_rho(spec),
        ),
        dry_run=dry_run,
        margin=margin,
    )  # fmt: skip


def _risk_variance(baseline_failures: float, baseline_starts: float, failures: float) -> float:
    """The baseline's part of the risk ratio's variance (as `risk_ratio` corrects it)."""
    if min(failures, baseline_failures) == 0:
        baseline_failures, baseline_starts = baseline_failures + 0.5, baseline_starts + 1
    return 1 / baseline_failures - 1 / baseline_starts


def _log_ratio_decision(
    kpi: str,
    condition: Condition,
    margin: Margin,
    ratio: LogRatio,
    spec: JudgeSpec,
    *,
    label: str,
    noun: str,
    runs: float,
    baseline_runs: float,
    per_hour: float,
    split: tuple[float, float],
    dry_run: bool,
    enough: bool,
    exposures: tuple[float, float, float, float],
    growth_in: tuple[float, float, str],
    events_noun: str,
) -> Decision:
    """`growth_in`: what the phase gathers (so far, per hour, its name); `exposures`:
    (events, exposure, baseline events, baseline exposure) for the conditional score
    interval; `ratio` and `split` (the variance's part from the phase, and the
    baseline's) for the time-to-decision extrapolation."""
    threshold = threshold_log(condition, margin)
    events, exposure, baseline_events, baseline_exposure = exposures
    # The boundary's clock: the score's variance at the threshold, fixed by the counts.
    share = share_at(threshold, exposure, baseline_exposure)
    information = score_information(events + baseline_events, share)
    alpha, rho = alpha_of(spec), event_rho(spec)
    z = boundary(information, alpha, rho)
    bounds = conditional_bounds(events, exposure, baseline_events, baseline_exposure, z)
    outcome = (
        outcome_between(bounds.low, bounds.high, threshold, condition.comparison)
        if enough
        else Outcome.INCONCLUSIVE
    )
    return Decision(
        kpi, str(condition), outcome, label, "%", as_pct(threshold),
        Interval(as_pct(bounds.estimate), as_pct(bounds.low), as_pct(bounds.high)), int(runs),
        int(baseline_runs), noun, reason_for(enough, runs, baseline_runs, spec, outcome, noun),
        spec.level,
        growth=Growth(
            *growth_in, abs(ratio.estimate - threshold), split[0], split[1],
            ratio.information, alpha, rho, exposures, threshold, events_noun,
        ),
        dry_run=dry_run,
        margin=margin,
    )  # fmt: skip
