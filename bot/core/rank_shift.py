"""The rank arithmetic of two samples: the Mann-Whitney U statistic, and the order
statistics of the n·m pairwise differences (current − baseline) — the Hodges-Lehmann
shift estimate is their median, its interval two of them — found by selection in
O((n + m) log(n + m)) per step, never by listing the pairs (24 h against 72 h of runs
is ~10⁸ of them). Pure; numpy arrays in, floats out."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Sample = NDArray[np.float64]

# Differences few enough to list and select from directly (memory: 8 bytes each).
_FEW_ENOUGH = 200_000


def rows_at_most(
    baseline: Sample, current: Sample, value: float, strict: bool
) -> NDArray[np.int64]:
    """For each current value y_j, how many differences y_j − x_i are <= `value` (< with
    `strict`): a suffix of the sorted baseline. searchsorted on y_j − value finds it to
    within rounding; the computed differences themselves then settle the edge, so counts
    and the differences selected always agree."""
    n = baseline.size

    def inside(index: NDArray[np.int64]) -> NDArray[np.bool_]:
        differences = current - baseline[np.clip(index, 0, n - 1)]
        return differences < value if strict else differences <= value

    # first[j]: the smallest i with y_j − x_i inside (n when none); y_j − x_i falls as i grows.
    first = np.searchsorted(baseline, current - value, side="right" if strict else "left")
    first = first.astype(np.int64)
    while True:  # move left while the one before is inside too
        step = (first > 0) & inside(first - 1)
        if not step.any():
            break
        first -= step
    while True:  # move right while this one is outside
        step = (first < n) & ~inside(first)
        if not step.any():
            break
        first += step
    return n - first


def pairs_below(baseline: Sample, current: Sample, value: float) -> tuple[int, int]:
    """How many differences current_j − baseline_i are < `value`, and how many <= it.
    `baseline` must be sorted."""
    strictly = rows_at_most(baseline, current, value, strict=True)
    at_most = rows_at_most(baseline, current, value, strict=False)
    return int(strictly.sum()), int(at_most.sum())


def u_statistic(baseline: Sample, current: Sample) -> float:
    """Mann-Whitney U of `current` against `baseline` (sorted): the pairs where the
    current value is larger, ties counting half — scipy's `mannwhitneyu(current,
    baseline).statistic`."""
    below, at_most = pairs_below(baseline, current, 0.0)
    pairs = baseline.size * current.size
    # current > baseline  ⇔  difference > 0: all pairs but those <= 0; ties are the
    # pairs at exactly 0.
    return float(pairs - at_most + (at_most - below) / 2)


def u_p_value(baseline: Sample, current: Sample, u: float) -> float:
    """The two-sided fixed-sample p-value of U (normal approximation with the ties'
    correction and a continuity correction: scipy's `method="asymptotic"`). For reference
    beside a decision, which the confidence sequence makes."""
    n, m = baseline.size, current.size
    total = n + m
    _, ties = np.unique(np.concatenate([baseline, current]), return_counts=True)
    tied = float(((ties.astype(np.float64) ** 3) - ties).sum())
    variance = n * m / 12 * ((total + 1) - tied / (total * (total - 1)))
    if variance <= 0:
        return 1.0
    z = (max(u, n * m - u) - n * m / 2 - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2)))


def kth_difference(
    baseline: Sample, current: Sample, k: int, few_enough: int = _FEW_ENOUGH
) -> float:
    """The k-th smallest (1-based) of the differences current_j − baseline_i, both
    samples sorted: bisection on the value with pair counts until at most `few_enough`
    differences lie in the bracket, which are then listed and selected."""
    pairs = baseline.size * current.size
    if not 1 <= k <= pairs:
        raise ValueError(f"k = {k} is outside 1..{pairs}")
    low = float(current[0] - baseline[-1])
    high = float(current[-1] - baseline[0])
    at_low = rows_at_most(baseline, current, low, strict=False)
    if int(at_low.sum()) >= k:
        return low
    at_high = rows_at_most(baseline, current, high, strict=False)
    # Invariant: fewer than k differences <= low, at least k <= high. Many pairs tied at
    # one value (durations in whole ms, no change at all) would keep a bracket full
    # however it is halved: the differences nearest each end are tried as the answer.
    while int(at_high.sum() - at_low.sum()) > few_enough:
        above = _smallest_above(baseline, current, at_low)
        at_above = rows_at_most(baseline, current, above, strict=False)
        if int(at_above.sum()) >= k:
            return above
        low, at_low = above, at_above
        top = _largest_at_most(baseline, current, at_high)
        if int(rows_at_most(baseline, current, top, strict=True).sum()) < k:
            return top
        middle = low + (high - low) / 2
        if not low < middle < high:
            break  # a range halving can't split: list it, however many
        at_middle = rows_at_most(baseline, current, middle, strict=False)
        if int(at_middle.sum()) >= k:
            high, at_high = middle, at_middle
        else:
            low, at_low = middle, at_middle
    return _select_between(baseline, current, at_low, at_high, k - int(at_low.sum()))


def _smallest_above(baseline: Sample, current: Sample, at_low: NDArray[np.int64]) -> float:
    """The smallest difference above the bracket's low end, whose counts are `at_low`:
    in row j the differences above it are those of x_0 .. x_(n − c − 1), the last least."""
    index = baseline.size - at_low - 1
    valid = index >= 0
    return float((current[valid] - baseline[index[valid]]).min())


def _largest_at_most(baseline: Sample, current: Sample, at_high: NDArray[np.int64]) -> float:
    """The largest difference at or under the bracket's high end (counts `at_high`): in
    row j the first of the suffix x_(n − c) .. x_(n − 1)."""
    index = baseline.size - at_high
    valid = index < baseline.size
    return float((current[valid] - baseline[index[valid]]).max())


def _select_between(
    baseline: Sample,
    current: Sample,
    at_low: NDArray[np.int64],
    at_high: NDArray[np.int64],
    rank: int,
) -> float:
    """The rank-th smallest of the differences in (low, high]: in row j those of baseline
    indices n − at_high[j] .. n − at_low[j] − 1."""
    n = baseline.size
    lengths = at_high - at_low
    rows = np.repeat(np.arange(current.size), lengths)
    starts = np.repeat(n - at_high, lengths)
    offsets = np.arange(rows.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    differences = current[rows] - baseline[starts + offsets]
    return float(np.partition(differences, rank - 1)[rank - 1])


def order_statistics(baseline: Sample, current: Sample, ks: Sequence[int]) -> list[float]:
    """The k-th smallest differences for each k of `ks`: with few pairs (a job's own
    runs), all listed once and partitioned at every k; with many, each selected."""
    pairs = baseline.size * current.size
    if pairs <= _FEW_ENOUGH * 10:
        every = (current[:, None] - baseline[None, :]).ravel()
        parted = np.partition(every, sorted({k - 1 for k in ks}))
        return [float(parted[k - 1]) for k in ks]
    found: dict[int, float] = {}
    for k in sorted(set(ks)):
        if k - 1 in found and _at_most(baseline, current, found[k - 1]) >= k:
            found[k] = found[k - 1]  # the median's two middle ranks: often one tied value
        else:
            found[k] = kth_difference(baseline, current, k)
    return [found[k] for k in ks]


def _at_most(baseline: Sample, current: Sample, value: float) -> int:
    return int(rows_at_most(baseline, current, value, strict=False).sum())


def estimate_and_interval(
    baseline: Sample, current: Sample, z: float
) -> tuple[float, float, float]:
    """The Hodges-Lehmann estimate and the interval at `z`, in one pass over the pairs."""
    n, m = baseline.size, current.size
    pairs, rank = n * m, rank_of_bound(n, m, z)
    middle = [(pairs + 1) // 2] if pairs % 2 else [pairs // 2, pairs // 2 + 1]
    ends = [rank, pairs - rank + 1] if rank >= 1 else []
    found = order_statistics(baseline, current, [*middle, *ends])
    estimate = sum(found[: len(middle)]) / len(middle)
    low, high = found[len(middle) :] if ends else (-math.inf, math.inf)
    return estimate, low, high


def hodges_lehmann(baseline: Sample, current: Sample) -> float:
    """The median of the pairwise differences (as `numpy.median` of them all)."""
    pairs = baseline.size * current.size
    if pairs % 2:
        return kth_difference(baseline, current, (pairs + 1) // 2)
    lower = kth_difference(baseline, current, pairs // 2)
    upper = kth_difference(baseline, current, pairs // 2 + 1)
    return (lower + upper) / 2


def u_sd(n: int, m: int) -> float:
    """U's standard deviation under no shift (no ties' correction: durations rarely tie)."""
    return math.sqrt(n * m * (n + m + 1) / 12)


def rank_of_bound(n: int, m: int, z: float) -> int:
    """C: the interval for the shift is [D_(C), D_(nm − C + 1)] of the ordered
    differences at this z (Lehmann's); 0 when the samples can't bound it at all."""
    return max(0, math.floor(n * m / 2 - z * u_sd(n, m)))


def shift_interval(baseline: Sample, current: Sample, z: float) -> tuple[float, float]:
    """The shift's interval at `z` (a normal quantile, or a confidence sequence's
    boundary): -inf/inf where the samples are too small to bound a side."""
    n, m = baseline.size, current.size
    rank = rank_of_bound(n, m, z)
    if rank < 1:
        return (-math.inf, math.inf)
    return (
        kth_difference(baseline, current, rank),
        kth_difference(baseline, current, n * m - rank + 1),
    )
