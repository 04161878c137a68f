"""The anytime-valid boundary the judge uses in place of a fixed normal quantile.

A criterion is looked at every checkpoint (48 in 12 days), at every `advance`, `report`
and `kpi`: a 95 % interval checked at each look would, sooner or later, exclude the
truth by chance, and a gate would pass on a lucky hour. Robbins' normal mixture gives a
boundary that holds at every look at once: for a statistic whose information (its
inverse variance, here an effective sample size) is V,

    P(for some look, |Z| > z(V)) <= alpha,
    z(V) = sqrt((1 + rho / V) · ln((V + rho) / (rho · alpha²)))

(Robbins 1970; Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", eq. (14); Waudby-Smith et al. 2021 for its use with
asymptotically normal statistics). `rho` sets where the boundary is tightest: near
V ≈ 9·rho; it is fixed from the spec before any data is seen.
"""

from __future__ import annotations

import math

# z(V) is smallest near V = TIGHTEST_AT · rho (numerically, for alpha 0.01–0.2).
TIGHTEST_AT = 9.0


def rho_for(planned: float) -> float:
    """The mixture's rho for a boundary tightest near `planned` units of information."""
    return max(planned, 1.0) / TIGHTEST_AT


def boundary(information: float, alpha: float, rho: float) -> float:
    """z(V): how many standard errors from the estimate the sequence's bounds lie."""
    if information <= 0:
        return math.inf
    total = information + rho
    return math.sqrt(total / information * math.log(total / (rho * alpha**2)))


def effective_size(n: float, m: float) -> float:
    """A two-sample statistic's information in units of one observation: n·m/(n + m)."""
    return n * m / (n + m) if n + m > 0 else 0.0
