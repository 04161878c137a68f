"""`/stagger checkpoint <env>`: post a KPI checkpoint (table and chart) now."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.checkpoint_post import post_checkpoint
from bot.rollout.context import BotContext
from bot.store.checkpoints import interval_after
from bot.store.timeline import Timeline
from commands.parsing import require_env

NAME = "checkpoint"
USAGE = "checkpoint <env>"
SUMMARY = "Post a KPI checkpoint now: the table against the thresholds, and the chart."


def target_env(context: BotContext, words: list[str]) -> str:
    if len(words) > 1:
        raise UsageError(f"Unexpected `{words[1]}`.", NAME)
    return require_env(context.spec, words[0] if words else None, NAME)


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    env = target_env(context, words)
    current = Timeline(context.store).current()
    phase = (
        current if current is not None and current.env == env and not current.is_terminal else None
    )
    now = context.clock.now()
    span = interval_after(context.spec.checkpoints.cron, context.spec.timezone, now)

    def post() -> None:
        post_checkpoint(context, env, phase, now, span)

    return Reply(
        text=f"Measuring {env}; the checkpoint follows in <#{context.spec.channel}>.",
        followups=(post,),
    )
