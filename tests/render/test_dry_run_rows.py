"""A dry-run KPI's row, wherever the KPI table is shown: its value and verdict as usual,
marked "(dry run)"; in the JSON, `"dry_run": true`. It never holds the targets back."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.kpi_report import KpiReport
from bot.core.spec import Spec, load_spec
from bot.core.thresholds import Measurement, judge_all
from bot.render.blocks import kpi_table_text
from bot.render.checkpoint_text import checkpoint_text
from bot.render.kpi_json import report_json
from bot.render.rollout_report import report_table, targets_met
from tests.support.spec_data import START

SPEC = load_spec(Path("stagger.example.toml"))
MEASURED = {
    "pool_util_avg": Measurement(65.0),  # in alert (> 60)
    "pool_util_max": Measurement(45.0),  # not met (< 50 wanted)
    **{name: Measurement(0.0) for name in ("job_starts", "job_completions", "job_failures")},
    "slow_queries": Measurement(0.0),
}


def with_dry_run(*names: str) -> Spec:
    kpis = {
        name: kpi.model_copy(update={"dry_run": True}) if name in names else kpi
        for name, kpi in SPEC.kpis.items()
    }
    return SPEC.model_copy(update={"kpis": kpis})


def report_of(spec: Spec, measured: dict[str, Measurement] = MEASURED) -> KpiReport:
    judgements = tuple(judge_all(spec.kpis, measured))
    return KpiReport("prod", START - timedelta(hours=1), START, (), measured, judgements)


def row(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(label))


def test_the_kpi_command_marks_the_dry_run_row_and_keeps_its_value_and_verdict() -> None:
    spec = with_dry_run("pool_util_avg")
    text = kpi_table_text(report_of(spec), spec)
    pool = row(text, "Pool Utilization (Avg)")
    assert "65%" in pool and pool.endswith("alert (dry run)")
    assert "(dry run)" not in row(text, "Pool Utilization (Max)")


def test_the_checkpoint_marks_the_dry_run_row() -> None:
    spec = with_dry_run("pool_util_avg")
    text = checkpoint_text(spec, report_of(spec), None, "prod-stagger")
    pool = row(text, "Pool Utilization (Avg)")
    assert "65%" in pool and "🔴 ALERT" in pool and pool.endswith("(dry run)")
    assert "(dry run)" not in row(text, "Pool Utilization (Max)")


def test_the_success_report_marks_the_dry_run_row() -> None:
    spec = with_dry_run("pool_util_avg")
    text = report_table(spec, report_of(spec))
    pool = row(text, "Pool Utilization (Avg)")
    assert "65%" in pool and "ALERT (dry run)" in pool
    assert "(dry run)" not in row(text, "Pool Utilization (Max)")


def test_the_json_says_which_kpi_is_a_dry_run() -> None:
    spec = with_dry_run("pool_util_avg")
    kpis = json.loads(report_json(report_of(spec)))["kpis"]
    assert kpis["pool_util_avg"] == {"value": 65.0, "verdict": "alert", "dry_run": True}
    assert "dry_run" not in kpis["pool_util_max"]


@pytest.mark.parametrize(("dry_run", "met"), [((), False), (("pool_util_avg",), True)])
def test_a_dry_run_kpi_short_of_its_target_holds_no_target_back(
    dry_run: tuple[str, ...], met: bool
) -> None:
    every_other_met = {
        name: Measurement(0.0)
        for name in ("max_concurrent_jobs", "offset_misses", "collision_warnings")
    }
    measured = {
        **every_other_met,
        "db_metadata_errors": Measurement(0.0),
        "pool_util_max": Measurement(30.0),
        "pool_util_avg": Measurement(65.0),
        "job_duration_avg": Measurement(500.0, baseline=1000.0),
        "error_rate": Measurement(1.0, baseline=1.0),
        "lock_skips": Measurement(20.0, baseline=100.0, hours=1.0, baseline_hours=1.0),
    }
    spec = with_dry_run(*dry_run)
    assert targets_met(report_of(spec, measured)) is met
