from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot.core.spec import load_spec
from bot.core.spec_rollout import KpiSpec, TriggerSpec
from bot.core.thresholds import (
    Comparison,
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
        SPEC.kpis,
    )
    assert [(t.name, t.value, t.condition) for t in fired] == [
        ("Concurrent jobs still >3", 4, "> 3")
    ]


def test_conditions_round_trip_and_bad_ones_are_named() -> None:
    assert str(Condition.parse("change<=-30%")) == "change <= -30%"
    assert str(Condition.parse(">  70")) == "> 70"
    with pytest.raises(ValueError, match="'about 40' is not a condition"):
        Condition.parse("about 40")


def test_a_count_is_compared_per_hour_of_each_window() -> None:
    # The lock skips: 1/h for a 24 h baseline, then 2/h for the 6 h measured.
    baseline, baseline_hours, now, hours = 24.0, 24.0, 12.0, 6.0
    measurement = Measurement(
        now, baseline, hours=hours, baseline_hours=baseline_hours, min_events=10
    )
    judgement = judge("lock_skips", SPEC.kpis["lock_skips"], measurement)
    expected = (now / hours - baseline / baseline_hours) / (baseline / baseline_hours) * 100
    assert judgement.change_pct == pytest.approx(expected) == 100.0
    assert judgement.verdict is Verdict.ALERT  # alert at change > 10%
    assert judgement.compared == Comparison(now / hours, baseline / baseline_hours, True, expected)


def test_a_level_is_compared_as_it_is_whatever_the_windows() -> None:
    measurement = Measurement(700.0, 1000.0, baseline_hours=24.0)
    judgement = judge("job_duration_avg", SPEC.kpis["job_duration_avg"], measurement)
    assert (judgement.verdict, judgement.change_pct) == (Verdict.MET, -30.0)


def test_too_few_events_in_the_baseline_are_not_compared_and_fire_nothing() -> None:
    one_to_two = Measurement(2.0, 1.0, hours=1.0, baseline_hours=1.0, min_events=10)
    judgement = judge("lock_skips", SPEC.kpis["lock_skips"], one_to_two)
    assert judgement.verdict is Verdict.TOO_FEW
    assert judgement.verdict.value == "too few events to compare"
    assert judgement.reason == "1 in the baseline window (1h), at least 10 needed"
    assert judgement.change_pct is None
    trigger = TriggerSpec(name="Lock skips up", kpi="lock_skips", condition="change > 10%")
    assert fired_triggers([trigger], {"lock_skips": one_to_two}, SPEC.kpis) == []
    enough = Measurement(2.0, 1.0, hours=1.0, baseline_hours=1.0, min_events=1)
    assert judge("lock_skips", SPEC.kpis["lock_skips"], enough).verdict is Verdict.ALERT
    fired = fired_triggers([trigger], {"lock_skips": enough}, SPEC.kpis)
    assert [t.name for t in fired] == ["Lock skips up"]


def test_the_events_a_count_needs_are_set_per_kpi_with_ten_by_default() -> None:
    assert SPEC.kpis["lock_skips"].min_events == 10
    row = {"label": "Lock Skips", "target": "change <= -80%", "alert": "change > 10%"}
    assert KpiSpec.model_validate({**row, "min_events": 3}).min_events == 3
    with pytest.raises(ValueError, match="min_events"):
        KpiSpec.model_validate({**row, "min_events": -1})


def test_a_count_new_in_the_window_is_compared_and_fires_with_none_in_the_baseline() -> None:
    # Lock skips the stagger causes: none in a day's baseline, then 500 in an hour.
    zero_to_many = Measurement(500.0, 0.0, hours=1.0, baseline_hours=24.0, min_events=10)
    judgement = judge("lock_skips", SPEC.kpis["lock_skips"], zero_to_many)
    assert judgement.verdict is Verdict.ALERT
    assert judgement.change_pct == math.inf
    trigger = TriggerSpec(name="Lock skips up", kpi="lock_skips", condition="change > 10%")
    fired = fired_triggers([trigger], {"lock_skips": zero_to_many}, SPEC.kpis)
    assert [t.name for t in fired] == ["Lock skips up"]
    one_to_two = Measurement(2.0, 1.0, hours=1.0, baseline_hours=1.0, min_events=10)
    assert judge("lock_skips", SPEC.kpis["lock_skips"], one_to_two).verdict is Verdict.TOO_FEW
