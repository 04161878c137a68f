"""The success declaration: when the last phase has run its minimum duration with no
rollback in the rollout, no rollback trigger fired during it, every checkpoint of it met
the targets, and its success criteria and every KPI target are met now, post the report
and mark the rollout `succeeded`."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.clock import format_time
from bot.core.phase_record import ROLLED_BACK, SUCCEEDED, Entry
from bot.core.phases import Gate, GateState, all_met, criteria_gates, gates_text
from bot.core.thresholds import judged_well
from bot.render.rollout_report import report_table, targets_met
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure_since
from bot.store.audit import AuditEntry
from bot.store.breaches import Breaches
from bot.store.checkpoints import Checkpoint, Checkpoints
from bot.store.timeline import Timeline
from jobs.alert_watch import PREFIX

# The missed checkpoints a gate names; the rest it counts.
LISTED = 6


def _checkpoints_gate(checkpoints: list[Checkpoint], zone: str) -> Gate:
    missed = [c for c in checkpoints if not c.all_met]
    name = "every checkpoint met the targets"
    if missed:
        listed = ", ".join(format_time(c.slot, zone) for c in missed[:LISTED])
        more = f" and {len(missed) - LISTED} more" if len(missed) > LISTED else ""
        return Gate(
            name, GateState.NOT_MET, f"{len(missed)} of {len(checkpoints)} did not: {listed}{more}"
        )
    return Gate(name, GateState.MET, f"{len(checkpoints)} of {len(checkpoints)}")


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
    rolled_back = [record for record in timeline.history() if record.phase == ROLLED_BACK]
    fired = Breaches(context.store).opened_since(current.env, current.started_at, PREFIX)
    gates = [
        Gate(
            "all phases without rollback",
            GateState.NOT_MET if rolled_back else GateState.MET,
            f"rolled back {len(rolled_back)} time(s)" if rolled_back else "none",
        ),
        Gate(
            "no rollback trigger fired",
            GateState.NOT_MET if fired else GateState.MET,
            ", ".join(b.key.removeprefix(PREFIX) for b in fired) or "none",
        ),
        _checkpoints_gate(Checkpoints(context.store).of_phase(current.id), spec.timezone),
        *criteria_gates(last, report.measurements),
        Gate(
            "every KPI target met",
            GateState.MET if targets_met(report) else GateState.NOT_MET,
            ", ".join(j.kpi for j in report.judgements if not judged_well(j.verdict)) or "all met",
        ),
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
