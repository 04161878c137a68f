"""`/stagger history [env]`: the rollout's timeline, phase by phase."""

from __future__ import annotations

from bot.core.clock import describe_duration, format_time
from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.store.timeline import Timeline
from commands.parsing import require_env

NAME = "history"
USAGE = "history [env]"
SUMMARY = "Each phase so far: start, end, duration, who approved, how it ended."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 1:
        raise UsageError(f"Unexpected `{words[1]}`.", NAME)
    env = require_env(context.spec, words[0], NAME) if words else None
    records = Timeline(context.store).history(env)
    if not records:
        return Reply(text="No phase has started yet" + (f" on {env}." if env else "."))
    now, zone = context.clock.now(), context.spec.timezone
    lines = [f"*Rollout history*{f' ({env})' if env else ''}:"]
    for record in records:
        end = format_time(record.ended_at, zone) if record.ended_at else "now"
        approvers = ", ".join(f"<@{user}>" for user in record.approved_by) or "no approval"
        how = record.ended_how or "running"
        lines.append(
            f"• *{record.phase}* ({record.env}) {format_time(record.started_at, zone)} → {end}, "
            f"{describe_duration(record.elapsed(now))}; approved by {approvers}"
            + (f" via `{record.request_id}`" if record.request_id else "")
            + (" — *forced*" if record.forced else "")
            + f"; {how}"
            + (f" — {record.note}" if record.note else "")
        )
    return Reply(text="\n".join(lines))
