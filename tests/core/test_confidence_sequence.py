"""Repeated looks keep the level: simulated rollouts where the truth sits exactly on a
criterion's threshold (the hardest case for a false "met"; no real change is easier),
looked at 100 times each as checkpoints and commands would."""

from __future__ import annotations

import math

import numpy as np

from bot.core import rank_shift
from bot.core.confidence_sequence import boundary, effective_size
from bot.core.decision import alpha_of, run_rho
from bot.core.judge import Counts, Margin, Outcome, judge_durations, judge_rate, outcome_from_counts
from bot.core.spec_rollout import JudgeSpec
from bot.core.thresholds import Condition

ROLLOUTS = 1000
LOOKS = 100
PER_LOOK = 20  # runs between two looks
BASELINE = 300
SPEC = JudgeSpec()
THRESHOLD = math.log(0.8)  # "change <= -20%"


def _rank_false_passes(z_at: object) -> float:
    """The share of rollouts where any look says met, with the per-look boundary z_at(n, m)."""
    generator = np.random.default_rng(20261201)
    n = BASELINE
    passed = 0
    for _ in range(ROLLOUTS):
        baseline = np.sort(generator.normal(7.0, 0.4, n))
        current = generator.normal(7.0, 0.4, LOOKS * PER_LOOK) + THRESHOLD
        # Each run's count of differences <= the threshold, accumulated look by look.
        at_most = np.cumsum(rank_shift.rows_at_most(baseline, current, THRESHOLD, strict=False))
        for look in range(1, LOOKS + 1):
            m = look * PER_LOOK
            z = z_at(n, m)  # type: ignore[operator]
            rank = rank_shift.rank_of_bound(n, m, z)
            if outcome_from_counts(0, int(at_most[m - 1]), n * m, rank, "<=") is Outcome.MET:
                passed += 1
                break
    return passed / ROLLOUTS


def test_a_hundred_looks_at_no_real_improvement_pass_it_less_often_than_the_level() -> None:
    alpha, rho = alpha_of(SPEC), run_rho(SPEC)
    rate = _rank_false_passes(lambda n, m: boundary(effective_size(n, m), alpha, rho))
    assert rate <= alpha


def test_the_same_looks_at_a_fixed_95_percent_bound_would_pass_it_too_often() -> None:
    # What the confidence sequence protects against: a one-sided 95 % bound at each look.
    assert _rank_false_passes(lambda n, m: 1.6449) > alpha_of(SPEC)


def test_a_hundred_looks_at_a_rate_that_did_not_halve_pass_it_less_often_than_the_level() -> None:
    # lock_skips change <= -50%: the truth is exactly half the baseline's rate.
    generator = np.random.default_rng(7)
    condition = Condition.parse("change <= -50%")
    baseline_hours, hours_per_look, per_hour = 24.0, 2.0, 10.0
    baseline = generator.poisson(per_hour * baseline_hours, ROLLOUTS)
    events = np.cumsum(
        generator.poisson(per_hour * 0.5 * hours_per_look, (ROLLOUTS, LOOKS)), axis=1
    )
    margin = Margin(0.0, False, "none needed")
    passed = 0
    for rollout in range(ROLLOUTS):
        for look in range(LOOKS):
            counts = Counts(
                float(events[rollout, look]), hours_per_look * (look + 1),
                float(baseline[rollout]), baseline_hours,
            )  # fmt: skip
            decision = judge_rate("lock_skips", condition, margin, counts, SPEC, noun="lock skips")
            if decision.outcome is Outcome.MET:
                passed += 1
                break
    assert passed / ROLLOUTS <= alpha_of(SPEC)


def test_the_simulations_decision_from_pair_counts_is_what_judge_durations_says() -> None:
    # The simulation above counts pairs instead of calling the judge on each of 100,000
    # looks; here, on some of them, both must agree.
    generator = np.random.default_rng(11)
    alpha, rho = alpha_of(SPEC), run_rho(SPEC)
    margin, condition = Margin(0.0, False, "none needed"), Condition.parse("change <= -20%")
    outcomes = set()
    for shift in (THRESHOLD - 0.05, THRESHOLD, THRESHOLD + 0.05):
        baseline = np.sort(generator.normal(7.0, 0.4, BASELINE))
        current = generator.normal(7.0, 0.4, LOOKS * PER_LOOK) + shift
        at_most = np.cumsum(rank_shift.rows_at_most(baseline, current, THRESHOLD, strict=False))
        for m in (60, 400, 2000):
            rank = rank_shift.rank_of_bound(
                BASELINE, m, boundary(effective_size(BASELINE, m), alpha, rho)
            )
            counted = outcome_from_counts(0, int(at_most[m - 1]), BASELINE * m, rank, "<=")
            judged = judge_durations(
                "job_duration_avg", condition, margin, {"J": list(np.exp(baseline))},
                {"J": list(np.exp(current[:m]))}, 1, SPEC,
            )  # fmt: skip
            assert judged.outcome is counted
            outcomes.add(counted)
    assert len(outcomes) >= 2  # the looks covered more than one outcome
