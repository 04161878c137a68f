"""The runbook's ROLLBACK TRIGGERS, evaluated on the alert cadence while a stagger phase
runs: a trigger that starts to fire is announced once, naming its value and threshold,
with a rollback proposed (or run at once under `auto_rollback`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.actions import Actions
from bot.audit import AuditEntry
from bot.blocks import format_value
from bot.breaches import Breaches
from bot.context import BotContext
from bot.kpi_report import measure
from bot.thresholds import FiredTrigger, fired_triggers
from bot.timeline import Timeline

PREFIX = "trigger:"


def run(context: BotContext, now: datetime) -> list[FiredTrigger]:
    """The triggers that started firing in this evaluation."""
    current = Timeline(context.store).current()
    phase = context.spec.phase(current.phase) if current else None
    if current is None or phase is None or not phase.stagger:
        return []
    window = min(timedelta(minutes=context.spec.alerts.window_min), now - current.started_at)
    if window <= timedelta(0):
        return []
    report = measure(context, current.env, window)
    fired = fired_triggers(context.spec.rollback_triggers, report.measurements)
    breaches = Breaches(context.store)
    firing = {trigger.name for trigger in fired}
    for spec_trigger in context.spec.rollback_triggers:
        if spec_trigger.name not in firing:
            breaches.close(current.env, PREFIX + spec_trigger.name, now)
    new = [
        trigger
        for trigger in fired
        if breaches.open(current.env, PREFIX + trigger.name, now, _describe(trigger))
    ]
    if not new:
        return []
    for trigger in new:
        context.record(
            AuditEntry(
                "bot", "scheduler", "trigger.fired", current.env,
                {"trigger": trigger.name, "kpi": trigger.kpi, "value": trigger.value},
                "fired", trigger.condition,
            )
        )  # fmt: skip
    environment = context.spec.environments[current.env]
    reason = "rollback trigger: " + "; ".join(_describe(trigger) for trigger in new)
    context.poster.post(
        context.spec.channel,
        f":rotating_light: *Rollback trigger fired on {current.env}* during {current.phase}:\n"
        + "\n".join(f"• {_describe(trigger)}" for trigger in new)
        + ("\nRolling back now (auto_rollback)." if environment.auto_rollback else ""),
    )
    reply = Actions(context).propose_rollback(current.env, reason, auto=environment.auto_rollback)
    for followup in reply.followups:
        followup()
    return new


def _describe(trigger: FiredTrigger) -> str:
    return (
        f"{trigger.name}: {trigger.kpi} = {format_value(trigger.value)} "
        f"(threshold {trigger.condition})"
    )
