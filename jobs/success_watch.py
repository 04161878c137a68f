"""The success declaration: when the last phase has run its minimum duration with no
rollback in the rollout, no rollback trigger fired during it, every checkpoint of it met
the targets, and its success criteria and every KPI target are met now, post the report
and mark the rollout `succeeded` — only when every host runs the phase. A dry-run KPI's
target holds nothing back.

A relative target the judge can decide (job durations, the error rate, a count: README
"How the bot decides") is judged over the whole phase, as a criterion is; its raw
comparison in each 6 h checkpoint, one of ~28 noisy looks, holds nothing back."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.clock import format_time
from bot.core.criteria import judged_as
from bot.core.kpi_report import KpiReport
from bot.core.phase_record import ROLLED_BACK, SUCCEEDED, Entry, PhaseRecord
from bot.core.phases import Gate, GateState, all_met, gates_text
from bot.core.spec_rollout import CriterionSpec, PhaseSpec
from bot.core.thresholds import Condition, Verdict, judged_well
from bot.render.rollout_report import report_table
from bot.rollout.context import BotContext
from bot.rollout.fleet_gate import fleet_gate
from bot.rollout.judging import judge_phase
from bot.rollout.measuring import measure_since
from bot.store.audit import AuditEntry
from bot.store.breaches import Breaches
from bot.store.checkpoints import Checkpoint, Checkpoints
from bot.store.timeline import Timeline
from jobs.alert_watch import PREFIX

# The missed checkpoints a gate names; the rest it counts.
LISTED = 6


def _judged_targets(context: BotContext) -> dict[str, str]:
    """The KPI table's relative targets that the judge decides: KPI -> condition."""
    return {
        name: kpi.target
        for name, kpi in context.spec.kpis.items()
        if not kpi.dry_run and judged_as(name, Condition.parse(kpi.target)) is not None
    }


def _checkpoints_gate(checkpoints: list[Checkpoint], zone: str, judged: Collection[str]) -> Gate:
    missed = [
        c
        for c in checkpoints
        if not all(judged_well(Verdict(v)) for k, v in c.verdicts.items() if k not in judged)
    ]
    name = "every checkpoint met the targets"
    if missed:
        listed = ", ".join(format_time(c.slot, zone) for c in missed[:LISTED])
        more = f" and {len(missed) - LISTED} more" if len(missed) > LISTED else ""
        return Gate(
            name, GateState.NOT_MET, f"{len(missed)} of {len(checkpoints)} did not: {listed}{more}"
        )
    return Gate(name, GateState.MET, f"{len(checkpoints)} of {len(checkpoints)}")


def _judged_target_gates(
    context: BotContext, last: PhaseSpec, current: PhaseRecord, report: KpiReport,
    targets: dict[str, str],
) -> list[Gate]:  # fmt: skip
    """Each judged target, decided over the phase as a criterion is."""
    as_criteria = last.model_copy(
        update={"success": {kpi: CriterionSpec(condition=t) for kpi, t in targets.items()}}
    )
    return [
        replace(gate, name=f"target {gate.name}")
        for gate in judge_phase(context, as_criteria, current, report).gates
    ]


def _targets_gate(report: KpiReport, judged: Collection[str]) -> Gate:
    """The table's other targets, as measured over the phase."""
    short = [j for j in report.judgements if not judged_well(j.verdict) and j.kpi not in judged]
    missed = ", ".join(j.kpi for j in short if not j.dry_run)
    trial = ", ".join(j.kpi for j in short if j.dry_run)
    return Gate(
        "every KPI target met",
        GateState.NOT_MET if any(not j.dry_run for j in short) else GateState.MET,
        (missed or "all met") + (f"; dry run: {trial} not met" if trial else ""),
    )


def run(context: BotContext, now: datetime) -> bool:
    """True when the rollout was declared a success by this run."""
    spec = context.spec
    timeline = Timeline(context.store)
    current = timeline.current()
    if current is None or not spec.phases or current.phase != spec.phases[-1].name:
        return False
    last = spec.phases[-1]
    if current.elapsed(now) < timedelta(hours=last.min_duration_h):
        return False
    report = measure_since(context, current.env, current.started_at)
    judged = _judged_targets(context)
    rolled_back = [record for record in timeline.history() if record.phase == ROLLED_BACK]
    fired = Breaches(context.store).opened_since(current.env, current.started_at, PREFIX)
    gates = [
        Gate(
            "all phases without rollback",
            GateState.NOT_MET if rolled_back else GateState.MET,
            f"rolled back {len(rolled_back)} time(s): "
            + "; ".join(record.note or record.env for record in rolled_back)
            if rolled_back
            else "none",
        ),
        Gate(
            "no rollback trigger fired",
            GateState.NOT_MET if fired else GateState.MET,
            ", ".join(b.key.removeprefix(PREFIX) for b in fired) or "none",
        ),
        fleet_gate(context, current, context.store.open_requests(current.env)),
        _checkpoints_gate(Checkpoints(context.store).of_phase(current.id), spec.timezone, judged),
        *judge_phase(context, last, current, report).gates,
        _targets_gate(report, judged),
        *_judged_target_gates(context, last, current, report, judged),
    ]
    if not all_met(gates):
        if Breaches(context.store).open(current.env, "success:pending", now, "not yet"):
            context.poster.post(
                spec.channel,
                f":hourglass: *{last.name}* has run its minimum duration, but success "
                f"cannot be declared yet:\n{gates_text(gates)}",
            )
        return False
    timeline.enter(
        Entry(SUCCEEDED, current.env, now, "succeeded", note="success declared"),
        expected_current=current.id,
    )
    Breaches(context.store).close(current.env, "success:pending", now)
    context.record(
        AuditEntry(
            "bot", "scheduler", "rollout.succeeded", current.env,
            {"phase": last.name}, "ok", "all success criteria met",
        )
    )  # fmt: skip
    context.poster.post(
        spec.channel,
        f":tada: *Rollout succeeded.* {last.name} ran "
        f"{current.elapsed(now).days} days on {current.env} with no rollback and every target "
        f"met.\n{gates_text(gates)}\n" + report_table(spec, report),
        broadcast=True,
    )
    return True
