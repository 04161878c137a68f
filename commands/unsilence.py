"""`/stagger unsilence [kpi|all]`: end silences early."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.silences import ALL, Silences
from commands.silence import kpi_name

NAME = "unsilence"
USAGE = "unsilence [kpi|all]"
SUMMARY = "End the silences of a KPI (default: all of them)."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 1:
        raise UsageError(f"Unexpected `{words[1]}`.", NAME)
    kpi = kpi_name(context, words[0], NAME) if words else ALL
    ended = Silences(context.store).lift(kpi, context.clock.now())
    context.record(
        AuditEntry(
            invocation.user,
            invocation.source,
            "unsilence",
            None,
            {"kpi": kpi},
            "ok",
            f"{ended} ended",
        )
    )
    if not ended:
        return Reply(text=f"No active silence for {kpi}.")
    return Reply(
        text=f":loud_sound: <@{invocation.user}> ended {ended} silence(s) ({kpi}).", public=True
    )
