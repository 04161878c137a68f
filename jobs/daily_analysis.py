"""The runbook's SQL analysis on days 1, 2, 3 and 7 (the spec's `analysis_days`) of each
stagger phase: the last 24 h before/after against the env's baseline, posted once per
day even across a restart (a day missed while the bot was down is posted late, once)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.rollout.analysis_report import post_analysis
from bot.rollout.context import BotContext
from bot.store.baselines import Baselines
from bot.store.timeline import Timeline

DAY = timedelta(hours=24)


def run(context: BotContext, now: datetime) -> list[int]:
    """The days posted by this run."""
    current = Timeline(context.store).current()
    phase = context.spec.phase(current.phase) if current else None
    if current is None or phase is None or not phase.stagger:
        return []
    posted = []
    for day in context.spec.checkpoints.analysis_days:
        due = current.started_at + timedelta(days=day)
        if now < due or not context.store.first_time(f"analysis:{current.id}:{day}", now):
            continue
        baseline = Baselines(context.store).latest(current.env)
        heading = (
            f":bar_chart: *Day {day} of {current.phase}* — before/after analysis of the last 24 h"
        )
        if baseline is None:
            context.poster.post(
                context.spec.channel,
                f"{heading}: no baseline for {current.env}, nothing to compare.",
            )
        else:
            post_analysis(
                context, current.env, DAY, baseline, context.spec.channel,
                f"analysis-{current.env}-day{day}", heading,
            )  # fmt: skip
        posted.append(day)
    return posted
