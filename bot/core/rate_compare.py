"""Two rates compared as the judge needs them:

- two Poisson rates (lock skips per hour: events over each window's hours), and the
  error rate's risk ratio (failures among starts, taken as rare events over the starts:
  exact enough below ~10 %, conservative above), by the conditional score interval:
  given the k events of both windows, the phase's share of them is binomial, and
  Wilson's score interval for that share is one for the ratio. Unlike a Wald interval on
  log counts it stays sharp at zero: 0 lock skips in 72 h against 271 in 24 h is a
  confident fall, not "anything from −100 % to +6,000 %".
- two proportions as a difference in percentage points (Agresti-Caffo).

Wald's log ratio with half an event for zeros is kept for the time-to-decision
extrapolation, which needs a variance per side. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LogRatio:
    """log(now / baseline) and its standard error."""

    estimate: float
    standard_error: float

    @property
    def information(self) -> float:
        return 1 / self.standard_error**2


def _corrected(*counts: float) -> list[float]:
    return [count + 0.5 for count in counts] if min(counts) == 0 else list(counts)


def poisson_ratio(
    events: float, hours: float, baseline_events: float, baseline_hours: float
) -> LogRatio:
    """The log rate ratio of events per hour (Wald on the log scale)."""
    now, before = _corrected(events, baseline_events)
    estimate = math.log((now / hours) / (before / baseline_hours))
    return LogRatio(estimate, math.sqrt(1 / now + 1 / before))


def risk_ratio(
    failures: float, starts: float, baseline_failures: float, baseline_starts: float
) -> LogRatio:
    """The log ratio of two proportions (Katz's standard error)."""
    if starts <= 0 or baseline_starts <= 0:
        raise ValueError("a proportion needs at least one trial on each side")
    if min(failures, baseline_failures) == 0:  # half a failure, and half a trial more
        failures, baseline_failures = failures + 0.5, baseline_failures + 0.5
        starts, baseline_starts = starts + 1, baseline_starts + 1
    estimate = math.log((failures / starts) / (baseline_failures / baseline_starts))
    variance = 1 / failures - 1 / starts + 1 / baseline_failures - 1 / baseline_starts
    return LogRatio(estimate, math.sqrt(max(variance, 1e-12)))


@dataclass(frozen=True)
class RatioBounds:
    """log(now rate / baseline rate): the estimate and its interval (-inf/inf unbounded)."""

    estimate: float
    low: float
    high: float


def share_at(log_ratio: float, exposure: float, baseline_exposure: float) -> float:
    """The phase's share of all events when the rates' ratio is exp(log_ratio)."""
    weighted = math.exp(log_ratio) * exposure
    return weighted / (weighted + baseline_exposure)


def score_information(total: float, share: float) -> float:
    """The conditional score statistic's variance under a share: k·π(1 − π)."""
    return total * share * (1 - share)


def conditional_bounds(
    events: float, exposure: float, baseline_events: float, baseline_exposure: float, z: float
) -> RatioBounds:
    """Wilson's interval at `z` for the phase's share of the events, as a rate ratio."""
    total = events + baseline_events
    scale = math.log(baseline_exposure / exposure)
    now, before = _corrected(events, baseline_events)
    estimate = math.log(now / before) + scale
    if total <= 0:
        return RatioBounds(estimate, -math.inf, math.inf)
    centre = (events + z * z / 2) / (total + z * z)
    half = z * math.sqrt(events * baseline_events / total + z * z / 4) / (total + z * z)
    low_share, high_share = max(centre - half, 0.0), min(centre + half, 1.0)

    def as_log_ratio(share: float) -> float:
        if share <= 0:
            return -math.inf
        if share >= 1:
            return math.inf
        return math.log(share / (1 - share)) + scale

    return RatioBounds(estimate, as_log_ratio(low_share), as_log_ratio(high_share))


@dataclass(frozen=True)
class Difference:
    """now − baseline of two proportions, in percentage points, and its standard error."""

    estimate: float
    standard_error: float
    # The part of the variance that comes from the current side (pp²).
    now_variance: float


def proportion_difference(
    failures: float, starts: float, baseline_failures: float, baseline_starts: float
) -> Difference:
    """Agresti-Caffo: one failure and one success added to each side, so that 0 of 5,000
    against 0 of 5,000 still has a standard error; in percentage points."""
    p_now = (failures + 1) / (starts + 2)
    p_before = (baseline_failures + 1) / (baseline_starts + 2)
    now_variance = p_now * (1 - p_now) / (starts + 2) * 100**2
    variance = now_variance + p_before * (1 - p_before) / (baseline_starts + 2) * 100**2
    return Difference((p_now - p_before) * 100, math.sqrt(variance), now_variance)
