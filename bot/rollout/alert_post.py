"""Where an alert is said, and how it looks: in the thread of the phase running (the
first post of a new breach also broadcast to the channel), with its buttons, and redrawn
once acknowledged. A phase without a thread gets its alerts in the channel, saying why."""

from __future__ import annotations

from bot.core.clock import format_time
from bot.render import blocks
from bot.rollout.context import BotContext
from bot.rollout.phase_thread import NO_THREAD_NOTE, phase_thread
from bot.store.breaches import UNPOSTED, Breach, Breaches


def post_alert(
    context: BotContext, env: str, announced: list[Breach], text: str, snooze_kpi: str | None
) -> str | None:
    """The first post of the breaches `announced` (one post may announce several, the
    first names them): in the phase's thread and broadcast; its ts, None if Slack did not
    take it (queued)."""
    thread = phase_thread(context, env)
    body = text if thread else f"{text}\n{NO_THREAD_NOTE}"
    ts = context.poster.post(
        context.spec.channel,
        body,
        blocks.alert_blocks(body, announced[0].alert_id, env, snooze_kpi),
        thread_ts=thread,
        broadcast=thread is not None,
    )
    breaches = Breaches(context.store)
    for breach in announced:
        breaches.set_message(breach.id, ts or UNPOSTED, body)
    return ts


def post_followup(context: BotContext, env: str, text: str, alert_ts: str | None) -> None:
    """A reminder or a resolved notice: in the phase's thread (else the alert's own
    thread), never broadcast."""
    thread = phase_thread(context, env) or (alert_ts if alert_ts != UNPOSTED else None)
    context.poster.post(context.spec.channel, text, thread_ts=thread)


def acknowledged_line(context: BotContext, breach: Breach) -> str:
    assert breach.acknowledged_by is not None and breach.acknowledged_at is not None
    when = " ".join(format_time(breach.acknowledged_at, context.spec.timezone).split()[1:])
    return f":eyes: Acknowledged by {blocks.mention(breach.acknowledged_by)} at {when}" + (
        "; reminders stopped." if breach.key.startswith("kpi:") else "."
    )


def redraw_acknowledged(context: BotContext, breach: Breach) -> bool:
    """The alert's message, now saying who acknowledged it (and without the button)."""
    if breach.message_ts in (None, UNPOSTED) or breach.message_text is None:
        return False
    assert breach.message_ts is not None
    line = acknowledged_line(context, breach)
    return context.poster.update(
        context.spec.channel,
        breach.message_ts,
        f"{breach.message_text}\n{line}",
        blocks.alert_blocks(
            breach.message_text, breach.alert_id, breach.env, snooze_kpi(context, breach), line
        ),
    )


def snooze_kpi(context: BotContext, breach: Breach) -> str | None:
    """The KPI the alert's Snooze silences: a KPI alert's, an unavailable KPI's when the
    post names only it; none for a trigger (triggers are never muted)."""
    kind, _, kpi = breach.key.partition(":")
    if kind == "kpi":
        return kpi
    if kind == "unavailable":
        same_post = [
            other
            for other in Breaches(context.store).open_breaches(breach.env)
            if other.message_ts == breach.message_ts
        ]
        return kpi if len(same_post) <= 1 else None
    return None
