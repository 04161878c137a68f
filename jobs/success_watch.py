"""The success declaration: when the last phase has run its minimum duration with no
rollback in the rollout, no rollback trigger fired during it, and its success criteria
and every KPI target are met, post the report and mark the rollout `succeeded`."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.audit import AuditEntry
from bot.breaches import Breaches
from bot.context import BotContext
from bot.kpi_report import measure_since
from bot.phases import Gate, GateState, all_met, criteria_gates, gates_text
from bot.rollout_report import report_table, targets_met
from bot.timeline import ROLLED_BACK, SUCCEEDED, Entry, Timeline
from jobs.trigger_watch import PREFIX


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
        *criteria_gates(last, report.measurements),
        Gate(
            "every KPI target met",
            GateState.MET if targets_met(report) else GateState.NOT_MET,
            ", ".join(j.kpi for j in report.judgements if j.verdict.value != "met") or "all met",
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
