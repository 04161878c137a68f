"""The alert cadence while a stagger phase runs: KPI alert thresholds, unavailable KPIs,
and the runbook's ROLLBACK TRIGGERS, from one measurement of the last `window_min`.

Each condition is a breach in the store, so it is announced once, even across a
restart: a KPI in alert is posted with its buttons (Acknowledge, Snooze 1h, Request
rollback), recalled at most every `remind_every_min` while it lasts and nobody has
acknowledged it, and answered `resolved` when it clears. Everything a phase's alerts say
goes in the phase's thread (`bot.rollout.alert_post`); a breach's first post is also
broadcast to the channel, reminders and resolved notices are not;
a KPI unavailable for `unavailable_grace_min` is an alert itself (the bot never goes
quiet because its data went away); a trigger that starts firing proposes a rollback
(or runs one, under `auto_rollback`). Silences mute alert posts, never triggers.

A dry-run KPI alerts nothing and its triggers fire nothing: what it would have alerted or
fired is a breach of its own (`dry-run:` before the key), said once in a quiet note.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.clock import format_time
from bot.core.kpi_catalog import DB_KPI_NAMES, DURATION_KPI_NAMES
from bot.core.kpi_report import KpiReport, format_value, window_text
from bot.core.phase_record import PhaseRecord
from bot.core.thresholds import (
    FiredTrigger,
    Judgement,
    Verdict,
    dry_run_triggers,
    fired_triggers,
)
from bot.render.comparisons import comparison_note
from bot.rollout.actions import Actions
from bot.rollout.alert_post import post_alert, post_followup
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure
from bot.rollout.phase_thread import phase_thread
from bot.store.audit import AuditEntry
from bot.store.breaches import Breach, Breaches
from bot.store.silences import Silences
from bot.store.timeline import Timeline

PREFIX = "trigger:"
KPI_PREFIX = "kpi:"
UNAVAILABLE_PREFIX = "unavailable:"
DRY_RUN_PREFIX = "dry-run:"
DATABASE_ONLY_KPI_NAMES = tuple(name for name in DB_KPI_NAMES if name not in DURATION_KPI_NAMES)


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
    _kpi_alerts(context, current, report, now)
    _unavailable(context, current, report, now)
    _dry_run(context, current, report, now)
    return _triggers(context, current, report, now)


def _kpi_alerts(
    context: BotContext, current: PhaseRecord, report: KpiReport, now: datetime
) -> None:
    breaches, silences = Breaches(context.store), Silences(context.store)
    env, remind = current.env, timedelta(minutes=context.spec.alerts.remind_every_min)
    for judgement in report.judgements:
        key = KPI_PREFIX + judgement.kpi
        if judgement.dry_run:
            breaches.close(env, key, now)  # one open from before the KPI became a dry run
            continue
        if judgement.verdict is Verdict.UNAVAILABLE:
            continue  # missing data neither raises nor resolves an alert
        if judgement.verdict is not Verdict.ALERT:
            closed = breaches.close(env, key, now)
            if closed is not None:
                _audit(context, env, "alert.resolved", judgement, "resolved")
                if closed.message_ts:
                    post_followup(
                        context,
                        env,
                        f":white_check_mark: Resolved: {_describe(context, judgement, report)}.",
                        closed.message_ts,
                    )
            continue
        muted = silences.silenced(judgement.kpi, now) is not None
        opened = breaches.open(env, key, now, _describe(context, judgement, report))
        if opened is not None:
            _audit(context, env, "alert.opened", judgement, "muted" if muted else "posted")
            if not muted:
                text = (
                    f":red_circle: *Alert on {env}* ({current.phase}): "
                    f"{_describe(context, judgement, report)}. Alert `{opened.alert_id}`."
                )
                post_alert(context, env, [opened], text, judgement.kpi)
            continue
        lasting = breaches.open_breach(env, key)
        if (
            lasting is not None
            and not muted
            and lasting.acknowledged_by is None  # an acknowledged alert is not recalled
            and now - lasting.last_said() >= remind
        ):
            post_followup(
                context,
                env,
                f":red_circle: Still in alert since {_clock_time(context, lasting.opened_at)}: "
                f"{_describe(context, judgement, report)} (`{lasting.alert_id}`, "
                "not acknowledged).",
                lasting.message_ts,
            )
            breaches.reminded(lasting.id, now)


def _unavailable(
    context: BotContext, current: PhaseRecord, report: KpiReport, now: datetime
) -> None:
    breaches, silences = Breaches(context.store), Silences(context.store)
    grace = timedelta(minutes=context.spec.alerts.unavailable_grace_min)
    due: list[tuple[Breach, Judgement]] = []
    without_database = context.spec.environments[current.env].database_url_env is None
    for judgement in report.judgements:
        key = UNAVAILABLE_PREFIX + judgement.kpi
        if judgement.dry_run:
            breaches.close(current.env, key, now)
            continue
        if without_database and judgement.kpi in DATABASE_ONLY_KPI_NAMES:
            continue  # an env with no database: its KPIs are not missing, they don't apply
        if judgement.verdict is not Verdict.UNAVAILABLE:
            closed = breaches.close(current.env, key, now)
            if closed is not None and closed.message_ts:
                post_followup(
                    context,
                    current.env,
                    f":white_check_mark: {judgement.kpi} is measured again.",
                    closed.message_ts,
                )
            continue
        breaches.open(current.env, key, now, judgement.reason)
        breach = breaches.open_breach(current.env, key)
        if (
            breach is not None
            and breach.message_ts is None
            and now - breach.opened_at >= grace
            and silences.silenced(judgement.kpi, now) is None
        ):
            due.append((breach, judgement))
    if not due:
        return
    lines = "\n".join(f"• {j.kpi}: {j.reason}" for _, j in due)
    text = (
        f":grey_question: *KPIs unavailable on {current.env}* for {describe(grace)} or more "
        f"({current.phase}); they cannot be judged:\n{lines}\nAlert `{due[0][0].alert_id}`."
    )
    snooze = due[0][1].kpi if len(due) == 1 else None
    post_alert(context, current.env, [breach for breach, _ in due], text, snooze)
    for _, judgement in due:
        _audit(context, current.env, "alert.unavailable", judgement, judgement.reason)


def _triggers(
    context: BotContext, current: PhaseRecord, report: KpiReport, now: datetime
) -> list[FiredTrigger]:
    fired = fired_triggers(context.spec.rollback_triggers, report.measurements, context.spec.kpis)
    breaches = Breaches(context.store)
    firing = {trigger.name for trigger in fired}
    for spec_trigger in context.spec.rollback_triggers:
        if spec_trigger.name not in firing:
            breaches.close(current.env, PREFIX + spec_trigger.name, now)
    opened = [
        (trigger, breach)
        for trigger in fired
        if (
            breach := breaches.open(current.env, PREFIX + trigger.name, now, _trigger_text(trigger))
        )
    ]
    new = [trigger for trigger, _ in opened]
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
    text = (
        f":rotating_light: *Rollback trigger fired on {current.env}* during {current.phase}:\n"
        + "\n".join(f"• {_trigger_text(trigger)}" for trigger in new)
        + ("\nRolling back now (auto_rollback)." if environment.auto_rollback else "")
        + f"\nAlert `{opened[0][1].alert_id}`."
    )
    post_alert(context, current.env, [breach for _, breach in opened], text, None)
    reason = "rollback trigger: " + "; ".join(_trigger_text(trigger) for trigger in new)
    reply = Actions(context).propose_rollback(current.env, reason, auto=environment.auto_rollback)
    for followup in reply.followups:
        followup()
    return new


def _dry_run(context: BotContext, current: PhaseRecord, report: KpiReport, now: datetime) -> None:
    """What the dry-run KPIs would have alerted or fired, in one quiet post (no broadcast,
    no button): each breach once, never reminded or resolved, nothing rolled back."""
    spec, breaches, env = context.spec, Breaches(context.store), current.env
    notes = []
    for judgement in report.judgements:
        key = DRY_RUN_PREFIX + KPI_PREFIX + judgement.kpi
        if not judgement.dry_run or judgement.verdict is Verdict.UNAVAILABLE:
            continue
        if judgement.verdict is not Verdict.ALERT:
            breaches.close(env, key, now)
            continue
        text = _describe(context, judgement, report)
        if breaches.open(env, key, now, text):
            _audit(context, env, "alert.dry_run", judgement, "not alerted")
            notes.append(f"would have alerted: {text}")
    would = dry_run_triggers(spec.rollback_triggers, report.measurements, spec.kpis)
    holding = {trigger.name for trigger in would}
    for spec_trigger in spec.rollback_triggers:
        if spec_trigger.name not in holding:
            breaches.close(env, DRY_RUN_PREFIX + PREFIX + spec_trigger.name, now)
    for trigger in would:
        if breaches.open(env, DRY_RUN_PREFIX + PREFIX + trigger.name, now, _trigger_text(trigger)):
            context.record(
                AuditEntry(
                    "bot", "scheduler", "trigger.dry_run", env,
                    {"trigger": trigger.name, "kpi": trigger.kpi, "value": trigger.value},
                    "not fired", trigger.condition,
                )
            )  # fmt: skip
            notes.append(
                f"trigger {trigger.name} would have fired (value {trigger.kpi} = "
                f"{format_value(trigger.value)}, threshold {trigger.condition})"
            )
    if notes:
        context.poster.post(
            spec.channel,
            "\n".join(f":test_tube: dry run: {note}" for note in notes)
            + f"\n_Dry-run KPIs on {env} ({current.phase}): not alerted, nothing rolled back._",
            thread_ts=phase_thread(context, env),
        )


def describe(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} min"


def _clock_time(context: BotContext, moment: datetime) -> str:
    return format_time(moment, context.spec.timezone)


def _describe(context: BotContext, judgement: Judgement, report: KpiReport) -> str:
    """The KPI's value over the window, and for a relative alert what it was compared
    with: per hour of each window for a count, both windows named."""
    kpi = context.spec.kpis[judgement.kpi]
    value = format_value(judgement.value, kpi.unit)
    zone = context.spec.timezone
    if judgement.compared is not None and "change" in kpi.alert:
        compared = comparison_note(judgement.compared, kpi.unit)
        if judgement.compared.per_hour:
            value += f" in {window_text(report.start, report.end, zone)}"
        if report.baseline_window is not None:
            compared += f"; baseline {window_text(*report.baseline_window, zone)}"
        value += f" ({compared})"
    return f"{kpi.label} is {value} (alert {kpi.alert}, target {kpi.target})"


def _audit(context: BotContext, env: str, action: str, judgement: Judgement, result: str) -> None:
    context.record(
        AuditEntry(
            "bot", "scheduler", action, env,
            {"kpi": judgement.kpi, "value": judgement.value}, result, judgement.reason,
        )
    )  # fmt: skip


def _trigger_text(trigger: FiredTrigger) -> str:
    return (
        f"{trigger.name}: {trigger.kpi} = {format_value(trigger.value)} "
        f"(threshold {trigger.condition})"
    )
