"""Judging a phase's success criteria: the samples of the phase so far and of the env's
baseline window go to the judge (`bot.core.judge`) for each relative criterion on job
durations, the error rate or a count; the others are compared as measured
(`bot.core.phases.criteria_gates`). The gates of every look — a checkpoint, `advance`,
the success declaration, a transition's re-check — come from here, so they all agree.

A count the baseline barely had (fewer than its KPI's `min_events` in either window)
is not judged, as before the judge: a problem that was hardly there can't be shown to
shrink, and holds nothing back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.core.approvals import ApprovalRequest
from bot.core.baseline import Baseline
from bot.core.checks import Check, CheckState
from bot.core.criteria import JudgedAs, judged_as, margin_for
from bot.core.judge import (
    Counts,
    Decision,
    Margin,
    Outcome,
    judge_durations,
    judge_proportion,
    judge_rate,
)
from bot.core.kpi_catalog import MIN_EVENTS
from bot.core.kpi_report import KpiReport, format_value
from bot.core.phase_record import PhaseRecord
from bot.core.phases import criteria_gates, leaving_gates
from bot.core.spec_rollout import CriterionSpec, PhaseSpec
from bot.core.thresholds import Condition, Measurement, Undecided, compare
from bot.core.time_to_decision import time_to_decision
from bot.render.decision_text import decision_detail, job_line, signed
from bot.rollout.context import BotContext
from bot.rollout.samples import duration_samples
from bot.store.baselines import Baselines

_STATE = {
    Outcome.MET: CheckState.MET,
    Outcome.NOT_MET: CheckState.NOT_MET,
    Outcome.INCONCLUSIVE: CheckState.INCONCLUSIVE,
}
_NOUNS = {
    "lock_skips": "lock skips",
    "job_failures": "failures",
    "job_starts": "job starts",
    "job_completions": "completions",
    "slow_queries": "slow queries",
    "collision_warnings": "collision warnings",
    "offset_misses": "offset misses",
    "db_metadata_errors": "metadata errors",
}


@dataclass(frozen=True)
class PhaseJudgement:
    """Each criterion's gate, in the spec's order, and the judge's decisions behind them."""

    gates: tuple[Check, ...]
    decisions: dict[str, Decision]


def judge_phase(
    context: BotContext, phase: PhaseSpec, record: PhaseRecord, report: KpiReport
) -> PhaseJudgement:
    """`report`: the env's KPIs since the phase began (as `measure_since` gives them)."""
    baseline = Baselines(context.store).latest(record.env)
    measured = criteria_gates(phase, report.measurements)
    gates: list[Check] = []
    decisions: dict[str, Decision] = {}
    # A host that could not be read would make a count per hour look smaller and leave
    # its runs out: a judgement on the rest is no judgement of the fleet.
    unread = [host.host for host in report.hosts if host.error]
    for (kpi, criterion), raw in zip(phase.success.items(), measured, strict=True):
        decision = _decide(context, kpi, criterion, record, report, baseline)
        dry_run = criterion.dry_run or _kpi_dry_run(context, kpi)
        if decision is None or isinstance(decision, Check):
            shown = decision or raw
            gates.append(_dry(shown) if dry_run else shown)
            continue
        if unread:
            decision = replace(
                decision, outcome=Outcome.INCONCLUSIVE, growth=None,
                reason=f"not decided on part of the fleet: {', '.join(unread)} could not be read",
            )  # fmt: skip
        decisions[kpi] = decision
        gate = _gate(context, kpi, criterion, decision, report.measurements.get(kpi))
        gates.append(_dry(gate) if dry_run else gate)
    return PhaseJudgement(tuple(gates), decisions)


def _kpi_dry_run(context: BotContext, kpi: str) -> bool:
    spec = context.spec.kpis.get(kpi)
    return bool(spec and spec.dry_run)


def _dry(gate: Check) -> Check:
    """A dry-run criterion is shown with what it would say, and holds nothing back."""
    return Check(
        f"{gate.name} (dry run)", CheckState.DRY_RUN, f"would be {gate.state.value}: {gate.detail}"
    )


def _gate(
    context: BotContext,
    kpi: str,
    criterion: CriterionSpec,
    decision: Decision,
    measurement: Measurement | None,
) -> Check:
    wait = time_to_decision(decision, context.spec.judge.min_runs)
    detail = decision_detail(decision, wait, _plain(context, kpi, measurement))
    # Each job beside the pooled result that gates; a slower one flagged.
    jobs = [f"\n      • {job_line(job, decision.unit, decision.level)}" for job in decision.jobs]
    return Check(f"{kpi} {criterion.condition}", _STATE[decision.outcome], detail + "".join(jobs))


def _plain(context: BotContext, kpi: str, measurement: Measurement | None) -> str:
    """The plain average the runbook's table keeps, beside a duration's ratio of medians."""
    if kpi != "job_duration_avg" or measurement is None or measurement.value is None:
        return ""
    unit = context.spec.kpis[kpi].unit if kpi in context.spec.kpis else ""
    if measurement.baseline is None:
        return f"plain average {format_value(measurement.value, unit)}"
    compared = compare(measurement)
    change = "" if isinstance(compared, Undecided) else f" ({signed(compared.change_pct)})"
    return (
        f"plain average {format_value(measurement.value, unit)} vs "
        f"{format_value(measurement.baseline, unit)}{change}"
    )


def _decide(
    context: BotContext,
    kpi: str,
    criterion: CriterionSpec,
    record: PhaseRecord,
    report: KpiReport,
    baseline: Baseline | None,
) -> Decision | Check | None:
    """The judge's decision, or None where the criterion is compared as measured (or
    can't be judged yet: no baseline, a KPI unavailable — the measured gate says why)."""
    condition = Condition.parse(criterion.condition)
    judged = judged_as(kpi, condition)
    if judged is None or baseline is None:
        return None
    spec = context.spec
    margin = margin_for(kpi, criterion, spec.rollback_triggers, spec.kpis) or Margin(
        0.0, False, "none"
    )
    dry_run = criterion.dry_run or _kpi_dry_run(context, kpi)
    if judged is JudgedAs.DURATIONS:
        now = duration_samples(context, record.env, record.started_at, report.end)
        before = duration_samples(context, record.env, baseline.window_start, baseline.window_end)
        if now.error:
            # The phase's latest runs can't be read: never judged on a stale part of it;
            # the measured gate says why the KPI is unavailable.
            return None
        hours = (report.end - record.started_at).total_seconds() / 3600
        baseline_hours = (baseline.window_end - baseline.window_start).total_seconds() / 3600
        return judge_durations(
            kpi, condition, margin, before.by_job, now.by_job, hours, spec.judge,
            dry_run=dry_run, baseline_hours=baseline_hours,
        )  # fmt: skip
    measurements = report.measurements
    if judged is JudgedAs.PROPORTION:
        failures = _counts(measurements.get("job_failures"))
        starts = _counts(measurements.get("job_starts"))
        if failures is None or starts is None:
            return None
        least = _min_events(context, kpi)
        if max(failures.events, failures.baseline_events) < least:
            # As for a count: a failure rate that was hardly there can't be shown to grow.
            return Check(
                f"{kpi} {criterion.condition}", CheckState.NOT_JUDGED,
                f"too few failures to compare: {failures.events:g} in the phase, "
                f"{failures.baseline_events:g} in the baseline; at least {least} in either",
            )  # fmt: skip
        return judge_proportion(
            kpi, condition, margin, failures, starts, spec.judge, dry_run=dry_run
        )
    measurement = measurements.get(kpi)
    counts = _counts(measurement)
    if counts is None or measurement is None:
        return None
    compared = compare(measurement)
    if isinstance(compared, Undecided):
        return None  # too few events in either window: not judged, as the gate says
    return judge_rate(
        kpi, condition, margin, counts, spec.judge, noun=_NOUNS.get(kpi, kpi), dry_run=dry_run
    )


def _min_events(context: BotContext, kpi: str) -> int:
    spec = context.spec.kpis.get(kpi)
    return spec.min_events if spec else MIN_EVENTS


def _counts(measurement: Measurement | None) -> Counts | None:
    if measurement is None or measurement.value is None or measurement.baseline is None:
        return None
    if not measurement.hours or not measurement.baseline_hours:
        return None
    return Counts(
        measurement.value, measurement.hours, measurement.baseline, measurement.baseline_hours
    )


def phase_gates(
    context: BotContext,
    current: PhaseRecord,
    report: KpiReport,
    open_requests: Sequence[ApprovalRequest],
) -> list[Check]:
    """Every gate on leaving `current`, its success criteria as the judge decides them."""
    phase = context.spec.phase(current.phase)
    criteria = judge_phase(context, phase, current, report).gates if phase else None
    return leaving_gates(
        context.spec, current, context.clock.now(), report.measurements,
        report.judgements, open_requests, criteria,
    )  # fmt: skip
