"""`/stagger silence <kpi|all> <duration> [--reason TEXT]`: mute a KPI's alert posts for a
while (never the rollback triggers)."""

from __future__ import annotations

from bot.core.clock import format_time
from bot.core.errors import UsageError
from bot.core.kpi_report import parse_window
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.silences import ALL, Silences
from commands.parsing import parse_options, single_line

NAME = "silence"
USAGE = "silence <kpi|all> <duration> [--reason TEXT]"
SUMMARY = "Mute a KPI's alerts (or all) for a while, like 2h; triggers still propose rollback."


def kpi_name(context: BotContext, word: str, command: str) -> str:
    if word.lower() == ALL:
        return ALL
    if word in context.spec.kpis:
        return word
    known = ", ".join(f"`{name}`" for name in context.spec.kpis)
    raise UsageError(f"Unknown KPI `{word[:40]}`. Known: {known}, or `all`.", command)


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    parsed = parse_options(words, NAME, ("--reason",))
    if len(parsed.positionals) != 2:
        raise UsageError("Name a KPI (or `all`) and a duration.", NAME)
    kpi = kpi_name(context, parsed.positionals[0], NAME)
    duration = parse_window(parsed.positionals[1], NAME)
    reason = single_line(parsed.options.get("--reason", ""), "reason")
    now = context.clock.now()
    silence = Silences(context.store).add(kpi, now + duration, invocation.user, reason, now)
    context.record(
        AuditEntry(
            invocation.user, invocation.source, "silence", None,
            {"kpi": kpi, "until": silence.until.isoformat()}, "ok", reason,
        )
    )  # fmt: skip
    what = "every KPI's alerts" if kpi == ALL else f"{kpi} alerts"
    return Reply(
        text=f":mute: <@{invocation.user}> silenced {what} until "
        f"{format_time(silence.until, context.spec.timezone)}"
        + (f": {reason}" if reason else "")
        + ". "
        "Rollback triggers still propose rollbacks.",
        public=True,
    )
