"""`/stagger kpi <env> [window]`: the runbook's KPI table, measured now."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.kpi_report import parse_window
from bot.core.replies import Invocation, Reply
from bot.render.blocks import kpi_table_text
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure
from commands.parsing import require_env

NAME = "kpi"
USAGE = "kpi <env> [window]"
SUMMARY = "Measure the KPIs from every host's log over a window (default 6h) and judge them."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 2:
        raise UsageError(f"Unexpected `{words[2]}`.", NAME)
    env = require_env(context.spec, words[0] if words else None, NAME)
    window = parse_window(words[1] if len(words) > 1 else "6h", NAME)
    channel = invocation.channel or context.spec.channel

    def post_report() -> None:
        report = measure(context, env, window)
        context.poster.post(channel, kpi_table_text(report, context.spec))

    return Reply(
        text=f"Measuring {env} over the last {words[1] if len(words) > 1 else '6h'}…",
        followups=(post_report,),
    )
