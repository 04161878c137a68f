"""How long an inconclusive criterion needs to settle: the runs (or events) the phase
must still gather, and the hours that takes at its current rate, if the effect and the
spread stay as observed now. An extrapolation, said as one ("≈", "~"); below
`min_runs`, or with no estimate to go on, it says it can't estimate yet. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.core.confidence_sequence import boundary
from bot.core.decision import Decision, Growth, Outcome
from bot.core.rate_compare import conditional_bounds, score_information, share_at

# More than this many times what the phase has: said as "not within reach".
_FARTHEST = 1000.0


@dataclass(frozen=True)
class ToDecide:
    """`more` units of `noun` (≈ `hours`), or why there is no estimate."""

    more: int | None
    hours: float | None
    noun: str
    reason: str = ""


def _settles(growth: Growth, extra: float) -> bool:
    if growth.counts is not None:
        return _rate_settles(growth, growth.counts, extra)
    units = growth.units + extra
    variance = growth.now_variance * growth.units / units + growth.baseline_variance
    information = growth.information * (growth.now_variance + growth.baseline_variance) / variance
    return growth.distance > boundary(information, growth.alpha, growth.rho) * math.sqrt(variance)


def _rate_settles(growth: Growth, counts: tuple[float, float, float, float], extra: float) -> bool:
    """The score interval at the phase's counts grown by `extra` units at today's rates."""
    events, exposure, baseline_events, baseline_exposure = counts
    grown = 1 + extra / growth.units
    events, exposure = events * grown, exposure * grown
    share = share_at(growth.threshold, exposure, baseline_exposure)
    z = boundary(score_information(events + baseline_events, share), growth.alpha, growth.rho)
    bounds = conditional_bounds(events, exposure, baseline_events, baseline_exposure, z)
    return bounds.high <= growth.threshold or bounds.low >= growth.threshold


def _settles_with_baseline(growth: Growth, extra: float) -> bool:
    """With the phase run as long as it takes (its share of the variance gone) and
    `extra` more baseline runs."""
    total = growth.now_variance + growth.baseline_variance
    variance = growth.baseline_variance * growth.baseline_units / (growth.baseline_units + extra)
    information = growth.information * total / variance
    return growth.distance > boundary(information, growth.alpha, growth.rho) * math.sqrt(variance)


def _longer_baseline(growth: Growth, noun: str) -> ToDecide:
    """More runs in the phase alone can't settle it: how many more the baseline would need,
    at the least (the phase then run long enough too)."""
    lacking = "the baseline is too short to settle it at this effect"
    base = growth.baseline_units
    if growth.counts is not None or base <= 0 or growth.baseline_variance <= 0:
        return ToDecide(None, None, noun, f"{lacking}: a longer baseline would")
    if not _settles_with_baseline(growth, base * _FARTHEST):
        return ToDecide(None, None, noun, f"{lacking}, nor any baseline within reach")
    low, high = 0.0, base
    while not _settles_with_baseline(growth, high):
        low, high = high, high * 2
    while high - low > max(1.0, high * 0.01):
        middle = (low + high) / 2
        low, high = (low, middle) if _settles_with_baseline(growth, middle) else (middle, high)
    more = math.ceil(high)
    span = (
        f" (~{_rounded_hours(more / growth.baseline_per_hour)} with the stagger off)"
        if growth.baseline_per_hour > 0
        else ""
    )
    return ToDecide(
        None, None, noun,
        f"{lacking}: a baseline of ≈ {more:,} more runs{span} would, with this phase run "
        "long enough (`/stagger baseline capture <env> <window>`)",
    )  # fmt: skip


def _rounded_hours(hours: float) -> str:
    return f"{max(1, round(hours * 60))} min" if hours < 1 else f"{hours:.0f} h"


def time_to_decision(decision: Decision, min_runs: int) -> ToDecide | None:
    """None unless the decision is inconclusive."""
    if decision.outcome is not Outcome.INCONCLUSIVE:
        return None
    growth = decision.growth
    noun = growth.noun if growth else decision.noun
    rate = growth is not None and growth.counts is not None
    if decision.baseline_runs < min_runs and decision.noun == "runs" and not rate:
        return ToDecide(
            None, None, noun,
            f"the baseline holds {decision.baseline_runs} runs ({min_runs} needed): more runs "
            "in this phase can't settle it; a longer baseline would "
            "(`/stagger baseline capture <env> <window>`)",
        )  # fmt: skip
    if growth is None and decision.runs >= min_runs:
        return None  # nothing to extrapolate from: the decision's reason says why
    if growth is None or growth.units <= 0 or (not rate and decision.runs < min_runs):
        return ToDecide(
            None, None, noun, f"can't estimate yet: fewer than {min_runs} {decision.noun}"
        )
    if growth.counts is not None:  # a rate: its events, both windows together
        events = growth.counts[0] + growth.counts[2]
        if events < min_runs:
            return ToDecide(
                None, None, noun,
                f"can't estimate yet: fewer than {min_runs} {growth.events_noun} in both windows",
            )  # fmt: skip
    elif growth.units < min_runs or decision.baseline_runs < min_runs:
        return ToDecide(None, None, noun, f"can't estimate yet: fewer than {min_runs} {noun}")
    if growth.counts is None and growth.now_variance + growth.baseline_variance <= 0:
        return ToDecide(None, None, noun, "can't estimate: the runs don't vary")
    finite = (growth.distance, growth.now_variance, growth.baseline_variance, growth.information)
    if growth.counts is None and (
        not all(math.isfinite(value) and value >= 0 for value in finite) or growth.distance == 0
    ):
        return ToDecide(None, None, noun, "can't estimate yet: the estimate sits on the threshold")
    if not _settles(growth, growth.units * _FARTHEST):
        return _longer_baseline(growth, noun)
    low, high = 0.0, max(growth.units, 1.0)
    while not _settles(growth, high):
        low, high = high, high * 2
        if high > growth.units * _FARTHEST:
            return ToDecide(None, None, noun, "not within reach at this effect")
    while high - low > max(1.0, high * 0.01):
        middle = (low + high) / 2
        low, high = (low, middle) if _settles(growth, middle) else (middle, high)
    more = math.ceil(high)
    hours = more / growth.per_hour if growth.per_hour > 0 else None
    return ToDecide(more, hours, noun)
