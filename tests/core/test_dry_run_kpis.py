"""Dry-run KPIs (`[kpis.<name>] dry_run = true`): judged as usual, but their triggers
never fire and their alerts hold no phase back; the gate still names them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.phase_record import PhaseRecord
from bot.core.phases import GateState, leaving_gates
from bot.core.spec import Spec, load_spec
from bot.core.thresholds import Measurement, Verdict, dry_run_triggers, fired_triggers, judge_all
from tests.support.spec_data import START

SPEC = load_spec(Path("stagger.example.toml"))


def with_dry_run(spec: Spec, *names: str) -> Spec:
    kpis = {
        name: kpi.model_copy(update={"dry_run": True}) if name in names else kpi
        for name, kpi in spec.kpis.items()
    }
    return spec.model_copy(update={"kpis": kpis})


@pytest.mark.parametrize(("dry_run", "fires"), [(False, True), (True, False)])
def test_a_holding_trigger_on_a_dry_run_kpi_does_not_fire_but_is_said_to_hold(
    dry_run: bool, fires: bool
) -> None:
    spec = with_dry_run(SPEC, "pool_util_avg") if dry_run else SPEC
    measurements = {"pool_util_avg": Measurement(75.0), "max_concurrent_jobs": Measurement(4)}
    fired = fired_triggers(spec.rollback_triggers, measurements, spec.kpis)
    would = dry_run_triggers(spec.rollback_triggers, measurements, spec.kpis)
    assert ("Pool utilization stays >70%" in [t.name for t in fired]) is fires
    assert ("Pool utilization stays >70%" in [t.name for t in would]) is not fires
    # The other KPIs' triggers are untouched.
    assert "Concurrent jobs still >3" in [t.name for t in fired]
    assert "Concurrent jobs still >3" not in [t.name for t in would]


def test_a_dry_run_kpi_keeps_its_verdict_and_says_it_is_a_dry_run() -> None:
    spec = with_dry_run(SPEC, "pool_util_avg")
    judgements = {j.kpi: j for j in judge_all(spec.kpis, {"pool_util_avg": Measurement(65.0)})}
    assert judgements["pool_util_avg"].verdict is Verdict.ALERT
    assert judgements["pool_util_avg"].dry_run
    assert not judgements["pool_util_max"].dry_run


@pytest.mark.parametrize(
    ("dry_run", "concurrent", "state", "detail"),
    [
        ((), 1.0, GateState.NOT_MET, "in alert: pool_util_avg"),
        (("pool_util_avg",), 1.0, GateState.MET, "none; dry run: pool_util_avg in alert"),
        (
            ("pool_util_avg",),
            4.0,
            GateState.NOT_MET,
            "in alert: max_concurrent_jobs; dry run: pool_util_avg in alert",
        ),
    ],
)
def test_the_alert_gate_ignores_a_dry_run_kpi_in_alert_and_names_it(
    dry_run: tuple[str, ...], concurrent: float, state: GateState, detail: str
) -> None:
    spec = with_dry_run(SPEC, *dry_run)
    current = PhaseRecord(1, "prod-stagger", "prod", START - timedelta(hours=169))
    measurements = {
        "pool_util_max": Measurement(45.0),
        "pool_util_avg": Measurement(65.0),  # in alert (> 60)
        "max_concurrent_jobs": Measurement(concurrent),
    }
    judgements = judge_all(spec.kpis, measurements)
    gates = leaving_gates(spec, current, START, measurements, judgements, [])
    alert = next(gate for gate in gates if gate.name == "no KPI in alert")
    assert (alert.state, alert.detail) == (state, detail)
