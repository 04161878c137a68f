"""The rollout state machine and its gates, as pure functions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.approvals import ApprovalRequest
from bot.core.phase_record import ROLLED_BACK, SUCCEEDED, PhaseRecord
from bot.core.phases import (
    GateState,
    all_met,
    criteria_gates,
    duration_gate,
    leaving_gates,
    next_phase,
    order_problem,
)
from bot.core.spec import Spec, load_spec
from bot.core.thresholds import Measurement, judge_all
from tests.support.spec_data import OPERATOR, START


@pytest.fixture
def spec() -> Spec:
    return load_spec(Path("stagger.example.toml"))


def record(phase: str, env: str = "staging", hours_ago: float = 0) -> PhaseRecord:
    return PhaseRecord(1, phase, env, START - timedelta(hours=hours_ago))


def test_phases_run_in_the_spec_order_and_stop_after_rollback_or_success(spec: Spec) -> None:
    names = [None, "staging-baseline", "staging-stagger", "prod-baseline", "prod-stagger"]
    following = [
        getattr(next_phase(spec, record(name) if name else None), "name", None) for name in names
    ]
    assert following == [
        "staging-baseline",
        "staging-stagger",
        "prod-baseline",
        "prod-stagger",
        None,
    ]
    assert next_phase(spec, record(ROLLED_BACK)) is None
    assert next_phase(spec, record(SUCCEEDED)) is None


def test_out_of_order_moves_are_named(spec: Spec) -> None:
    prod_stagger = spec.phase("prod-stagger")
    assert prod_stagger is not None
    assert order_problem(spec, record("staging-baseline"), prod_stagger) == (
        "the next phase is staging-stagger, not prod-stagger"
    )
    assert order_problem(spec, record("prod-baseline", "prod"), prod_stagger) is None
    assert "rolled back" in (order_problem(spec, record(ROLLED_BACK), prod_stagger) or "")
    assert "succeeded" in (order_problem(spec, record(SUCCEEDED), prod_stagger) or "")


def test_the_minimum_duration_gate_says_how_long_is_left(spec: Spec) -> None:
    phase = spec.phase("staging-stagger")
    assert phase is not None
    gate = duration_gate(phase, record("staging-stagger", hours_ago=70), START)
    assert gate.state is GateState.NOT_MET and gate.detail == "ran 2d 22h, 2h to go"
    assert duration_gate(phase, record("staging-stagger", hours_ago=72), START).state is (
        GateState.MET
    )


def test_a_phase_past_its_maximum_says_so(spec: Spec) -> None:
    phase = spec.phase("prod-baseline")
    assert phase is not None
    gate = duration_gate(phase, record("prod-baseline", "prod", hours_ago=13), START)
    assert gate.state is GateState.MET and "past its 12h maximum" in gate.detail


def test_a_relative_criterion_without_a_baseline_is_unknown_never_met(spec: Spec) -> None:
    phase = spec.phase("staging-stagger")
    assert phase is not None
    gates = criteria_gates(
        phase,
        {
            "pool_util_max": Measurement(35.0),
            "lock_skips": Measurement(4.0),
            "max_concurrent_jobs": Measurement(3.0),
            "error_rate": Measurement(0.5, baseline=0.5),
        },
    )
    states = {gate.name: (gate.state, gate.detail) for gate in gates}
    assert states["pool_util_max < 50"] == (GateState.MET, "now 35")
    assert states["lock_skips change <= -50%"] == (GateState.UNKNOWN, "no baseline captured")
    assert states["max_concurrent_jobs <= 2"] == (GateState.NOT_MET, "now 3")
    assert states["error_rate change <= 0%"] == (GateState.MET, "now 0.5 (baseline 0.5)")
    assert states["job_duration_avg change <= -20%"][0] is GateState.UNKNOWN


def test_leaving_needs_every_gate_met_including_no_alert_and_nothing_in_flight(
    spec: Spec,
) -> None:
    current = record("prod-stagger", "prod", hours_ago=169)
    measurements = {
        "pool_util_max": Measurement(45.0),
        "pool_util_avg": Measurement(65.0),
        "job_duration_avg": Measurement(600.0, baseline=1000.0),
        "error_rate": Measurement(1.0, baseline=1.0),
    }
    judgements = judge_all(spec.kpis, measurements)
    gates = leaving_gates(spec, current, START, measurements, judgements, [])
    names = [gate.name for gate in gates]
    assert names[0] == "minimum duration (7d)" and names[-1] == "nothing else in flight"
    # pool_util_avg 65% is in alert (> 60): the alert gate holds the phase.
    alert = next(gate for gate in gates if gate.name == "no KPI in alert")
    assert alert.state is GateState.NOT_MET and "pool_util_avg" in alert.detail
    assert not all_met(gates)


def test_a_baseline_phase_is_not_held_by_the_stagger_alerts(spec: Spec) -> None:
    current = record("staging-baseline", hours_ago=25)
    calm = {"job_starts": Measurement(100.0), "pool_util_max": Measurement(91.0)}
    pending = ApprovalRequest("RAAAAA", "rollback", "staging", {}, OPERATOR, "", START, START, 1)
    gates = leaving_gates(spec, current, START, calm, judge_all(spec.kpis, calm), [pending])
    assert [gate.name for gate in gates if gate.state is not GateState.MET] == [
        "nothing else in flight"
    ]
    assert leaving_gates(spec, current, START, calm, judge_all(spec.kpis, calm), []) and all_met(
        leaving_gates(spec, current, START, calm, judge_all(spec.kpis, calm), [])
    )


def test_before_the_first_phase_only_the_in_flight_gate_applies(spec: Spec) -> None:
    gates = leaving_gates(spec, None, START, {}, [], [])
    assert [gate.name for gate in gates] == ["nothing else in flight"] and all_met(gates)
