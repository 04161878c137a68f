"""The judge's outcomes as a person reading a gate meets them: met with an interval,
not met, inconclusive and why, a job that regressed, and the time it needs to decide."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bot.core.judge import (
    Counts,
    Margin,
    Outcome,
    judge_durations,
    judge_proportion,
    judge_rate,
)
from bot.core.spec_rollout import JudgeSpec
from bot.core.thresholds import Condition
from bot.core.time_to_decision import time_to_decision

SPEC = JudgeSpec()
NO_MARGIN = Margin(0.0, False, "none needed")
MINUS_20 = Condition.parse("change <= -20%")


def _runs(seed: int, count: int, median_ms: float, jobs: int = 4) -> dict[str, list[float]]:
    generator = np.random.default_rng(seed)
    return {
        f"Job {j}": list(generator.lognormal(np.log(median_ms * (1 + j / 4)), 0.35, count // jobs))
        for j in range(jobs)
    }


def test_a_27_percent_faster_phase_meets_minus_20_with_its_interval_beside_it() -> None:
    baseline, current = _runs(1, 800, 1000), _runs(2, 800, 730)
    decision = judge_durations("job_duration_avg", MINUS_20, NO_MARGIN, baseline, current, 24, SPEC)
    assert decision.outcome is Outcome.MET
    assert decision.interval is not None
    assert decision.interval.low < decision.interval.estimate < decision.interval.high <= -20
    assert decision.interval.estimate == pytest.approx(-27, abs=3)
    assert (decision.runs, decision.baseline_runs) == (800, 800)
    assert time_to_decision(decision, SPEC.min_runs) is None


def test_the_pooled_u_statistic_and_p_value_are_scipys() -> None:
    baseline, current = _runs(3, 400, 1000), _runs(4, 600, 900)
    decision = judge_durations("job_duration_avg", MINUS_20, NO_MARGIN, baseline, current, 24, SPEC)
    pooled_now = np.log([d for runs in current.values() for d in runs])
    pooled_before = np.log([d for runs in baseline.values() for d in runs])
    expected = stats.mannwhitneyu(pooled_now, pooled_before, method="asymptotic")
    assert decision.u_statistic == expected.statistic
    assert decision.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    # Durations in whole 100 ms: many ties, which the p-value's variance corrects for.
    rounded = {job: [round(d, -2) for d in runs] for job, runs in current.items()}
    rounded_before = {job: [round(d, -2) for d in runs] for job, runs in baseline.items()}
    tied = judge_durations(
        "job_duration_avg", MINUS_20, NO_MARGIN, rounded_before, rounded, 24, SPEC
    )
    expected = stats.mannwhitneyu(
        np.log([d for runs in rounded.values() for d in runs]),
        np.log([d for runs in rounded_before.values() for d in runs]),
        method="asymptotic",
    )
    assert tied.u_statistic == expected.statistic
    assert tied.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_an_8_percent_improvement_does_not_meet_minus_20_once_the_runs_show_it() -> None:
    baseline, current = _runs(5, 4000, 1000), _runs(6, 4000, 920)
    decision = judge_durations("job_duration_avg", MINUS_20, NO_MARGIN, baseline, current, 72, SPEC)
    assert decision.outcome is Outcome.NOT_MET
    assert decision.interval is not None and decision.interval.low > -20


def test_fewer_runs_than_the_minimum_are_inconclusive_and_say_how_many_are_missing() -> None:
    baseline, current = _runs(7, 400, 1000), _runs(8, 40, 500)
    decision = judge_durations("job_duration_avg", MINUS_20, NO_MARGIN, baseline, current, 2, SPEC)
    assert decision.outcome is Outcome.INCONCLUSIVE
    assert decision.reason == "too few runs: 40 in the phase, 400 in the baseline; at least 50 each"
    wait = time_to_decision(decision, SPEC.min_runs)
    assert wait is not None and wait.more is None and wait.reason.startswith("can't estimate yet")


def test_an_inconclusive_criterion_settles_after_about_the_runs_it_was_said_to_need() -> None:
    generator = np.random.default_rng(9)
    baseline = {"Job": list(generator.lognormal(np.log(1000), 0.35, 3000))}
    pool = list(generator.lognormal(np.log(1000 * 0.74), 0.35, 20000))
    early = {"Job": pool[:60]}  # 60 runs in 2 h
    decision = judge_durations("job_duration_avg", MINUS_20, NO_MARGIN, baseline, early, 2, SPEC)
    assert decision.outcome is Outcome.INCONCLUSIVE
    assert decision.reason == "the interval still straddles the threshold"
    wait = time_to_decision(decision, SPEC.min_runs)
    assert wait is not None and wait.more is not None and wait.hours is not None
    assert wait.hours == pytest.approx(wait.more / 30)  # 30 runs an hour so far
    # An estimate, not a promise: well before it nothing is decided; well after it, met.
    sooner = judge_durations(
        "job_duration_avg",
        MINUS_20,
        NO_MARGIN,
        baseline,
        {"Job": pool[: 60 + wait.more // 4]},
        2,
        SPEC,
    )
    later = judge_durations(
        "job_duration_avg",
        MINUS_20,
        NO_MARGIN,
        baseline,
        {"Job": pool[: 60 + 3 * wait.more]},
        2,
        SPEC,
    )
    assert (sooner.outcome, later.outcome) == (Outcome.INCONCLUSIVE, Outcome.MET)


def test_a_job_slower_than_its_baseline_is_flagged_beside_a_pooled_result() -> None:
    baseline, current = _runs(11, 2000, 1000), _runs(12, 2000, 650)
    generator = np.random.default_rng(13)
    current["Job 0"] = list(generator.lognormal(np.log(1400), 0.35, 500))
    decision = judge_durations("job_duration_avg", MINUS_20, NO_MARGIN, baseline, current, 24, SPEC)
    flagged = [job.job for job in decision.jobs if job.regressed]
    assert flagged == ["Job 0"]
    assert len(decision.jobs) == 4


def _counts(now: float, hours: float, before: float, baseline_hours: float) -> Counts:
    return Counts(now, hours, before, baseline_hours)


def test_an_error_rate_that_fell_meets_no_worse_within_half_the_triggers_threshold() -> None:
    margin = Margin(2.5, False, "half of the trigger")
    decision = judge_proportion(
        "error_rate", Condition.parse("change <= 0%"), margin,
        _counts(40, 72, 300, 24), _counts(17000, 72, 5700, 24), SPEC,
    )  # fmt: skip
    assert decision.outcome is Outcome.MET
    assert decision.threshold == pytest.approx(2.5)


def test_no_failures_on_either_side_is_inconclusive_as_a_ratio_and_met_in_points() -> None:
    starts = _counts(17000, 72, 5700, 24)
    never = _counts(0, 72, 0, 24)
    condition = Condition.parse("change <= 0%")
    ratio = judge_proportion("error_rate", condition, Margin(2.5, False, "t"), never, starts, SPEC)
    assert ratio.outcome is Outcome.INCONCLUSIVE
    points = judge_proportion(
        "error_rate", condition, Margin(0.5, True, "the spec"), never, starts, SPEC
    )
    assert points.outcome is Outcome.MET
    assert points.unit == "pp"


def test_lock_skips_per_hour_are_compared_as_rates_over_windows_of_different_lengths() -> None:
    condition = Condition.parse("change <= -50%")
    # 72 h at 2/h against 24 h at 10/h: -80 % per hour, though the counts are 144 vs 240.
    decision = judge_rate(
        "lock_skips", condition, NO_MARGIN, _counts(144, 72, 240, 24), SPEC, noun="lock skips"
    )
    assert decision.outcome is Outcome.MET
    assert decision.interval is not None
    assert decision.interval.estimate == pytest.approx(-80)
    same = judge_rate(
        "lock_skips", condition, NO_MARGIN, _counts(720, 72, 240, 24), SPEC, noun="lock skips"
    )
    assert same.outcome is Outcome.NOT_MET


def test_a_baseline_too_short_to_settle_it_says_how_much_longer_it_would_need_to_be() -> None:
    generator = np.random.default_rng(21)
    pool_before = list(generator.lognormal(np.log(1000), 0.35, 40000))
    pool_now = list(generator.lognormal(np.log(1000 * 0.76), 0.35, 40000))
    baseline, current = {"Job": pool_before[:135]}, {"Job": pool_now[:3000]}
    decision = judge_durations(
        "job_duration_avg", MINUS_20, NO_MARGIN, baseline, current, 72, SPEC, baseline_hours=24
    )
    assert decision.outcome is Outcome.INCONCLUSIVE
    wait = time_to_decision(decision, SPEC.min_runs)
    assert wait is not None and wait.more is None
    assert wait.reason.startswith("the baseline is too short to settle it at this effect: ")
    more = int(wait.reason.split("≈ ")[1].split(" more runs")[0].replace(",", ""))
    assert f"(~{more * 24 / 135:.0f} h with the stagger off)" in wait.reason
    # Twice that baseline, and a long phase: settled; the phase alone, however long: not.
    longer = {"Job": pool_before[: 135 + 2 * more]}
    settled = judge_durations(
        "job_duration_avg", MINUS_20, NO_MARGIN, longer, {"Job": pool_now}, 72, SPEC
    )
    alone = judge_durations(
        "job_duration_avg", MINUS_20, NO_MARGIN, baseline, {"Job": pool_now}, 72, SPEC
    )
    assert (settled.outcome, alone.outcome) == (Outcome.MET, Outcome.INCONCLUSIVE)
