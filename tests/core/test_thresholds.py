from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot.core.spec import load_spec
from bot.core.thresholds import (
    Condition,
    Measurement,
    Verdict,
    change_pct,
    fired_triggers,
    judge,
    judge_all,
)

SPEC = load_spec(Path("stagger.example.toml"))


@pytest.mark.parametrize(
    ("kpi", "value", "baseline", "verdict"),
    [
        ("pool_util_avg", 35.0, None, Verdict.MET),  # target < 40
        ("pool_util_avg", 40.0, None, Verdict.NOT_MET),  # not < 40, not > 60
        ("pool_util_avg", 60.0, None, Verdict.NOT_MET),
        ("pool_util_avg", 60.1, None, Verdict.ALERT),
        ("pool_util_max", 70.0, None, Verdict.NOT_MET),
        ("pool_util_max", 95.0, None, Verdict.ALERT),
        ("max_concurrent_jobs", 1, None, Verdict.MET),
        ("max_concurrent_jobs", 3, None, Verdict.NOT_MET),
        ("max_concurrent_jobs", 4, None, Verdict.ALERT),
        ("job_duration_avg", 700.0, 1000.0, Verdict.MET),  # -30%
        ("job_duration_avg", 800.0, 1000.0, Verdict.NOT_MET),  # -20%
        ("job_duration_avg", 1000.0, 1000.0, Verdict.ALERT),  # no improvement
        ("lock_skips", 20, 100, Verdict.MET),  # -80%
        ("lock_skips", 111, 100, Verdict.ALERT),  # +11%
        ("error_rate", 1.0, 1.0, Verdict.MET),
        ("error_rate", 1.06, 1.0, Verdict.ALERT),  # +6%
    ],
)
def test_the_runbooks_table_is_applied_exactly(
    kpi: str, value: float, baseline: float | None, verdict: Verdict
) -> None:
    assert judge(kpi, SPEC.kpis[kpi], Measurement(value, baseline)).verdict is verdict


def test_a_missing_value_is_unavailable_with_its_reason_never_met() -> None:
    judgement = judge(
        "pool_util_avg", SPEC.kpis["pool_util_avg"], Measurement(None, reason="host down")
    )
    assert (judgement.verdict, judgement.reason) == (Verdict.UNAVAILABLE, "host down")


def test_a_relative_target_without_a_baseline_is_unavailable() -> None:
    judgement = judge("lock_skips", SPEC.kpis["lock_skips"], Measurement(10))
    assert (judgement.verdict, judgement.reason) == (Verdict.UNAVAILABLE, "no baseline captured")


def test_any_rise_from_a_zero_baseline_is_an_infinite_change() -> None:
    assert change_pct(0.5, 0) == math.inf and change_pct(0, 0) == 0.0
    assert (
        judge("error_rate", SPEC.kpis["error_rate"], Measurement(0.5, 0)).verdict is Verdict.ALERT
    )


def test_unmeasured_kpis_are_listed_as_unavailable() -> None:
    judgements = judge_all(SPEC.kpis, {"pool_util_avg": Measurement(30)})
    verdicts = {judgement.kpi: judgement.verdict for judgement in judgements}
    assert verdicts["pool_util_avg"] is Verdict.MET
    assert verdicts["collision_warnings"] is Verdict.UNAVAILABLE
    assert len(judgements) == len(SPEC.kpis)


def test_triggers_fire_with_value_and_condition_and_undecided_ones_stay_quiet() -> None:
    fired = fired_triggers(
        SPEC.rollback_triggers,
        {
            "max_concurrent_jobs": Measurement(4),
            "collision_warnings": Measurement(0),
            "error_rate": Measurement(2.0),  # no baseline: cannot decide, does not fire
            "pool_util_avg": Measurement(None, reason="db down"),
        },
    )
    assert [(t.name, t.value, t.condition) for t in fired] == [
        ("Concurrent jobs still >3", 4, "> 3")
    ]


def test_conditions_round_trip_and_bad_ones_are_named() -> None:
    assert str(Condition.parse("change<=-30%")) == "change <= -30%"
    assert str(Condition.parse(">  70")) == "> 70"
    with pytest.raises(ValueError, match="'about 40' is not a condition"):
        Condition.parse("about 40")
