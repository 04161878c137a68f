"""`/stagger report [env]`: the success report (baseline, now, change, target per KPI)
over the env's latest phase, as far as the rollout has come, and that phase's success
criteria as the judge decides them now."""

from __future__ import annotations

from datetime import timedelta

from bot.core.clock import format_time
from bot.core.errors import UsageError
from bot.core.phase_record import ROLLED_BACK
from bot.core.phases import gates_text
from bot.core.replies import Invocation, Reply
from bot.render.rollout_report import report_table
from bot.rollout.context import BotContext
from bot.rollout.fleet_gate import fleet_mixed
from bot.rollout.judging import judge_phase
from bot.rollout.measuring import measure, measure_since
from bot.store.timeline import Timeline
from commands.parsing import require_env

NAME = "report"
USAGE = "report [env]"
SUMMARY = "Per KPI: baseline, now, change and target, over the env's latest phase."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 1:
        raise UsageError(f"Unexpected `{words[1]}`.", NAME)
    timeline = Timeline(context.store)
    current = timeline.current()
    default = current.env if current else next(iter(context.spec.environments))
    env = require_env(context.spec, words[0] if words else default, NAME)
    phase = timeline.last_of(env)
    channel = invocation.channel or context.spec.channel
    rollbacks = "".join(
        f"\n:rewind: *Rolled back* {format_time(record.started_at, context.spec.timezone)}"
        + (f" — {record.note}" if record.note else "")
        for record in timeline.history(env)
        if record.phase == ROLLED_BACK
    )

    def post_report() -> None:
        if phase is None:
            report, span = measure(context, env, timedelta(hours=24)), "the last 24 h"
        else:
            report = measure_since(context, env, phase.started_at)
            since = format_time(phase.started_at, context.spec.timezone)
            span = f"phase {phase.phase} (since {since})"
        criteria = ""
        mixed = fleet_mixed(context, phase) if phase is not None else ""
        spec = context.spec.phase(phase.phase) if phase is not None else None
        if phase is not None and spec is not None and spec.success and not phase.is_terminal:
            gates = judge_phase(context, spec, phase, report).gates
            criteria = f"\n*Success criteria of {phase.phase}*:\n" + gates_text(gates)
        context.poster.post(
            channel,
            f"*Report for {env}* over {span}; rollout: "
            f"*{current.phase if current else 'not started'}*\n"
            + report_table(context.spec, report)
            + criteria
            + (f"\n:warning: {mixed}" if mixed else "")
            + rollbacks,
        )

    return Reply(text=f"Measuring {env}; the report follows.", followups=(post_report,))
