"""The statistical judge of a relative success criterion (`job_duration_avg change <=
-20%`, `error_rate change <= 0%`, `lock_skips change <= -50%`): met, not met, or
inconclusive, with the estimate and its interval. README: "How the bot decides".

- Job durations: per-run samples of the phase against the baseline's, on the log scale,
  so a change is a ratio (of medians, of geometric means), robust to skew: the
  Hodges-Lehmann shift with its rank (Mann-Whitney) interval, pooled over the jobs for
  the gate and per job beside it.
- The error rate: failures among starts, as a risk ratio (or, with `margin_points`, as a
  difference in percentage points).
- A count (lock skips, ...): events per hour of each window, as a Poisson rate ratio.

Every interval is a confidence sequence (`bot.core.confidence_sequence`): valid at every
look at once, so the 48 checkpoints of 12 days and every `advance` keep the level. A
criterion `change <= T%` is met when the interval's upper end is at or under T (plus its
margin), not met when its lower end is over it, inconclusive otherwise or below
`min_runs` per side. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from bot.core import rank_shift
from bot.core.confidence_sequence import boundary, effective_size
from bot.core.decision import (
    Decision,
    Growth,
    Interval,
    JobResult,
    Margin,
    Outcome,
    alpha_of,
    as_pct,
    run_rho,
    straddles,
    threshold_log,
)
from bot.core.judge_rates import Counts, judge_proportion, judge_rate
from bot.core.spec_rollout import JudgeSpec
from bot.core.thresholds import Condition

__all__ = [
    "Counts", "Decision", "Growth", "Interval", "JobResult", "Margin", "Outcome",
    "judge_durations", "judge_proportion", "judge_rate", "outcome_from_counts",
    "shift_outcome",
]  # fmt: skip

# A duration is logged to the millisecond: a 0 ms run is taken as 1 ms on the log scale.
_SHORTEST_MS = 1.0
# A job is judged on its own only from this many runs per side (its line says so).
MIN_JOB_RUNS = 10


def _log_sample(durations: Sequence[float]) -> rank_shift.Sample:
    return np.sort(np.log(np.maximum(np.asarray(durations, dtype=np.float64), _SHORTEST_MS)))


def shift_outcome(
    baseline: rank_shift.Sample,
    current: rank_shift.Sample,
    threshold: float,
    comparison: str,
    z: float,
) -> Outcome:
    """The rank interval's outcome at `z`, from pair counts at the threshold."""
    below, at_most = rank_shift.pairs_below(baseline, current, threshold)
    rank = rank_shift.rank_of_bound(baseline.size, current.size, z)
    return outcome_from_counts(below, at_most, baseline.size * current.size, rank, comparison)


def outcome_from_counts(
    below: int, at_most: int, pairs: int, rank: int, comparison: str
) -> Outcome:
    """No order statistic needed: the interval [D_(C), D_(nm−C+1)] has its upper end
    <= t exactly when nm − C + 1 differences are <= t, its lower end > t when fewer
    than C are."""
    if rank < 1:
        return Outcome.INCONCLUSIVE
    if comparison in ("<", "<="):
        if at_most >= pairs - rank + 1:
            return Outcome.MET
        return Outcome.NOT_MET if at_most < rank else Outcome.INCONCLUSIVE
    if below < rank:  # D_(C) >= t
        return Outcome.MET
    return Outcome.NOT_MET if below >= pairs - rank + 1 else Outcome.INCONCLUSIVE


def judge_durations(
    kpi: str,
    condition: Condition,
    margin: Margin,
    baseline: Mapping[str, Sequence[float]],
    current: Mapping[str, Sequence[float]],
    hours: float,
    spec: JudgeSpec,
    *,
    dry_run: bool = False,
    baseline_hours: float = 0.0,
) -> Decision:
    """Per-run durations (ms, by job) of the phase so far (`hours` long) against the
    baseline's: pooled for the outcome, per job beside it."""
    threshold = threshold_log(condition, margin)
    widened = as_pct(threshold)
    x = _log_sample([d for runs in baseline.values() for d in runs])
    y = _log_sample([d for runs in current.values() for d in runs])
    n, m = x.size, y.size
    alpha, rho = alpha_of(spec), run_rho(spec)
    common = {
        "kpi": kpi, "condition": str(condition), "label": "job duration (ratio of medians)",
        "unit": "%", "threshold": widened, "runs": m, "baseline_runs": n, "noun": "runs",
        "level": spec.level, "dry_run": dry_run, "margin": margin,
    }  # fmt: skip
    if min(n, m) < spec.min_runs:
        return Decision(
            **common, outcome=Outcome.INCONCLUSIVE, interval=None,  # type: ignore[arg-type]
            reason=f"too few runs: {m} in the phase, {n} in the baseline; "
            f"at least {spec.min_runs} each",
        )  # fmt: skip
    z = boundary(effective_size(n, m), alpha, rho)
    estimate, low, high = rank_shift.estimate_and_interval(x, y, z)
    outcome = shift_outcome(x, y, threshold, condition.comparison, z)
    u = rank_shift.u_statistic(x, y)
    variance = _spread(low, high, z) ** 2
    growth = Growth(
        float(m), m / hours if hours > 0 else 0.0, "runs", abs(estimate - threshold),
        variance * n / (n + m), variance * m / (n + m), effective_size(n, m), alpha, rho,
        baseline_units=float(n),
        baseline_per_hour=n / baseline_hours if baseline_hours > 0 else 0.0,
    )  # fmt: skip
    return Decision(
        **common,  # type: ignore[arg-type]
        outcome=outcome,
        interval=Interval(as_pct(estimate), as_pct(low), as_pct(high)),
        reason=straddles(outcome),
        jobs=_per_job(baseline, current, margin, alpha, rho),
        growth=growth,
        u_statistic=u,
        p_value=rank_shift.u_p_value(x, y, u),
    )


def _spread(low: float, high: float, z: float) -> float:
    """The estimate's standard error on the log scale, from the interval's width."""
    if not (math.isfinite(low) and math.isfinite(high)) or z <= 0:
        return math.nan
    return (high - low) / (2 * z)


def _per_job(
    baseline: Mapping[str, Sequence[float]],
    current: Mapping[str, Sequence[float]],
    margin: Margin,
    alpha: float,
    rho: float,
) -> tuple[JobResult, ...]:
    regression = math.log1p(0 if margin.points else margin.value / 100)
    results = []
    for job in sorted(set(baseline) | set(current)):
        x, y = _log_sample(baseline.get(job, ())), _log_sample(current.get(job, ()))
        if min(x.size, y.size) < MIN_JOB_RUNS:
            results.append(JobResult(job, y.size, x.size, None, False))
            continue
        z = boundary(effective_size(x.size, y.size), alpha, rho)
        estimate, low, high = rank_shift.estimate_and_interval(x, y, z)
        interval = Interval(as_pct(estimate), as_pct(low), as_pct(high))
        results.append(JobResult(job, y.size, x.size, interval, low > regression))
    return tuple(results)
