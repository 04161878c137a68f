"""`/stagger analysis <env> [window]`: the runbook's before/after comparison — the current
phase (or the window given) against the env's baseline phase, KPI by KPI, and job by job
from the database."""

from __future__ import annotations

from datetime import timedelta

from bot.core.errors import UsageError
from bot.core.kpi_report import parse_window
from bot.core.replies import Invocation, Reply
from bot.rollout.analysis_report import post_analysis
from bot.rollout.context import BotContext
from bot.store.baselines import Baselines
from bot.store.timeline import Timeline
from commands.parsing import require_env

NAME = "analysis"
USAGE = "analysis <env> [window]"
SUMMARY = "Before/after: the current phase (or a window) against the baseline, per KPI and per job."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 2:
        raise UsageError(f"Unexpected `{words[2]}`.", NAME)
    env = require_env(context.spec, words[0] if words else None, NAME)
    phase = Timeline(context.store).last_of(env)
    if len(words) > 1:
        window = parse_window(words[1], NAME)
    elif phase is not None and phase.ended_at is None:
        window = max(context.clock.now() - phase.started_at, timedelta(minutes=1))
    else:
        window = parse_window("24h")
    baseline = Baselines(context.store).latest(env)
    if baseline is None:
        return Reply(
            text=f"No baseline for {env} yet: `/stagger baseline capture {env}` first.", ok=False
        )
    channel = invocation.channel or context.spec.channel

    def analyse() -> None:
        post_analysis(context, env, window, baseline, channel, f"analysis-{env}")

    return Reply(text=f"Analysing {env}…", followups=(analyse,))
