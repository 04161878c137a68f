"""The judge's outcome as people read it in a gate and a checkpoint."""

from __future__ import annotations

import math

from bot.core.judge import Decision, Interval, JobResult, Margin, Outcome
from bot.core.time_to_decision import ToDecide
from bot.render.decision_text import decision_detail, decision_line, job_line, signed, wait_line


def _duration(outcome: Outcome, interval: Interval | None) -> Decision:
    return Decision(
        "job_duration_avg", "change <= -20%", outcome, "job duration (ratio of medians)", "%",
        -20.0, interval, 812, 790, "runs", margin=Margin(0.0, False, "none needed"),
    )  # fmt: skip


def test_a_met_criterion_reads_with_its_estimate_interval_and_sizes() -> None:
    decision = _duration(Outcome.MET, Interval(-27.2, -33.4, -21.1))
    assert decision_line(decision) == (
        "job duration −27 % (95 % CI −33 % … −21 %, n = 812 vs 790): met"
    )


def test_the_time_to_decide_reads_as_runs_and_hours_or_says_why_not() -> None:
    decision = _duration(Outcome.INCONCLUSIVE, Interval(-22.0, -30.0, -14.0))
    assert wait_line(decision, ToDecide(140, 9.2, "runs")) == (
        "≈ 140 more runs (~9 h) to settle job duration −20 %"
    )
    assert wait_line(
        decision, ToDecide(None, None, "runs", "can't estimate yet: fewer than 50 runs")
    ) == ("job duration −20 %: can't estimate yet: fewer than 50 runs")


def test_an_unbounded_side_and_a_small_change_are_written_plainly() -> None:
    assert (signed(-math.inf), signed(math.inf), signed(4.54), signed(-9.96)) == (
        "−∞", "+∞", "+4.5 %", "−10 %",
    )  # fmt: skip
    assert signed(0.5, "pp") == "+0.5 pp"


def test_a_job_slower_than_its_baseline_is_flagged_and_a_thin_one_says_so() -> None:
    slow = JobResult("Live Stats Sync", 700, 2200, Interval(14.0, 6.0, 23.0), True)
    assert job_line(slow, "%", 0.95) == (
        "Live Stats Sync +14 % (95 % CI +6.0 % … +23 %, n = 700 vs 2,200) "
        ":warning: slower than its baseline"
    )
    thin = JobResult("Telegram Settlement", 4, 40, None, False)
    assert job_line(thin, "%", 0.95) == (
        "Telegram Settlement: too few runs to judge alone (n = 4 vs 40)"
    )


def test_a_gates_detail_names_the_method_the_plain_average_and_the_margin() -> None:
    decision = Decision(
        "error_rate", "change <= 0%", Outcome.MET, "error rate (risk ratio)", "%", 2.5,
        Interval(-60.0, -80.0, -30.0), 5000, 4000, "runs",
        margin=Margin(2.5, False, "half of the trigger 'Job error rate increases by >5%'"),
    )  # fmt: skip
    assert decision_detail(decision, None) == (
        "error rate −60 % (95 % CI −80 % … −30 %, n = 5,000 vs 4,000): met (risk ratio); "
        "held against +2.5 % (half of the trigger 'Job error rate increases by >5%')"
    )
