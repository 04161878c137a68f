"""`/stagger ack <alert-id>`: acknowledge an alert — someone is on it. The alert's
reminders stop, the alert's message says who acknowledged it and when, and `status`
shows it. The Acknowledge button on an alert is this command."""

from __future__ import annotations

from bot.core.clock import format_time
from bot.core.errors import UsageError, UserError
from bot.core.replies import Invocation, Reply
from bot.render.blocks import mention
from bot.rollout.alert_post import acknowledged_line, redraw_acknowledged
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.breaches import Breach, Breaches

NAME = "ack"
USAGE = "ack <alert-id>"
SUMMARY = "Acknowledge an alert (like A12): its reminders stop; it shows who is on it."

ALERT_KINDS = ("kpi:", "unavailable:", "trigger:")


def target_env(context: BotContext, words: list[str]) -> str | None:
    breach = _find(context, words[0]) if words else None
    return breach.env if breach is not None else None


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) != 1:
        raise UsageError("Name one alert, like `A12` (its id is on the alert).", NAME)
    breach = _find(context, words[0])
    if breach is None:
        raise UserError(f"There is no alert `{words[0][:20]}`.")
    zone = context.spec.timezone
    if breach.acknowledged_by is not None:
        return Reply(text=f"`{breach.alert_id}` is already acknowledged {_who(context, breach)}")
    if breach.closed_at is not None:
        return Reply(
            text=f"`{breach.alert_id}` is already resolved "
            f"(since {format_time(breach.closed_at, zone)}); nothing to acknowledge."
        )
    acknowledged = Breaches(context.store).acknowledge(breach, invocation.user, context.clock.now())
    if acknowledged is None:  # someone clicked a moment earlier
        latest = Breaches(context.store).get(breach.id) or breach
        return Reply(text=f"`{breach.alert_id}` is already acknowledged {_who(context, latest)}")
    context.record(
        AuditEntry(
            invocation.user, invocation.source, "alert.acknowledged", breach.env,
            {"alert": breach.alert_id, "key": breach.key}, "ok", breach.detail[:200],
        )
    )  # fmt: skip
    redraw_acknowledged(context, acknowledged)
    reminders = " Its reminders stop." if breach.key.startswith("kpi:") else ""
    return Reply(
        text=f":eyes: {mention(invocation.user)} acknowledged `{breach.alert_id}` "
        f"({breach.env}: {breach.detail}).{reminders}"
    )


def _who(context: BotContext, breach: Breach) -> str:
    """`by @x at 12:10 UTC.`"""
    line = acknowledged_line(context, breach)
    return line.removeprefix(":eyes: Acknowledged ").split(";")[0].rstrip(".") + "."


def _find(context: BotContext, word: str) -> Breach | None:
    digits = word.strip().upper().removeprefix("A")
    if not digits.isdigit() or len(digits) > 12:
        return None
    breach = Breaches(context.store).get(int(digits))
    if breach is None or not breach.key.startswith(ALERT_KINDS):
        return None
    return breach
