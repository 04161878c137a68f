"""The rank arithmetic against scipy and against every pairwise difference listed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from bot.core import rank_shift

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def _all_differences(baseline: np.ndarray, current: np.ndarray) -> np.ndarray:
    return np.sort((current[:, None] - baseline[None, :]).ravel())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_u_statistic_is_scipys_on_fixed_samples_with_and_without_ties(seed: int) -> None:
    generator = np.random.default_rng(seed)
    baseline = np.sort(generator.lognormal(7.0, 0.4, 300))
    current = generator.lognormal(6.8, 0.4, 450)
    rounded = np.round(current, -2)  # durations to 100 ms: many ties
    for sample in (current, rounded):
        expected = stats.mannwhitneyu(
            sample, np.round(baseline, -2) if sample is rounded else baseline
        )
        ours = rank_shift.u_statistic(
            np.sort(np.round(baseline, -2)) if sample is rounded else baseline, sample
        )
        assert ours == expected.statistic


@settings(max_examples=300, deadline=None)
@given(
    st.lists(finite | st.integers(0, 5).map(float), min_size=1, max_size=25),
    st.lists(finite | st.integers(0, 5).map(float), min_size=1, max_size=25),
    st.data(),
)
def test_the_kth_difference_is_the_kth_of_all_pairs_listed(
    baseline_values: list[float], current_values: list[float], data: st.DataObject
) -> None:
    baseline = np.sort(np.asarray(baseline_values))
    current = np.sort(np.asarray(current_values))
    every = _all_differences(baseline, current)
    k = data.draw(st.integers(min_value=1, max_value=every.size))
    assert rank_shift.kth_difference(baseline, current, k) == every[k - 1]
    # The search itself (the brackets' halving and the ends tried), not only the listing
    # that small samples go to at once.
    assert rank_shift.kth_difference(baseline, current, k, few_enough=1) == every[k - 1]


@pytest.mark.parametrize(("n", "m"), [(7, 9), (30, 41), (60, 60)])
def test_the_hodges_lehmann_estimate_and_interval_equal_the_brute_force_ones(
    n: int, m: int
) -> None:
    generator = np.random.default_rng(n * m)
    baseline = np.sort(np.log(generator.lognormal(7.0, 0.5, n)))
    current = np.sort(np.log(generator.lognormal(6.8, 0.5, m)))
    every = _all_differences(baseline, current)
    assert rank_shift.hodges_lehmann(baseline, current) == pytest.approx(
        float(np.median(every)), abs=0
    )
    z = 1.959964
    rank = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))
    low, high = rank_shift.shift_interval(baseline, current, z)
    assert (low, high) == (every[rank - 1], every[n * m - rank])


def test_samples_too_small_to_bound_the_shift_give_an_unbounded_interval() -> None:
    baseline, current = np.array([1.0, 2.0]), np.array([1.5])
    assert rank_shift.shift_interval(baseline, current, 3.0) == (-math.inf, math.inf)


def test_a_day_against_three_days_of_runs_is_found_without_listing_the_pairs() -> None:
    # ~10⁸ pairs: listing them would take gigabytes; selection needs the samples alone.
    generator = np.random.default_rng(7)
    baseline = np.sort(np.log(generator.lognormal(7.0, 0.4, 17_000)))
    current = np.sort(np.log(generator.lognormal(7.0, 0.4, 6_000)) + math.log(0.8))
    estimate = rank_shift.hodges_lehmann(baseline, current)
    assert math.expm1(estimate) == pytest.approx(-0.2, abs=0.01)
    below, at_most = rank_shift.pairs_below(baseline, current, estimate)
    pairs = baseline.size * current.size
    assert below <= pairs / 2 <= at_most


def test_runs_in_whole_milliseconds_with_no_change_are_selected_exactly_and_at_once() -> None:
    # 1–5 ms jobs: five distinct values, so millions of pairs tie at each difference,
    # most at exactly 0. Halving a bracket full of ties never empties it.
    generator = np.random.default_rng(5)
    baseline = np.sort(np.log(generator.integers(1, 6, 3000).astype(float)))
    current = np.sort(np.log(generator.integers(1, 6, 2000).astype(float)))
    every = _all_differences(baseline, current)
    assert rank_shift.hodges_lehmann(baseline, current) == float(np.median(every))
    rank = rank_shift.rank_of_bound(3000, 2000, 3.0)
    assert rank_shift.shift_interval(baseline, current, 3.0) == (
        every[rank - 1], every[3000 * 2000 - rank],
    )  # fmt: skip
    # A day against three days of them: ~2·10⁸ pairs, about 4·10⁷ tied at 0.
    big_baseline = np.sort(np.log(generator.integers(1, 6, 24_000).astype(float)))
    big_current = np.sort(np.log(generator.integers(1, 6, 8_000).astype(float)))
    assert rank_shift.hodges_lehmann(big_baseline, big_current) == 0.0


@pytest.mark.parametrize(("n", "m"), [(40, 61), (900, 2500), (3000, 2100)])
def test_one_pass_estimate_and_interval_equal_those_selected_one_by_one(n: int, m: int) -> None:
    # Few pairs are listed once; many (3000 × 2100) are selected: both agree with the
    # estimate and interval found order statistic by order statistic.
    generator = np.random.default_rng(n + m)
    baseline = np.sort(np.log(generator.lognormal(7.0, 0.5, n)))
    current = np.sort(np.log(generator.lognormal(6.9, 0.5, m)))
    assert rank_shift.estimate_and_interval(baseline, current, 3.1) == (
        rank_shift.hodges_lehmann(baseline, current),
        *rank_shift.shift_interval(baseline, current, 3.1),
    )
