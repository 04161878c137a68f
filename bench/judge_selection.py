"""The judge's Hodges-Lehmann selection against listing every pairwise difference.

    python3 -m bench.judge_selection [RUNS]

The estimate and interval of `bot.core.rank_shift` (selection by pair counts, never
listing the n·m differences) against the brute force — every difference listed, then
`numpy.partition` for the median and both interval ends — on 2,000 × 6,000 runs
(12·10⁶ pairs, ~100 MB listed). Goal: half the brute force's time (ratio below 1.0
meets it) where listing still fits in memory; the gap grows with n·m. Also timed: the
whole `judge_durations`, pooled and per job, on a day against three days of runs
(8,000 × 24,000: ~2·10⁸ pairs, 1.5 GB if listed).
"""

from __future__ import annotations

import math
import sys

import numpy as np

from bench.harness import MACHINE_NOTE, median, print_table, timed, verdict
from bot.core import rank_shift
from bot.core.judge import Margin, judge_durations
from bot.core.spec_rollout import JudgeSpec
from bot.core.thresholds import Condition

GOAL_SHARE = 0.5
JOBS = 8
Z = 3.0


def samples(seed: int, runs: int, median_ms: float) -> dict[str, list[float]]:
    generator = np.random.default_rng(seed)
    return {
        f"Job {job}": list(generator.lognormal(np.log(median_ms * (1 + job)), 0.35, runs // JOBS))
        for job in range(JOBS)
    }


def selected(baseline: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    return rank_shift.estimate_and_interval(baseline, current, Z)


def listed(baseline: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    n, m = baseline.size, current.size
    differences = (current[:, None] - baseline[None, :]).ravel()
    rank = rank_shift.rank_of_bound(n, m, Z)
    middle = differences.size // 2
    parted = np.partition(differences, [rank - 1, middle - 1, middle, n * m - rank])
    estimate = (parted[middle - 1] + parted[middle]) / 2
    return float(estimate), float(parted[rank - 1]), float(parted[n * m - rank])


def main(runs: int = 5) -> None:
    generator = np.random.default_rng(3)
    baseline = np.sort(generator.normal(7.0, 0.4, 2_000))
    current = np.sort(generator.normal(7.0 + math.log(0.8), 0.4, 6_000))
    assert np.allclose(selected(baseline, current), listed(baseline, current))
    selection_s = [timed(lambda: selected(baseline, current))[0] for _ in range(runs)]
    brute_s = [timed(lambda: listed(baseline, current))[0] for _ in range(runs)]
    ratio = median(selection_s) / (median(brute_s) * GOAL_SHARE)
    day, days = samples(1, 8_000, 1000), samples(2, 24_000, 780)
    condition, margin = Condition.parse("change <= -20%"), Margin(0.0, False, "none needed")
    judge_s = [
        timed(lambda: judge_durations(
            "job_duration_avg", condition, margin, day, days, 72, JudgeSpec()
        ))[0]
        for _ in range(runs)
    ]  # fmt: skip
    print_table(
        f"Hodges-Lehmann estimate and interval, 2,000 × 6,000 runs ({runs} runs each)",
        ("measure", "seconds", "ratio to goal", "verdict"),
        [
            ("selection (rank_shift), median", median(selection_s), ratio, verdict(ratio)),
            ("every difference listed, median", median(brute_s), "", ""),
            ("judge_durations 8,000 × 24,000, median", median(judge_s), "", ""),
        ],
    )
    print(MACHINE_NOTE)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
